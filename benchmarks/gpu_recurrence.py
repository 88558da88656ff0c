"""lstmkit's Triton kernels against cuDNN (torch.nn.LSTM / GRU / RNN), side by side in one run.

Shapes (B, T, I, H) are issue 7's. For every kind, precision and shape: the first call's time
(Triton compiles then), the median time of the forward (no grad) and of a training step
(forward + backward of output.sum()) with `triton.testing.do_bench`, and the relative error of
lstmkit's output and gradients against cuDNN's in the same precision. Precisions: fp32 (exact,
TF32 off for both), tf32 (TF32 on for both), bf16, fp16. One JSON object per line, each with
the device and library versions, to `<out>/gpu_recurrence-<device>-<date>.jsonl` (streamed to a
`.partial` file, renamed when the run completes). A table is printed last.

    python benchmarks/gpu_recurrence.py [--out DIR] [--budget-s 300] [--quick]

`--budget-s` stops starting new measurements after that many seconds (the run order puts the
issue's goals first); `--quick` runs two small shapes. `--smoke-cpu` checks this script's plumbing
without a GPU: tiny shapes, fp32, the kernels under Triton's interpreter, wall-clock timing (its
numbers mean nothing).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import tree_commit

from lstmkit import shapes  # benchmarks/gpu_all.sh puts src/ on PYTHONPATH

SHAPES = {shapes.name(s): s for s in shapes.GPU}  # name: (B, T, I, H), from lstmkit.shapes
QUICK_SHAPES = {shapes.name(s): s for s in shapes.GPU_QUICK}
SMOKE_SHAPES = {shapes.name(s): s for s in shapes.SMOKE}
PRECISIONS = {"fp32": (torch.float32, False), "tf32": (torch.float32, True), "bf16": (torch.bfloat16, False),
              "fp16": (torch.float16, False)}
MODULES = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "simple_rnn": torch.nn.RNN}
GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}
# the goals first, so that a budget cut leaves the rest
ORDER = [("lstm", "fp32"), ("lstm", "bf16"), ("gru", "fp32"), ("gru", "bf16"), ("simple_rnn", "fp32"),
         ("lstm", "fp16"), ("gru", "fp16"), ("lstm", "tf32"), ("gru", "tf32"), ("simple_rnn", "bf16")]


DEVICE = "cuda"


def sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def environment(for_record: bool = True) -> dict:
    """The device, the versions and the commit; for a record a tree with uncommitted changes raises
    common.DirtyTree (on the device's copy without .git: carry the stamp, see common.py)."""
    import triton

    commit = tree_commit(for_record=for_record)
    if DEVICE == "cpu":
        return {"device": "cpu-interpreter-smoke", "torch": torch.__version__, "triton": triton.__version__,
                "date": datetime.date.today().isoformat(), "commit": commit}
    dev = torch.cuda.current_device()
    props = torch.cuda.get_device_properties(dev)
    return {
        "device": props.name, "capability": list(torch.cuda.get_device_capability(dev)),
        "multiprocessors": props.multi_processor_count, "torch": torch.__version__, "triton": triton.__version__,
        "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version(), "python": platform.python_version(),
        "date": datetime.date.today().isoformat(), "commit": commit,
    }


def set_tf32(on: bool) -> None:
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


def median_ms(fn, grad_to_none=None) -> float:  # type: ignore[no-untyped-def]
    """Median of at least ~25 runs (do_bench's rep is in ms: sized from one timed call)."""
    import triton.testing

    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    once_ms = (time.perf_counter() - t0) * 1e3
    if DEVICE == "cpu":
        return once_ms
    rep = min(2000.0, max(100.0, 25 * once_ms))
    return triton.testing.do_bench(fn, warmup=min(200.0, max(25.0, 5 * once_ms)), rep=rep,
                                   grad_to_none=grad_to_none, return_mode="median")


def first_call_s(fn) -> float:  # type: ignore[no-untyped-def]
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t0


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double(), b.double()
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def measure(kind: str, precision: str, shape: str, B: int, T: int, I: int, H: int) -> list[dict]:
    """Both implementations in one precision at one shape: first call, fwd and train medians, errors."""
    from lstmkit import ops
    from lstmkit.ops.triton import _host

    dtype, tf32 = PRECISIONS[precision]
    set_tf32(tf32)
    torch.manual_seed(0)
    m = MODULES[kind](I, H, batch_first=True).to(DEVICE, dtype)
    params = [m.weight_ih_l0, m.weight_hh_l0, m.bias_ih_l0, m.bias_hh_l0]
    x = torch.randn(B, T, I, device=DEVICE, dtype=dtype, requires_grad=True)
    impls = {
        "cudnn": lambda: m(x)[0],
        "lstmkit_triton": lambda: getattr(ops, kind)(x, *params, backend="triton")[0],
    }
    plan = _host.make_plan(B, H, GATES[kind], dtype, x.device)
    base = dict(kind=kind, precision=precision, shape=shape, B=B, T=T, I=I, H=H)
    rows, grads = [], {}
    for name, fwd in impls.items():

        def train(fwd=fwd):  # type: ignore[no-untyped-def]
            fwd().sum().backward()

        def fwd_no_grad(fwd=fwd):  # type: ignore[no-untyped-def]
            with torch.no_grad():
                return fwd()

        row = dict(base, impl=name)
        if name == "lstmkit_triton":
            row["plan"] = dict(vars(plan))
        try:
            row["first_fwd_s"] = round(first_call_s(fwd_no_grad), 4)
            row["first_train_s"] = round(first_call_s(train), 4)
            for p in [x, *params]:  # errors from one fresh training step
                p.grad = None
            out = fwd()
            out.sum().backward()
            grads[name] = [out.detach(), x.grad.detach().clone(), m.weight_hh_l0.grad.detach().clone()]
            row["fwd_ms"] = round(median_ms(fwd_no_grad), 4)
            row["train_ms"] = round(median_ms(train, grad_to_none=[x, *params]), 4)
        except Exception as e:  # recorded in the results; the other implementation still runs
            row["error"] = f"{type(e).__name__}: {e}"[:500]
        rows.append(row)
    if len(grads) == 2:
        ours, ref = grads["lstmkit_triton"], grads["cudnn"]
        rows[1]["rel_err_vs_cudnn"] = {k: f"{rel_err(a, b):.2e}" for k, a, b in zip(("out", "dx", "dW_hh"), ours, ref)}
    set_tf32(False)
    return rows


def table(rows: list[dict]) -> str:
    by = {}
    for r in rows:
        if "error" not in r:
            by.setdefault((r["kind"], r["precision"], r["shape"]), {})[r["impl"]] = r
    lines = [f"{'kind':<11}{'prec':<6}{'shape':<24}{'cuDNN fwd':>10}{'ours fwd':>10}{'ratio':>7}"
             f"{'cuDNN train':>12}{'ours train':>11}{'ratio':>7}{'1st call s':>11}  err(out,dx,dW)"]
    for (kind, prec, shape), d in by.items():
        if len(d) < 2:
            continue
        c, o = d["cudnn"], d["lstmkit_triton"]
        err = ",".join(o.get("rel_err_vs_cudnn", {}).values())
        lines.append(f"{kind:<11}{prec:<6}{shape:<24}{c['fwd_ms']:>10.3f}{o['fwd_ms']:>10.3f}"
                     f"{o['fwd_ms'] / c['fwd_ms']:>7.2f}{c['train_ms']:>12.3f}{o['train_ms']:>11.3f}"
                     f"{o['train_ms'] / c['train_ms']:>7.2f}{o['first_train_s']:>11.2f}  {err}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.environ.get("OUT") or str(Path(__file__).parent / "results"))
    parser.add_argument("--budget-s", type=float, default=float("inf"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--smoke-cpu", action="store_true")
    args = parser.parse_args(argv)
    global DEVICE
    if args.smoke_cpu:
        DEVICE = "cpu"
        os.environ["TRITON_INTERPRET"] = "1"  # before the kernels load
    elif not torch.cuda.is_available():
        print("needs a CUDA device (or --smoke-cpu)", file=sys.stderr)
        return 2
    env = environment(for_record=not args.smoke_cpu)  # the smoke run's numbers are no record
    print(json.dumps(env), flush=True)
    shapes = SMOKE_SHAPES if args.smoke_cpu else QUICK_SHAPES if args.quick else SHAPES
    order = [o for o in ORDER if o[1] == "fp32"] if args.smoke_cpu else ORDER
    slug = env["device"].replace(" ", "_").replace("/", "_")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tag = "-smoke" if args.smoke_cpu else "-quick" if args.quick else ""
    final = out / f"gpu_recurrence-{slug}-{env['date']}{tag}.jsonl"
    partial = final.with_suffix(".jsonl.partial")
    start = time.perf_counter()
    rows: list[dict] = []
    with partial.open("w") as f:
        for kind, precision in order:
            for shape, (B, T, I, H) in shapes.items():
                if time.perf_counter() - start > args.budget_s:
                    new = [dict(kind=kind, precision=precision, shape=shape, skipped="time budget")]
                else:
                    try:
                        new = measure(kind, precision, shape, B, T, I, H)
                    except Exception as e:  # recorded in the results, and the run goes on
                        err = f"{type(e).__name__}: {e}"[:500]
                        new = [dict(kind=kind, precision=precision, shape=shape, error=err)]
                        torch.cuda.empty_cache()
                for r in new:
                    r.update(env)
                    f.write(json.dumps(r) + "\n")
                    f.flush()
                    print(json.dumps({k: v for k, v in r.items() if k not in env}), flush=True)
                rows += new
    os.replace(partial, final)
    print(table(rows))
    print(f"wrote {final} ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
