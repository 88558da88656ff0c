"""Products and norms (Keras' `keras.ops`): matmul, dot, tensordot, einsum, outer, norm.

`matmul(a, b)` contracts the last axis of `a` with the second-to-last of `b` (the last, when `b` is
1-D) and broadcasts the batch axes; sizes that do not match are an error naming both shapes. Integer
products keep Keras' dtypes (int8 @ int8 is int32); float16 is computed in float32 on the CPU,
where torch has no float16 matmul.
"""

from __future__ import annotations

from typing import Any

import torch

from lstmkit.keras.ops._dtypes import FLOATX, result_type, standardize_dtype, to_torch
from lstmkit.keras.ops.core import keras_op, op_error, tensor, tensors


def _compute_dtype(result: str, device: torch.device) -> str:
    if result == "bool":
        return FLOATX
    if result == "float16" and device.type == "cpu":
        return "float32"
    if "int" in result and device.type == "cuda":  # no integer matmul on CUDA
        return FLOATX
    return result


def _check_matmul(op: str, a: torch.Tensor, b: torch.Tensor) -> None:
    if a.dim() == 0 or b.dim() == 0:
        raise op_error(op, f"needs inputs of at least 1 dimension, got shapes {tuple(a.shape)} and "
                           f"{tuple(b.shape)} (use multiply for scalars)")
    inner_b = b.shape[0] if b.dim() == 1 else b.shape[-2]
    if a.shape[-1] != inner_b:
        b_axis = "its only axis" if b.dim() == 1 else "its second-to-last axis"
        raise op_error(op, f"the last axis of x1 (shape {tuple(a.shape)}) must match {b_axis} of x2 (shape "
                           f"{tuple(b.shape)}), got {a.shape[-1]} and {inner_b}")
    if a.dim() > 2 and b.dim() > 2:
        try:
            torch.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except RuntimeError:
            raise op_error(op, f"the batch axes of shapes {tuple(a.shape)} and {tuple(b.shape)} do not "
                               f"broadcast") from None


@keras_op
def matmul(x1: Any, x2: Any) -> torch.Tensor:
    a, b = tensors(x1, x2)
    _check_matmul("matmul", a, b)
    names = standardize_dtype(a.dtype), standardize_dtype(b.dtype)
    result = "int32" if names == ("int8", "int8") else result_type(a.dtype, b.dtype)
    compute = to_torch(_compute_dtype(result, a.device))
    return torch.matmul(a.to(compute), b.to(compute)).to(to_torch(result))


@keras_op
def dot(x1: Any, x2: Any) -> torch.Tensor:
    """A product when either is a scalar, else matmul (as on Keras' torch backend, whose batch axes
    broadcast where NumPy's dot of two 3-D arrays would pair every batch with every other)."""
    a, b = tensors(x1, x2)
    result = result_type(a.dtype, b.dtype)
    compute = result_type(result, float)
    compute = "float32" if compute == "float16" and a.device.type == "cpu" else compute
    a, b = a.to(to_torch(compute)), b.to(to_torch(compute))
    if a.dim() == 0 or b.dim() == 0:
        return torch.multiply(a, b).to(to_torch(result))
    _check_matmul("dot", a, b)
    return torch.matmul(a, b).to(to_torch(result))


@keras_op
def tensordot(x1: Any, x2: Any, axes: Any = 2) -> torch.Tensor:
    a, b = tensors(x1, x2)
    result = result_type(a.dtype, b.dtype)
    compute = result_type(result, float)
    compute = "float32" if compute == "float16" and a.device.type == "cpu" else compute
    if isinstance(axes, (list, tuple)):
        first, second = axes
        axes = ([first] if isinstance(first, int) else list(first), [second] if isinstance(second, int) else
                list(second))
    out = torch.tensordot(a.to(to_torch(compute)), b.to(to_torch(compute)), dims=axes)
    return out.to(to_torch(result))


@keras_op
def einsum(subscripts: str, *operands: Any, **kwargs: Any) -> torch.Tensor:
    ts = tensors(*operands)
    if {standardize_dtype(t.dtype) for t in ts} == {"int8"}:  # int8 products are int32, as in JAX and Keras
        compute = torch.int32 if ts[0].device.type != "cuda" else to_torch(FLOATX)
        return torch.einsum(subscripts, *(t.to(compute) for t in ts)).to(torch.int32)
    return torch.einsum(subscripts, *ts)


@keras_op
def outer(x1: Any, x2: Any) -> torch.Tensor:
    a, b = tensors(x1, x2)
    return torch.outer(a.flatten(), b.flatten())


@keras_op
def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> torch.Tensor:
    """Vector norms (axis an int, or None on a 1-D input) and matrix norms (a pair of axes, or None on a
    2-D input); integers are float32."""
    t = tensor(x)
    name = standardize_dtype(t.dtype)
    t = t.to(to_torch(FLOATX if name == "int64" else result_type(name, float)))
    return torch.linalg.norm(t, ord=ord, dim=axis, keepdim=keepdims)
