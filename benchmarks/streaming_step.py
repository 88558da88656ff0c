"""Step-by-step inference latency: one step (T=1) with the state carried, as a server or a stream runs
an LSTM, for `lstmkit.nn.LSTM` (backend auto) beside `torch.nn.LSTM`, and the Keras facade's
`LSTM(stateful=True)` layer called one step at a time, one run.

    python benchmarks/streaming_step.py [--steps 2000] [--hidden 128 256] [--batch 1 8]

Each figure is the median over `--steps` calls of one step under `torch.inference_mode()`, after 50
warm-up steps; the peers alternate in blocks of 100 steps. Also the first call's time (what a
per-call compilation or allocation would show). One JSON line goes to
benchmarks/results/streaming_step.jsonl with the machine, versions and commit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from common import append_jsonl, environment  # noqa: E402

import lstmkit.nn as lnn  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "streaming_step.jsonl"
I = 64


def steppers(B: int, H: int) -> dict[str, Any]:
    """name -> a function that runs one step on x (B, 1, I) and keeps the state itself."""
    import lstmkit.keras as K

    torch.manual_seed(0)
    ours, theirs = lnn.LSTM(I, H, batch_first=True).eval(), torch.nn.LSTM(I, H, batch_first=True).eval()
    theirs.load_state_dict(ours.state_dict())
    keras_layer = K.layers.LSTM(H, stateful=True)
    keras_layer.build((B, 1, I))
    state: dict[str, Any] = {"ours": None, "theirs": None}

    def step_ours(x: torch.Tensor) -> None:
        _, state["ours"] = ours(x, state["ours"])

    def step_theirs(x: torch.Tensor) -> None:
        _, state["theirs"] = theirs(x, state["theirs"])

    def step_keras(x: torch.Tensor) -> None:
        keras_layer(x)

    return {"lstmkit.nn.LSTM": step_ours, "torch.nn.LSTM": step_theirs, "lstmkit.keras LSTM(stateful)": step_keras}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--hidden", type=int, nargs="+", default=[128, 256])
    p.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    args = p.parse_args()
    env = environment()
    results: dict[str, Any] = {}
    for B in args.batch:
        for H in args.hidden:
            x = torch.randn(B, 1, I)
            fns = steppers(B, H)
            first: dict[str, float] = {}
            times: dict[str, list[float]] = {name: [] for name in fns}
            with torch.inference_mode():
                for name, fn in fns.items():
                    t0 = time.perf_counter()
                    fn(x)
                    first[name] = (time.perf_counter() - t0) * 1e6
                    for _ in range(50):
                        fn(x)
                for _ in range(max(1, args.steps // 100)):
                    for name, fn in fns.items():
                        for _ in range(100):
                            t0 = time.perf_counter()
                            fn(x)
                            times[name].append((time.perf_counter() - t0) * 1e6)
            key = f"B{B}-H{H}"
            results[key] = {"median_us": {n: round(statistics.median(v), 1) for n, v in times.items()},
                            "p99_us": {n: round(float(np.percentile(v, 99)), 1) for n, v in times.items()},
                            "first_call_us": {n: round(v, 1) for n, v in first.items()}}
            print(key, results[key]["median_us"], "first:", results[key]["first_call_us"], flush=True)
    append_jsonl(RESULTS, {"input_size": I, "steps": args.steps, "results": results,
                           "threads": torch.get_num_threads(), "environment": env})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
