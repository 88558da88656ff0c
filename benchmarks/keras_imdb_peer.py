"""Keras 3 itself (TensorFlow backend, in its own virtual environment) on the book's IMDB programs, on the
same padded reviews as `benchmarks/keras_imdb.py` gives lstmkit.keras: best validation accuracy, test
accuracy and seconds per epoch, recorded in benchmarks/results/keras_imdb_peer.jsonl.

    python benchmarks/keras_imdb_peer.py --tf-python /tmp/tfvenv/bin/python --models lstm,bilstm
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, append_jsonl, environment
from keras_imdb import load

from lstmkit import shapes

RESULTS = ROOT / "benchmarks" / "results" / "keras_imdb_peer.jsonl"


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tf-python", required=True)
    p.add_argument("--models", default="lstm")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    env = environment()  # before training: a dirty tree refuses at once
    (x_train, y_train), (x_test, y_test) = load(shapes.IMDB[1], None, None)  # the named IMDB shape's T: 500 tokens
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "imdb_padded.npz"
        np.savez(data, x_train=x_train.astype("int32"), y_train=y_train.astype("float32"),
                 x_test=x_test.astype("int32"), y_test=y_test.astype("float32"))
        for name in args.models.split(","):
            cmd = [args.tf_python, str(ROOT / "benchmarks" / "peers" / "keras_imdb_program.py"), "--data", str(data),
                   "--model", name, "--epochs", str(args.epochs), "--seed", str(args.seed)]
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                                  env={**os.environ, "KERAS_BACKEND": "tensorflow"})
            lines = [x for x in proc.stdout.splitlines() if x.startswith("{")]
            if proc.returncode or not lines:
                print(proc.stderr[-3000:], file=sys.stderr)
                return 1
            r = json.loads(lines[-1])
            val = r["history"]["val_acc"]
            row = {**r, "framework": f"keras {r['versions']['keras']} + tensorflow {r['versions'].get('tensorflow')}",
                   "best_val_acc": max(val), "best_epoch": int(np.argmax(val)) + 1, "final_val_acc": val[-1],
                   "epochs": args.epochs, "seed": args.seed, "command": " ".join(["benchmarks/keras_imdb_peer.py",
                                                                                 *argv]),
                   "environment": env}
            print(json.dumps({k: row[k] for k in ("model", "best_val_acc", "best_epoch", "test_acc")}), flush=True)
            append_jsonl(RESULTS, row)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
