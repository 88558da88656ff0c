"""Activation functions by name, as Keras 3 defines them.

`hard_sigmoid` is Keras 3's `relu6(x + 3) / 6` (Keras 2 used `clip(0.2x + 0.5, 0, 1)`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Activation = Callable[[torch.Tensor], torch.Tensor]


def linear(x: torch.Tensor) -> torch.Tensor:
    return x


def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Keras 3's relu6(x + 3) / 6. Not `F.hardsigmoid`: its backward multiplies by a float32 1/6,
    a relative error of 3e-8 in float64 gradients."""
    return F.relu6(x + 3.0) / 6.0


ACTIVATIONS: dict[str, Activation] = {
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "hard_sigmoid": hard_sigmoid,
    "relu": torch.relu,
    "linear": linear,
}


def activation_name(fn: str | Activation | None) -> str | None:
    """The registered name of an activation, or None for a user callable."""
    if fn is None:
        return "linear"
    if isinstance(fn, str):
        return fn if fn in ACTIVATIONS else None
    for name, known in ACTIVATIONS.items():
        if fn is known:
            return name
    return None


def get_activation(fn: str | Activation | None) -> Activation:
    """Resolve a name (`tanh`, `sigmoid`, `hard_sigmoid`, `relu`, `linear`) or pass a callable through."""
    if fn is None:
        return linear
    if isinstance(fn, str):
        try:
            return ACTIVATIONS[fn]
        except KeyError:
            raise ValueError(
                f"unknown activation {fn!r}: expected one of {sorted(ACTIVATIONS)} or a callable"
            ) from None
    if callable(fn):
        return fn
    raise ValueError(f"activation must be a name or a callable, got {type(fn).__name__}")
