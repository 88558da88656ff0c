"""Compile every fused kernel ahead of time and report its resources: `python -m lstmkit.ops.triton.compile_check`.

Without a GPU it compiles for Hopper (sm_90) with the ptxas bundled in the triton wheel, which
catches compiler failures (LLVM once aborted on tanh + sigmoid in one kernel) before a GPU session;
on a CUDA machine it compiles for the device and also prints registers and spills. `--quick`
builds each kernel in two forms only (one tile at H=32 fp32; split H with the grid barrier, bf16).
One line per kernel form: `<kernel> <form> ok shared=<bytes> [regs=<n> spills=<n>]` or `FAIL`.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
import warnings
from typing import Any

from lstmkit.ops.triton._host import interpreting

INTS = {"s_start", "s_stop", "p_start", "p_stop", "B", "T", "H"}
FP32_BUFFERS = {"HN", "CN", "DH", "DC", "CS", "GATES", "Y"}
DTYPES = {"fp32": "fp32", "bf16": "bf16", "fp16": "fp16"}


def _kernels() -> dict[str, tuple[object, dict]]:
    from lstmkit.ops.triton import fused_gru, fused_lstm, fused_simple_rnn

    common = dict(REVERSE=True, HAS_MASK=True, HAS_DMR=True, ZERO_OUT=True, ACT=0)
    return {
        "lstm_fwd": (fused_lstm._lstm_fwd_kernel, dict(common, SAVE=True, STORE_HS=True, RACT=1)),
        "lstm_bwd": (fused_lstm._lstm_bwd_kernel, dict(common, RACT=1)),
        "gru_fwd": (fused_gru._gru_fwd_kernel,
                    dict(common, SAVE=True, STORE_HS=True, RESET_AFTER=True, HAS_BHN=True, RACT=1)),
        "gru_bwd": (fused_gru._gru_bwd_kernel, dict(common, RESET_AFTER=True, RACT=1)),
        "rnn_fwd": (fused_simple_rnn._rnn_fwd_kernel, dict(common, SAVE=True, STORE_HS=True)),
        "rnn_bwd": (fused_simple_rnn._rnn_bwd_kernel, dict(common)),
    }


def _forms(quick: bool) -> list[tuple[str, dict]]:
    """(name, constexpr overrides): the one-tile and split-H shapes in each dtype."""
    one = dict(HP=64, BLOCK_B=16, BLOCK_H=64, BLOCK_K=64, ONE_TILE=True, BARRIER=False)
    split = dict(HP=1024, BLOCK_B=16, BLOCK_H=16, BLOCK_K=64, ONE_TILE=False, BARRIER=True)
    if quick:
        return [("one_tile_h32-fp32-ieee", dict(one, HP=32, BLOCK_H=32, BLOCK_K=32, dt="fp32", PREC="ieee")),
                ("split_h-bf16", dict(split, dt="bf16", PREC="tf32"))]
    forms = []
    for (shape, base), (dt, prec) in itertools.product(
        [("one_tile", one), ("one_tile_h32", dict(one, HP=32, BLOCK_H=32, BLOCK_K=32)), ("split_h", split)],
        [("fp32", "ieee"), ("fp32", "tf32"), ("bf16", "tf32"), ("fp16", "tf32")],
    ):
        forms.append((f"{shape}-{dt}-{prec}", dict(base, dt=dt, PREC=prec)))
    forms.append(("one_tile-fp32-activations", dict(one, dt="fp32", PREC="ieee", ACT=3, RACT=2)))
    forms.append(("one_tile-gru_reset_before", dict(one, dt="fp32", PREC="ieee", RESET_AFTER=False)))
    return forms


def compile_one(fn: Any, constexprs: dict, dt: str, target: Any, num_warps: int = 4) -> Any:
    import triton
    from triton.compiler import ASTSource

    const = {k: v for k, v in constexprs.items() if k in fn.arg_names}
    sig, attrs = {}, {}
    for idx, name in enumerate(fn.arg_names):
        if name in const:
            sig[name] = "constexpr"
        elif name in INTS:
            sig[name] = "i32"
        else:
            sig[name] = "*i32" if name == "SYNC" else "*u8" if name == "MASK" else (
                "*fp32" if name in FP32_BUFFERS else f"*{DTYPES[dt]}")
            attrs[(idx,)] = [["tt.divisibility", 16]]  # torch allocations are 16-byte aligned
    return triton.compile(ASTSource(fn, sig, const, attrs), target=target, options={"num_warps": num_warps})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two forms per kernel instead of all")
    args = parser.parse_args(argv)
    if interpreting():
        print("unset TRITON_INTERPRET: the interpreter compiles nothing", file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore", module="triton")
    import torch
    from triton.backends.compiler import GPUTarget

    on_gpu = torch.cuda.is_available()
    if on_gpu:
        import triton

        target = triton.runtime.driver.active.get_current_target()
    else:
        target = GPUTarget("cuda", 90, 32)
    print(f"target {target}", flush=True)
    failures = 0
    for (name, (fn, base)), (form, over) in itertools.product(_kernels().items(), _forms(args.quick)):
        if form.endswith("reset_before") and not name.startswith("gru"):
            continue
        over = dict(over)
        dt = over.pop("dt")
        t0 = time.perf_counter()
        try:
            k = compile_one(fn, {**base, **over}, dt, target)
            extra = ""
            if on_gpu:
                k._init_handles()
                extra = f" regs={k.n_regs} spills={k.n_spills}"
            print(f"{name} {form} ok shared={k.metadata.shared}{extra} ({time.perf_counter() - t0:.1f} s)", flush=True)
        except Exception as e:  # report every form, then fail
            failures += 1
            print(f"{name} {form} FAIL {type(e).__name__}: {str(e)[:300]}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
