"""Weight conversion between Keras' layout and PyTorch's (equations and tables: docs/equations.md).

Keras keeps `kernel (I, G*U)`, `recurrent_kernel (U, G*U)` and `bias`, gate blocks on the last axis;
PyTorch keeps `weight_ih (G*H, I)`, `weight_hh (G*H, H)`, `bias_ih`, `bias_hh`, blocks on the first axis.
LSTM gates are i, f, g(c), o in both. GRU gates are z, r, h in Keras and r, z, n in PyTorch.

`*_from_keras` takes NumPy arrays or tensors and returns a dict of tensors named like PyTorch's
parameters; `*_to_keras` takes tensors (or arrays) and returns the list of NumPy arrays that
Keras' `get_weights()` would give, in Keras' order.
"""

from __future__ import annotations

import numpy as np
import torch

ArrayLike = np.ndarray | torch.Tensor


def _t(a: ArrayLike, dtype: torch.dtype | None) -> torch.Tensor:
    t = a.detach() if isinstance(a, torch.Tensor) else torch.from_numpy(np.asarray(a))
    return t.to(dtype) if dtype is not None else t


def _np(t: ArrayLike) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def _expect(a: ArrayLike, shape: tuple[int, ...], name: str) -> None:
    if tuple(a.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(a.shape)}")


def _kernels(kernel: ArrayLike, recurrent_kernel: ArrayLike, gates: int, kind: str) -> tuple[int, int]:
    if len(kernel.shape) != 2 or len(recurrent_kernel.shape) != 2:
        raise ValueError(f"{kind}: kernel and recurrent_kernel must be matrices")
    I, GU = kernel.shape
    if GU % gates:
        raise ValueError(f"{kind}: kernel has {GU} columns, not a multiple of {gates} gates")
    U = GU // gates
    _expect(recurrent_kernel, (U, gates * U), f"{kind}: recurrent_kernel")
    return I, U


def reorder_gru_gates(w: torch.Tensor, dim: int) -> torch.Tensor:
    """Swap the first two gate blocks along `dim`: Keras' GRU order z, r, h <-> PyTorch's r, z, n.
    Its own inverse, and differentiable. The one place lstmkit reorders GRU gates."""
    a, b, c = w.chunk(3, dim=dim)
    return torch.cat([b, a, c], dim=dim)


def lstm_from_keras(
    kernel: ArrayLike, recurrent_kernel: ArrayLike, bias: ArrayLike | None = None, *, dtype: torch.dtype | None = None
) -> dict[str, torch.Tensor]:
    """Keras LSTM weights to PyTorch's: weight_ih = kernel.T, weight_hh = recurrent_kernel.T,
    bias_ih = bias, bias_hh = 0 (Keras has one bias; only their sum matters)."""
    _, U = _kernels(kernel, recurrent_kernel, 4, "lstm")
    out = {"weight_ih": _t(kernel, dtype).T.contiguous(), "weight_hh": _t(recurrent_kernel, dtype).T.contiguous()}
    if bias is not None:
        _expect(bias, (4 * U,), "lstm: bias")
        out["bias_ih"] = _t(bias, dtype).clone()
        out["bias_hh"] = torch.zeros_like(out["bias_ih"])
    return out


def lstm_to_keras(
    weight_ih: ArrayLike, weight_hh: ArrayLike, bias_ih: ArrayLike | None = None, bias_hh: ArrayLike | None = None
) -> list[np.ndarray]:
    """PyTorch LSTM weights to Keras' [kernel, recurrent_kernel(, bias)], bias = bias_ih + bias_hh.
    Keras has no projection: weight_hh must be (4H, H)."""
    return _to_keras_sum_bias(weight_ih, weight_hh, bias_ih, bias_hh, gates=4)


