"""MinGRU / MinLSTM trained by a parallel scan against the sequential GRUs, on the CPU, one run.

    python benchmarks/min_gru_scan.py [--lengths 128 512 2048 8192] [--repeats 5] [--parallel-up-to 2048]

One training step (forward, a sum loss, backward) at B=64, I=H=128 for `lstmkit.nn.MinGRU` in both
modes (the chunked log-space scan, and the one-pass scan that mode="auto" takes on the CPU: the fused
C++ kernel of ops/_cpu/scan_kernels.cpp) and `MinLSTM` (one-pass scan), `lstmkit.nn.GRU` (the fused
CPU kernel) and `torch.nn.GRU`, at each length; peers alternate inside every repeat and each figure is
the median. The log-space scan is timed only up to --parallel-up-to steps (at 8192 one step took 117 s).
Also timed: the projection alone (MinGRU's two matmuls, k = x W^T + b and dW = dk^T x, with nothing
of the scan), the floor under MinGRU's step, and the time per step of sequence (ms / T), which for
the scan should stay flat or fall as T grows. The record carries each model's matmul GFLOP per
step, so the ratio the matmuls alone allow stands beside the measured one.
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
from lstmkit.ops._cpu import scan  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "min_gru_scan.jsonl"
B, I, H = 64, 128, 128


class Projection(torch.nn.Module):
    """MinGRU's input projection and nothing else: the matmul floor under its training step."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(I, 2 * H)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.linear(x), None  # (B, T, 2H)


PROJECTION = "projection matmuls alone (MinGRU's floor)"
PARALLEL = "lstmkit.nn.MinGRU (parallel)"
TORCH_GRU = "torch.nn.GRU"


def matmul_gflop(T: int) -> dict[str, float]:
    """Matmul GFLOP of one training step with x not requiring a gradient (as here). MinGRU: k = x W^T
    (B T I 2H multiply-adds) and dW = dk^T x (as many). GRU: the input projection and dW_ih (B T I 3H
    each), per step h W_hh^T, dh W_hh and dW_hh (B T H 3H each)."""
    mingru = 2 * 2 * B * T * I * 2 * H / 1e9
    gru = 2 * (2 * B * T * I * 3 * H + 3 * B * T * H * 3 * H) / 1e9
    return {"MinGRU": mingru, "MinLSTM": mingru * 1.5, "GRU": gru}


def models() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    return {PROJECTION: Projection(),
            PARALLEL: lnn.MinGRU(I, H, batch_first=True, mode="parallel"),
            "lstmkit.nn.MinGRU (sequential scan)": lnn.MinGRU(I, H, batch_first=True, mode="sequential"),
            "lstmkit.nn.MinLSTM (sequential scan)": lnn.MinLSTM(I, H, batch_first=True, mode="sequential"),
            "lstmkit.nn.GRU (cpu kernel)": lnn.GRU(I, H, batch_first=True),
            TORCH_GRU: torch.nn.GRU(I, H, batch_first=True)}


def step(model: torch.nn.Module, x: torch.Tensor) -> float:
    t0 = time.perf_counter()
    out, _ = model(x)
    out.sum().backward()
    return (time.perf_counter() - t0) * 1e3


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lengths", type=int, nargs="+", default=[128, 512, 2048, 8192])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--parallel-up-to", type=int, default=2048, help="longest T at which the log-space scan is timed")
    p.add_argument("--torch-gru-up-to", type=int, default=None,
                   help="longest T at which torch.nn.GRU is timed (default: all; at 8192 it took 47 s a step)")
    args = p.parse_args()
    env = environment()  # refuses a dirty tree before spending the time
    nets = models()
    median_ms: dict[str, dict[str, float]] = {}
    for T in args.lengths:
        x = torch.randn(B, T, I)
        limits = {PARALLEL: args.parallel_up_to, TORCH_GRU: args.torch_gru_up_to}
        timed = {name: net for name, net in nets.items() if limits.get(name) is None or T <= limits[name]}
        for net in timed.values():  # warm-up: kernel load, allocator
            step(net, x[:, : min(T, 64)])
        times: dict[str, list[float]] = {name: [] for name in timed}
        for _ in range(args.repeats):
            for name, net in timed.items():
                net.zero_grad(set_to_none=True)
                times[name].append(step(net, x))
        median_ms[str(T)] = {name: round(statistics.median(v), 2) for name, v in times.items()}
        row = median_ms[str(T)]
        print(f"T={T:5d}  " + "  ".join(f"{name}: {ms:9.1f} ms ({ms / T * 1e3:7.1f} us/step)"
                                          for name, ms in row.items()), flush=True)
    best = "lstmkit.nn.MinGRU (sequential scan)"  # what mode="auto" runs on the CPU
    speedup = {T: {"vs lstmkit GRU": round(row["lstmkit.nn.GRU (cpu kernel)"] / row[best], 2),
                   **({"vs torch GRU": round(row[TORCH_GRU] / row[best], 2)} if TORCH_GRU in row else {}),
                   "projection share of the step": round(row[PROJECTION] / row[best], 2),
                   "matmul-flop bound vs lstmkit GRU": round(matmul_gflop(int(T))["GRU"]
                                                             / matmul_gflop(int(T))["MinGRU"], 2),
                   **({"parallel mode vs lstmkit GRU": round(row["lstmkit.nn.GRU (cpu kernel)"] / row[PARALLEL], 2)}
                      if PARALLEL in row else {})}
               for T, row in median_ms.items()}
    per_step_us = {T: {name: round(ms / int(T) * 1e3, 2) for name, ms in row.items()} for T, row in median_ms.items()}
    append_jsonl(RESULTS, {"shape": {"B": B, "I": I, "H": H}, "repeats": args.repeats, "median_ms": median_ms,
                           "per_step_us": per_step_us, "mingru_speedup": speedup, "threads": torch.get_num_threads(),
                           "matmul_gflop": {T: {k: round(v, 2) for k, v in matmul_gflop(int(T)).items()}
                                            for T in median_ms},
                           "parallel_up_to": args.parallel_up_to, "torch_gru_up_to": args.torch_gru_up_to,
                           "sequential_scan": "fused C++ kernel" if scan.load() is not None else "torch loop",
                           "environment": env})
    for T, s in speedup.items():
        parallel, vs_torch = s.get("parallel mode vs lstmkit GRU"), s.get("vs torch GRU")
        print(f"T={T}: MinGRU (auto) is {s['vs lstmkit GRU']}x faster than lstmkit's fused GRU (the matmul FLOPs "
              f"allow {s['matmul-flop bound vs lstmkit GRU']}x); the projection matmuls are "
              f"{s['projection share of the step']} of its step"
              + (f"; {vs_torch}x faster than torch.nn.GRU" if vs_torch is not None else "")
              + (f"; the parallel mode {parallel}x" if parallel is not None else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
