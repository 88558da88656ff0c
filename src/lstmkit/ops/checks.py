"""Input validation shared by every backend: clear errors, nothing silently broadcast.

Dimensions: B batch, T time, I input features, H hidden units, P projection size (LSTM `proj_size`).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import torch

_P = ParamSpec("_P")
_R = TypeVar("_R")


def quiet_under_jit_trace(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run `fn` without torch.jit.trace's warnings about tensors turned into Python booleans.

    Under tracing, sizes are tensors, and every shape check (`if B == 0`) warns that the trace "might
    not generalize". These checks only guard the input and never flow into the outputs, so the
    warnings say nothing true; the one thing that would fix a length, a Python loop over time, raises
    instead (`lstmkit.ops.dispatch.run`)."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if not torch.jit.is_tracing():
            return fn(*args, **kwargs)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Converting a tensor to a Python boolean",
                                    category=torch.jit.TracerWarning)
            return fn(*args, **kwargs)

    return wrapper


def _fmt(shape: tuple[int, ...] | torch.Size) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"


def check_sequence(x: torch.Tensor, name: str = "input") -> tuple[int, int, int]:
    """A batch-first float sequence (B, T, I) with at least one step; B may be 0 (an empty batch gives
    empty results, as in torch.nn and Keras)."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (batch, time, features), got {type(x).__name__}")
    if x.dim() != 3:
        raise ValueError(f"{name} must have rank 3 (batch, time, features), got shape {_fmt(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    B, T, I = x.shape
    if T == 0:  # torch.nn refuses it too: there is no last step to give h_n
        raise ValueError(f"{name} has no time step: shape {_fmt(x.shape)}; expected at least one step")
    return B, T, I


def check_param(
    t: torch.Tensor | None, shape: tuple[int, ...], name: str, like: torch.Tensor, optional: bool = False
) -> None:
    """A weight, bias or state: exact shape, same dtype and device as the input `like`."""
    if t is None:
        if optional:
            return
        raise ValueError(f"{name} is required, expected a tensor of shape {_fmt(shape)}")
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape {_fmt(shape)}, got {type(t).__name__}")
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name} must have shape {_fmt(shape)}, got {_fmt(t.shape)}")
    if t.dtype != like.dtype:
        raise ValueError(f"{name} has dtype {t.dtype} but the input has dtype {like.dtype}; they must match")
    if t.device != like.device:
        raise ValueError(f"{name} is on device {t.device} but the input is on {like.device}; they must match")


def lengths_to_mask(lengths: torch.Tensor | list[int], B: int, T: int, device: torch.device) -> torch.Tensor:
    """Per-sequence valid lengths (right padding) to a boolean (B, T) mask."""
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.shape[0] != B:
        raise ValueError(f"lengths must have shape ({B},), one length per sequence, got {_fmt(lengths.shape)}")
    if lengths.is_floating_point() or lengths.dtype == torch.bool:
        raise ValueError(f"lengths must be integers, got dtype {lengths.dtype}")
    if torch.compiler.is_exporting():
        # torch.export cannot record a Python `if` on the lengths' values (it stops at a data-dependent
        # guard); the same check runs inside the exported program instead, as an assertion op
        torch._assert_async(((lengths >= 0) & (lengths <= T)).all(), "lengths must be in [0, the sequence length]")
    elif (lengths < 0).any():
        raise ValueError(f"lengths must be >= 0, got {lengths.min().item()}")
    elif (lengths > T).any():
        raise ValueError(f"lengths must be <= the sequence length {T}, got {lengths.max().item()}")
    steps = torch.arange(T, device=device)
    return steps[None, :] < lengths.to(device)[:, None]  # (B, T)


def normalize_mask(
    mask: torch.Tensor | None, lengths: torch.Tensor | list[int] | None, B: int, T: int, device: torch.device
) -> torch.Tensor | None:
    """`mask` (B, T) bool, True where a step is real, or `lengths` (B,); never both. Returns (B, T) bool or None."""
    if mask is not None and lengths is not None:
        raise ValueError("give either mask or lengths, not both")
    if lengths is not None:
        return lengths_to_mask(lengths, B, T, device)
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor):
        mask = torch.as_tensor(mask)
    if tuple(mask.shape) != (B, T):
        raise ValueError(f"mask must have shape ({B}, {T}) (batch, time), got {_fmt(mask.shape)}")
    if mask.dtype != torch.bool:
        if mask.is_floating_point():
            raise ValueError(f"mask must be boolean (True = real step), got dtype {mask.dtype}")
        mask = mask != 0
    if mask.device != device:
        raise ValueError(f"mask is on device {mask.device} but the input is on {device}; they must match")
    return mask


def check_dropout_mask(m: torch.Tensor | None, B: int, size: int, name: str, like: torch.Tensor) -> None:
    check_param(m, (B, size), name, like, optional=True)
