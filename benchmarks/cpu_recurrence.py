"""The recurrence alone on CPU: lstmkit's fused CPU backend against torch.nn, side by side, one run.

    python benchmarks/cpu_recurrence.py                         # LSTM, GRU, SimpleRNN at B128 T500 I32, H 32/128/256
    python benchmarks/cpu_recurrence.py --kinds lstm --hidden 32 --repeats 9

For each kind and hidden size: forward (no grad) and train (forward + backward of `output.sum()`,
as `../shared/bench/peers_cpu.py` measures torch.nn.LSTM), for `torch.nn.{LSTM,GRU,RNN}` and
`lstmkit.nn.{LSTM,GRU,RNN}(backend=...)` with the same weights. The peers alternate inside every
repeat (ours, torch, ours, torch, ...) so that a noisy neighbour slows both alike; the figure is the
median of the repeats. Also checks that both give the same output (max abs difference).
One JSON line per (kind, hidden) goes to benchmarks/results/cpu_recurrence.jsonl with the machine
and versions; the table is printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from lstmkit import shapes

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from common import append_jsonl, environment  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "cpu_recurrence.jsonl"


def measure(kind: str, B: int, T: int, I: int, H: int, repeats: int, backend: str) -> dict[str, Any]:
    """One record: lstmkit.bench.measure (the code behind `lstmkit bench`) in this file's record layout."""
    from lstmkit.bench import measure as bench_measure

    r = bench_measure(kind, (B, T, I, H), backend=backend, repeats=repeats)
    return {"kind": kind, "B": B, "T": T, "I": I, "H": H, "backend": r.backend, "repeats": repeats,
            "ms": {k: round(v, 2) for k, v in r.ms.items()},
            "all_ms": {k: [round(t, 2) for t in v] for k, v in r.all_ms.items()},
            "ratio_fwd": round(r.ratio_fwd, 3), "ratio_train": round(r.ratio_train, 3),
            "first_call_ms": r.first_call_ms, "max_abs_diff_vs_torch": r.max_abs_diff}


def gemm_peak(n: int = 2048, repeats: int = 7) -> float:
    """GFLOP/s of one large float32 n^3 product on torch's BLAS and threads: the yardstick for how close
    to the machine's limit the recurrences' products run."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return 2 * n**3 / statistics.median(times) / 1e9


def train_gflop(kind: str, B: int, T: int, I: int, H: int) -> float:
    """Multiply-adds x 2 of one training step's products: forward, backward recurrence, weight gradients."""
    G = {"lstm": 4, "gru": 3, "simple_rnn": 1}[kind]
    return 3 * 2 * B * T * G * H * (I + H) / 1e9


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kinds", default="lstm,gru,simple_rnn")
    p.add_argument("--hidden", default=",".join(str(s[3]) for s in shapes.CPU))
    p.add_argument("--batch", type=int, default=shapes.IMDB[0])
    p.add_argument("--steps", type=int, default=shapes.IMDB[1])
    p.add_argument("--input", type=int, default=shapes.IMDB[2])
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--backend", default="cpu")
    p.add_argument("--no-record", action="store_true")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    env = environment(for_record=not args.no_record)
    from lstmkit.ops import cpu_kernel_info

    env["cpu_kernel"] = {k: v for k, v in vars(cpu_kernel_info()).items() if k != "path"}
    env["gemm_peak_gflops"] = round(gemm_peak(), 1)
    print(f"large float32 product (2048^3): {env['gemm_peak_gflops']} GFLOP/s", flush=True)
    rows = []
    for H in [int(h) for h in args.hidden.split(",")]:
        for kind in args.kinds.split(","):
            r = measure(kind, args.batch, args.steps, args.input, H, args.repeats, args.backend)
            flop = train_gflop(kind, args.batch, args.steps, args.input, H)
            r["train_gflop"] = round(flop, 2)
            r["ours_train_gflops"] = round(flop / (r["ms"]["ours_train"] / 1e3), 1)
            r["torch_train_gflops"] = round(flop / (r["ms"]["torch_train"] / 1e3), 1)
            r["command"] = " ".join(["benchmarks/cpu_recurrence.py", *argv])
            r["environment"] = env
            rows.append(r)
            ms = r["ms"]
            print(f"{kind:10s} H={H:4d}  fwd ours {ms['ours_fwd']:8.1f} torch {ms['torch_fwd']:8.1f} "
                  f"(x{r['ratio_fwd']:.2f})  train ours {ms['ours_train']:8.1f} torch {ms['torch_train']:8.1f} "
                  f"(x{r['ratio_train']:.2f})  {r['ours_train_gflops']:.0f} vs {r['torch_train_gflops']:.0f} GFLOP/s  "
                  f"|diff| {r['max_abs_diff_vs_torch']:.1e}", flush=True)
            if not args.no_record:
                append_jsonl(RESULTS, r)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
