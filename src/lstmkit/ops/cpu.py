"""The fast CPU backend "cpu": LSTM, GRU and SimpleRNN with their own backward pass, as torch ops.

Same semantics as `lstmkit.ops.reference` (the equations are in its docstrings). Dimensions:
B batch, T time, I input, H hidden, G gates (LSTM 4, GRU 3, SimpleRNN 1), K = I + H.

Forward, per step t: G_t = [x_t ⊙ in_mask | h_in] [W_ih | W_hh]^T + b; one fused pointwise pass
gives the gates, c_t, h_t. Backward, per step in reverse: one fused pointwise pass gives dG_t, then
dh_in = dG_t W_hh; after the loop dW = dG^T [X | H_in], db = Σ dG, single matmuls over all T*B rows.

The time loops run in a small C++ library compiled on first use (`_cpu/rnn_kernels.cpp`, built by
`_cpu/build.py`): threads split the batch and each runs the whole loop on its rows, so there is no
per-step Python or thread-synchronisation overhead. Without a compiler the same loops run in
PyTorch (`_cpu/loops.py`). Buffers are time-major so that one step's rows are contiguous.

Both passes are `torch.library` custom ops, `lstmkit::cpu_recurrence` and
`lstmkit::cpu_recurrence_backward`, with fake (meta) implementations and the backward registered as
the forward's autograd formula: `torch.compile(fullgraph=True)`, `torch.export` (with a dynamic
sequence length) and `torch.jit.trace` see one op per call instead of an opaque Python function.
The forward op returns, beside the outputs, the buffers the backward reads (empty when no gradient
is needed); they come from a reusable pool (`_cpu/workspace.py`) and go back to it once autograd
frees them.

`supports` refuses, with its reason: tensors off the CPU, dtypes other than float32/float64, the LSTM
projection (`weight_hr`), activations given as callables, dropout masks that require grad.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from lstmkit.ops import recompute
from lstmkit.ops._cpu import build, loops
from lstmkit.ops._cpu.loops import ACT_CODES, Run, req
from lstmkit.ops._cpu.workspace import WORKSPACE
from lstmkit.ops.activations import activation_name
from lstmkit.ops.call import GATES, Outputs, RecurrenceCall
from lstmkit.ops.variants import VariantCall, layer_norm

Tensor = torch.Tensor
OptTensor = torch.Tensor | None
DTYPES = (torch.float32, torch.float64)
_IMPLEMENTATIONS = ("auto", "compiled", "python")
# "auto": the compiled kernel when it builds, else the PyTorch loops; "compiled"; "python".
_DEFAULT_IMPLEMENTATION = os.environ.get("LSTMKIT_CPU_KERNEL", "auto")
_IMPLEMENTATION: ContextVar[str] = ContextVar("lstmkit_cpu_impl", default=_DEFAULT_IMPLEMENTATION)


@contextlib.contextmanager
def implementation(name: str) -> Iterator[None]:
    """Within this context the CPU backend runs its loops as `name`: "auto", "compiled" or "python".

    Eager mode only: code compiled by `torch.compile` runs `LSTMKIT_CPU_KERNEL`'s choice ("auto")."""
    if name not in _IMPLEMENTATIONS:
        raise ValueError(f"implementation must be 'auto', 'compiled' or 'python', got {name!r}")
    token = _IMPLEMENTATION.set(name)
    try:
        yield
    finally:
        _IMPLEMENTATION.reset(token)


def kernel_info() -> build.BuildInfo:
    """Whether the compiled kernel loaded, from where, how long it took to compile, or why not."""
    return build.info()


def _loops(name: str) -> build.Kernel | loops.PythonLoops:
    """The object whose forward(run)/backward(run)/gemm_tn run the time loop: the kernel or the loops."""
    if name not in _IMPLEMENTATIONS:
        raise ValueError(f"LSTMKIT_CPU_KERNEL must be 'auto', 'compiled' or 'python', got {name!r}")
    if name == "python":
        return loops.LOOPS
    kernel = build.load()
    if kernel is None:
        if name == "compiled":
            raise RuntimeError(f"the compiled CPU kernel is unavailable: {build.info().reason}")
        return loops.LOOPS
    return kernel


# Multiply-adds per call below which the loops run on one thread: starting a team costs tens of
# microseconds on an idle machine and milliseconds on a loaded one (a tiny LSTM took 21 ms with two
# threads instead of 0.08 ms with one, on 2 cores shared with other processes).
_MIN_PARALLEL_WORK = 4_000_000

# The BLAS (LP64, as torch links it) takes int sizes: I + H and G*H must stay below this.
_BLAS_LIMIT = 2**31


def _threads(B: int, T: int, GH: int, K: int) -> int:
    """How many threads split the batch: torch's setting, at most B, one for small work."""
    if B * T * GH * K < _MIN_PARALLEL_WORK:
        return 1
    return max(1, min(torch.get_num_threads(), B))


@dataclass(frozen=True)
class _Config:
    kind: str
    reverse: bool
    act: str
    rec_act: str
    zero_output: bool
    reset_after: bool

    def saved(self, has_rec_mask: bool) -> tuple[str, ...]:
        """Which of the buffers the backward reads this configuration fills (the rest stay empty)."""
        names = ["XH", "G"]
        if self.kind == "lstm":
            names += ["C", "TC"]
        if self.kind == "gru":
            names += ["HN"] + (["Hprev"] if has_rec_mask else [])
        return tuple(names)


