"""Making and reshaping arrays (Keras' `keras.ops`): zeros, ones, full, eye, arange, linspace and the
`*_like`s; reshape, transpose, expand_dims, squeeze, concatenate, stack, split, tile, repeat, flip,
roll, pad, broadcast_to; take, take_along_axis, where; shape facts (ndim, size).

New arrays are float32 unless a dtype is given (`arange` of ints is int32, as Keras). Shapes that do
not fit (a reshape to another size, a concatenation of unequal shapes, a split that does not divide)
are errors naming the op, what was expected and what came.
"""

from __future__ import annotations

import builtins
import itertools
import math
from typing import Any

import numpy as np
import torch

from lstmkit.keras.ops._dtypes import FLOATX, result_type, to_torch
from lstmkit.keras.ops.core import canonical_axis, describe, keras_op, op_error, tensor, tensors
from lstmkit.keras.variables import Variable


def _shape(op: str, shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    try:
        dims = tuple(int(d) for d in shape)
    except (TypeError, ValueError):
        raise op_error(op, f"shape must be an int or a sequence of ints, got {shape!r}") from None
    if builtins.any(d < 0 for d in dims):
        raise op_error(op, f"shape must not have negative sizes, got {dims}")
    return dims


# ----- new arrays
@keras_op
def zeros(shape: Any, dtype: Any = None) -> torch.Tensor:
    return torch.zeros(_shape("zeros", shape), dtype=to_torch(dtype or FLOATX))


@keras_op
def ones(shape: Any, dtype: Any = None) -> torch.Tensor:
    return torch.ones(_shape("ones", shape), dtype=to_torch(dtype or FLOATX))


@keras_op
def empty(shape: Any, dtype: Any = None) -> torch.Tensor:
    return torch.empty(_shape("empty", shape), dtype=to_torch(dtype or FLOATX))


@keras_op
def full(shape: Any, fill_value: Any, dtype: Any = None) -> torch.Tensor:
    """`shape` filled with `fill_value` (a scalar, or an array broadcast over the leading axes); float32
    unless `dtype` says otherwise, whatever the fill value (Keras on torch)."""
    dims = _shape("full", shape)
    value = tensor(fill_value, dtype or FLOATX)
    return torch.broadcast_to(value, dims).clone()


@keras_op
def zeros_like(x: Any, dtype: Any = None) -> torch.Tensor:
    t = tensor(x)
    return torch.zeros_like(t, dtype=to_torch(dtype) if dtype is not None else t.dtype)


@keras_op
def ones_like(x: Any, dtype: Any = None) -> torch.Tensor:
    t = tensor(x)
    return torch.ones_like(t, dtype=to_torch(dtype) if dtype is not None else t.dtype)


@keras_op
def full_like(x: Any, fill_value: Any, dtype: Any = None) -> torch.Tensor:
    t = tensor(x)
    value = tensor(fill_value, dtype if dtype is not None else t.dtype, device=t.device)
    return torch.broadcast_to(value, t.shape).clone()


@keras_op
def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> torch.Tensor:
    M = N if M is None else M
    out = torch.zeros(int(N), int(M), dtype=to_torch(dtype or FLOATX))
    out.diagonal(offset=int(k or 0)).fill_(1)
    return out


@keras_op
def identity(n: int, dtype: Any = None) -> torch.Tensor:
    return eye(n, dtype=dtype)


@keras_op
def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None) -> torch.Tensor:
    """`range` as a tensor: int32 for Python ints, float32 once a float is among the arguments."""
    if dtype is None:
        dtype = result_type(*(getattr(v, "dtype", type(v)) for v in (start, stop, step) if v is not None))
    if stop is None:
        start, stop = 0, start
    step = 1 if step is None else step
    if step == 0:
        raise op_error("arange", "step must not be 0")
    return torch.arange(start, stop, step, dtype=to_torch(dtype))


