"""Gradient flow as a benchmark: runs `lstmkit inspect gradients` with the given options and appends a
summary (the mean gradient norm at a few distances from the loss, per model, at init and trained,
and the held-out score after training) to benchmarks/results/insight_gradients.jsonl.

    python benchmarks/insight_gradients.py --out docs/img/gradients_keras.png --length 100 --init keras
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from insight_record import append_result, environment

from lstmkit.cli import main


def run(argv: list[str]) -> int:
    if "--out" not in argv:
        raise SystemExit("give --out FILE.png")
    out = Path(argv[argv.index("--out") + 1])
    env = environment()  # before the run: a dirty tree refuses before the training, not after
    t0 = time.perf_counter()
    status = main(["inspect", "gradients", *argv])
    if status:
        return status
    data = json.loads(out.with_suffix(".json").read_text())
    summary = {}
    for model, stages in data["flows"].items():
        for stage, flow in stages.items():
            T = len(flow["dh"])
            picks = sorted({0, 10, 25, 50, T // 2, T - 1} & set(range(T)))  # distances from the loss
            summary[f"{model}/{stage}"] = {f"dh@{d}": flow["dh"][T - 1 - d] for d in picks} | {
                f"dx@{d}": flow["dx"][T - 1 - d] for d in picks}
    append_result("insight_gradients.jsonl", {"benchmark": "gradient_flow", "settings": data["settings"],
                                              "scores_after_training": data["scores"], "norms": summary,
                                              "seconds": round(time.perf_counter() - t0, 1)}, env)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