# The buffers the backward reads, in the forward op's outputs after (Y, hN, cN).
_SAVED = ("XH", "G", "C", "TC", "HN", "Hprev")


def _saved_shape(name: str, T: int, B: int, K: int, GH: int, H: int) -> tuple[int, int, int]:
    return {"XH": (T, B, K), "G": (T, B, GH)}.get(name, (T, B, H))


def _fold_biases(cfg: _Config, G: int, H: int, b_ih: torch.Tensor | None, b_hh: torch.Tensor | None, like: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The bias added to the gates' pre-activations (zeros without biases), and for the GRU with
    reset_after the b_hn that stays inside r ⊙ (·)."""
    b_hn = None
    if cfg.kind == "gru" and cfg.reset_after:
        b_hn = like.new_zeros(H) if b_hh is None else b_hh[2 * H :].contiguous()
        if b_hh is not None:
            b_hh = torch.cat([b_hh[: 2 * H], b_hh.new_zeros(H)])
    bias = like.new_zeros(G * H)
    for b in (b_ih, b_hh):
        if b is not None:
            bias = bias + b
    return bias, b_hn


def _config(kind: str, reverse: bool, act: str, rec_act: str, zero_output: bool, reset_after: bool) -> _Config:
    if kind not in GATES or act not in ACT_CODES or rec_act not in ACT_CODES:
        raise ValueError(f"lstmkit::cpu_recurrence: unknown kind {kind!r} or activations {act!r}, {rec_act!r}")
    return _Config(kind, reverse, act, rec_act, zero_output, reset_after)


def _absent(like: torch.Tensor) -> torch.Tensor:
    """What an op returns in place of an output this call has none of (an op cannot return None)."""
    return like.new_empty(0)


def _recurrence(
    x: torch.Tensor, weight_ih: torch.Tensor, weight_hh: torch.Tensor, bias_ih: torch.Tensor | None,
    bias_hh: torch.Tensor | None, h0: torch.Tensor, c0: torch.Tensor | None, mask: torch.Tensor | None,
    in_mask: torch.Tensor | None, rec_mask: torch.Tensor | None, kind: str, reverse: bool, act: str, rec_act: str,
    zero_output: bool, reset_after: bool, training: bool, impl: str,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor,
           torch.Tensor, torch.Tensor]:
    """The forward time loop. Returns (Y, hN, cN, XH, G, C, TC, HN, Hprev): the outputs, then with
    `training` the buffers the backward reads; absent ones (cN but for the LSTM) are empty."""
    cfg = _config(kind, reverse, act, rec_act, zero_output, reset_after)
    B, T, I = x.shape
    H = h0.shape[1]
    GH = weight_ih.shape[0]
    bias, b_hn = _fold_biases(cfg, GH // H, H, bias_ih, bias_hh, x)
    new = x.new_empty
    run = Run(
        kind=kind, reverse=reverse, act=act, rec_act=rec_act, zero_output=zero_output, reset_after=reset_after,
        training=training, x=x, in_mask=None if in_mask is None else in_mask.contiguous(),
        W=torch.cat([weight_ih, weight_hh], dim=1),  # (GH, K)
        bias=bias, b_hn=b_hn, h0=h0.contiguous(), c0=None if c0 is None else c0.contiguous(),
        rec_mask=None if rec_mask is None else rec_mask.contiguous(),
        mask=None if mask is None else mask.contiguous(), nthreads=_threads(B, T, GH, I + H),
        Y=new(B, T, H), hN=new(B, H), cN=new(B, H) if kind == "lstm" else None,
    )
    if training:
        for name in cfg.saved(rec_mask is not None):
            setattr(run, name, WORKSPACE.take(_saved_shape(name, T, B, I + H, GH, H), x.dtype))
    _loops(impl).forward(run)
    Y, hN, cN, XH, G, C, TC, HN, Hprev = (_absent(x) if t is None else t for t in (
        run.Y, run.hN, run.cN, *(getattr(run, name) for name in _SAVED)))
    return Y, hN, cN, XH, G, C, TC, HN, Hprev


recurrence_op = torch.library.custom_op("lstmkit::cpu_recurrence", _recurrence, mutates_args=(), device_types="cpu")


@recurrence_op.register_fake
def _(x: Tensor, weight_ih: Tensor, weight_hh: Tensor, bias_ih: OptTensor, bias_hh: OptTensor, h0: Tensor,
      c0: OptTensor, mask: OptTensor, in_mask: OptTensor, rec_mask: OptTensor, kind: str, reverse: bool, act: str,
      rec_act: str, zero_output: bool, reset_after: bool, training: bool, impl: str) -> tuple[Tensor, ...]:
    cfg = _config(kind, reverse, act, rec_act, zero_output, reset_after)
    B, T, I = x.shape
    H = h0.shape[1]
    GH = weight_ih.shape[0]
    saved = cfg.saved(rec_mask is not None) if training else ()
    return (x.new_empty(B, T, H), x.new_empty(B, H), x.new_empty(B, H) if kind == "lstm" else _absent(x),
            *(x.new_empty(_saved_shape(n, T, B, I + H, GH, H)) if n in saved else _absent(x) for n in _SAVED))


def _recurrence_backward(
    dY: torch.Tensor | None, dhN: torch.Tensor | None, dcN: torch.Tensor | None, x: torch.Tensor,
    weight_ih: torch.Tensor, weight_hh: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor | None,
    mask: torch.Tensor | None, in_mask: torch.Tensor | None, rec_mask: torch.Tensor | None, XH: torch.Tensor,
    G: torch.Tensor, C: torch.Tensor, TC: torch.Tensor, HN: torch.Tensor, Hprev: torch.Tensor, kind: str,
    reverse: bool, act: str, rec_act: str, zero_output: bool, reset_after: bool, impl: str, need_x: bool,
    need_weights: bool,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The backward time loop and the weight gradients. Returns (dX, dW_ih, dW_hh, db_ih, db_hh, dh0, dc0);
    dX is empty unless `need_x`, the weight and bias gradients unless `need_weights`, dc0 but for the LSTM."""
    cfg = _config(kind, reverse, act, rec_act, zero_output, reset_after)
    B, T, I = x.shape
    H = h0.shape[1]
    GH = weight_ih.shape[0]
    present = cfg.saved(rec_mask is not None)
    saved: dict[str, Any] = {n: t if n in present else None for n, t in zip(_SAVED, (XH, G, C, TC, HN, Hprev))}
    nthreads = _threads(B, T, GH, I + H)
    run = Run(
        kind=kind, reverse=reverse, act=act, rec_act=rec_act, zero_output=zero_output, reset_after=reset_after,
        training=True, x=x, in_mask=None if in_mask is None else in_mask.contiguous(),
        W=torch.cat([weight_ih, weight_hh], dim=1), bias=None, b_hn=None, h0=h0.contiguous(),
        c0=None if c0 is None else c0.contiguous(), rec_mask=None if rec_mask is None else rec_mask.contiguous(),
        mask=None if mask is None else mask.contiguous(), nthreads=nthreads, **saved,
    )
    run.dY = dY  # any strides: the kernel reads it in place (a broadcast gradient has stride 0)
    run.dhN = None if dhN is None else dhN.contiguous()
    run.dcN = None if dcN is None else dcN.contiguous()
    run.dG = WORKSPACE.take((T, B, GH), x.dtype)
    run.dGh = WORKSPACE.take((T, B, GH), x.dtype) if kind == "gru" and reset_after else None
    run.dX = x.new_empty(B, T, I) if need_x else None
    run.dh0 = x.new_empty(B, H)
    run.dc0 = x.new_empty(B, H) if kind == "lstm" else None
    run.db = x.new_empty(nthreads, GH)
    run.dbh = x.new_empty(nthreads, GH) if run.dGh is not None else None
    impl_ = _loops(impl)
    impl_.backward(run)
    dW_ih = dW_hh = db_ih = db_hh = None
    if need_weights:
        dG = run.dG.view(T * B, GH)
        xh = req(run.XH, "XH").view(T * B, I + H)

        def tn(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:  # a^T b over all T*B rows
            return impl_.gemm_tn(a, b, nthreads)

        if kind == "gru" and reset_after:
            dW_ih, dW_hh = tn(dG, xh[:, :I]), tn(req(run.dGh, "dGh").view(T * B, GH), xh[:, I:])
        elif kind == "gru":  # the n rows multiply r ⊙ h_in
            dW_ih = tn(dG, xh[:, :I])  # (3H, I)
            dW_hh = torch.cat([tn(dG[:, : 2 * H], xh[:, I:]), tn(dG[:, 2 * H :], req(run.HN, "HN").view(T * B, H))])
        else:
            dW = tn(dG, xh)  # (GH, K): both weight gradients in one matmul over all T*B rows
            dW_ih, dW_hh = dW[:, :I].clone(), dW[:, I:].clone()  # an op's outputs must not share storage
        db_ih = run.db.sum(0)
        db_hh = db_ih.clone() if run.dbh is None else run.dbh.sum(0)
    dX, dW_ih_, dW_hh_, db_ih_, db_hh_, dh0, dc0 = (_absent(x) if t is None else t for t in (
        run.dX, dW_ih, dW_hh, db_ih, db_hh, run.dh0, run.dc0))
    return dX, dW_ih_, dW_hh_, db_ih_, db_hh_, dh0, dc0


recurrence_backward_op = torch.library.custom_op(
    "lstmkit::cpu_recurrence_backward", _recurrence_backward, mutates_args=(), device_types="cpu")


@recurrence_backward_op.register_fake
def _(dY: OptTensor, dhN: OptTensor, dcN: OptTensor, x: Tensor, weight_ih: Tensor, weight_hh: Tensor, h0: Tensor,
      c0: OptTensor, mask: OptTensor, in_mask: OptTensor, rec_mask: OptTensor, XH: Tensor, G: Tensor, C: Tensor,
      TC: Tensor, HN: Tensor, Hprev: Tensor, kind: str, reverse: bool, act: str, rec_act: str, zero_output: bool,
      reset_after: bool, impl: str, need_x: bool, need_weights: bool) -> tuple[Tensor, ...]:
    B, T, I = x.shape
    H = h0.shape[1]
    GH = weight_ih.shape[0]
    w = (x.new_empty(weight_ih.shape), x.new_empty(weight_hh.shape), x.new_empty(GH), x.new_empty(GH))
    return (x.new_empty(B, T, I) if need_x else _absent(x), *(w if need_weights else (_absent(x),) * 4),
            x.new_empty(B, H), x.new_empty(B, H) if kind == "lstm" else _absent(x))


# Inputs of recurrence_op, by position, that carry gradients.
_X, _W_IH, _W_HH, _B_IH, _B_HH, _H0, _C0 = range(7)


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, ...]) -> None:
    (x, weight_ih, weight_hh, b_ih, b_hh, h0, c0, mask, in_mask, rec_mask, kind, reverse, act, rec_act,
     zero_output, reset_after, training, impl) = inputs
    ctx.set_materialize_grads(False)
    # the buffers, and cN where the recurrence has none (an empty stand-in)
    ctx.mark_non_differentiable(*output[3:], *(() if kind == "lstm" else (output[2],)))
    # without the training buffers (under torch.func) the backward recomputes through the reference
    ctx.has_buffers = bool(training)
    ctx.save_for_backward(x, weight_ih, weight_hh, h0, c0, mask, in_mask, rec_mask, *output[3:], b_ih, b_hh)
    if recompute.under_torch_func():  # the primals of a forward-mode transform
        ctx.save_for_forward(x, weight_ih, weight_hh, b_ih, b_hh, h0, c0, mask, in_mask, rec_mask)
    ctx.cfg = (kind, reverse, act, rec_act, zero_output, reset_after, impl)