@keras_op
def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, retstep: bool = False, dtype: Any = None,
             axis: int = 0) -> Any:
    if axis != 0:
        raise op_error("linspace", f"only axis=0 is supported (as on Keras' torch backend), got axis={axis}")
    if dtype is None:
        dtype = result_type(getattr(start, "dtype", type(start)), getattr(stop, "dtype", type(stop)), float)
    a, b = (tensor(v, "float64") for v in (start, stop))
    n = int(num)
    steps = torch.arange(n, dtype=torch.float64) / ((n - 1) if endpoint else n) if n > 1 or not endpoint \
        else torch.zeros(n, dtype=torch.float64)
    steps = steps.reshape((n,) + (1,) * a.dim())
    out = (a + steps * (b - a)).to(to_torch(dtype))
    if retstep:
        step = (b - a) / ((n - 1) if endpoint else n) if (n > 1 or not endpoint) else torch.tensor(float("nan"))
        return out, step.to(to_torch(dtype))
    return out


# ----- shape facts
@keras_op
def ndim(x: Any) -> int:
    return len(x.shape) if isinstance(x, (torch.Tensor, Variable, np.ndarray)) else tensor(x).dim()


@keras_op
def size(x: Any) -> torch.Tensor:
    """The number of elements, as a 0-d int tensor (Keras on torch)."""
    shape = x.shape if isinstance(x, (torch.Tensor, Variable, np.ndarray)) else tensor(x).shape
    return torch.tensor(math.prod(shape))


# ----- reshaping
@keras_op
def reshape(x: Any, newshape: Any) -> torch.Tensor:
    t = tensor(x)
    dims = (newshape,) if isinstance(newshape, (int, np.integer)) else tuple(int(d) for d in newshape)
    known = math.prod(d for d in dims if d != -1)
    fits = (t.numel() == known) if -1 not in dims else (dims.count(-1) == 1 and known and t.numel() % known == 0)
    if not fits:
        raise op_error("reshape", f"cannot reshape an input of shape {tuple(t.shape)} ({t.numel()} elements) to "
                                  f"{dims}: the new shape must hold the same number of elements (at most one -1)")
    return torch.reshape(t, dims)


@keras_op
def transpose(x: Any, axes: Any = None) -> torch.Tensor:
    t = tensor(x)
    if axes is None:
        return t.permute(tuple(reversed(range(t.dim()))))
    perm = tuple(canonical_axis("transpose", a, t.dim(), t.shape) for a in axes)
    if sorted(perm) != list(range(t.dim())):
        raise op_error("transpose", f"axes must be a permutation of the input's {t.dim()} axes (shape "
                                    f"{tuple(t.shape)}), got {tuple(axes)}")
    return t.permute(perm)


@keras_op
def swapaxes(x: Any, axis1: int, axis2: int) -> torch.Tensor:
    t = tensor(x)
    return torch.swapaxes(t, canonical_axis("swapaxes", axis1, t.dim(), t.shape),
                          canonical_axis("swapaxes", axis2, t.dim(), t.shape))


@keras_op
def moveaxis(x: Any, source: Any, destination: Any) -> torch.Tensor:
    return torch.moveaxis(tensor(x), source, destination)


@keras_op
def expand_dims(x: Any, axis: Any) -> torch.Tensor:
    t = tensor(x)
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
    out_ndim = t.dim() + len(axes)
    for a in sorted(canonical_axis("expand_dims", a, out_ndim, None) for a in axes):
        t = t.unsqueeze(a)
    return t


@keras_op
def squeeze(x: Any, axis: Any = None) -> torch.Tensor:
    t = tensor(x)
    if axis is None:
        return torch.squeeze(t)
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
    dims = tuple(canonical_axis("squeeze", a, t.dim(), t.shape) for a in axes)
    for a in dims:
        if t.shape[a] != 1:
            raise op_error("squeeze", f"can only squeeze axes of size 1, but axis {a} of the input (shape "
                                      f"{tuple(t.shape)}) has size {t.shape[a]}")
    return torch.squeeze(t, dim=dims)


@keras_op
def ravel(x: Any) -> torch.Tensor:
    return torch.ravel(tensor(x))


@keras_op
def broadcast_to(x: Any, shape: Any) -> torch.Tensor:
    t = tensor(x)
    dims = _shape("broadcast_to", shape)
    try:
        torch.broadcast_shapes(t.shape, dims)
    except RuntimeError:
        raise op_error("broadcast_to", f"cannot broadcast an input of shape {tuple(t.shape)} to {dims}") from None
    return torch.broadcast_to(t, dims)


