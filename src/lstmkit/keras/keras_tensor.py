"""Symbolic tensors for the functional API: `Input(shape)` gives one, calling a layer on it gives more.

A `KerasTensor` holds a shape (batch first, `None` where unknown) and a dtype, and remembers the
`Node` (layer call) that produced it, so that `Model(inputs, outputs)` can walk the graph back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

Shape = tuple[int | None, ...]


class KerasTensor:
    """A placeholder with a shape and a dtype; no values."""

    def __init__(self, shape: Shape, dtype: str = "float32", node: Node | None = None, index: int = 0,
                 name: str | None = None) -> None:
        self.shape: Shape = tuple(None if s is None else int(s) for s in shape)
        self.dtype = dtype
        self.node = node
        self.index = index
        self.name = name

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"


class Node:
    """One call of a layer on symbolic inputs: `outputs = layer(*args, **kwargs)`."""

    def __init__(self, layer: Any, args: tuple, kwargs: dict, outputs: Any) -> None:
        self.layer = layer
        self.args = args
        self.kwargs = kwargs
        self.outputs = outputs
        self.parents = [t for t in flatten((args, kwargs)) if isinstance(t, KerasTensor)]


def flatten(structure: Any) -> list:
    """The leaves of nested lists, tuples and dicts, in order."""
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    if isinstance(structure, dict):
        return [leaf for key in structure for leaf in flatten(structure[key])]
    return [structure]


def map_structure(fn: Callable[[Any], Any], structure: Any) -> Any:
    """Apply `fn` to every leaf, keeping the nesting (lists, tuples, dicts)."""
    if isinstance(structure, list):
        return [map_structure(fn, s) for s in structure]
    if isinstance(structure, tuple):
        return tuple(map_structure(fn, s) for s in structure)
    if isinstance(structure, dict):
        return {k: map_structure(fn, v) for k, v in structure.items()}
    return fn(structure)


def any_symbolic(structure: Any) -> bool:
    return any(isinstance(t, KerasTensor) for t in flatten(structure))


def dtype_name(dtype: Any) -> str:
    """A Keras dtype string ("float32", "int32", ...) from a torch or numpy dtype or a string."""
    if dtype is None:
        return "float32"
    if isinstance(dtype, torch.dtype):
        return str(dtype).removeprefix("torch.")
    return str(getattr(dtype, "name", dtype))
