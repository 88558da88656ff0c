"""ctypes wrapper of `scan_kernels.cpp`: the fused one-pass scans of minGRU and minLSTM on the CPU.

`load()` builds (or finds in the cache) and loads the library through `build.load_library`, so a
library that cannot be built gives one warning and None, and the caller runs the pure-PyTorch scan.
The buffers are batch-major and contiguous: K (B, T, G*H) with the blocks z, h̃ (minGRU) or f, i, h̃
(minLSTM), outputs (B, T, H), states (B, H), mask (B, T) as uint8.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import torch

from lstmkit.ops._cpu import build

SOURCE = Path(__file__).with_name("scan_kernels.cpp")
KINDS = {"min_gru": 0, "min_lstm": 1}
DTYPES = {torch.float32: 0, torch.float64: 1}
_FAILED = 2


def _ptr(t: torch.Tensor | None) -> ctypes.c_void_p:
    return ctypes.c_void_p(t.data_ptr() if t is not None else None)


def _check(t: torch.Tensor | None, name: str, shape: tuple[int, ...], dtype: torch.dtype) -> None:
    if t is not None and (tuple(t.shape) != shape or t.dtype != dtype or not t.is_contiguous()
                          or t.device.type != "cpu"):
        raise ValueError(f"internal error: the scan kernel needs {name} as a contiguous CPU {dtype} tensor of "
                         f"shape {shape}, got {tuple(t.shape)} {t.dtype} on {t.device}"
                         f"{'' if t.is_contiguous() else ' (not contiguous)'}")


class ScanKernel:
    """The loaded library: `forward` and `backward` of one minGRU/minLSTM layer's scan."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._lib = lib
        i, i64, p = ctypes.c_int, ctypes.c_int64, ctypes.c_void_p
        lib.lk_min_scan_forward.argtypes = [i, i, i64, i64, i64, i, p, p, p, p, p, p, i]
        lib.lk_min_scan_forward.restype = i
        lib.lk_min_scan_backward.argtypes = [i, i, i64, i64, i64, i, p, p, p, p, p, p, p, p, i]
        lib.lk_min_scan_backward.restype = i

    @staticmethod
    def _shape(kind: str, k: torch.Tensor) -> tuple[int, int, int, int]:
        B, T, GH = k.shape
        gates = 2 if kind == "min_gru" else 3
        return B, T, GH // gates, gates

    def forward(self, kind: str, k: torch.Tensor, h0: torch.Tensor, mask: torch.Tensor | None, reverse: bool,
                nthreads: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(outputs (B, T, H), zero at masked steps; states (B, T, H), the carried state at every step
        (the outputs themselves without a mask); h_n (B, H))."""
        B, T, H, _ = self._shape(kind, k)
        _check(k, "k", tuple(k.shape), k.dtype)
        _check(h0, "h0", (B, H), k.dtype)
        _check(mask, "mask", (B, T), torch.uint8)
        out = k.new_empty(B, T, H)
        states = out if mask is None else k.new_empty(B, T, H)
        h_n = k.new_empty(B, H)
        status = self._lib.lk_min_scan_forward(KINDS[kind], DTYPES[k.dtype], B, T, H, int(reverse), _ptr(k),
                                               _ptr(mask), _ptr(h0), _ptr(out), _ptr(states), _ptr(h_n), nthreads)
        if status != 0:
            raise RuntimeError(f"lstmkit's scan kernel failed in the forward pass (status {status})")
        return out, states, h_n

    def backward(self, kind: str, k: torch.Tensor, h0: torch.Tensor, mask: torch.Tensor | None,
                 states: torch.Tensor, reverse: bool, d_out: torch.Tensor | None, d_hn: torch.Tensor | None,
                 nthreads: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(∂L/∂k (B, T, G*H), ∂L/∂h0 (B, H)) from the gradients of the outputs and of h_n (None: zero)."""
        B, T, H, _ = self._shape(kind, k)
        for t, name, shape in ((states, "states", (B, T, H)), (d_out, "d_out", (B, T, H)), (d_hn, "d_hn", (B, H))):
            _check(t, name, shape, k.dtype)
        dk = torch.empty_like(k)
        dh0 = h0.new_empty(B, H)
        status = self._lib.lk_min_scan_backward(KINDS[kind], DTYPES[k.dtype], B, T, H, int(reverse), _ptr(k),
                                                _ptr(mask), _ptr(h0), _ptr(states), _ptr(d_out), _ptr(d_hn),
                                                _ptr(dk), _ptr(dh0), nthreads)
        if status != 0:
            raise RuntimeError(f"lstmkit's scan kernel failed in the backward pass (status {status})")
        return dk, dh0


def load() -> ScanKernel | None:
    """The process-wide scan kernel, built on the first call; None (after one warning) if it cannot be."""
    return build.load_library(SOURCE, ScanKernel)
