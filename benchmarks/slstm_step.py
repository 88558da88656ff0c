"""The sLSTM's training step on the CPU: its kernel (ops/_cpu/slstm_kernels.cpp) against its torch
reference loop and lstmkit's fused LSTM of the same size, one run.

    python benchmarks/slstm_step.py [--lengths 64 256] [--repeats 5] [--reference-up-to 256]

One training step (forward, a sum loss over the outputs, backward) at B=64, I=H=128 with 4 heads of 32,
for `lstmkit.nn.SLSTM` on backend "cpu" and "reference", and `lstmkit.nn.LSTM` (its fused CPU kernel)
as the yardstick of a fused recurrence with a dense (4H, H) recurrent weight; peers alternate inside
every repeat and each figure is the median; also the time per step of sequence. One JSON line goes to
benchmarks/results/slstm_step.jsonl with the machine, versions and commit.
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
from lstmkit.ops.slstm import kernel_info  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "slstm_step.jsonl"
B, I, H, NH = 64, 128, 128, 4
REFERENCE = "lstmkit.nn.SLSTM (reference loop)"


def models() -> dict[str, torch.nn.Module]:
    torch.manual_seed(0)
    fast = lnn.SLSTM(I, H, num_heads=NH, batch_first=True, backend="cpu")
    ref = lnn.SLSTM(I, H, num_heads=NH, batch_first=True, backend="reference")
    ref.load_state_dict(fast.state_dict())
    return {"lstmkit.nn.SLSTM (cpu kernel)": fast, REFERENCE: ref, "lstmkit.nn.LSTM (cpu kernel)": lnn.LSTM(
        I, H, batch_first=True)}


def step(model: torch.nn.Module, x: torch.Tensor) -> float:
    t0 = time.perf_counter()
    out, _ = model(x)
    out.sum().backward()
    return (time.perf_counter() - t0) * 1e3


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--lengths", type=int, nargs="+", default=[64, 256])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--reference-up-to", type=int, default=256, help="longest T at which the reference loop is timed")
    args = p.parse_args()
    env = environment()  # refuses a dirty tree before spending the time
    nets = models()
    median_ms: dict[str, dict[str, float]] = {}
    for T in args.lengths:
        x = torch.randn(B, T, I)
        timed = {n: m for n, m in nets.items() if n != REFERENCE or T <= args.reference_up_to}
        for net in timed.values():  # warm-up: kernel build and load, allocator
            step(net, x[:, : min(T, 16)])
        times: dict[str, list[float]] = {name: [] for name in timed}
        for _ in range(args.repeats):
            for name, net in timed.items():
                net.zero_grad(set_to_none=True)
                times[name].append(step(net, x))
        median_ms[str(T)] = {name: round(statistics.median(v), 2) for name, v in times.items()}
        print(f"T={T:5d}  " + "  ".join(f"{name}: {ms:9.1f} ms ({ms / T * 1e3:7.1f} us/step)"
                                          for name, ms in median_ms[str(T)].items()), flush=True)
    kernel = "lstmkit.nn.SLSTM (cpu kernel)"
    ratios = {T: {"kernel vs reference": round(row[REFERENCE] / row[kernel], 2) if REFERENCE in row else None,
                  "kernel time / fused LSTM time": round(row[kernel] / row["lstmkit.nn.LSTM (cpu kernel)"], 2)}
              for T, row in median_ms.items()}
    info = kernel_info()
    append_jsonl(RESULTS, {"shape": {"B": B, "I": I, "H": H, "heads": NH}, "repeats": args.repeats,
                           "median_ms": median_ms, "ratios": ratios, "threads": torch.get_num_threads(),
                           "kernel": {"loaded": info.loaded, "blas": info.blas, "flags": info.flags},
                           "per_step_us": {T: {n: round(ms / int(T) * 1e3, 2) for n, ms in row.items()}
                                           for T, row in median_ms.items()},
                           "environment": env})
    for T, r in ratios.items():
        print(f"T={T}: the sLSTM kernel is {r['kernel vs reference']}x faster than its reference loop and takes "
              f"{r['kernel time / fused LSTM time']}x the fused LSTM's time")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