def _backward(ctx: Any, dY: OptTensor, dhN: OptTensor, dcN: OptTensor, *_saved_grads: OptTensor
              ) -> tuple[OptTensor, ...]:
    return _gradients(recurrence_backward_op, ctx, dY, dhN, dcN)


def _gradients(backward_op: Callable[..., tuple[Tensor, ...]], ctx: Any, dY: OptTensor, dhN: OptTensor,
               dcN: OptTensor) -> tuple[OptTensor, ...]:
    need = ctx.needs_input_grad
    x, weight_ih, weight_hh, h0, c0, mask, in_mask, rec_mask, *saved, b_ih, b_hh = ctx.saved_tensors
    if not ctx.has_buffers or recompute.needed(dY, dhN, dcN):
        # backward(create_graph=True), or a torch.func transform: the gradients must be differentiable
        # in turn (and, under vmap, batchable), which the fused backward kernel is not
        return _differentiable_gradients(ctx, dY, dhN, dcN, (x, weight_ih, weight_hh, b_ih, b_hh, h0, c0),
                                         (mask, in_mask, rec_mask))
    need_weights = any(need[i] for i in (_W_IH, _W_HH, _B_IH, _B_HH))
    dX, dW_ih, dW_hh, db_ih, db_hh, dh0, dc0 = backward_op(
        dY, dhN, dcN, x, weight_ih, weight_hh, h0, c0, mask, in_mask, rec_mask, *saved, *ctx.cfg,
        need_x=need[_X], need_weights=need_weights)
    grads = (dX, dW_ih, dW_hh, db_ih, db_hh, dh0, dc0)
    return (*(g if need[i] else None for i, g in enumerate(grads)), *(None,) * 11)


