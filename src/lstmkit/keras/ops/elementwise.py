"""Element-wise ops (Keras' `keras.ops` numpy family): arithmetic, powers and logs, rounding,
comparisons and logic. Inputs broadcast as in NumPy; an input pair that does not broadcast is an
error naming the op and both shapes.

Dtypes are Keras' on its torch backend: a Python scalar is weak (`int32 + 1.5` is float32, `int8 + 1`
stays int8, `float16 + 1.5` stays float16), exp/sqrt/log/tanh/... of integers are float32, `divide`
of integers is float32, comparisons are bool.
"""

from __future__ import annotations

from typing import Any

import torch

from lstmkit.keras.ops._dtypes import FLOATX, result_type, standardize_dtype, to_torch
from lstmkit.keras.ops.core import keras_op, op_error, tensor, tensors


def _pair(op: str, x1: Any, x2: Any) -> tuple[torch.Tensor, torch.Tensor]:
    a, b = tensors(x1, x2)
    try:
        torch.broadcast_shapes(a.shape, b.shape)
    except RuntimeError:
        raise op_error(op, f"the inputs' shapes {tuple(a.shape)} and {tuple(b.shape)} do not broadcast (each "
                           f"axis, counted from the last, must be equal or 1)") from None
    return a, b


def _weak_dtype(x: Any, t: torch.Tensor) -> Any:
    """What Keras' promotion sees: the Python type of a scalar (weak), else the tensor's dtype."""
    return type(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else t.dtype


def _promoted_pair(op: str, x1: Any, x2: Any) -> tuple[torch.Tensor, torch.Tensor, str]:
    a, b = _pair(op, x1, x2)
    dtype = result_type(_weak_dtype(x1, a), _weak_dtype(x2, b))
    return a.to(to_torch(dtype)), b.to(to_torch(dtype)), dtype


def _float_if_integer(x: torch.Tensor, int64_only: bool = False) -> torch.Tensor:
    name = standardize_dtype(x.dtype)
    if name == "int64" or (not int64_only and ("int" in name or name == "bool")):
        return x.to(to_torch(FLOATX))
    return x


# ----- arithmetic
@keras_op
def add(x1: Any, x2: Any) -> torch.Tensor:
    return torch.add(*_pair("add", x1, x2))


@keras_op
def subtract(x1: Any, x2: Any) -> torch.Tensor:
    a, b = _pair("subtract", x1, x2)
    if a.dtype == torch.bool:  # torch cannot subtract booleans
        a = a.to(b.dtype)
    if b.dtype == torch.bool:
        b = b.to(a.dtype)
    return torch.subtract(a, b)


@keras_op
def multiply(x1: Any, x2: Any) -> torch.Tensor:
    return torch.multiply(*_pair("multiply", x1, x2))


@keras_op
def divide(x1: Any, x2: Any) -> torch.Tensor:
    return torch.divide(*_pair("divide", x1, x2))


@keras_op
def true_divide(x1: Any, x2: Any) -> torch.Tensor:
    return torch.divide(*_pair("true_divide", x1, x2))


@keras_op
def floor_divide(x1: Any, x2: Any) -> torch.Tensor:
    a, b, dtype = _promoted_pair("floor_divide", x1, x2)
    return torch.floor_divide(a, b).to(to_torch(dtype))


@keras_op
def mod(x1: Any, x2: Any) -> torch.Tensor:
    a, b = _pair("mod", x1, x2)
    if a.dtype == torch.bool and b.dtype == torch.bool:
        a, b = a.int(), b.int()
    return torch.remainder(a, b)


@keras_op
def negative(x: Any) -> torch.Tensor:
    return torch.negative(tensor(x))


@keras_op
def abs(x: Any) -> torch.Tensor:
    t = tensor(x)
    return t if t.dtype == torch.bool else torch.abs(t)


absolute = abs


@keras_op
def square(x: Any) -> torch.Tensor:
    t = tensor(x)
    return torch.square(t.int() if t.dtype == torch.bool else t)


@keras_op
def sqrt(x: Any) -> torch.Tensor:
    return torch.sqrt(_float_if_integer(tensor(x), int64_only=True))


@keras_op
def rsqrt(x: Any) -> torch.Tensor:
    return torch.rsqrt(tensor(x))


@keras_op
def reciprocal(x: Any) -> torch.Tensor:
    return torch.reciprocal(tensor(x))


@keras_op
def power(x1: Any, x2: Any) -> torch.Tensor:
    return torch.pow(*_pair("power", x1, x2))


@keras_op
def maximum(x1: Any, x2: Any) -> torch.Tensor:
    a, b, _ = _promoted_pair("maximum", x1, x2)
    return torch.maximum(a, b)


@keras_op
def minimum(x1: Any, x2: Any) -> torch.Tensor:
    a, b, _ = _promoted_pair("minimum", x1, x2)
    return torch.minimum(a, b)


@keras_op
def clip(x: Any, x_min: Any, x_max: Any) -> torch.Tensor:
    t = tensor(x)
    if t.dtype == torch.bool:
        t = t.int()
    low = x_min if isinstance(x_min, (int, float)) else tensor(x_min, device=t.device)
    high = x_max if isinstance(x_max, (int, float)) else tensor(x_max, device=t.device)
    if t.dtype == torch.float16 and t.device.type == "cpu":
        return torch.clip(t.float(), min=low, max=high).half()
    return torch.clip(t, min=low, max=high)


# ----- exponentials, logs, trigonometry: integers become float32
def _unary(name: str, fn: Any, int_to_float: bool = True) -> Any:
    def op(x: Any) -> torch.Tensor:
        t = tensor(x)
        return fn(_float_if_integer(t) if int_to_float else t)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Element-wise `{name}` (Keras' `ops.{name}`)."
    return keras_op(op)


exp = _unary("exp", torch.exp)
expm1 = _unary("expm1", torch.expm1)
log = _unary("log", torch.log)
log1p = _unary("log1p", torch.log1p)
log2 = _unary("log2", torch.log2)
log10 = _unary("log10", torch.log10)
sin = _unary("sin", torch.sin)
cos = _unary("cos", torch.cos)
tan = _unary("tan", torch.tan)
sinh = _unary("sinh", torch.sinh)
cosh = _unary("cosh", torch.cosh)
tanh = _unary("tanh", torch.tanh)
arctan = _unary("arctan", torch.arctan)
erf = _unary("erf", torch.erf)


# ----- rounding and signs
@keras_op
def sign(x: Any) -> torch.Tensor:
    return torch.sign(tensor(x))


@keras_op
def round(x: Any, decimals: int = 0) -> torch.Tensor:
    """Half to even, as NumPy; integers keep their dtype."""
    t = tensor(x)
    name = standardize_dtype(t.dtype)
    if "int" in name:
        return torch.round(t.to(to_torch(FLOATX)), decimals=decimals).to(t.dtype)
    return torch.round(t, decimals=decimals)


def _float_rounding(op: str, fn: Any, x: Any) -> torch.Tensor:
    t = tensor(x)
    name = standardize_dtype(t.dtype)
    out_dtype = FLOATX if name == "int64" else result_type(name, float)
    if t.dtype == torch.bool:
        t = t.to(torch.uint8)
    return fn(t.to(to_torch(out_dtype)))


@keras_op
def floor(x: Any) -> torch.Tensor:
    return _float_rounding("floor", torch.floor, x)


@keras_op
def ceil(x: Any) -> torch.Tensor:
    return _float_rounding("ceil", torch.ceil, x)


@keras_op
def trunc(x: Any) -> torch.Tensor:
    t = tensor(x)
    return t if t.dtype == torch.bool else torch.trunc(t)


# ----- tests on values
@keras_op
def isnan(x: Any) -> torch.Tensor:
    return torch.isnan(tensor(x))


@keras_op
def isinf(x: Any) -> torch.Tensor:
    return torch.isinf(tensor(x))


@keras_op
def isfinite(x: Any) -> torch.Tensor:
    return torch.isfinite(tensor(x))


@keras_op
def nan_to_num(x: Any, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None) -> torch.Tensor:
    return torch.nan_to_num(tensor(x), nan=nan, posinf=posinf, neginf=neginf)


# ----- comparisons and logic: booleans out
def _compare(name: str, fn: Any) -> Any:
    def op(x1: Any, x2: Any) -> torch.Tensor:
        return fn(*_pair(name, x1, x2))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Element-wise `{name}`, a bool tensor (Keras' `ops.{name}`)."
    return keras_op(op)


equal = _compare("equal", torch.eq)
not_equal = _compare("not_equal", torch.ne)
greater = _compare("greater", torch.gt)
greater_equal = _compare("greater_equal", torch.ge)
less = _compare("less", torch.lt)
less_equal = _compare("less_equal", torch.le)
logical_and = _compare("logical_and", torch.logical_and)
logical_or = _compare("logical_or", torch.logical_or)
logical_xor = _compare("logical_xor", torch.logical_xor)


@keras_op
def logical_not(x: Any) -> torch.Tensor:
    return torch.logical_not(tensor(x))


@keras_op
def isclose(x1: Any, x2: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> torch.Tensor:
    a, b = _pair("isclose", x1, x2)
    dtype = to_torch(result_type(a.dtype, b.dtype))
    a, b = a.to(dtype), b.to(dtype)
    if dtype.is_floating_point:
        return torch.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    return torch.eq(a, b)


@keras_op
def allclose(x1: Any, x2: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> torch.Tensor:
    return torch.all(isclose(x1, x2, rtol=rtol, atol=atol, equal_nan=equal_nan))
