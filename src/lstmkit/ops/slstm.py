"""The sLSTM of the xLSTM (Beck et al. 2024, "xLSTM: Extended Long Short-Term Memory", sec. 2.2 and
appendix): an LSTM with an exponential input gate, a normaliser state n, a stabiliser state m, and a
recurrent weight that is block-diagonal over heads.

Dimensions: B batch, T time, I input, H hidden, NH heads of DH = H / NH units. Per step

    ĩ, f̃, z̃, õ = split(W x_t + b + R h_{t-1})          # (B, H) each, gate order i, f, z, o
    z_t = tanh(z̃),  o_t = σ(õ)
    log f_t = log σ(f̃)  (forget_gate="sigmoid", the default)  or  f̃  (forget_gate="exp")
    m_t = ĩ                       where n_{t-1} = 0 (the empty initial state) or ĩ > log f_t + m_{t-1}
        = log f_t + m_{t-1}       elsewhere                                # max(log f_t + m_{t-1}, log i_t)
    i'_t = exp(ĩ - m_t),  f'_t = exp(min(log f_t + m_{t-1} - m_t, 0))
    c_t = f'_t ⊙ c_{t-1} + i'_t ⊙ z_t
    n_t = f'_t ⊙ n_{t-1} + i'_t
    h_t = o_t ⊙ c_t / n_t

Scaling c and n by exp(-m) together leaves h unchanged, so m only keeps the exponentials in range
(i', f' <= 1). The min(·, 0) on f' acts only at a step after an empty state (n = 0, where m_t = ĩ may
lie below log f_t + m_{t-1}; c and n are 0 there, so f' multiplies nothing): it keeps f' finite
for an exponential forget gate. Gradients flow through every line, m included (autograd's
derivative of these equations); a loss on h alone gets the same gradients as with m held constant
(the xLSTM CUDA kernel's choice), since h does not depend on m.

Details fixed from NX-AI/xlstm (`xlstm/blocks/slstm/src/vanilla/slstm.py`, `cell.py`, and the CUDA
`slstm_pointwise.cu`): gate order i, f, z, o; the sigmoid forget gate (log σ) is the "slstm"
function's; every state starts at 0 and a step after n = 0 takes m = ĩ (per unit, as the CUDA kernel;
the vanilla backend tests n = 0 for the whole batch); the gate pre-activations are gate-major
(4 blocks of H, each with the heads side by side: column g*H + k*DH + j is gate g, head k, unit j).

Weights, as lstmkit.nn.SLSTM holds them:
    weight_ih (4H, I)        blocks i, f, z, o on the first axis, as torch's LSTM holds i, f, g, o
    weight_hh (NH, DH, 4DH)  weight_hh[k, a, g*DH + j] takes unit a of head k's h to gate g, unit j
                             of head k: NX-AI's external `recurrent_kernel` (NH, DH, 4, DH) reshaped
    bias (4H,)               gate-major; NX-AI's (NH, 4, DH) bias is `bias.permute(1, 0, 2).reshape(-1)`

Masks (B, T), True = a real step: a padded step (either side) keeps all four states and outputs 0.
`reverse` runs from the last step to the first (outputs stay in input order). The state is
(h, c, n, m), each (B, H); None starts from zeros.

Backends: "reference" is the loop above in torch ops (any float dtype and device, differentiable
twice); "cpu" is `_cpu/slstm_kernels.cpp` (float32/float64 on the CPU, its own backward, once
differentiable); "auto" takes "cpu" where it applies and the library builds, else "reference"
(the build failing warns once).
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from lstmkit.errors import ShapeError
from lstmkit.ops._cpu import build as _build

FORGET_GATES = ("sigmoid", "exp")
BACKENDS = ("auto", "reference", "cpu")
SOURCE = Path(__file__).with_name("_cpu") / "slstm_kernels.cpp"
_DTYPES = {torch.float32: 0, torch.float64: 1}
# Below this much work (B*T*H) one thread runs the loop: a parallel region per call costs tens of
# microseconds on the shared 2-core machine, more than the whole loop of a tiny problem.
_MIN_PARALLEL_WORK = 1 << 16

State = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def recurrent_product(h: torch.Tensor, weight_hh: torch.Tensor) -> torch.Tensor:
    """R h_{t-1} with R block-diagonal over heads: h (B, H), weight_hh (NH, DH, 4DH) -> (B, 4H) gate-major."""
    B = h.shape[0]
    NH, DH, _ = weight_hh.shape
    y = torch.einsum("bka,kag->bkg", h.reshape(B, NH, DH), weight_hh)  # (B, NH, 4DH)
    return y.reshape(B, NH, 4, DH).transpose(1, 2).reshape(B, 4 * NH * DH)  # (B, 4H): gate, head, unit


def step(pre: torch.Tensor, state: State, forget_gate: str = "sigmoid") -> State:
    """One sLSTM step from the pre-activations pre (B, 4H) = W x_t + b + R h_{t-1} and (h, c, n, m)."""
    _, c, n, m = state
    i_raw, f_raw, z_raw, o_raw = pre.chunk(4, dim=-1)  # (B, H) each
    log_f = F.logsigmoid(f_raw) if forget_gate == "sigmoid" else f_raw
    lfm = log_f + m
    m_new = torch.where((n == 0) | (i_raw > lfm), i_raw, lfm)
    i_s = torch.exp(i_raw - m_new)
    f_s = torch.exp(torch.clamp(lfm - m_new, max=0.0))
    c_new = f_s * c + i_s * torch.tanh(z_raw)
    n_new = f_s * n + i_s
    h_new = torch.sigmoid(o_raw) * c_new / n_new
    return h_new, c_new, n_new, m_new


def _reference(P: torch.Tensor, weight_hh: torch.Tensor, state: State, mask: torch.Tensor | None,
               forget_gate: str) -> tuple[torch.Tensor, State]:
    """The loop over time on P (B, T, 4H) = x W^T + b: returns (outputs (B, T, H), final state)."""
    outs = []
    for t in range(P.shape[1]):
        new = step(P[:, t] + recurrent_product(state[0], weight_hh), state, forget_gate)
        if mask is not None:
            keep = mask[:, t, None]  # (B, 1)
            new = tuple(torch.where(keep, a, b) for a, b in zip(new, state))  # type: ignore[assignment]
            outs.append(new[0] * keep)
        else:
            outs.append(new[0])
        state = new
    return torch.stack(outs, dim=1), state  # (B, T, H)


class _Kernel:
    """The loaded `slstm_kernels.cpp`."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        i, i64, p = ctypes.c_int, ctypes.c_int64, ctypes.c_void_p
        # dtype, T, B, H, NH, forget_exp, nthreads, mask, then the tensors
        head: list[type[ctypes.c_int | ctypes.c_int64 | ctypes.c_void_p]] = [i, i64, i64, i64, i64, i, i, p]
        lib.lk_slstm_forward.argtypes = [*head, *[p] * 11]
        lib.lk_slstm_backward.argtypes = [*head, *[p] * 19]
        lib.lk_slstm_forward.restype = lib.lk_slstm_backward.restype = ctypes.c_int
        self._lib = lib

    @staticmethod
    def _check(status: int, what: str) -> None:
        if status == 1:
            raise MemoryError(f"lstmkit's sLSTM CPU kernel ran out of memory in {what}; use a smaller batch or "
                              "backend='reference'")
        if status != 0:
            raise RuntimeError(f"lstmkit's sLSTM CPU kernel failed in {what} (status {status})")

    def forward(self, head: list[Any], tensors: list[torch.Tensor]) -> None:
        self._check(self._lib.lk_slstm_forward(*head, *(t.data_ptr() for t in tensors)), "the forward time loop")

    def backward(self, head: list[Any], tensors: list[torch.Tensor | None]) -> None:
        ptrs = [None if t is None else t.data_ptr() for t in tensors]
        self._check(self._lib.lk_slstm_backward(*head, *ptrs), "the backward time loop")


