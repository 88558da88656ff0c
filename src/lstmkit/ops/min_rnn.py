"""minGRU and minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"): gates that read only x_t, so a
whole sequence runs as a linear recurrence h_t = a_t ⊙ h_{t-1} + b_t solved by a parallel scan.

Dimensions: B batch, T time, I input, H hidden. Input projections as torch's GRU holds them:
`weight_ih` (2H, I) with blocks z, h̃ for minGRU and (3H, I) with blocks f, i, h̃ for minLSTM.

    minGRU   k = x_t W^T + b,  split into k_z, k_h                       # (B, T, H) each
             z_t = σ(k_z)
             h̃_t = g(k_h),  g(v) = v + 0.5 for v >= 0, σ(v) for v < 0   # > 0: the paper's log-space form
             h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t
    minLSTM  f_t = σ(k_f),  i_t = σ(k_i),  h̃_t = g(k_h)
             f'_t = f_t / (f_t + i_t),  i'_t = i_t / (f_t + i_t)
             h_t = f'_t ⊙ h_{t-1} + i'_t ⊙ h̃_t

Both are h_t = a_t h_{t-1} + b_t with a_t in (0, 1) and b_t > 0. `mode="sequential"` loops over
time (streaming); `mode="parallel"` solves it in log space (Heinsen 2023, the paper's appendix):
log a_t and log b_t come straight from the pre-activations (log σ(v) = -softplus(-v); minLSTM's
log f' = -softplus(softplus(-k_f) - softplus(-k_i))), and over a chunk of C steps

    a*_t = Σ_{s<=t} log a_s,   h_t = exp(a*_t) ⊙ h_start + exp(a*_t + logcumsumexp_{s<=t}(log b_s - a*_s))

`mode="auto"` (the default) takes the sequential scan on the CPU and the parallel one elsewhere: on
the CPU the work, not the depth, sets the time, and torch's CPU `logcumsumexp` is slow (on 4M float32
values, 210 ms forward and 711 ms backward against 24 ms for `cumsum`, 2-core Xeon), so the
one-pass scan wins there; the parallel form is for devices with many lanes.

On the CPU in float32/float64 the sequential scan is one fused C++ pass each way
(`_cpu/scan_kernels.cpp`): the forward computes the gates from k and the state in one sweep over
time, storing only the states; the backward recomputes the gates and runs the reverse-time scan,
giving ∂L/∂k and ∂L/∂h0. The projection stays one torch matmul. Without the compiled library (one
warning), and on other devices and dtypes, the scan is the torch loop below (`_LinearScan`).

The sequence is cut into chunks of C = 64 steps carried one to the next: a* then stays above about
-C·max softplus, where float32 keeps a relative error near 1e-6 (over a whole 8192-step sequence
the sum would be about -40000 and a*_t + logcumsumexp(...) would cancel to 1e-3). The initial state
enters through the first term only, so it may have any sign (only b_t must be positive).

Masks (B, T), True = real step: a masked step keeps the state (a = 1, b = 0) and outputs zeros, as
lstmkit's other recurrences do. `reverse` runs from the last step to the first.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from lstmkit.errors import ShapeError
from lstmkit.ops._cpu import scan as scan_kernel

CHUNK = 64  # steps per log-space scan: bounds a* (see the module docstring)
MODES = ("auto", "parallel", "sequential")


def g(v: torch.Tensor) -> torch.Tensor:
    """The paper's positive activation: v + 0.5 for v >= 0, σ(v) below (continuous at 0)."""
    return torch.where(v >= 0, v + 0.5, torch.sigmoid(v))


def log_g(v: torch.Tensor) -> torch.Tensor:
    """log g(v), without forming g (log σ(v) = -softplus(-v))."""
    return torch.where(v >= 0, torch.log(F.relu(v) + 0.5), -F.softplus(-v))