def _same_shapes(op: str, ts: list[torch.Tensor], axis: int | None) -> None:
    first = ts[0]
    for i, t in enumerate(ts[1:], 1):
        same = t.dim() == first.dim() and builtins.all(
            a == b for k, (a, b) in enumerate(zip(t.shape, first.shape)) if k != axis)
        if not same:
            what = f"the same shape except on axis {axis}" if axis is not None else "the same shape"
            raise op_error(op, f"needs inputs of {what}, got input 0 of shape {tuple(first.shape)} and input {i} "
                               f"of shape {tuple(t.shape)}")


@keras_op
def concatenate(xs: Any, axis: int = 0) -> torch.Tensor:
    ts = tensors(*xs)
    if not ts:
        raise op_error("concatenate", "needs at least one input")
    a = canonical_axis("concatenate", axis, ts[0].dim(), ts[0].shape)
    _same_shapes("concatenate", ts, a)
    return torch.cat(ts, dim=a)


@keras_op
def stack(x: Any, axis: int = 0) -> torch.Tensor:
    ts = tensors(*x)
    if not ts:
        raise op_error("stack", "needs at least one input")
    _same_shapes("stack", ts, None)
    return torch.stack(ts, dim=canonical_axis("stack", axis, ts[0].dim() + 1, None))


@keras_op
def unstack(x: Any, num: int | None = None, axis: int = 0) -> list[torch.Tensor]:
    t = tensor(x)
    return list(t.unbind(canonical_axis("unstack", axis, t.dim(), t.shape)))


@keras_op
def split(x: Any, indices_or_sections: Any, axis: int = 0) -> list[torch.Tensor]:
    """`n` equal parts (an int that must divide the axis) or parts cut at the given indices."""
    t = tensor(x)
    a = canonical_axis("split", axis, t.dim(), t.shape)
    dim = t.shape[a]
    if isinstance(indices_or_sections, (int, np.integer)):
        n = int(indices_or_sections)
        if n <= 0 or dim % n:
            raise op_error("split", f"{n} sections do not divide axis {a} of the input (shape {tuple(t.shape)}, "
                                    f"size {dim}) into equal parts")
        if dim == 0:
            return [t.clone() for _ in range(n)]
        return list(torch.split(t, dim // n, dim=a))
    cuts = [builtins.min(builtins.max(int(i), 0), dim) for i in indices_or_sections]
    bounds = [0, *cuts, dim]
    return [t.narrow(a, lo, builtins.max(hi - lo, 0)) for lo, hi in itertools.pairwise(bounds)]


@keras_op
def tile(x: Any, repeats: Any) -> torch.Tensor:
    reps = (int(repeats),) if isinstance(repeats, (int, np.integer)) else tuple(int(r) for r in repeats)
    return torch.tile(tensor(x), reps)


@keras_op
def repeat(x: Any, repeats: Any, axis: int | None = None) -> torch.Tensor:
    t = tensor(x)
    if axis is None:
        t, axis = t.reshape(-1), 0
    a = canonical_axis("repeat", axis, t.dim(), t.shape)
    if isinstance(repeats, (int, np.integer)):
        return torch.repeat_interleave(t, int(repeats), dim=a)
    reps = tensor(repeats, "int64", device=t.device)
    if reps.numel() not in (1, t.shape[a]):
        raise op_error("repeat", f"needs one repeat count, or one per element of axis {a} ({t.shape[a]}), got "
                                 f"{reps.numel()}")
    return torch.repeat_interleave(t, reps, dim=a)


@keras_op
def flip(x: Any, axis: Any = None) -> torch.Tensor:
    t = tensor(x)
    axes = range(t.dim()) if axis is None else (axis if isinstance(axis, (list, tuple)) else (axis,))
    return torch.flip(t, dims=tuple(canonical_axis("flip", a, t.dim(), t.shape) for a in axes))


@keras_op
def roll(x: Any, shift: Any, axis: Any = None) -> torch.Tensor:
    t = tensor(x)
    if axis is None:
        return torch.roll(t, shift)
    return torch.roll(t, shift, dims=axis)


@keras_op
def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: Any = None) -> torch.Tensor:
    """NumPy's pad: `pad_width` is ((before, after),) per axis (or one pair for all); modes constant,
    reflect, symmetric (as replicate on Keras' torch backend)."""
    t = tensor(x)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64).reshape(-1, 2), (t.dim(), 2)) \
        if np.asarray(pad_width).size in (1, 2) else np.asarray(pad_width, dtype=np.int64)
    if widths.shape != (t.dim(), 2):
        raise op_error("pad", f"pad_width needs a (before, after) pair per axis of the input (shape "
                              f"{tuple(t.shape)}), got {np.asarray(pad_width).tolist()}")
    if constant_values is not None and mode != "constant":
        raise op_error("pad", f"constant_values can only be given with mode='constant', got mode={mode!r}")
    flat = [int(w) for pair in widths[::-1] for w in pair]  # torch lists the last axis first
    if mode == "constant":
        return torch.nn.functional.pad(t, flat, value=0 if constant_values is None else constant_values)
    torch_mode = {"reflect": "reflect", "symmetric": "replicate", "edge": "replicate", "wrap": "circular"}.get(mode)
    if torch_mode is None:
        raise op_error("pad", f"mode must be 'constant', 'reflect', 'symmetric', 'edge' or 'wrap', got {mode!r}")
    lead = builtins.max(0, 3 - t.dim())  # torch pads these modes on (batch, channel, ...) inputs only
    u = t.reshape((1,) * lead + tuple(t.shape))
    u = u if u.dtype in (torch.float32, torch.float64) else u.float()
    out = torch.nn.functional.pad(u, flat, mode=torch_mode)
    return out.reshape(out.shape[lead:]).to(t.dtype)


