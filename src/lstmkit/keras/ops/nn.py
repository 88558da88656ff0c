"""Neural-network ops (Keras' `keras.ops` nn family): activations, softmax and log_softmax, one_hot
and multi_hot, moments, normalize.

Keras' defaults, which differ from torch's in places: `gelu` is the tanh approximation unless
`approximate=False`, `leaky_relu` has slope 0.2, `softmax(axis=None)` normalises over every element
and `softmax(axis=(1, 2))` over several axes together; `one_hot` is float32 and gives a zero row
for a negative index.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F

from lstmkit.keras.ops._dtypes import FLOATX, to_torch
from lstmkit.keras.ops.core import canonical_axes, canonical_axis, keras_op, op_error, tensor

EPSILON = 1e-7  # keras.config.epsilon()


def _activation(name: str, fn: Any) -> Any:
    def op(x: Any) -> torch.Tensor:
        return fn(tensor(x))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Keras' `ops.{name}`, element-wise."
    return keras_op(op)


relu = _activation("relu", F.relu)
relu6 = _activation("relu6", F.relu6)
sigmoid = _activation("sigmoid", torch.sigmoid)
log_sigmoid = _activation("log_sigmoid", F.logsigmoid)
softplus = _activation("softplus", F.softplus)
softsign = _activation("softsign", F.softsign)
silu = _activation("silu", F.silu)
swish = _activation("swish", F.silu)
hard_sigmoid = _activation("hard_sigmoid", F.hardsigmoid)
hard_silu = _activation("hard_silu", F.hardswish)
hard_swish = _activation("hard_swish", F.hardswish)
selu = _activation("selu", F.selu)


@keras_op
def elu(x: Any, alpha: float = 1.0) -> torch.Tensor:
    return F.elu(tensor(x), alpha)


@keras_op
def leaky_relu(x: Any, negative_slope: float = 0.2) -> torch.Tensor:
    return F.leaky_relu(tensor(x), negative_slope)


@keras_op
def gelu(x: Any, approximate: bool = True) -> torch.Tensor:
    return F.gelu(tensor(x), approximate="tanh" if approximate else "none")


def _over_axes(op: str, fn: Any, x: Any, axis: Any) -> torch.Tensor:
    t = tensor(x)
    dtype = t.dtype
    if dtype == torch.float16 and t.device.type == "cpu":
        t = t.float()
    if isinstance(axis, int) and t.dim() and t.shape[canonical_axis(op, axis, t.dim(), t.shape)] == 1:
        warnings.warn(f"ops.{op} over axis {axis} of a tensor of shape {tuple(t.shape)}: the axis has size 1, so "
                      f"the result is constant; did you mean a sigmoid?", stacklevel=3)
    if isinstance(axis, int):
        out = fn(t, dim=canonical_axis(op, axis, t.dim(), t.shape))
    else:  # None: every element; a tuple: those axes together, moved last and flattened
        axes = canonical_axes(op, axis, t) or tuple(range(t.dim()))
        keep = [a for a in range(t.dim()) if a not in axes]
        moved = t.permute(*keep, *axes)
        out = fn(moved.reshape(*moved.shape[:len(keep)], -1), dim=-1).reshape(moved.shape)
        out = out.permute(*sorted(range(t.dim()), key=[*keep, *axes].__getitem__))
    return out.to(dtype)


@keras_op
def softmax(x: Any, axis: Any = -1) -> torch.Tensor:
    return _over_axes("softmax", torch.softmax, x, axis)


@keras_op
def log_softmax(x: Any, axis: Any = -1) -> torch.Tensor:
    return _over_axes("log_softmax", torch.log_softmax, x, axis)


@keras_op
def one_hot(x: Any, num_classes: int, axis: int = -1, dtype: Any = None, sparse: bool = False) -> torch.Tensor:
    """Index `i` as a row with a 1 at `i` (float32 unless `dtype`); negative indices give zeros; the new
    axis goes at `axis`."""
    if sparse:
        raise op_error("one_hot", "sparse=True is not supported (torch backend)")
    t = tensor(x)
    if t.dtype.is_floating_point or t.dtype == torch.bool:
        t = t.long()
    t = t.long()
    if t.numel() and int(t.max()) >= num_classes:
        raise op_error("one_hot", f"indices must be below num_classes={num_classes}, got {int(t.max())}")
    out = F.one_hot(t.clamp(min=0), num_classes) * (t >= 0).unsqueeze(-1)
    out = out.to(to_torch(dtype or FLOATX))
    a = canonical_axis("one_hot", axis, out.dim(), None)
    return out if a == out.dim() - 1 else out.movedim(-1, a)


@keras_op
def multi_hot(inputs: Any, num_classes: int | None = None, axis: int = -1, dtype: Any = None, sparse: bool = False,
              **kwargs: Any) -> torch.Tensor:
    """One row per sample (the first axis of a 2-D input) with a 1 at each index it holds."""
    if num_classes is None:
        num_classes = kwargs.pop("num_tokens", None)
    if num_classes is None:
        raise op_error("multi_hot", "needs num_classes")
    t = tensor(inputs)
    hot = one_hot(t.int(), num_classes, axis=axis, dtype=dtype, sparse=sparse)
    return torch.amax(hot, dim=1 if t.dim() > 1 else 0)


@keras_op
def moments(x: Any, axes: Any, keepdims: bool = False, synchronized: bool = False) -> tuple[torch.Tensor, ...]:
    """`mean, variance` over `axes` (the population variance, E[x²] - E[x]², as Keras computes it)."""
    if synchronized:
        raise op_error("moments", "synchronized=True is not supported (torch backend)")
    t = tensor(x)
    dtype = t.dtype
    if dtype == torch.float16:
        t = t.float()
    dims = canonical_axes("moments", axes, t) or tuple(range(t.dim()))
    m = torch.mean(t, dim=dims, keepdim=True)
    v = torch.mean(torch.square(t), dim=dims, keepdim=True) - torch.square(m)
    if not keepdims:
        m, v = m.squeeze(dims), v.squeeze(dims)
    if dtype == torch.float16:
        big = torch.finfo(torch.float16).max
        m, v = m.clamp(-big, big).half(), v.clamp(-big, big).half()
    return m, v


@keras_op
def normalize(x: Any, axis: int = -1, order: int = 2, epsilon: float | None = None) -> torch.Tensor:
    """`x` divided by its `order`-norm along `axis` (at least `epsilon`)."""
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise op_error("normalize", f"order must be an int >= 1, got {order!r}")
    t = tensor(x)
    if t.dim() == 0:
        t = t.unsqueeze(0)
    eps = EPSILON if epsilon is None else epsilon
    if order == 2:
        inv = torch.rsqrt(torch.sum(torch.square(t), dim=axis, keepdim=True))
        return t * torch.clamp(inv, max=1.0 / eps)
    norm = torch.linalg.norm(t, ord=order, dim=axis, keepdim=True)
    return t / torch.clamp(norm, min=eps)
