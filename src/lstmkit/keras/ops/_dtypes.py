"""Keras 3's dtype names and its type promotion (`keras.backend.result_type`), for `lstmkit.keras.ops`.

Keras promotes over JAX's lattice, in which Python scalars are *weak*: `int32 array + 1.5` is
float32, `float16 array + 1.5` stays float16, `int8 array + 1` stays int8. Results that would be
64-bit are 32-bit (`result_type("int64", "float64")` is float32), as on Keras' torch backend; the
element-wise ops themselves keep a NumPy float64 input float64, because they call torch directly.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import torch

FLOATX = "float32"

TORCH_DTYPES: dict[str, torch.dtype] = {
    "bool": torch.bool, "uint8": torch.uint8, "int8": torch.int8, "int16": torch.int16, "int32": torch.int32,
    "int64": torch.int64, "bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32,
    "float64": torch.float64, "complex64": torch.complex64, "complex128": torch.complex128,
    "uint16": torch.int32, "uint32": torch.int64,  # torch has no uint16/uint32; Keras' torch backend maps them so
}
_PYTHON = {bool: "bool", int: "int32", float: "float32", complex: "complex64"}
_ALIASES = {"float": "float32", "int": "int32", "double": "float64", "half": "float16"}

# each dtype's next ones up; "int" and "float" are the weak types of Python scalars
_LATTICE: dict[str, tuple[str, ...]] = {
    "bool": ("int",), "int": ("uint8", "int8", "complex64"),
    "uint8": ("int16", "uint16"), "uint16": ("int32", "uint32"), "uint32": ("int64", "uint64"), "uint64": ("float",),
    "int8": ("int16",), "int16": ("int32",), "int32": ("int64",), "int64": ("float",),
    "float": ("bfloat16", "float16"), "bfloat16": ("float32",), "float16": ("float32",),
    "float32": ("float64", "complex64"), "float64": ("complex128",), "complex64": ("complex128",), "complex128": (),
}
_TO_32 = {"int64": "int32", "uint64": "uint32", "float64": "float32", "complex128": "complex64"}


def _upper_bounds() -> dict[str, frozenset[str]]:
    bounds: dict[str, frozenset[str]] = {}

    def up(node: str) -> frozenset[str]:
        if node not in bounds:
            bounds[node] = frozenset({node}).union(*(up(n) for n in _LATTICE[node]))
        return bounds[node]

    for node in _LATTICE:
        up(node)
    return bounds


_UPPER = _upper_bounds()


def standardize_dtype(dtype: Any) -> str:
    """A Keras dtype string from a string, a Python type, a NumPy or torch dtype, or None (float32)."""
    if dtype is None:
        return FLOATX
    if isinstance(dtype, torch.dtype):
        return str(dtype).removeprefix("torch.")
    if dtype in _PYTHON:
        return _PYTHON[dtype]
    if isinstance(dtype, str):
        name = _ALIASES.get(dtype, dtype.removeprefix("torch."))
    else:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            raise ValueError(f"not a dtype: {dtype!r}") from None
    if name not in TORCH_DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}: expected one of {sorted(TORCH_DTYPES)}")
    return name


def to_torch(dtype: Any) -> torch.dtype:
    return TORCH_DTYPES[standardize_dtype(dtype)]


@functools.lru_cache(512)
def _least_upper_bound(*nodes: str) -> str:
    common = frozenset.intersection(*(_UPPER[n] for n in nodes))
    least = [c for c in common if common <= _UPPER[c]]
    if len(least) != 1:
        raise ValueError(f"dtypes {nodes} have no common dtype to promote to; cast them explicitly")
    return least[0]


def result_type(*dtypes: Any) -> str:
    """Keras' promoted dtype of `dtypes`; the Python types `int` and `float` count as weak."""
    if not dtypes:
        return FLOATX
    weak = [d is int or d is float for d in dtypes]
    names = [standardize_dtype(d) for d in dtypes]
    if len(set(names)) == 1 and not all(weak):
        out, out_weak = names[0], False
    elif all(weak):
        out, out_weak = _least_upper_bound(*set(names)), True
    else:
        nodes = {("float" if "float" in n else "int") if w and n != "bool" else n for n, w in zip(names, weak)}
        out = _least_upper_bound(*nodes)
        out_weak = out in ("int", "float")
    if out_weak and out != "bool":  # a weak result takes the default precision of its kind
        out = {"i": "int32", "u": "uint32"}.get(out[0], FLOATX)
    return _TO_32.get(out, out)


def is_float(dtype: Any) -> bool:
    name = standardize_dtype(dtype)
    return "float" in name


def is_int(dtype: Any) -> bool:
    return "int" in standardize_dtype(dtype)