def _reference(ctx: Any, masks: tuple[OptTensor, ...]) -> Callable[..., tuple[Tensor, ...]]:
    kind, reverse, act, rec_act, zero_output, reset_after, _ = ctx.cfg
    mask, in_mask, rec_mask = masks
    return recompute.reference_function(kind, reverse=reverse, activation=act, recurrent_activation=rec_act,
                                        reset_after=reset_after, zero_output_for_mask=zero_output, mask=mask,
                                        input_dropout_mask=in_mask, recurrent_dropout_mask=rec_mask)


def _differentiable_gradients(ctx: Any, dY: OptTensor, dhN: OptTensor, dcN: OptTensor,
                              inputs: tuple[OptTensor, ...], masks: tuple[OptTensor, ...]) -> tuple[OptTensor, ...]:
    """The gradients recomputed through the reference (`lstmkit.ops.recompute`): for
    backward(create_graph=True), torch.func and autograd's batched gradients."""
    grads = recompute.gradients(_reference(ctx, masks), inputs, ctx.needs_input_grad, (dY, dhN, dcN))
    return (*grads, *(None,) * 11)


def _jvp(ctx: Any, *tangents: Any) -> tuple[OptTensor, ...]:
    """Forward mode (torch.func.jvp, jacfwd): the reference's jvp at the saved primals."""
    x, w_ih, w_hh, b_ih, b_hh, h0, c0, mask, in_mask, rec_mask = ctx.saved_tensors
    tY, thN, *rest = recompute.jvp(_reference(ctx, (mask, in_mask, rec_mask)), (x, w_ih, w_hh, b_ih, b_hh, h0, c0),
                                   tangents)
    return (tY, thN, rest[0] if rest else None, *(None,) * len(_SAVED))


recurrence_op.register_autograd(_backward, setup_context=_setup_context)