# ----- indexing
def _indices(op: str, indices: Any, dim: int, device: torch.device) -> torch.Tensor:
    idx = tensor(indices, device=device)
    if idx.dtype.is_floating_point or idx.dtype == torch.bool:
        raise op_error(op, f"indices must be integers, got {describe(indices)}")
    idx = idx.long()
    return torch.where(idx < 0, idx + dim, idx)  # negative indices count from the end, as NumPy


@keras_op
def take(x: Any, indices: Any, axis: int | None = None) -> torch.Tensor:
    t = tensor(x)
    if axis is None:
        t, axis = t.reshape(-1), 0
    a = canonical_axis("take", axis, t.dim(), t.shape)
    idx = _indices("take", indices, t.shape[a], t.device)
    if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= t.shape[a]):
        raise op_error("take", f"indices must be in [{-t.shape[a]}, {t.shape[a]}) for axis {a} of the input "
                               f"(shape {tuple(t.shape)}), got indices from {int(idx.min())} to {int(idx.max())}")
    out = torch.index_select(t, a, idx.reshape(-1))
    return out.reshape(tuple(t.shape[:a]) + tuple(idx.shape) + tuple(t.shape[a + 1:]))


@keras_op
def take_along_axis(x: Any, indices: Any, axis: int | None = None) -> torch.Tensor:
    t = tensor(x)
    if axis is None:
        t, axis = t.reshape(-1), 0
    a = canonical_axis("take_along_axis", axis, t.dim(), t.shape)
    idx = _indices("take_along_axis", indices, t.shape[a], t.device)
    return torch.take_along_dim(t, idx, dim=a)


@keras_op
def where(condition: Any, x1: Any = None, x2: Any = None) -> torch.Tensor:
    """`x1` where `condition` holds, else `x2`; with only a condition, the indices of its true
    elements stacked as (ndim, count), as on Keras' torch backend."""
    c = tensor(condition).bool()
    if x1 is None and x2 is None:
        return torch.stack(torch.where(c), dim=0)
    if x1 is None or x2 is None:
        raise op_error("where", "needs both x1 and x2, or neither")
    a, b = tensors(x1, x2)
    try:
        torch.broadcast_shapes(c.shape, a.shape, b.shape)
    except RuntimeError:
        raise op_error("where", f"condition, x1 and x2 of shapes {tuple(c.shape)}, {tuple(a.shape)} and "
                                f"{tuple(b.shape)} do not broadcast") from None
    return torch.where(c.to(a.device), a, b)


@keras_op
def tril(x: Any, k: int = 0) -> torch.Tensor:
    return torch.tril(tensor(x), diagonal=k)


@keras_op
def triu(x: Any, k: int = 0) -> torch.Tensor:
    return torch.triu(tensor(x), diagonal=k)


@keras_op
def diag(x: Any, k: int = 0) -> torch.Tensor:
    return torch.diag(tensor(x), diagonal=k)


@keras_op
def copy(x: Any) -> torch.Tensor:
    return torch.clone(tensor(x))


@keras_op
def get_item(x: Any, key: Any) -> torch.Tensor:
    return tensor(x)[key]
