"""The whole classic IMDB model on CPU, lstmkit.keras against Keras 3 with TensorFlow, one run.

    python benchmarks/cpu_imdb_epoch.py --tf-python /tmp/tfvenv/bin/python
    python benchmarks/cpu_imdb_epoch.py --kinds lstm --units 32,128,256 --tf-python ... --keras-torch

Model: Embedding(10000, 32) -> LSTM/GRU/SimpleRNN(units) -> Dense(1, sigmoid), rmsprop, binary
cross-entropy, batch 128, length 500 (Deep Learning with Python). Procedure for every framework,
the same as ../shared/bench/keras_tf_cpu.py: random token ids, one warm-up fit of two batches, then
`repeats` timed fits of `batches` batches; seconds per epoch of 20,000 reviews = median fit time /
(batches * 128) * 20,000. Keras runs in its own process (`benchmarks/peers/keras_epoch.py`) with the
Python of an environment holding keras and tensorflow-cpu (`--tf-python`); lstmkit runs in this
process. The frameworks alternate per configuration. One JSON line per (kind, units) goes to
benchmarks/results/cpu_imdb_epoch.jsonl with the machine and versions.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from common import append_jsonl, environment  # noqa: E402

from lstmkit import shapes  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "cpu_imdb_epoch.jsonl"
EPOCH = 20_000


def time_lstmkit(kind: str, units: int, batches: int, repeats: int, batch_size: int, maxlen: int) -> dict[str, Any]:
    import lstmkit.keras as lk
    from lstmkit.keras import layers

    lk.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    n = batches * batch_size
    xs = rng.integers(1, 10000, size=(n, maxlen)).astype("int32")
    ys = rng.integers(0, 2, size=(n,)).astype("float32")
    layer = {"lstm": layers.LSTM, "gru": layers.GRU, "simplernn": layers.SimpleRNN}[kind]
    model = lk.models.Sequential([lk.Input(shape=(maxlen,), dtype="int32"), layers.Embedding(10000, 32),
                                  layer(units), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    model.fit(xs[: 2 * batch_size], ys[: 2 * batch_size], batch_size=batch_size, epochs=1, verbose=0)
    seconds, overheads = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        history = model.fit(xs, ys, batch_size=batch_size, epochs=1, verbose=0)
        seconds.append(time.perf_counter() - t0)
        overheads.append(history.loop_stats["overhead"])
    return {"seconds": seconds, "params": model.count_params(), "loop_overhead": statistics.median(overheads)}


def time_keras(python: str, backend: str, kind: str, units: int, batches: int, repeats: int, batch_size: int,
               maxlen: int) -> dict[str, Any]:
    cmd = [python, str(ROOT / "benchmarks" / "peers" / "keras_epoch.py"), "--kind", kind, "--units", str(units),
           "--batches", str(batches), "--repeats", str(repeats), "--batch-size", str(batch_size),
           "--maxlen", str(maxlen)]
    env = {**os.environ, "KERAS_BACKEND": backend}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=3600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"the Keras peer failed ({' '.join(cmd)}):\n{proc.stderr[-2000:]}")
    return json.loads(lines[-1])


def per_epoch(seconds: list[float], batches: int, batch_size: int) -> float:
    return statistics.median(seconds) / (batches * batch_size) * EPOCH


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kinds", default="lstm,gru,simplernn")
    p.add_argument("--units", default="32")
    p.add_argument("--batches", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=shapes.IMDB[0])  # the named IMDB shape (B, T, I, H)
    p.add_argument("--maxlen", type=int, default=shapes.IMDB[1])
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--tf-python", default=None, help="a Python with keras + tensorflow-cpu (the TF peer)")
    p.add_argument("--keras-torch", action="store_true", help="also time Keras 3 with its torch backend (slow)")
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    env = environment(for_record=not args.no_record)
    for units in [int(u) for u in args.units.split(",")]:
        for k, kind in enumerate(args.kinds.split(",")):
            shape = (kind, units, args.batches, args.repeats, args.batch_size, args.maxlen)
            peers: dict[str, Any] = {}
            order = ["lstmkit", "tf"] if k % 2 == 0 else ["tf", "lstmkit"]
            for who in order:
                if who == "lstmkit":
                    ours = time_lstmkit(*shape)
                elif args.tf_python:
                    peers["keras_tensorflow"] = time_keras(args.tf_python, "tensorflow", *shape)
            if args.keras_torch:
                peers["keras_torch"] = time_keras(sys.executable, "torch", *shape)
            row: dict[str, Any] = {
                "kind": kind, "units": units, "batches": args.batches, "repeats": args.repeats,
                "batch_size": args.batch_size, "maxlen": args.maxlen, "params": ours["params"],
                "lstmkit_seconds": ours["seconds"], "lstmkit_loop_overhead": ours["loop_overhead"],
                "lstmkit_s_per_epoch": round(per_epoch(ours["seconds"], args.batches, args.batch_size), 2),
            }
            line = f"{kind:9s} units={units:4d}  lstmkit {row['lstmkit_s_per_epoch']:7.2f} s/epoch"
            for name, peer in peers.items():
                s = per_epoch(peer["seconds"], args.batches, args.batch_size)
                row[f"{name}_seconds"] = peer["seconds"]
                row[f"{name}_versions"] = peer["versions"]
                row[f"{name}_s_per_epoch"] = round(s, 2)
                row[f"speedup_vs_{name}"] = round(s / row["lstmkit_s_per_epoch"], 2)
                line += f"  {name} {s:7.2f} (x{row[f'speedup_vs_{name}']:.2f})"
            print(line, flush=True)
            row["command"] = " ".join(["benchmarks/cpu_imdb_epoch.py", *argv])
            row["environment"] = env
            if not args.no_record:
                append_jsonl(RESULTS, row)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
