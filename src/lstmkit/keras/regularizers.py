"""Keras' weight regularizers: penalties added to the training loss (Keras 3 definitions)."""

from __future__ import annotations

from typing import Any

import torch


class Regularizer:
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {}


class L1L2(Regularizer):
    """l1 * sum(|x|) + l2 * sum(x²)."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        for name, v in (("l1", l1), ("l2", l2)):
            if v < 0:
                raise ValueError(f"{name} must be >= 0, got {v}")
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        penalty = x.new_zeros(())
        if self.l1:
            penalty = penalty + self.l1 * x.abs().sum()
        if self.l2:
            penalty = penalty + self.l2 * x.square().sum()
        return penalty

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    def __init__(self, l1: float = 0.01) -> None:
        super().__init__(l1=l1)

    def get_config(self) -> dict[str, Any]:
        return {"l1": self.l1}


class L2(L1L2):
    def __init__(self, l2: float = 0.01) -> None:
        super().__init__(l2=l2)

    def get_config(self) -> dict[str, Any]:
        return {"l2": self.l2}


def l1(l1: float = 0.01) -> L1:
    return L1(l1)


def l2(l2: float = 0.01) -> L2:
    return L2(l2)


def l1_l2(l1: float = 0.01, l2: float = 0.01) -> L1L2:
    return L1L2(l1, l2)


_CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2}
_ALIASES = {"l1": L1, "l2": L2, "l1_l2": lambda: L1L2(0.01, 0.01)}


def get(identifier: str | dict | Regularizer | None) -> Regularizer | None:
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _ALIASES and identifier not in _CLASSES:
            raise ValueError(f"unknown regularizer {identifier!r}: expected one of {sorted(_ALIASES)}")
        return (_ALIASES.get(identifier) or _CLASSES[identifier])()
    if isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]](**identifier.get("config", {}))
    if callable(identifier):
        return _Callable(identifier)
    raise ValueError(f"a regularizer must be a name, a config dict or a Regularizer, got {identifier!r}")


class _Callable(Regularizer):
    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)


def serialize(reg: Regularizer | None) -> dict | None:
    if reg is None:
        return None
    if type(reg).__name__ not in _CLASSES:
        raise ValueError(f"cannot save the regularizer {reg!r}: only L1, L2 and L1L2 can be written to a config")
    return {"class_name": type(reg).__name__, "config": reg.get_config()}