class _Recurrence(torch.autograd.Function):
    """The same two ops' implementations and autograd formula, called directly in eager mode, with
    a vmap rule for torch.func.

    Why not the op: the dispatcher and custom_op's autograd wrapper cost about 115 µs per call with
    gradients and 37 µs without (an LSTM at B=1, T=100, H=8 on the 2-core Xeon: 172 µs through the op
    against 58 µs for the kernel itself), and custom_op's autograd does not compose with torch.func.
    torch.compile, torch.export and torch.jit.trace always see the op (`CpuBackend.run`).

    Under torch.func (grad, vjp, jacrev, vmap, and their compositions) the forward runs the kernel on
    the unwrapped tensors and the backward recomputes through the reference recurrence, whose torch
    operations every transform can differentiate and batch again."""

    @staticmethod
    def forward(*inputs: Any) -> tuple[Tensor, ...]:
        return _recurrence(*inputs)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, ...]) -> None:
        _setup_context(ctx, inputs, output)

    @staticmethod
    def backward(ctx: Any, dY: OptTensor, dhN: OptTensor, dcN: OptTensor, *_saved_grads: OptTensor
                 ) -> tuple[OptTensor, ...]:
        return _gradients(_recurrence_backward, ctx, dY, dhN, dcN)

    @staticmethod
    def jvp(ctx: Any, *tangents: Any) -> tuple[OptTensor, ...]:
        return _jvp(ctx, *tangents)

    @staticmethod
    def vmap(info: Any, in_dims: tuple[int | None, ...], *inputs: Any) -> tuple[tuple[Tensor, ...], tuple[Any, ...]]:
        return _vmap_recurrence(info.batch_size, in_dims, inputs)


# Positions in recurrence_op's inputs of the per-sequence tensors (batch first) and of the weights.
_PER_SEQUENCE = (_X, _H0, _C0, 7, 8, 9)  # x, h0, c0, mask, in_mask, rec_mask
_WEIGHTS = (_W_IH, _W_HH, _B_IH, _B_HH)


def _vmap_recurrence(N: int, in_dims: tuple[int | None, ...], inputs: tuple[Any, ...]
                     ) -> tuple[tuple[Tensor, ...], tuple[Any, ...]]:
    """torch.vmap over the recurrence. With the weights shared, the N mapped problems of batch B are
    one problem of batch N*B (one kernel call); with mapped weights (an ensemble), one call each."""
    if all(in_dims[i] is None for i in _WEIGHTS):
        folded = list(inputs)
        for i in _PER_SEQUENCE:
            t, d = inputs[i], in_dims[i]
            if t is None:
                continue
            t = t.unsqueeze(0).expand(N, *t.shape) if d is None else t.movedim(d, 0)
            folded[i] = t.reshape(N * t.shape[1], *t.shape[2:])
        B = folded[_X].shape[0] // N
        outputs = _Recurrence.apply(*folded)
        out: list[Tensor] = []
        dims: list[int | None] = []
        for k, o in enumerate(outputs):
            if o.numel() == 0 and o.dim() == 1:  # an absent output
                out.append(o)
                dims.append(None)
            elif k < 3:  # Y (N*B, T, H), hN and cN (N*B, H)
                out.append(o.view(N, B, *o.shape[1:]))
                dims.append(0)
            else:  # the time-major buffers (T, N*B, width)
                out.append(o.view(o.shape[0], N, B, *o.shape[2:]))
                dims.append(1)
        return tuple(out), tuple(dims)
    per_item = []
    for n in range(N):
        args = [t if d is None or t is None else t.select(d, n) for t, d in zip(inputs, in_dims)]
        per_item.append(_Recurrence.apply(*args))
    return tuple(torch.stack(outs) for outs in zip(*per_item)), (0,) * len(per_item[0])


# ----------------------------------------------------------------- the variants (issue 19)
# Peephole, layer norm and zoneout (lstmkit.ops.variants) run on the kernel's variants' path: the input
# projection XW = LN_ih((x ⊙ in_mask) W_ih^T) + b_ih (LSTM: + b_hh) is one torch matmul over all steps
# (autograd differentiates it and LN_ih), and the loop takes XW, W_hh and the variants' tensors. The
# GRU runs them with reset_after=True (its b_hh stays in the loop: b_hn sits inside r ⊙ (·)).
VARIANTS = frozenset({"peephole", "layer_norm", "zoneout"})


def variant_limits(call: RecurrenceCall) -> str | None:
    """Why the kernel's variants' path cannot run the variant call `call`, else None."""
    if call.kind == "gru" and not call.reset_after:
        return ("its kernel runs the GRU variants with reset_after=True only (with reset_after=False r enters before "
                "the matmul, which the variants' path does not split); the reference backend runs it")
    if torch.compiler.is_compiling() or torch.jit.is_tracing() or recompute.under_torch_func():
        return ("its variants' path is an eager-mode autograd Function (no custom op for torch.compile, "
                "torch.jit.trace or torch.func yet); the reference backend runs it")
    return None


def _zoneout_tensor(z: Any, B: int, T: int, H: int, like: torch.Tensor) -> torch.Tensor | None:
    """A (B, T, H) mask as it is, or a rate broadcast over (B, T) (strides 0, 0, 1) for the kernel."""
    if z is None:
        return None
    if isinstance(z, torch.Tensor):
        return z.contiguous()
    return like.new_full((1, 1, H), float(z)).expand(B, T, H)


@dataclass(frozen=True)
class _VariantConfig:
    kind: str
    reverse: bool
    act: str
    rec_act: str
    zero_output: bool
    impl: str