def _coefficients(kind: str, k: torch.Tensor, H: int, log: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(a, b) of h_t = a_t h_{t-1} + b_t from the projections k (B, T, 2H or 3H), or (log a, log b)."""
    if kind == "min_gru":
        k_z, k_h = k.split(H, dim=-1)  # (B, T, H) each
        if log:
            return -F.softplus(k_z), -F.softplus(-k_z) + log_g(k_h)  # log(1 - z), log z + log h̃
        z = torch.sigmoid(k_z)
        return 1 - z, z * g(k_h)
    k_f, k_i, k_h = k.split(H, dim=-1)
    if log:
        diff = F.softplus(-k_f) - F.softplus(-k_i)  # log i - log f
        return -F.softplus(diff), -F.softplus(-diff) + log_g(k_h)  # log f', log i' + log h̃
    f, i = torch.sigmoid(k_f), torch.sigmoid(k_i)
    return f / (f + i), i / (f + i) * g(k_h)


class _LinearScan(torch.autograd.Function):
    """h_t = a_t ⊙ h_{t-1} + b_t one step at a time, with its own backward (also a loop, in reverse):
    g_t = ∂L/∂h_t + a_{t+1} ⊙ g_{t+1},  ∂L/∂b_t = g_t,  ∂L/∂a_t = g_t ⊙ h_{t-1},  ∂L/∂h_0 = a_0 ⊙ g_0.
    One fused multiply-add per step on (B, H) slices of time-major copies, and no autograd graph
    over the steps (recording T steps made the backward of a 512-step loop take 23 s here)."""

    @staticmethod
    def forward(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
        a_t, b_t = a.transpose(0, 1).contiguous(), b.transpose(0, 1).contiguous()  # (T, B, H)
        out = torch.empty_like(b_t)
        h = h0
        for t in range(a_t.shape[0]):
            torch.addcmul(b_t[t], a_t[t], h, out=out[t])
            h = out[t]
        return out.transpose(0, 1)  # (B, T, H)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        a, _, h0 = inputs
        ctx.save_for_backward(a, h0, output)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        a, h0, out = ctx.saved_tensors
        a_t, grad_t = a.transpose(0, 1).contiguous(), grad.transpose(0, 1).contiguous()  # (T, B, H)
        g = torch.empty_like(grad_t)
        T = a_t.shape[0]
        g[T - 1] = grad_t[T - 1]
        for t in range(T - 2, -1, -1):
            torch.addcmul(grad_t[t], a_t[t + 1], g[t + 1], out=g[t])
        h_prev = torch.cat([h0[None], out.transpose(0, 1)[:-1]])  # (T, B, H): h_{t-1}
        return (g * h_prev).transpose(0, 1), g.transpose(0, 1), a_t[0] * g[0]


class _FusedScan(torch.autograd.Function):
    """The CPU kernel's one-pass scan from the pre-activations k (B, T, G*H) to (outputs, h_n), gates
    included, with masks and reverse handled inside (outputs stay at their time index)."""

    @staticmethod
    def forward(ctx: Any, kind: str, k: torch.Tensor, h0: torch.Tensor, mask: torch.Tensor | None, reverse: bool,
                kernel: scan_kernel.ScanKernel) -> tuple[torch.Tensor, torch.Tensor]:
        out, states, h_n = kernel.forward(kind, k, h0, mask, reverse, torch.get_num_threads())
        ctx.kind, ctx.reverse, ctx.kernel = kind, reverse, kernel
        ctx.set_materialize_grads(False)  # an unused output's gradient stays None and the kernel skips it
        ctx.save_for_backward(k, h0, mask, states)  # states is `out` itself when there is no mask
        return out, h_n

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, d_out: torch.Tensor | None, d_hn: torch.Tensor | None) -> tuple[torch.Tensor | None, ...]:
        k, h0, mask, states = ctx.saved_tensors
        dk, dh0 = ctx.kernel.backward(ctx.kind, k, h0, mask, states, ctx.reverse,
                                      d_out.contiguous() if d_out is not None else None,
                                      d_hn.contiguous() if d_hn is not None else None, torch.get_num_threads())
        return None, dk, dh0, None, None, None


def _scan_sequential(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor, mask: torch.Tensor | None
                     ) -> torch.Tensor:
    if mask is not None:  # a masked step keeps the state: a = 1, b = 0
        keep = mask[:, :, None]
        a = torch.where(keep, a, torch.ones_like(a))
        b = torch.where(keep, b, torch.zeros_like(b))
    out: torch.Tensor = _LinearScan.apply(a, b, h0)
    return out


def _scan_parallel(log_a: torch.Tensor, log_b: torch.Tensor, h0: torch.Tensor, mask: torch.Tensor | None
                   ) -> torch.Tensor:
    B, T, H = log_a.shape
    if mask is not None:  # a masked step: a = 1, b = 0 (a very negative finite log keeps gradients finite)
        keep = mask[:, :, None]
        log_a = torch.where(keep, log_a, torch.zeros_like(log_a))
        log_b = torch.where(keep, log_b, torch.full_like(log_b, -1e30 if log_b.dtype != torch.float16 else -3e4))
    n = -(-T // CHUNK)
    pad = n * CHUNK - T
    if pad:
        log_a = F.pad(log_a, (0, 0, 0, pad))  # (B, n*C, H): padded steps keep the state
        log_b = F.pad(log_b, (0, 0, 0, pad), value=-1e30)
    log_a = log_a.view(B, n, CHUNK, H)
    log_b = log_b.view(B, n, CHUNK, H)
    a_star = log_a.cumsum(dim=2)  # (B, n, C, H)
    local = torch.exp(a_star + torch.logcumsumexp(log_b - a_star, dim=2))  # each chunk from a zero state
    carry = torch.exp(a_star)  # how much of the chunk's starting state is left at each step
    h, chunks = h0, []
    for c in range(n):  # n = T / C sequential steps of (B, C, H) work
        out = local[:, c] + carry[:, c] * h[:, None]  # (B, C, H)
        chunks.append(out)
        h = out[:, -1]
    return torch.cat(chunks, dim=1)[:, :T]  # (B, T, H)


def _kernel() -> scan_kernel.ScanKernel | None:
    """The compiled scan, or None (after one warning) where it cannot be built: then the torch loop runs."""
    return scan_kernel.load()


def min_rnn(kind: str, x: torch.Tensor, weight_ih: torch.Tensor, bias_ih: torch.Tensor | None,
            h0: torch.Tensor | None = None, *, mask: torch.Tensor | None = None, reverse: bool = False,
            mode: str = "auto") -> tuple[torch.Tensor, torch.Tensor]:
    """One layer of minGRU (`kind="min_gru"`) or minLSTM (`"min_lstm"`) over x (B, T, I).
    Returns (outputs (B, T, H), h_n (B, H)); outputs are zero at masked steps."""
    gates = {"min_gru": 2, "min_lstm": 3}.get(kind)
    if gates is None:
        raise ValueError(f"kind must be 'min_gru' or 'min_lstm', got {kind!r}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if x.dim() != 3:
        raise ShapeError(f"{kind}: x must be (batch, time, features), got shape {tuple(x.shape)}")
    B, T, I = x.shape
    if T == 0:
        raise ShapeError(f"{kind}: Expected sequence length to be larger than 0 in RNN, got x of shape "
                         f"{tuple(x.shape)}")
    if weight_ih.dim() != 2 or weight_ih.shape[1] != I or weight_ih.shape[0] % gates:
        raise ShapeError(f"{kind}: weight_ih must be ({gates}*H, {I}) for inputs of {I} features, got "
                         f"{tuple(weight_ih.shape)}")
    H = weight_ih.shape[0] // gates
    if bias_ih is not None and tuple(bias_ih.shape) != (gates * H,):
        raise ShapeError(f"{kind}: bias_ih must be ({gates * H},), got {tuple(bias_ih.shape)}")
    if h0 is None:
        h0 = x.new_zeros(B, H)
    elif tuple(h0.shape) != (B, H):
        raise ShapeError(f"{kind}: h0 must be ({B}, {H}) (batch, hidden), got {tuple(h0.shape)}")
    if mask is not None and (tuple(mask.shape) != (B, T) or mask.dtype != torch.bool):
        raise ValueError(f"{kind}: mask must be a ({B}, {T}) bool tensor, got {tuple(mask.shape)} {mask.dtype}")
    if mode == "auto":
        mode = "sequential" if x.device.type == "cpu" else "parallel"
    kernel = _kernel() if mode == "sequential" and x.device.type == "cpu" and x.dtype in scan_kernel.DTYPES else None
    if kernel is not None and weight_ih.dtype == x.dtype and h0.dtype == x.dtype:
        k = F.linear(x, weight_ih, bias_ih)  # (B, T, gates*H)
        mask_u8 = mask.to(torch.uint8).contiguous() if mask is not None else None  # (B, T)
        fused: tuple[torch.Tensor, torch.Tensor] = _FusedScan.apply(kind, k.contiguous(), h0.contiguous(), mask_u8,
                                                                    reverse, kernel)
        return fused
    if reverse:
        x = x.flip(1)
        mask = mask.flip(1) if mask is not None else None
    k = F.linear(x, weight_ih, bias_ih)  # (B, T, gates*H): every step's projections in one matmul
    if mode == "parallel":
        log_a, log_b = _coefficients(kind, k, H, log=True)
        out = _scan_parallel(log_a, log_b, h0, mask)
    else:
        a, b = _coefficients(kind, k, H, log=False)
        out = _scan_sequential(a, b, h0, mask)
    h_n = out[:, -1]
    if mask is not None:
        out = out * mask[:, :, None]
    if reverse:
        out = out.flip(1)
    return out, h_n


def min_gru(x: torch.Tensor, weight_ih: torch.Tensor, bias_ih: torch.Tensor | None, h0: torch.Tensor | None = None,
            *, mask: torch.Tensor | None = None, reverse: bool = False, mode: str = "auto"
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """minGRU over x (B, T, I), `weight_ih` (2H, I) with blocks z, h̃: see the module docstring."""
    return min_rnn("min_gru", x, weight_ih, bias_ih, h0, mask=mask, reverse=reverse, mode=mode)


def min_lstm(x: torch.Tensor, weight_ih: torch.Tensor, bias_ih: torch.Tensor | None, h0: torch.Tensor | None = None,
             *, mask: torch.Tensor | None = None, reverse: bool = False, mode: str = "auto"
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """minLSTM over x (B, T, I), `weight_ih` (3H, I) with blocks f, i, h̃: see the module docstring."""
    return min_rnn("min_lstm", x, weight_ih, bias_ih, h0, mask=mask, reverse=reverse, mode=mode)
