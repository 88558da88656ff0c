"""The classic IMDB LSTM trained by `lstmkit run imdb` in 1 process of 1 thread and in 2 processes of 1 thread
each (data-parallel under torchrun: `--nproc 2`), on the CPU: the time per epoch, the speed-up and the final
validation accuracy of both.

    python benchmarks/ddp_imdb.py [--epochs 3] [--limit N] [--eval-limit N] [--no-record]

The model and training are the experiment's own: Embedding(10000, 32) -> LSTM(32) -> Dense(1, sigmoid),
reviews cut to their last 500 tokens, RMSprop, global batch 128 (64 rows a process under --nproc 2), the
last 20% of the training reviews for validation, then the test set. Each run is a `python -m lstmkit run
imdb` process (OMP_NUM_THREADS=1: one thread a process, set by the user so the threads rule keeps it), one
after the other; the epoch times are those the run folder's metrics.json holds (rank 0's training batches
of each epoch, the all-reduce waits included), the speed-up the ratio of the median epochs. Goals (issue
#18): speed-up >= 1.7x, final validation accuracies within 0.5 points.

Beside them, unless `--no-ceiling`: the machine's own ceiling for two processes, two independent
1-process runs started at once, each on one rank's share of the data (half the training reviews, batch 64,
no communication): the one-process epoch over their epoch is the most two processes can give here (memory
bandwidth and caches are shared, and a 2-vCPU machine may not hold two whole cores), so a speed-up below 1.7x
can be told apart into what the machine allows and what the gradient all-reduce and the ranks' lockstep cost.

`--limit` trains on a slice (a check that the script works, not a figure: such a record says so in
"slice"); `--no-record` prints without appending. A recorded run appends one JSON line to
benchmarks/results/ddp_imdb.jsonl with both runs' metrics, the machine, versions and commit; it needs a
clean tree (run it from a fresh clone, see benchmarks/common.py) and a quiet machine, since the two
processes must have a core each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from common import append_jsonl, environment  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "ddp_imdb.jsonl"
SPEEDUP_GOAL, ACCURACY_GOAL = 1.7, 0.005


def run(processes: int, epochs: int, out: Path, extra: list[str]) -> dict[str, Any]:
    """One `lstmkit run imdb` in `processes` processes of 1 thread: its metrics, group and wall seconds."""
    argv = [sys.executable, "-m", "lstmkit", "run", "imdb", "--model", "lstm", "--epochs", str(epochs),
            "--batch-size", "128", "--out", str(out), *extra]
    if processes > 1:
        argv += ["--nproc", str(processes)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "KERAS_BACKEND": "torch"}
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    world = json.loads((out / "config.json").read_text())["world"]
    if world["size"] != processes or world["threads_per_process"] != 1:
        raise SystemExit(f"{out} ran as {world}, not {processes} process(es) of 1 thread")
    return {"processes": processes, "world": world, "wall_seconds": round(wall, 2),
            "epoch_seconds": metrics["epoch_seconds"],
            "median_epoch_seconds": statistics.median(metrics["epoch_seconds"]),
            "final_val_accuracy": metrics["final_val_accuracy"], "best_val_accuracy": metrics["best_val_accuracy"],
            "test_accuracy": metrics["test_accuracy"], "train_examples": metrics["train_examples"],
            "val_examples": metrics["val_examples"], "command": " ".join(argv[1:])}


def ceiling(epochs: int, out: Path, train_reviews: int) -> dict[str, Any]:
    """Two independent 1-process runs at once, each on half of `train_reviews` (the 80% left after the
    validation split) at batch 64: what one rank computes, without the all-reduce or the lockstep."""
    half = train_reviews // 2
    limit = round(half / 0.8)  # --limit counts reviews before the 20% validation split
    started, procs = time.perf_counter(), []
    env = {**os.environ, "OMP_NUM_THREADS": "1", "KERAS_BACKEND": "torch"}
    for i in range(2):
        argv = [sys.executable, "-m", "lstmkit", "run", "imdb", "--model", "lstm", "--epochs", str(epochs),
                "--batch-size", "64", "--limit", str(limit), "--eval-limit", "100", "--out", str(out / f"alone{i}")]
        procs.append((argv, subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                             text=True)))
    medians = []
    for argv, proc in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{err[-3000:]}")
        metrics = json.loads((Path(argv[-1]) / "metrics.json").read_text())
        medians.append({"epoch_seconds": metrics["epoch_seconds"], "train_examples": metrics["train_examples"],
                        "median_epoch_seconds": statistics.median(metrics["epoch_seconds"])})
    return {"runs": medians, "wall_seconds": round(time.perf_counter() - started, 2),
            "median_epoch_seconds": statistics.mean(r["median_epoch_seconds"] for r in medians),
            "command": " ".join(procs[0][0][1:])}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=3, help="epochs of each run; the speed-up compares the median ones")
    p.add_argument("--limit", type=int, default=None, help="train on the first N reviews only (a check, not a figure)")
    p.add_argument("--eval-limit", type=int, default=None, help="test on the first N test reviews only")
    p.add_argument("--no-ceiling", action="store_true", help="skip the two independent runs at once")
    p.add_argument("--ceiling-epochs", type=int, default=2, help="epochs of each of the two independent runs")
    p.add_argument("--no-record", action="store_true", help="print the figures without appending them")
    args = p.parse_args()
    env = environment(for_record=not args.no_record)  # refuses a dirty tree before spending the time
    extra = [*(["--limit", str(args.limit)] if args.limit else []),
             *(["--eval-limit", str(args.eval_limit)] if args.eval_limit else [])]
    with tempfile.TemporaryDirectory(prefix="ddp_imdb-") as tmp:
        runs = [run(n, args.epochs, Path(tmp) / f"nproc{n}", extra) for n in (1, 2)]
        alone = None if args.no_ceiling or args.limit else ceiling(args.ceiling_epochs, Path(tmp),
                                                                   runs[0]["train_examples"])
    one, two = runs
    speedup = round(one["median_epoch_seconds"] / two["median_epoch_seconds"], 3)
    gap = round(abs(one["final_val_accuracy"] - two["final_val_accuracy"]), 5)
    for r in runs:
        print(f"{r['processes']} process(es) x 1 thread: {r['median_epoch_seconds']:.2f} s an epoch (median of "
              f"{r['epoch_seconds']}), final val acc {r['final_val_accuracy']:.4f}, wall {r['wall_seconds']:.1f} s")
    print(f"speed-up {speedup}x (goal >= {SPEEDUP_GOAL}x); validation accuracies {gap * 100:.2f} points apart "
          f"(goal <= {ACCURACY_GOAL * 100:.1f})")
    machine_ceiling = None
    if alone is not None:
        machine_ceiling = round(one["median_epoch_seconds"] / alone["median_epoch_seconds"], 3)
        print(f"two independent half runs at once: {alone['median_epoch_seconds']:.2f} s an epoch each, so this "
              f"machine's ceiling for two processes is {machine_ceiling}x; data-parallel reached "
              f"{speedup / machine_ceiling:.0%} of it")
    record = {"model": "imdb lstm (Embedding 10000x32, LSTM 32, Dense 1; maxlen 500, batch 128, rmsprop)",
              "epochs": args.epochs, "slice": args.limit is not None or args.eval_limit is not None,
              "limit": args.limit, "eval_limit": args.eval_limit, "runs": runs, "speedup": speedup,
              "val_accuracy_gap": gap,
              "best_val_accuracy_gap": round(abs(one["best_val_accuracy"] - two["best_val_accuracy"]), 5),
              "ceiling": alone, "machine_ceiling": machine_ceiling, "speedup_goal_met": speedup >= SPEEDUP_GOAL,
              "accuracy_goal_met": gap <= ACCURACY_GOAL, "environment": env}
    if not args.no_record:
        append_jsonl(RESULTS, record)
        print(f"appended to {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
