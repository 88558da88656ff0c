"""The fast CPU backend: LSTM, GRU and SimpleRNN with their own backward pass.

Same arguments, returns and semantics as `lstmkit.ops.reference` (the equations are in its
docstrings). Dimensions: B batch, T time, I input, H hidden, G gates (LSTM 4, GRU 3, SimpleRNN 1).

Forward:
    G = (x ⊙ input_dropout_mask) W_ih^T + biases      all steps in one matmul       (T, B, G*H)
    per step t: G_t += h_in W_hh^T; one fused pointwise pass gives the gates, c_t, h_t
Backward (per step, in reverse): one fused pointwise pass gives dG_t, then dh_in = dG_t W_hh; after the loop
    dW_ih = dG^T X,  dW_hh = dG^T H_in,  db = Σ dG,  dx = dG W_ih       single matmuls over all T*B rows

The time loops run in a small C++ library compiled on first use (`_cpu/rnn_kernels.cpp`, built by
`_cpu/build.py`): threads split the batch and each runs the whole loop on its rows, so there is no
per-step Python or thread-synchronisation overhead. Without a compiler the same loops run in
PyTorch (`_cpu/loops.py`). Buffers are time-major so that one step's rows are contiguous.

Falls back to the reference for what the kernel does not implement: activations given as
callables other than the named ones, the LSTM projection (`weight_hr`), dropout masks that require
grad, dtypes other than float32/float64.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass

import torch
from torch.autograd.function import once_differentiable

from lstmkit.ops import reference
from lstmkit.ops._cpu import build, loops
from lstmkit.ops._cpu.loops import ACT_CODES, Run
from lstmkit.ops._cpu.workspace import WORKSPACE
from lstmkit.ops.activations import Activation, activation_name
from lstmkit.ops.dispatch import register_backend

DTYPES = (torch.float32, torch.float64)
# "auto": the compiled kernel when it builds, else the PyTorch loops; "compiled"; "python".
_DEFAULT_IMPLEMENTATION = os.environ.get("LSTMKIT_CPU_KERNEL", "auto")
_IMPLEMENTATION: ContextVar[str] = ContextVar("lstmkit_cpu_impl", default=_DEFAULT_IMPLEMENTATION)


@contextlib.contextmanager
def implementation(name: str) -> Iterator[None]:
    """Within this context the CPU backend runs its loops as `name`: "auto", "compiled" or "python"."""
    if name not in ("auto", "compiled", "python"):
        raise ValueError(f"implementation must be 'auto', 'compiled' or 'python', got {name!r}")
    token = _IMPLEMENTATION.set(name)
    try:
        yield
    finally:
        _IMPLEMENTATION.reset(token)


def kernel_info() -> build.BuildInfo:
    """Whether the compiled kernel loaded, from where, how long it took to compile, or why not."""
    return build.info()


def _loops():  # type: ignore[no-untyped-def]
    """The object whose forward(run)/backward(run) run the time loop: the compiled kernel or loops."""
    name = _IMPLEMENTATION.get()
    if name not in ("auto", "compiled", "python"):
        raise ValueError(f"LSTMKIT_CPU_KERNEL must be 'auto', 'compiled' or 'python', got {name!r}")
    if name == "python":
        return loops
    kernel = build.load()
    if kernel is None:
        if name == "compiled":
            raise RuntimeError(f"the compiled CPU kernel is unavailable: {build.info().reason}")
        return loops
    return kernel


# Multiply-adds per call below which the loops run on one thread: starting a team costs tens of
# microseconds on an idle machine and milliseconds on a loaded one (a tiny LSTM took 21 ms with two
# threads instead of 0.08 ms with one, on 2 cores shared with other processes).
_MIN_PARALLEL_WORK = 4_000_000


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


def _forward(cfg: _Config, x: torch.Tensor, W_ih: torch.Tensor, W_hh: torch.Tensor, b_ih: torch.Tensor | None,
             b_hh: torch.Tensor | None, h0: torch.Tensor, c0: torch.Tensor | None, mask: torch.Tensor | None,
             in_mask: torch.Tensor | None, rec_mask: torch.Tensor | None, impl, training: bool  # type: ignore[no-untyped-def]
             ) -> Run:
    """Run the time loop; with `training`, keep in the Run what the backward needs."""
    B, T, I = x.shape
    H = h0.shape[1]
    GH = W_ih.shape[0]
    bias, b_hn = _fold_biases(cfg, GH // H, H, b_ih, b_hh, x)
    new = x.new_empty
    run = Run(
        kind=cfg.kind, reverse=cfg.reverse, act=cfg.act, rec_act=cfg.rec_act, zero_output=cfg.zero_output,
        reset_after=cfg.reset_after, training=training, x=x,
        in_mask=None if in_mask is None else in_mask.contiguous(),
        W=torch.cat([W_ih, W_hh], dim=1),  # (GH, I + H)
        bias=bias, b_hn=b_hn, h0=h0.contiguous(), c0=None if c0 is None else c0.contiguous(),
        rec_mask=None if rec_mask is None else rec_mask.contiguous(),
        mask=None if mask is None else mask.contiguous(), nthreads=_threads(B, T, GH, I + H),
        Y=new(B, T, H), hN=new(B, H), cN=new(B, H) if cfg.kind == "lstm" else None,
    )
    if training:
        take = WORKSPACE.take
        run.XH, run.G = take((T, B, I + H), x.dtype), take((T, B, GH), x.dtype)
        if cfg.kind == "lstm":
            run.C, run.TC = take((T, B, H), x.dtype), take((T, B, H), x.dtype)
        if cfg.kind == "gru":
            run.HN = take((T, B, H), x.dtype)
            run.Hprev = take((T, B, H), x.dtype) if rec_mask is not None else None
    impl.forward(run)
    return run


# What the backward reads, saved through save_for_backward: autograd then frees it after the
# backward (unless retain_graph), which returns the buffers to the workspace.
_SAVED = ("x", "in_mask", "W", "b_hn", "h0", "c0", "rec_mask", "mask", "XH", "G", "Hprev", "C", "TC", "HN")


class _Recurrence(torch.autograd.Function):
    """One autograd node for the whole sequence, with the backward described in the module docstring."""

    @staticmethod
    def forward(ctx, cfg, x, W_ih, W_hh, b_ih, b_hh, h0, c0, mask, in_mask, rec_mask):  # type: ignore[no-untyped-def, override]
        ctx.impl = _loops()  # the backward must run the same implementation as the forward
        run = _forward(cfg, x, W_ih, W_hh, b_ih, b_hh, h0, c0, mask, in_mask, rec_mask, ctx.impl, training=True)
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(*(getattr(run, name) for name in _SAVED))
        ctx.cfg = cfg
        return (run.Y, run.hN, run.cN) if cfg.kind == "lstm" else (run.Y, run.hN)

    @staticmethod
    @once_differentiable
    def backward(ctx, dY, dhN, dcN=None):  # type: ignore[no-untyped-def, override]
        cfg = ctx.cfg
        need = ctx.needs_input_grad  # (cfg, x, W_ih, W_hh, b_ih, b_hh, h0, c0, mask, in_mask, rec_mask)
        B, T, I = ctx.saved_tensors[0].shape
        run = Run(kind=cfg.kind, reverse=cfg.reverse, act=cfg.act, rec_act=cfg.rec_act, zero_output=cfg.zero_output,
                  reset_after=cfg.reset_after, training=True, bias=None,
                  nthreads=_threads(B, T, ctx.saved_tensors[2].shape[0], ctx.saved_tensors[2].shape[1]),
                  **dict(zip(_SAVED, ctx.saved_tensors)))
        H = run.h0.shape[1]
        GH = run.W.shape[0]
        take = WORKSPACE.take
        run.dY = dY  # any strides: the kernel reads it in place (a broadcast gradient has stride 0)
        run.dhN = None if dhN is None else dhN.contiguous()
        run.dcN = None if dcN is None else dcN.contiguous()
        run.dG = take((T, B, GH), run.x.dtype)
        run.dGh = take((T, B, GH), run.x.dtype) if cfg.kind == "gru" and cfg.reset_after else None
        run.dX = run.x.new_empty(B, T, I) if need[1] else None
        run.dh0 = run.h0.new_empty(B, H)
        run.dc0 = run.h0.new_empty(B, H) if cfg.kind == "lstm" else None
        run.db = run.x.new_empty(run.nthreads, GH)
        run.dbh = run.x.new_empty(run.nthreads, GH) if run.dGh is not None else None
        ctx.impl.backward(run)
        dG = run.dG.view(T * B, GH)
        dGh = dG if run.dGh is None else run.dGh.view(T * B, GH)
        XH = run.XH.view(T * B, I + H)
        dW_ih = dW_hh = db_ih = db_hh = None

        def tn(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:  # a^T b over all T*B rows
            return ctx.impl.gemm_tn(a, b, run.nthreads)

        if cfg.kind == "gru":
            if need[2]:
                dW_ih = tn(dG, XH[:, :I])  # (3H, I)
            if need[3] and cfg.reset_after:
                dW_hh = tn(dGh, XH[:, I:])  # (3H, H)
            elif need[3]:  # the n rows multiply r ⊙ h_in
                dW_hh = torch.cat([tn(dG[:, : 2 * H], XH[:, I:]), tn(dG[:, 2 * H :], run.HN.view(T * B, H))])
        elif need[2] or need[3]:
            dW = tn(dG, XH)  # (GH, I + H): both weight gradients in one matmul over all T*B rows
            dW_ih, dW_hh = dW[:, :I], dW[:, I:]
        if need[4]:
            db_ih = run.db.sum(0)
        if need[5]:
            db_hh = run.db.sum(0) if run.dbh is None else run.dbh.sum(0)
        return (None, run.dX, dW_ih, dW_hh, db_ih, db_hh, run.dh0 if need[6] else None,
                run.dc0 if need[7] else None, None, None, None)


def _run(cfg: _Config, x: torch.Tensor, W_ih: torch.Tensor, W_hh: torch.Tensor, b_ih: torch.Tensor | None,
         b_hh: torch.Tensor | None, h0: torch.Tensor, c0: torch.Tensor | None, mask: torch.Tensor | None,
         in_mask: torch.Tensor | None, rec_mask: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
    inputs = (x, W_ih, W_hh, b_ih, b_hh, h0, c0)
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in inputs):
        return _Recurrence.apply(cfg, x, W_ih, W_hh, b_ih, b_hh, h0, c0, mask, in_mask, rec_mask)
    run = _forward(cfg, x, W_ih, W_hh, b_ih, b_hh, h0, c0, mask, in_mask, rec_mask, _loops(), training=False)
    return (run.Y, run.hN, run.cN) if cfg.kind == "lstm" else (run.Y, run.hN)


def _supported(x: torch.Tensor, *acts: str | Activation, masks: tuple[torch.Tensor | None, ...]) -> bool:
    return (
        x.device.type == "cpu" and x.dtype in DTYPES
        and all(activation_name(a) in ACT_CODES for a in acts)
        and not any(m is not None and m.requires_grad for m in masks)
    )


def lstm(
    x: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None,
    bias_hh: torch.Tensor | None,
    *,
    weight_hr: torch.Tensor | None,
    h0: torch.Tensor,
    c0: torch.Tensor,
    mask: torch.Tensor | None = None,
    reverse: bool = False,
    activation: str | Activation = "tanh",
    recurrent_activation: str | Activation = "sigmoid",
    input_dropout_mask: torch.Tensor | None = None,
    recurrent_dropout_mask: torch.Tensor | None = None,
    zero_output_for_mask: bool = False,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """LSTM over a whole sequence; the equations and arguments of `lstmkit.ops.reference.lstm`.

    Returns (output (B, T, H), h_n (B, H), c_n (B, H)).
    """
    if weight_hr is not None or not _supported(
            x, activation, recurrent_activation, masks=(input_dropout_mask, recurrent_dropout_mask)):
        return reference.lstm(
            x, weight_ih, weight_hh, bias_ih, bias_hh, weight_hr=weight_hr, h0=h0, c0=c0, mask=mask, reverse=reverse,
            activation=activation, recurrent_activation=recurrent_activation, input_dropout_mask=input_dropout_mask,
            recurrent_dropout_mask=recurrent_dropout_mask, zero_output_for_mask=zero_output_for_mask)
    cfg = _Config("lstm", reverse, activation_name(activation), activation_name(recurrent_activation),
                  zero_output_for_mask, False)
    return _run(cfg, x, weight_ih, weight_hh, bias_ih, bias_hh, h0, c0, mask, input_dropout_mask,
                recurrent_dropout_mask)  # type: ignore[return-value]


def gru(
    x: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None,
    bias_hh: torch.Tensor | None,
    *,
    h0: torch.Tensor,
    mask: torch.Tensor | None = None,
    reverse: bool = False,
    activation: str | Activation = "tanh",
    recurrent_activation: str | Activation = "sigmoid",
    reset_after: bool = True,
    input_dropout_mask: torch.Tensor | None = None,
    recurrent_dropout_mask: torch.Tensor | None = None,
    zero_output_for_mask: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GRU over a whole sequence; the equations and arguments of `lstmkit.ops.reference.gru`.

    Returns (output (B, T, H), h_n (B, H)).
    """
    if not _supported(x, activation, recurrent_activation, masks=(input_dropout_mask, recurrent_dropout_mask)):
        return reference.gru(
            x, weight_ih, weight_hh, bias_ih, bias_hh, h0=h0, mask=mask, reverse=reverse, activation=activation,
            recurrent_activation=recurrent_activation, reset_after=reset_after,
            input_dropout_mask=input_dropout_mask, recurrent_dropout_mask=recurrent_dropout_mask,
            zero_output_for_mask=zero_output_for_mask)
    cfg = _Config("gru", reverse, activation_name(activation), activation_name(recurrent_activation),
                  zero_output_for_mask, reset_after)
    return _run(cfg, x, weight_ih, weight_hh, bias_ih, bias_hh, h0, None, mask, input_dropout_mask,
                recurrent_dropout_mask)  # type: ignore[return-value]