def _variant_run(cfg: _VariantConfig, xw: Tensor, w_hh: Tensor, b_hh: OptTensor, h0: Tensor, c0: OptTensor,
                 peep: OptTensor, ln_hh: tuple[OptTensor, OptTensor], ln_c: tuple[OptTensor, OptTensor],
                 zh: OptTensor, zc: OptTensor, mask: OptTensor, rec_mask: OptTensor, training: bool) -> Run:
    B, T, GH = xw.shape
    H = h0.shape[1]
    lstm = cfg.kind == "lstm"
    return Run(
        kind=cfg.kind, reverse=cfg.reverse, act=cfg.act, rec_act=cfg.rec_act, zero_output=cfg.zero_output,
        reset_after=True, training=training, x=xw, in_mask=None, W=w_hh.contiguous(),
        bias=None if b_hh is None else b_hh.contiguous(), b_hn=None, h0=h0.contiguous(),
        c0=None if c0 is None else c0.contiguous(), rec_mask=None if rec_mask is None else rec_mask.contiguous(),
        mask=None if mask is None else mask.contiguous(), nthreads=_threads(B, T, GH, H), variant=True,
        peep=None if peep is None else peep.contiguous(),
        ln_hh_w=None if ln_hh[0] is None else ln_hh[0].contiguous(),
        ln_hh_b=None if ln_hh[1] is None else ln_hh[1].contiguous(),
        ln_c_w=None if ln_c[0] is None else ln_c[0].contiguous(),
        ln_c_b=None if ln_c[1] is None else ln_c[1].contiguous(),
        zh=zh, zc=zc if lstm else None,
    )


def _variant_forward(cfg: _VariantConfig, xw: Tensor, w_hh: Tensor, b_hh: OptTensor, h0: Tensor, c0: OptTensor,
                     peep: OptTensor, ln_hh: tuple[OptTensor, OptTensor], ln_c: tuple[OptTensor, OptTensor],
                     zh: OptTensor, zc: OptTensor, mask: OptTensor, rec_mask: OptTensor, training: bool) -> Run:
    """The variants' forward loop; with `training` the Run keeps the buffers the backward reads."""
    B, T, GH = xw.shape
    H = h0.shape[1]
    lstm = cfg.kind == "lstm"
    run = _variant_run(cfg, xw, w_hh, b_hh, h0, c0, peep, ln_hh, ln_c, zh, zc, mask, rec_mask, training)
    new = xw.new_empty
    run.Y, run.hN, run.cN = new(B, T, H), new(B, H), new(B, H) if lstm else None
    if training:
        take = WORKSPACE.take
        run.XH, run.G = take((T, B, H), xw.dtype), take((T, B, GH), xw.dtype)
        if lstm:
            run.C, run.CT, run.TC = (take((T, B, H), xw.dtype) for _ in range(3))
            if run.ln_c_w is not None:
                run.LC, run.CS = take((T, B, H), xw.dtype), take((T, B), xw.dtype)
        else:
            run.HN = take((T, B, H), xw.dtype)
            run.Hprev = take((T, B, H), xw.dtype) if rec_mask is not None else None
        if run.ln_hh_w is not None:
            run.UN, run.US = take((T, B, GH), xw.dtype), take((T, B), xw.dtype)
    _loops(cfg.impl).forward(run)
    return run


def _variant_reference(cfg: _VariantConfig, zh: OptTensor, zc: OptTensor, mask: OptTensor, rec_mask: OptTensor
                       ) -> Callable[..., tuple[Tensor, ...]]:
    """The variants' loop as a differentiable function of its tensor inputs, through the reference
    (the input projection given as x with an identity W_ih): for backward(create_graph=True)."""
    from lstmkit.ops import reference

    def run(xw: Tensor, w_hh: Tensor, b_hh: OptTensor, h0: Tensor, c0: OptTensor, peep: OptTensor,
            lnh_w: OptTensor, lnh_b: OptTensor, lnc_w: OptTensor, lnc_b: OptTensor) -> tuple[Tensor, ...]:
        GH = xw.shape[2]
        eye = torch.eye(GH, dtype=xw.dtype)
        if cfg.kind == "lstm":
            assert c0 is not None
            pi, pf, po = (None, None, None) if peep is None else peep.chunk(3)
            return reference.lstm(
                xw, eye, w_hh, None, None, weight_hr=None, h0=h0, c0=c0, mask=mask, reverse=cfg.reverse,
                activation=cfg.act, recurrent_activation=cfg.rec_act, recurrent_dropout_mask=rec_mask,
                zero_output_for_mask=cfg.zero_output, ln_hh_weight=lnh_w, ln_hh_bias=lnh_b, zoneout_h=zh, weight_ci=pi,
                weight_cf=pf, weight_co=po, ln_c_weight=lnc_w, ln_c_bias=lnc_b, zoneout_c=zc)
        return reference.gru(
            xw, eye, w_hh, None, b_hh, h0=h0, mask=mask, reverse=cfg.reverse, activation=cfg.act,
            recurrent_activation=cfg.rec_act, recurrent_dropout_mask=rec_mask, zero_output_for_mask=cfg.zero_output,
            ln_hh_weight=lnh_w, ln_hh_bias=lnh_b, zoneout_h=zh)
    return run


