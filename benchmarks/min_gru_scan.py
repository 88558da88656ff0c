"""MinGRU / MinLSTM trained by a parallel scan against the sequential GRUs, on the CPU, one run.

    python benchmarks/min_gru_scan.py [--lengths 128 512 2048 8192] [--repeats 5]

One training step (forward, a sum loss, backward) at B=64, I=H=128 for `lstmkit.nn.MinGRU` in both
modes (the chunked log-space scan, and the one-pass scan that mode="auto" takes on the CPU) and
`MinLSTM` (one-pass scan), `lstmkit.nn.GRU` (the fused CPU kernel) and
`torch.nn.GRU`, at each length; peers alternate inside every repeat and each figure is the median.
Also the time per step of sequence (ms / T), which for the scan should stay flat or fall as T grows.
One JSON line goes to benchmarks/results/min_gru_scan.jsonl with the machine, versions and commit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from common import append_jsonl, environment  # noqa: E402

import lstmkit.nn as lnn  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "min_gru_scan.jsonl"
B, I, H = 64, 128, 128


def models() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {"lstmkit.nn.MinGRU (parallel)": lnn.MinGRU(I, H, batch_first=True, mode="parallel"),
            "lstmkit.nn.MinGRU (sequential scan)": lnn.MinGRU(I, H, batch_first=True, mode="sequential"),
            "lstmkit.nn.MinLSTM (sequential scan)": lnn.MinLSTM(I, H, batch_first=True, mode="sequential"),
            "lstmkit.nn.GRU (cpu kernel)": lnn.GRU(I, H, batch_first=True),
            "torch.nn.GRU": torch.nn.GRU(I, H, batch_first=True)}


def step(model: torch.nn.Module, x: torch.Tensor) -> float:
    t0 = time.perf_counter()
    out, _ = model(x)
    out.sum().backward()
    return (time.perf_counter() - t0) * 1e3


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lengths", type=int, nargs="+", default=[128, 512, 2048, 8192])
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    env = environment()  # refuses a dirty tree before spending the time
    nets = models()
    median_ms: dict[str, dict[str, float]] = {}
    for T in args.lengths:
        x = torch.randn(B, T, I)
        for net in nets.values():  # warm-up: kernel load, allocator
            step(net, x[:, : min(T, 64)])
        times: dict[str, list[float]] = {name: [] for name in nets}
        for _ in range(args.repeats):
            for name, net in nets.items():
                net.zero_grad(set_to_none=True)
                times[name].append(step(net, x))
        median_ms[str(T)] = {name: round(statistics.median(v), 2) for name, v in times.items()}
        row = median_ms[str(T)]
        print(f"T={T:5d}  " + "  ".join(f"{name}: {ms:9.1f} ms ({ms / T * 1e3:7.1f} us/step)"
                                          for name, ms in row.items()), flush=True)
    best = "lstmkit.nn.MinGRU (sequential scan)"  # what mode="auto" runs on the CPU
    speedup = {T: {"vs lstmkit GRU": round(row["lstmkit.nn.GRU (cpu kernel)"] / row[best], 2),
                   "vs torch GRU": round(row["torch.nn.GRU"] / row[best], 2),
                   "parallel mode vs lstmkit GRU": round(row["lstmkit.nn.GRU (cpu kernel)"]
                                                         / row["lstmkit.nn.MinGRU (parallel)"], 2)}
               for T, row in median_ms.items()}
    per_step_us = {T: {name: round(ms / int(T) * 1e3, 2) for name, ms in row.items()} for T, row in median_ms.items()}
    append_jsonl(RESULTS, {"shape": {"B": B, "I": I, "H": H}, "repeats": args.repeats, "median_ms": median_ms,
                           "per_step_us": per_step_us, "mingru_speedup": speedup, "threads": torch.get_num_threads(),
                           "environment": env})
    for T, s in speedup.items():
        print(f"T={T}: MinGRU (auto) is {s['vs lstmkit GRU']}x faster than lstmkit's fused GRU, {s['vs torch GRU']}x "
              f"than torch.nn.GRU; the parallel mode {s['parallel mode vs lstmkit GRU']}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