def kernel() -> _Kernel | None:
    """The process-wide sLSTM kernel, built on first use; None (after one warning) if it cannot be."""
    return _build.load_library(SOURCE, _Kernel)


def kernel_info() -> _build.BuildInfo:
    """Whether the sLSTM kernel is loaded (path, compile time, BLAS), or why not."""
    kernel()
    return _build.library_info(SOURCE)


def _threads(B: int, T: int, H: int) -> int:
    return 1 if B * T * H < _MIN_PARALLEL_WORK else max(1, min(torch.get_num_threads(), B))


class _KernelLoop(torch.autograd.Function):
    """The time loop in the CPU kernel: P (T, B, 4H), weight_hh, h0, c0, n0, m0 (B, H) ->
    the states after every step Hs, Cs, Ns, Ms (T, B, H). The backward takes upstream gradients on
    any of them at any step and returns dP, d weight_hh and the initial states' gradients."""

    @staticmethod
    def forward(ctx: Any, P: torch.Tensor, weight_hh: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor,
                n0: torch.Tensor, m0: torch.Tensor, mask: torch.Tensor | None, forget_gate: str, lib: _Kernel
                ) -> tuple[torch.Tensor, ...]:
        T, B, G4 = P.shape
        H = G4 // 4
        R = weight_hh.contiguous()
        init = [s.contiguous() for s in (h0, c0, n0, m0)]
        G = torch.empty_like(P)  # (T, B, 4H): the pre-activations, for the backward
        states = [P.new_empty(T, B, H) for _ in range(4)]
        head = [_DTYPES[P.dtype], T, B, H, R.shape[0], int(forget_gate == "exp"), _threads(B, T, H),
                None if mask is None else mask.data_ptr()]
        lib.forward(head, [P, R, *init, G, *states])
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(G, R, *init, *states, mask)
        ctx.head, ctx.lib = head, lib
        return tuple(states)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, *grads: torch.Tensor | None) -> tuple[torch.Tensor | None, ...]:
        G, R, h0, c0, n0, m0, Hs, Cs, Ns, Ms, _mask = ctx.saved_tensors  # the mask travels in ctx.head
        T, B, _ = G.shape
        NH, DH, _ = R.shape
        upstream = [None if g is None else g.contiguous() for g in grads]
        dG = torch.empty_like(G)
        d_init = [torch.empty_like(h0) for _ in range(4)]
        ctx.lib.backward(ctx.head, [G, R, h0, c0, n0, m0, Hs, Cs, Ns, Ms, *upstream, dG, *d_init])
        dR = None
        if ctx.needs_input_grad[1]:  # Σ_t h_{t-1}^T dpre_t per head, over all T*B rows in one bmm
            h_prev = torch.cat([h0[None], Hs[:-1]]).reshape(T * B, NH, DH).permute(1, 2, 0)  # (NH, DH, T*B)
            d_pre = dG.reshape(T * B, 4, NH, DH).permute(2, 0, 1, 3).reshape(NH, T * B, 4 * DH)  # (NH, T*B, 4DH)
            dR = torch.bmm(h_prev, d_pre)  # (NH, DH, 4DH)
        return (dG, dR, *d_init, None, None, None)


