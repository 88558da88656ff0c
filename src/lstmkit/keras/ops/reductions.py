"""Reductions and orderings (Keras' `keras.ops`): sum, mean, max, min, prod, std, var, all, any,
argmax/argmin, cumsum/cumprod, logsumexp, count_nonzero, sort, argsort, top_k.

`axis` is None (all axes), an int or a tuple of ints; `keepdims` keeps the reduced axes as size 1.
An axis outside the input is an error naming the op, the axis and the input's shape. Dtypes are
Keras' on torch: sums of bool/int8/int16/uint8 are int32, means of integers float32, argmax int32,
std and var without Bessel's correction (NumPy's).
"""

from __future__ import annotations

import builtins
from typing import Any

import torch

from lstmkit.keras.ops._dtypes import result_type, standardize_dtype, to_torch
from lstmkit.keras.ops.core import canonical_axes, canonical_axis, keras_op, op_error, tensor

_SMALL_INTS = ("bool", "uint8", "int8", "int16")


def _input(x: Any) -> torch.Tensor:
    if isinstance(x, (list, tuple)) and builtins.any(isinstance(v, torch.Tensor) for v in x):
        return torch.stack([tensor(v) for v in x])
    return tensor(x)


def _dims(op: str, t: torch.Tensor, axis: Any) -> tuple[int, ...]:
    axes = canonical_axes(op, axis, t)
    return tuple(range(t.dim())) if axes is None else axes


def _reduce(fn: Any, t: torch.Tensor, dims: tuple[int, ...], keepdims: bool, **kwargs: Any) -> torch.Tensor:
    """`fn` over `dims`; a scalar (no dims) reduces to itself, since torch reads dim=() as every axis."""
    return fn(t, dim=dims, keepdim=keepdims, **kwargs) if dims else fn(t, **kwargs)


