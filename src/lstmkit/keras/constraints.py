"""Keras' weight constraints, applied to a weight (in Keras' layout) after every optimizer step."""

from __future__ import annotations

from typing import Any

import torch

EPSILON = 1e-7  # Keras' backend.epsilon()


class Constraint:
    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {}


def _norms(w: torch.Tensor, axis: int | list[int]) -> torch.Tensor:
    return w.square().sum(dim=axis, keepdim=True).sqrt()


class MaxNorm(Constraint):
    """Rescale each slice along `axis` (axis 0 of a Dense kernel: one norm per unit) to norm <= max_value."""

    def __init__(self, max_value: float = 2.0, axis: int | list[int] = 0) -> None:
        self.max_value, self.axis = float(max_value), axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        norms = _norms(w, self.axis)
        desired = norms.clamp(0, self.max_value)
        return w * (desired / (EPSILON + norms))

    def get_config(self) -> dict[str, Any]:
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0, axis: int = 0) -> None:
        self.min_value, self.max_value, self.rate, self.axis = float(min_value), float(max_value), float(rate), axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        norms = _norms(w, self.axis)
        desired = self.rate * norms.clamp(self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * (desired / (EPSILON + norms))

    def get_config(self) -> dict[str, Any]:
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


class NonNeg(Constraint):
    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return w * (w >= 0).to(w.dtype)


class UnitNorm(Constraint):
    def __init__(self, axis: int = 0) -> None:
        self.axis = axis

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return w / (EPSILON + _norms(w, self.axis))

    def get_config(self) -> dict[str, Any]:
        return {"axis": self.axis}


_CLASSES = {"MaxNorm": MaxNorm, "MinMaxNorm": MinMaxNorm, "NonNeg": NonNeg, "UnitNorm": UnitNorm}
_ALIASES = {"max_norm": MaxNorm, "min_max_norm": MinMaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm}


def get(identifier: str | dict | Constraint | None) -> Constraint | None:
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    if isinstance(identifier, str):
        cls = _ALIASES.get(identifier) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"unknown constraint {identifier!r}: expected one of {sorted(_ALIASES)}")
        return cls()
    if isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]](**identifier.get("config", {}))
    if callable(identifier):
        return _Callable(identifier)
    raise ValueError(f"a constraint must be a name, a config dict or a Constraint, got {identifier!r}")


class _Callable(Constraint):
    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        return self.fn(w)


def serialize(c: Constraint | None) -> dict | None:
    if c is None:
        return None
    if type(c).__name__ not in _CLASSES:
        raise ValueError(f"cannot save the constraint {c!r}: only Keras' named constraints can be written")
    return {"class_name": type(c).__name__, "config": c.get_config()}