def gru_from_keras(
    kernel: ArrayLike,
    recurrent_kernel: ArrayLike,
    bias: ArrayLike | None = None,
    *,
    reset_after: bool = True,
    dtype: torch.dtype | None = None,
) -> dict[str, torch.Tensor]:
    """Keras GRU weights (z, r, h) to PyTorch's (r, z, n). With reset_after=True the bias is (2, 3U):
    row 0 the input bias, row 1 the recurrent bias; with reset_after=False it is (3U,) and bias_hh = 0."""
    _, U = _kernels(kernel, recurrent_kernel, 3, "gru")
    out = {
        "weight_ih": reorder_gru_gates(_t(kernel, dtype), dim=1).T.contiguous(),
        "weight_hh": reorder_gru_gates(_t(recurrent_kernel, dtype), dim=1).T.contiguous(),
    }
    if bias is not None:
        b = _t(bias, dtype)
        if reset_after:
            _expect(b, (2, 3 * U), "gru (reset_after=True): bias")
            out["bias_ih"], out["bias_hh"] = reorder_gru_gates(b[0], 0), reorder_gru_gates(b[1], 0)
        else:
            _expect(b, (3 * U,), "gru (reset_after=False): bias")
            out["bias_ih"] = reorder_gru_gates(b, 0)
            out["bias_hh"] = torch.zeros_like(out["bias_ih"])
    return out


def gru_to_keras(
    weight_ih: ArrayLike,
    weight_hh: ArrayLike,
    bias_ih: ArrayLike | None = None,
    bias_hh: ArrayLike | None = None,
    *,
    reset_after: bool = True,
) -> list[np.ndarray]:
    """PyTorch GRU weights (r, z, n) to Keras' [kernel, recurrent_kernel(, bias)] (z, r, h)."""
    w_ih, w_hh = _t(weight_ih, None), _t(weight_hh, None)
    out = [_np(reorder_gru_gates(w_ih, 0).T), _np(reorder_gru_gates(w_hh, 0).T)]
    if bias_ih is not None or bias_hh is not None:
        zeros = torch.zeros(w_ih.shape[0], dtype=w_ih.dtype)
        b_ih = _t(bias_ih, None) if bias_ih is not None else zeros
        b_hh = _t(bias_hh, None) if bias_hh is not None else zeros
        if reset_after:
            out.append(_np(torch.stack([reorder_gru_gates(b_ih, 0), reorder_gru_gates(b_hh, 0)])))
        else:
            # Valid because with reset_after=False b_hn sits outside r ⊙ (...), beside b_in.
            out.append(_np(reorder_gru_gates(b_ih + b_hh, 0)))
    return out


def simple_rnn_from_keras(
    kernel: ArrayLike, recurrent_kernel: ArrayLike, bias: ArrayLike | None = None, *, dtype: torch.dtype | None = None
) -> dict[str, torch.Tensor]:
    """Keras SimpleRNN weights to PyTorch's: transposes; bias_ih = bias, bias_hh = 0."""
    _, U = _kernels(kernel, recurrent_kernel, 1, "simple_rnn")
    out = {"weight_ih": _t(kernel, dtype).T.contiguous(), "weight_hh": _t(recurrent_kernel, dtype).T.contiguous()}
    if bias is not None:
        _expect(bias, (U,), "simple_rnn: bias")
        out["bias_ih"] = _t(bias, dtype).clone()
        out["bias_hh"] = torch.zeros_like(out["bias_ih"])
    return out


def simple_rnn_to_keras(
    weight_ih: ArrayLike, weight_hh: ArrayLike, bias_ih: ArrayLike | None = None, bias_hh: ArrayLike | None = None
) -> list[np.ndarray]:
    """PyTorch RNN weights to Keras' [kernel, recurrent_kernel(, bias)], bias = bias_ih + bias_hh."""
    return _to_keras_sum_bias(weight_ih, weight_hh, bias_ih, bias_hh, gates=1)


def _to_keras_sum_bias(
    weight_ih: ArrayLike,
    weight_hh: ArrayLike,
    bias_ih: ArrayLike | None,
    bias_hh: ArrayLike | None,
    gates: int,
) -> list[np.ndarray]:
    out = [_np(weight_ih).T.copy(), _np(weight_hh).T.copy()]
    if out[1].shape[0] * gates != out[1].shape[1]:
        hint = "; Keras has no projection (proj_size)" if gates == 4 else ""
        raise ValueError(f"weight_hh must be ({gates}H, H), got {tuple(out[1].T.shape)}{hint}")
    if bias_ih is not None or bias_hh is not None:
        b = np.zeros(out[0].shape[1], dtype=out[0].dtype)
        for part in (bias_ih, bias_hh):
            if part is not None:
                b = b + _np(part)
        out.append(b)
    return out

