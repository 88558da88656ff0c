"""Sweep the Triton kernels' launch knobs (`lstmkit.ops.triton._host`) on the issue-7 shapes.

For each shape: every combination of warps per program, rows per program, hidden units per
program and reduction chunk (and the on-chip budget that decides one tile or split H), timed
forward and train with `triton.testing.do_bench` (median). One JSON object per line to
`<out>/gpu_tune-<device>-<date>.jsonl`, the best setting per shape printed last. Put the winners
into `_host` (with the numbers in a comment) and rerun `gpu_recurrence.py`.

    python benchmarks/gpu_tune.py [--kind lstm] [--precision bf16] [--shapes NAME ...] [--budget-s 400]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from pathlib import Path

import torch
from gpu_recurrence import GATES, MODULES, PRECISIONS, SHAPES, environment, median_ms, set_tf32

ONE_TILE_SPACE = {"NUM_WARPS": [1, 2, 4, 8], "BLOCK_B": [16, 32, 64]}
SPLIT_SPACE = {"NUM_WARPS": [4, 8], "BLOCK_H": [16, 32], "MAX_BLOCK_K": [64, 128], "BLOCK_B": [16, 32]}


def settings(H: int, gates: int, dtype: torch.dtype) -> list[dict]:
    """Knob combinations worth timing at this size: one tile where it fits (and split H against it)."""
    from lstmkit.ops.triton import _host

    out = []
    if _host.fits_on_chip(H, gates, dtype):
        out += [dict(zip(ONE_TILE_SPACE, v)) for v in itertools.product(*ONE_TILE_SPACE.values())]
    split = [dict(zip(SPLIT_SPACE, v), ON_CHIP_BYTES=0) for v in itertools.product(*SPLIT_SPACE.values())]
    return out + split


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", default="lstm", choices=sorted(MODULES))
    parser.add_argument("--precision", default="bf16", choices=sorted(PRECISIONS))
    parser.add_argument("--shapes", nargs="*", default=list(SHAPES), choices=sorted(SHAPES))
    parser.add_argument("--budget-s", type=float, default=float("inf"))
    parser.add_argument("--out", default=os.environ.get("OUT") or str(Path(__file__).parent / "results"))
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("needs a CUDA device", file=sys.stderr)
        return 2
    from lstmkit import ops
    from lstmkit.ops.triton import _host

    env = environment()
    dtype, tf32 = PRECISIONS[args.precision]
    set_tf32(tf32)
    defaults = {k: getattr(_host, k) for k in ("NUM_WARPS", "BLOCK_B", "BLOCK_H", "MAX_BLOCK_K", "ON_CHIP_BYTES")}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    slug = env["device"].replace(" ", "_")
    final = out / f"gpu_tune-{args.kind}-{args.precision}-{slug}-{env['date']}.jsonl"
    partial = final.with_suffix(".jsonl.partial")
    start, best = time.perf_counter(), {}
    with partial.open("w") as f:
        for shape in args.shapes:
            B, T, I, H = SHAPES[shape]
            torch.manual_seed(0)
            m = MODULES[args.kind](I, H, batch_first=True).to("cuda", dtype)
            params = [m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0]
            x = torch.randn(B, T, I, device="cuda", dtype=dtype, requires_grad=True)
            fn = getattr(ops, args.kind)

            def fwd(fn=fn, x=x, params=params):  # type: ignore[no-untyped-def]
                with torch.no_grad():
                    fn(x, *params, backend="triton")

            def train(fn=fn, x=x, params=params):  # type: ignore[no-untyped-def]
                fn(x, *params, backend="triton")[0].sum().backward()

            for knobs in settings(H, GATES[args.kind], dtype):
                if time.perf_counter() - start > args.budget_s:
                    break
                for k, v in {**defaults, **knobs}.items():
                    setattr(_host, k, v)
                row = dict(kind=args.kind, precision=args.precision, shape=shape, knobs=knobs)
                try:
                    row["plan"] = dict(vars(_host.make_plan(B, H, GATES[args.kind], dtype, x.device)))
                    row["fwd_ms"] = round(median_ms(fwd), 4)
                    row["train_ms"] = round(median_ms(train, grad_to_none=[x, *params]), 4)
                    if row["train_ms"] < best.get(shape, {}).get("train_ms", float("inf")):
                        best[shape] = row
                except Exception as e:  # recorded; the sweep goes on
                    row["error"] = f"{type(e).__name__}: {e}"[:300]
                f.write(json.dumps({**row, **env}) + "\n")
                f.flush()
                print(json.dumps(row), flush=True)
    for k, v in defaults.items():
        setattr(_host, k, v)
    os.replace(partial, final)
    for shape, row in best.items():
        print(f"best {shape}: train {row['train_ms']} ms, fwd {row['fwd_ms']} ms with {row['knobs']}")
    print(f"wrote {final} ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