def simple_rnn(
    x: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None,
    bias_hh: torch.Tensor | None,
    *,
    h0: torch.Tensor,
    mask: torch.Tensor | None = None,
    reverse: bool = False,
    activation: str | Activation = "tanh",
    input_dropout_mask: torch.Tensor | None = None,
    recurrent_dropout_mask: torch.Tensor | None = None,
    zero_output_for_mask: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Elman RNN over a whole sequence; the equation and arguments of `lstmkit.ops.reference.simple_rnn`.

    Returns (output (B, T, H), h_n (B, H)).
    """
    if not _supported(x, activation, masks=(input_dropout_mask, recurrent_dropout_mask)):
        return reference.simple_rnn(
            x, weight_ih, weight_hh, bias_ih, bias_hh, h0=h0, mask=mask, reverse=reverse, activation=activation,
            input_dropout_mask=input_dropout_mask, recurrent_dropout_mask=recurrent_dropout_mask,
            zero_output_for_mask=zero_output_for_mask)
    cfg = _Config("simple_rnn", reverse, activation_name(activation), "sigmoid", zero_output_for_mask, False)
    return _run(cfg, x, weight_ih, weight_hh, bias_ih, bias_hh, h0, None, mask, input_dropout_mask,
                recurrent_dropout_mask)  # type: ignore[return-value]


register_backend(
    "cpu", sys.modules[__name__], available=lambda x: x.device.type == "cpu" and x.dtype in DTYPES, auto_priority=2)