def _outputs(run: Run) -> tuple[Tensor, ...]:
    Y, hN = req(run.Y, "Y"), req(run.hN, "hN")
    return (Y, hN) if run.cN is None else (Y, hN, run.cN)


class _VariantLoop(torch.autograd.Function):
    """The variants' loop with its fused backward. Inputs: xw, w_hh, b_hh, h0, c0, peep, lnh_w, lnh_b, lnc_w,
    lnc_b (differentiable), then zh, zc, mask, rec_mask, cfg. Outputs (Y, hN) and, for the LSTM, cN."""

    @staticmethod
    def forward(ctx: Any, xw: Tensor, w_hh: Tensor, b_hh: OptTensor, h0: Tensor, c0: OptTensor, peep: OptTensor,
                lnh_w: OptTensor, lnh_b: OptTensor, lnc_w: OptTensor, lnc_b: OptTensor, zh: OptTensor, zc: OptTensor,
                mask: OptTensor, rec_mask: OptTensor, cfg: _VariantConfig) -> tuple[Tensor, ...]:
        run = _variant_forward(cfg, xw, w_hh, b_hh, h0, c0, peep, (lnh_w, lnh_b), (lnc_w, lnc_b), zh, zc, mask,
                               rec_mask, True)
        ctx.set_materialize_grads(False)
        outputs = _outputs(run)
        run.Y = run.hN = run.cN = None  # the ctx keeps the buffers, not the outputs (a reference cycle)
        ctx.run, ctx.cfg = run, cfg
        ctx.save_for_backward(xw, w_hh, b_hh, h0, c0, peep, lnh_w, lnh_b, lnc_w, lnc_b)
        return outputs

    @staticmethod
    def backward(ctx: Any, dY: OptTensor, dhN: OptTensor, dcN: OptTensor = None) -> tuple[OptTensor, ...]:
        inputs = ctx.saved_tensors
        fwd: Run = ctx.run
        cfg: _VariantConfig = ctx.cfg
        tail = (None,) * 5
        if recompute.needed(dY, dhN, dcN):  # create_graph=True: gradients autograd can differentiate again
            fn = _variant_reference(cfg, fwd.zh, fwd.zc, fwd.mask, fwd.rec_mask)
            return (*recompute.gradients(fn, inputs, ctx.needs_input_grad, (dY, dhN, dcN)), *tail)
        xw, _, _, h0, _, peep, lnh_w, lnh_b, lnc_w, lnc_b = inputs
        B, T, GH = xw.shape
        H = h0.shape[1]
        lstm = cfg.kind == "lstm"
        run = dataclasses.replace(fwd)  # the forward's Run stays as it is: a retained graph runs backward again
        nt = run.nthreads
        run.dY = dY  # any strides: the kernel reads it in place
        run.dhN = None if dhN is None else dhN.contiguous()
        run.dcN = None if dcN is None else dcN.contiguous()
        run.dG = WORKSPACE.take((T, B, GH), xw.dtype)
        run.dGh = WORKSPACE.take((T, B, GH), xw.dtype) if (lnh_w is not None or not lstm) else None
        run.dh0, run.dc0 = xw.new_empty(B, H), xw.new_empty(B, H) if lstm else None
        run.dpeep = xw.new_empty(nt, 3 * H) if peep is not None else None
        run.dln_hh = xw.new_empty(nt, 2 * GH) if lnh_w is not None else None
        run.dln_c = xw.new_empty(nt, 2 * H) if lnc_w is not None else None
        run.dbh = xw.new_empty(nt, GH) if not lstm else None
        impl = _loops(cfg.impl)
        impl.backward(run)
        need = ctx.needs_input_grad
        dG = req(run.dG, "dG")
        dxw = dG.transpose(0, 1) if need[0] else None  # (B, T, GH), the layout of xw (a time-major view)
        dw_hh = None
        if need[1]:
            du = run.dGh if run.dGh is not None else dG
            dw_hh = impl.gemm_tn(du.view(T * B, GH), req(run.XH, "XH").view(T * B, H), nt)  # (GH, H)
        db_hh = req(run.dbh, "dbh").sum(0) if need[2] and run.dbh is not None else None
        dln_hh = None if run.dln_hh is None else run.dln_hh.sum(0)
        dln_c = None if run.dln_c is None else run.dln_c.sum(0)
        grads = (dxw, dw_hh, db_hh, run.dh0, run.dc0, None if run.dpeep is None else run.dpeep.sum(0),
                 None if dln_hh is None else dln_hh[:GH], None if dln_hh is None or lnh_b is None else dln_hh[GH:],
                 None if dln_c is None else dln_c[:H], None if dln_c is None or lnc_b is None else dln_c[H:])
        return (*(g if need[k] else None for k, g in enumerate(grads)), *tail)


