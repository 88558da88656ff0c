"""`Variable`: Keras 3's handle on one weight of a layer, backed by the torch Parameter the optimizer updates.

As on Keras' torch backend, a Variable is not itself a tensor: `value` is the tensor (the layer's
parameter, or buffer for a non-trainable weight), `numpy()` a copy, `assign()` writes in place, and
torch functions and operators take a Variable where they take a tensor (`x @ layer.kernel`,
`torch.tanh(v)`, `ops.matmul(x, v)`). Any other attribute is the value's (`v.T`, `v.device`). A
layer keeps one Variable per weight for its whole life, so `layer.weights` compares by identity
and `model.summary()` counts each weight once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from lstmkit.keras.layers.layer import Layer, WeightSpec


def _unwrap(x: Any) -> Any:
    if isinstance(x, Variable):
        return x.value
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap(v) for k, v in x.items()}
    return x


class Variable:
    """One weight of `layer`, described by `spec` (its Keras name, trainability, regularizer, constraint)."""

    def __init__(self, layer: Layer, spec: WeightSpec) -> None:
        object.__setattr__(self, "_layer", layer)
        object.__setattr__(self, "_spec", spec)

    # ----- what Keras' Variable has
    @property
    def value(self) -> torch.Tensor:
        """The tensor itself (the parameter the optimizer updates; gradients flow through it)."""
        return self._layer._variable_value(self._spec)

    def numpy(self) -> np.ndarray:
        return self.value.detach().cpu().numpy().copy()

    def assign(self, value: Any) -> Variable:
        """Write `value` (same shape) into the weight, in place; autograd does not see it."""
        target = self.value
        new = torch.as_tensor(np.asarray(value) if not isinstance(value, (torch.Tensor, Variable)) else _unwrap(value))
        if tuple(new.shape) != tuple(target.shape):
            raise ValueError(f"Variable {self.path}: assign() needs a value of shape {tuple(target.shape)}, got "
                             f"{tuple(new.shape)}")
        with torch.no_grad():
            target.copy_(new.to(target.device, target.dtype))
        return self

    def assign_add(self, value: Any) -> Variable:
        return self.assign(self.value.detach() + torch.as_tensor(_unwrap(value), dtype=self.value.dtype))

    def assign_sub(self, value: Any) -> Variable:
        return self.assign(self.value.detach() - torch.as_tensor(_unwrap(value), dtype=self.value.dtype))

    @property
    def name(self) -> str:
        return self._spec.name

    @property
    def path(self) -> str:
        """`layer path/name`, e.g. `sequential/dense/kernel` inside a model, `dense/kernel` alone."""
        return f"{self._layer.path}/{self._spec.name}"

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape)

    @property
    def ndim(self) -> int:
        return self.value.dim()

    @property
    def dtype(self) -> str:
        return str(self.value.dtype).removeprefix("torch.")

    @property
    def trainable(self) -> bool:
        return self._spec.trainable and self._layer.trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._layer._set_variable_trainable(self._spec, bool(value))

    @property
    def constraint(self) -> Any:
        return self._spec.constraint

    @property
    def regularizer(self) -> Any:
        return self._spec.regularizer

    # ----- a tensor where a tensor is expected
    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        return func(*_unwrap(args), **_unwrap(kwargs or {}))

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        a = self.numpy()
        return a if dtype is None else a.astype(dtype)

    def __getattr__(self, name: str) -> Any:  # only for names Variable itself lacks: the tensor's
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.value, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "trainable":
            object.__setattr__(self, name, value)  # the property's setter
            return
        raise AttributeError(f"Variable {self.path}: cannot set {name!r}; use assign() to change the value")

    def __getitem__(self, index: Any) -> torch.Tensor:
        return self.value[_unwrap(index)]

    def __len__(self) -> int:
        return len(self.value)

    def __iter__(self) -> Any:
        return iter(self.value)

    def __bool__(self) -> bool:
        return bool(self.value)

    def __float__(self) -> float:
        return float(self.value)

    def __int__(self) -> int:
        return int(self.value)

    def __repr__(self) -> str:
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}>"

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: Any) -> Any:  # type: ignore[override]
        return self.value == _unwrap(other)

    def __ne__(self, other: Any) -> Any:  # type: ignore[override]
        return self.value != _unwrap(other)


def _binary(name: str) -> Any:
    def method(self: Variable, other: Any) -> Any:
        return getattr(self.value, name)(_unwrap(other))

    method.__name__ = name
    return method


for _op in ("add", "radd", "sub", "rsub", "mul", "rmul", "truediv", "rtruediv", "floordiv", "rfloordiv", "mod",
            "rmod", "pow", "rpow", "matmul", "rmatmul", "lt", "le", "gt", "ge", "and", "rand", "or", "ror", "xor",
            "rxor"):
    setattr(Variable, f"__{_op}__", _binary(f"__{_op}__"))
for _op in ("neg", "pos", "abs", "invert"):
    setattr(Variable, f"__{_op}__", (lambda n: lambda self: getattr(self.value, n)())(f"__{_op}__"))


@dataclass
class _Spec:
    """What a Variable reads from a WeightSpec, for one that belongs to no layer."""

    name: str
    trainable: bool
    regularizer: Any = None
    constraint: Any = None


class _Holder:
    """The owner of a Variable outside any layer (a SeedGenerator's state): it holds the tensor itself."""

    trainable = True

    def __init__(self, path: str, value: torch.Tensor) -> None:
        self.path = path
        self._value = value

    def _variable_value(self, spec: _Spec) -> torch.Tensor:
        return self._value

    def _set_variable_trainable(self, spec: _Spec, value: bool) -> None:
        spec.trainable = value
        if self._value.is_floating_point():
            self._value.requires_grad_(value)


def standalone_variable(value: torch.Tensor, name: str, owner: str, trainable: bool = False) -> Variable:
    """A Variable that belongs to no layer, named `owner/name` (Keras' path of a SeedGenerator's
    `seed_generator/seed_generator_state`)."""
    if trainable and value.is_floating_point():
        value = value.requires_grad_(True)
    return Variable(_Holder(owner, value), _Spec(name, trainable))  # type: ignore[arg-type]  # duck-typed: no layer