def _check(x: torch.Tensor, weight_ih: torch.Tensor, weight_hh: torch.Tensor, bias: torch.Tensor | None,
           state: Any, mask: torch.Tensor | None, forget_gate: str, backend: str) -> tuple[int, int]:
    if forget_gate not in FORGET_GATES:
        raise ValueError(f"slstm: forget_gate must be one of {FORGET_GATES}, got {forget_gate!r}")
    if backend not in BACKENDS:
        raise ValueError(f"slstm: backend must be one of {BACKENDS}, got {backend!r}")
    if x.dim() != 3:
        raise ShapeError(f"slstm: x must be (batch, time, features), got shape {tuple(x.shape)}")
    B, T, I = x.shape
    if T == 0:
        raise ShapeError(f"slstm: Expected sequence length to be larger than 0, got x of shape {tuple(x.shape)}")
    if weight_ih.dim() != 2 or weight_ih.shape[1] != I or weight_ih.shape[0] % 4:
        raise ShapeError(f"slstm: weight_ih must be (4*H, {I}) for inputs of {I} features, got "
                         f"{tuple(weight_ih.shape)}")
    H = weight_ih.shape[0] // 4
    NH, DH = (weight_hh.shape[0], weight_hh.shape[1]) if weight_hh.dim() == 3 else (0, 0)
    if weight_hh.dim() != 3 or NH * DH != H or weight_hh.shape[2] != 4 * DH:
        raise ShapeError(f"slstm: weight_hh must be (heads, {H} // heads, 4 * ({H} // heads)) for hidden size {H}, "
                         f"got {tuple(weight_hh.shape)}")
    if bias is not None and tuple(bias.shape) != (4 * H,):
        raise ShapeError(f"slstm: bias must be ({4 * H},), got {tuple(bias.shape)}")
    if state is not None:
        if not isinstance(state, (tuple, list)) or len(state) != 4:
            raise ValueError(f"slstm: state must be a tuple (h, c, n, m) of four tensors, got {type(state).__name__}"
                             f"{'' if not isinstance(state, (tuple, list)) else f' of {len(state)}'}")
        for name, s in zip("hcnm", state):
            if tuple(s.shape) != (B, H):
                raise ShapeError(f"slstm: state {name} must be ({B}, {H}) (batch, hidden), got {tuple(s.shape)}")
    if mask is not None and (tuple(mask.shape) != (B, T) or mask.dtype != torch.bool):
        raise ValueError(f"slstm: mask must be a ({B}, {T}) bool tensor, got {tuple(mask.shape)} {mask.dtype}")
    return B, H


