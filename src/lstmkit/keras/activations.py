"""Keras' activation functions by name, on torch tensors (Keras 3 definitions and defaults).

`hard_sigmoid` is Keras 3's `relu6(x + 3) / 6`; `leaky_relu` has Keras' slope 0.2 (torch's is 0.01);
`gelu` is exact (`approximate=False`), as Keras 3's default.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Activation = Callable[[torch.Tensor], torch.Tensor]


def linear(x: torch.Tensor) -> torch.Tensor:
    return x


def softmax(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    return torch.softmax(x, dim=axis)


def log_softmax(x: torch.Tensor, axis: int = -1) -> torch.Tensor:
    return torch.log_softmax(x, dim=axis)


def leaky_relu(x: torch.Tensor, negative_slope: float = 0.2) -> torch.Tensor:
    return F.leaky_relu(x, negative_slope)


def gelu(x: torch.Tensor, approximate: bool = False) -> torch.Tensor:
    return F.gelu(x, approximate="tanh" if approximate else "none")


def softsign(x: torch.Tensor) -> torch.Tensor:
    return x / (x.abs() + 1)


ACTIVATIONS: dict[str, Activation] = {
    "linear": linear,
    "relu": torch.relu,
    "relu6": F.relu6,
    "leaky_relu": leaky_relu,
    "sigmoid": torch.sigmoid,
    "hard_sigmoid": F.hardsigmoid,
    "tanh": torch.tanh,
    "softmax": softmax,
    "log_softmax": log_softmax,
    "elu": F.elu,
    "selu": F.selu,
    "softplus": F.softplus,
    "softsign": softsign,
    "silu": F.silu,
    "swish": F.silu,
    "hard_silu": F.hardswish,
    "hard_swish": F.hardswish,
    "gelu": gelu,
    "mish": F.mish,
    "exponential": torch.exp,
}


def get(identifier: str | Activation | None) -> Activation:
    """An activation from its Keras name, a callable (returned as is), or None (linear)."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        try:
            return ACTIVATIONS[identifier]
        except KeyError:
            raise ValueError(
                f"unknown activation {identifier!r}: expected one of {sorted(ACTIVATIONS)} or a callable"
            ) from None
    if callable(identifier):
        return identifier
    raise ValueError(f"activation must be a name or a callable, got {type(identifier).__name__}")


def serialize(fn: str | Activation | None) -> str:
    """The name of an activation, for a saved config; a user function cannot be saved."""
    if fn is None:
        return "linear"
    if isinstance(fn, str):
        get(fn)
        return fn
    for name, known in ACTIVATIONS.items():
        if fn is known:
            return name
    raise ValueError(
        f"cannot save the activation {getattr(fn, '__name__', fn)!r}: only the named activations "
        f"{sorted(ACTIVATIONS)} can be written to a config"
    )