def run_variants(call: VariantCall, act: str, rec_act: str, impl: str) -> Outputs:
    """A variant call on the kernel's variants' path (`variant_limits(call)` is None)."""
    B, T, _ = call.x.shape
    H = call.hidden_size
    x = call.x if call.input_dropout_mask is None else call.x * call.input_dropout_mask[:, None, :]
    lstm = call.kind == "lstm"
    biases = [b for b in (call.bias_ih, call.bias_hh if lstm else None) if b is not None]
    bias = None if not biases else biases[0] if len(biases) == 1 else biases[0] + biases[1]  # (GH,)
    # Time-major, so that dL/dXW is the loop's dG (T, B, GH) as it is, with no transposing copy; the bias
    # rides in the matmul: two (B, T, 4H) additions and a copy took 14 of the 45 ms of a B=128, T=100,
    # H=32 peephole step's backward and forward
    x_tm = x.transpose(0, 1)  # (T, B, I)
    if call.ln_ih_weight is None:
        xw = F.linear(x_tm, call.weight_ih, bias)  # (T, B, GH)
    else:
        xw = layer_norm(F.linear(x_tm, call.weight_ih), call.ln_ih_weight, call.ln_ih_bias)
        xw = xw if bias is None else xw + bias
    xw = xw.transpose(0, 1)  # (B, T, GH) with strides (GH, B*GH, 1): the kernel reads any strides
    peep = None  # (3H,) p_i, p_f, p_o
    if call.weight_ci is not None and call.weight_cf is not None and call.weight_co is not None:
        peep = torch.cat([call.weight_ci, call.weight_cf, call.weight_co])
    zh = _zoneout_tensor(call.zoneout_h, B, T, H, call.x)
    zc = _zoneout_tensor(call.zoneout_c, B, T, H, call.x) if lstm else None
    cfg = _VariantConfig(call.kind, call.reverse, act, rec_act, call.zero_output_for_mask, impl)
    args = (xw, call.weight_hh, None if lstm else call.bias_hh, call.h0, call.c0 if lstm else None, peep,
            call.ln_hh_weight, call.ln_hh_bias, call.ln_c_weight if lstm else None, call.ln_c_bias if lstm else None)
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in args):
        out: tuple[Tensor, ...] = _VariantLoop.apply(*args, zh, zc, call.mask, call.recurrent_dropout_mask, cfg)
        return out
    return _outputs(_variant_forward(cfg, xw, args[1], args[2], call.h0, args[4], peep, args[6:8], args[8:10], zh, zc,
                                     call.mask, call.recurrent_dropout_mask, False))


class CpuBackend:
    """The fused CPU loops: float32 and float64 on the CPU, named activations, no projection; the variants
    of issue 19 in eager mode (the GRU's with reset_after=True)."""

    name = "cpu"
    auto_devices = frozenset({"cpu"})
    traceable = True  # one op per call, which reads the sequence length from its input
    variants = VARIANTS  # peephole, layer norm, zoneout (GRU: reset_after=True; see variant_limits)

    def supports(self, call: RecurrenceCall) -> str | None:
        if call.x.device.type != "cpu":
            return f"it runs on the CPU only, and the input is on {call.x.device}"
        if call.x.dtype not in DTYPES:
            return f"it runs float32 and float64 only, and the input is {call.x.dtype}"
        width = max(call.x.shape[-1] + call.hidden_size, call.gates * call.hidden_size)
        if width >= _BLAS_LIMIT:
            return (f"its BLAS calls take 32-bit sizes, and input_size + hidden_size or the gates' width is {width} "
                    f"(at most {_BLAS_LIMIT - 1})")
        if isinstance(call, VariantCall) and call.variants:
            return RecurrenceCall.beyond_fused_kernels(call) or variant_limits(call)
        return call.beyond_fused_kernels()

    def run(self, call: RecurrenceCall) -> Outputs:
        act = activation_name(call.activation)
        rec_act = "sigmoid" if call.kind == "simple_rnn" else activation_name(call.recurrent_activation)
        assert act is not None and rec_act is not None  # supports() refused callables
        if isinstance(call, VariantCall) and call.variants:
            return run_variants(call, act, rec_act, _IMPLEMENTATION.get())
        weights = (call.x, call.weight_ih, call.weight_hh, call.bias_ih, call.bias_hh, call.h0, call.c0)
        training = any(t is not None and t.requires_grad for t in weights)
        # keep the buffers for a backward only when autograd records one; under torch.jit.trace keep
        # them whenever a gradient may be asked for later, so the graph does not depend on grad mode
        # (the tracer's own check reruns the model under no_grad and compares the graphs)
        training = training and (torch.is_grad_enabled() or torch.jit.is_tracing())
        # torch.compile cannot read a ContextVar: compiled code runs the process-wide default
        impl = _DEFAULT_IMPLEMENTATION if torch.compiler.is_compiling() else _IMPLEMENTATION.get()
        inputs = (*weights, call.mask, call.input_dropout_mask, call.recurrent_dropout_mask, call.kind, call.reverse,
                  act, rec_act, call.zero_output_for_mask, call.kind == "gru" and call.reset_after, training, impl)
        if torch.compiler.is_compiling() or torch.jit.is_tracing():
            Y, hN, cN, *_ = recurrence_op(*inputs)
        elif recompute.under_torch_func():  # no buffers: the backward recomputes through the reference
            Y, hN, cN, *_ = _Recurrence.apply(*inputs[:-2], False, impl)
        elif training:
            Y, hN, cN, *_ = _Recurrence.apply(*inputs)
        else:
            Y, hN, cN, *_ = _recurrence(*inputs)
        return (Y, hN, cN) if call.kind == "lstm" else (Y, hN)


BACKEND = CpuBackend()