def _kernel_for(x: torch.Tensor, backend: str) -> _Kernel | None:
    applies = x.device.type == "cpu" and x.dtype in _DTYPES
    if backend == "reference" or (backend == "auto" and not applies):
        return None
    if not applies:
        raise ValueError(f"slstm: backend='cpu' runs float32 and float64 on the CPU, got {x.dtype} on {x.device}")
    lib = kernel()
    if lib is None and backend == "cpu":
        raise RuntimeError(f"slstm: backend='cpu' asked for, but the kernel is unavailable: {kernel_info().reason}")
    return lib


def slstm(x: torch.Tensor, weight_ih: torch.Tensor, weight_hh: torch.Tensor, bias: torch.Tensor | None = None,
          state: State | None = None, *, mask: torch.Tensor | None = None, reverse: bool = False,
          forget_gate: str = "sigmoid", backend: str = "auto") -> tuple[torch.Tensor, State]:
    """One sLSTM layer over x (B, T, I): returns (outputs (B, T, H), (h_n, c_n, n_n, m_n)), outputs 0
    at padded steps. Equations, weight layouts and backends: the module docstring."""
    B, H = _check(x, weight_ih, weight_hh, bias, state, mask, forget_gate, backend)
    if state is None:
        zeros = x.new_zeros(B, H)
        state = (zeros, zeros, zeros, zeros)
    if reverse:
        x = x.flip(1)
        mask = mask.flip(1) if mask is not None else None
    lib = _kernel_for(x, backend)
    if lib is None:
        out, final = _reference(F.linear(x, weight_ih, bias), weight_hh, tuple(state), mask,  # type: ignore[arg-type]
                                forget_gate)
    else:
        P = F.linear(x.transpose(0, 1), weight_ih, bias).contiguous()  # (T, B, 4H): every step's W x_t + b
        mask_u8 = None if mask is None else mask.to(torch.uint8).contiguous()
        Hs, Cs, Ns, Ms = _KernelLoop.apply(P, weight_hh, *state, mask_u8, forget_gate, lib)
        out = Hs.transpose(0, 1)  # (B, T, H)
        if mask is not None:
            out = out * mask[:, :, None]
        final = (Hs[-1], Cs[-1], Ns[-1], Ms[-1])
    if reverse:
        out = out.flip(1)
    return out, final