@keras_op
def sum(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    t = _input(x)
    if axis == () or axis == []:
        return t
    name = standardize_dtype(t.dtype)
    out = _reduce(torch.sum, t, _dims("sum", t, axis), keepdims)
    return out.to(torch.int32 if name in _SMALL_INTS else t.dtype)  # torch sums int32 to int64; Keras keeps int32


@keras_op
def mean(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    t = _input(x)
    if axis == () or axis == []:
        return t
    name = standardize_dtype(t.dtype)
    compute = result_type(name, "float32")
    out = _reduce(torch.mean, t.to(to_torch(compute)), _dims("mean", t, axis), keepdims)
    return out if "int" in name or name == "bool" else out.to(t.dtype)


def _extreme(op: str, x: Any, axis: Any, keepdims: bool, initial: Any, fn: Any, combine: Any) -> torch.Tensor:
    t = tensor(x)
    if t.numel() == 0:
        if initial is None:
            raise op_error(op, f"cannot reduce an empty input (shape {tuple(t.shape)}) without initial=")
        return torch.full((1,) * t.dim() if keepdims else (), initial)
    out = fn(t, dim=_dims(op, t, axis), keepdim=keepdims) if t.dim() else t.clone()
    if initial is not None:
        out = combine(out, torch.as_tensor(initial, dtype=out.dtype, device=out.device))
    return out


@keras_op
def max(x: Any, axis: Any = None, keepdims: bool = False, initial: Any = None) -> torch.Tensor:
    return _extreme("max", x, axis, keepdims, initial, torch.amax, torch.maximum)


@keras_op
def min(x: Any, axis: Any = None, keepdims: bool = False, initial: Any = None) -> torch.Tensor:
    return _extreme("min", x, axis, keepdims, initial, torch.amin, torch.minimum)


@keras_op
def amax(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    return _extreme("amax", x, axis, keepdims, None, torch.amax, torch.maximum)


@keras_op
def amin(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    return _extreme("amin", x, axis, keepdims, None, torch.amin, torch.minimum)


@keras_op
def prod(x: Any, axis: Any = None, keepdims: bool = False, dtype: Any = None) -> torch.Tensor:
    t = tensor(x)
    out_dtype = standardize_dtype(dtype) if dtype is not None else standardize_dtype(t.dtype)
    if dtype is None and out_dtype in _SMALL_INTS:
        out_dtype = "int32"
    compute = "float32" if out_dtype == "float16" and t.device.type == "cpu" else out_dtype
    if axis is None:
        out = torch.prod(t, dtype=to_torch(compute))
        return out.reshape((1,) * t.dim() if keepdims else ()).to(to_torch(out_dtype))
    for a in sorted(_dims("prod", t, axis), reverse=True):  # torch.prod reduces one axis at a time
        t = torch.prod(t, dim=a, keepdim=keepdims, dtype=to_torch(compute))
    return t.to(to_torch(out_dtype))


def _moment(op: str, x: Any, axis: Any, keepdims: bool, fn: Any) -> torch.Tensor:
    t = tensor(x)
    name = standardize_dtype(t.dtype)
    compute = result_type(name, "float32")
    out = _reduce(fn, t.to(to_torch(compute)), _dims(op, t, axis), keepdims, correction=0)
    return out.to(to_torch(result_type(name, float)))


@keras_op
def std(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """The population standard deviation (NumPy's ddof=0)."""
    return _moment("std", x, axis, keepdims, torch.std)


@keras_op
def var(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """The population variance (NumPy's ddof=0)."""
    return _moment("var", x, axis, keepdims, torch.var)


def _truth(op: str, x: Any, axis: Any, keepdims: bool, fn: Any) -> torch.Tensor:
    t = tensor(x)
    if axis == () or axis == []:
        return t.bool()
    out = t.bool()
    for a in sorted(_dims(op, t, axis), reverse=True):
        out = fn(out, dim=a, keepdim=keepdims)
    return out


@keras_op
def all(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    return _truth("all", x, axis, keepdims, torch.all)


@keras_op
def any(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    return _truth("any", x, axis, keepdims, torch.any)


def _arg(op: str, x: Any, axis: Any, keepdims: bool, fn: Any) -> torch.Tensor:
    t = tensor(x)
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    if axis is None:
        out = fn(t)
        return (out.reshape((1,) * t.dim()) if keepdims else out).to(torch.int32)
    a = canonical_axis(op, axis, t.dim(), t.shape)
    return fn(t, dim=a, keepdim=keepdims).to(torch.int32)


@keras_op
def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> torch.Tensor:
    """Index of the first largest value (of the flattened input when axis is None), int32."""
    return _arg("argmax", x, axis, keepdims, torch.argmax)


@keras_op
def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> torch.Tensor:
    return _arg("argmin", x, axis, keepdims, torch.argmin)


def _cumulative(op: str, x: Any, axis: int | None, dtype: Any, fn: Any) -> torch.Tensor:
    t = tensor(x)
    if axis is None:
        t, axis = t.flatten(), 0
    a = canonical_axis(op, axis, t.dim(), t.shape)
    name = standardize_dtype(dtype) if dtype is not None else standardize_dtype(t.dtype)
    if name == "bool":
        name = "int32"
    if name == "float16" and t.device.type == "cpu":
        return fn(t, dim=a, dtype=torch.float32).half()
    return fn(t, dim=a, dtype=to_torch(name))


@keras_op
def cumsum(x: Any, axis: int | None = None, dtype: Any = None) -> torch.Tensor:
    return _cumulative("cumsum", x, axis, dtype, torch.cumsum)


@keras_op
def cumprod(x: Any, axis: int | None = None, dtype: Any = None) -> torch.Tensor:
    return _cumulative("cumprod", x, axis, dtype, torch.cumprod)


@keras_op
def logsumexp(x: Any, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    t = tensor(x)
    dims = _dims("logsumexp", t, axis)
    return torch.logsumexp(t, dim=dims, keepdim=keepdims) if dims else t.clone()


@keras_op
def count_nonzero(x: Any, axis: Any = None) -> torch.Tensor:
    t = tensor(x)
    if axis == () or axis == []:
        return torch.ne(t, 0).to(torch.int32)
    return torch.count_nonzero(t, dim=_dims("count_nonzero", t, axis)).to(torch.int32)


@keras_op
def sort(x: Any, axis: int | None = -1) -> torch.Tensor:
    t = tensor(x)
    if axis is None:
        t, axis = t.reshape(-1), 0
    return torch.sort(t, dim=canonical_axis("sort", axis, t.dim(), t.shape)).values


@keras_op
def argsort(x: Any, axis: int | None = -1) -> torch.Tensor:
    t = tensor(x)
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    if axis is None:
        t, axis = t.reshape(-1), 0
    a = canonical_axis("argsort", axis, t.dim(), t.shape)
    return torch.argsort(t, dim=a, stable=True).to(torch.int32)


@keras_op
def top_k(x: Any, k: int, sorted: bool = True) -> Any:
    """The k largest values on the last axis and their indices: `values, indices = top_k(x, k)`."""
    t = tensor(x)
    if t.dim() == 0 or not 0 <= int(k) <= t.shape[-1]:
        raise op_error("top_k", f"k must be in [0, {t.shape[-1] if t.dim() else 0}] (the size of the last axis), "
                                f"got k={k} for an input of shape {tuple(t.shape)}")
    return torch.topk(t, int(k), sorted=sorted)
