"""Keras' core ops on torch: conversion (`convert_to_tensor`, `convert_to_numpy`, `cast`), `shape`,
`dtype`, `stop_gradient`, `slice`, and the control flow (`cond`, `scan`, `fori_loop`, `while_loop`,
`map`, `switch`), which run eagerly as on Keras' torch backend.

Every op takes lstmkit Variables (their tensor, so gradients reach the weight), torch tensors, NumPy
arrays and Python scalars. Conversion follows Keras' torch backend: a NumPy array keeps its dtype
(float64 stays float64), a Python float is float32 and a Python int int32, a list gets the promoted
dtype of its items in 32 bits. Results land on the device of the first tensor among the inputs; new
tensors (`zeros`, `arange`, ...) on the CPU, where lstmkit.keras layers keep their weights until fit.
"""

from __future__ import annotations

import builtins
import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from lstmkit.keras.keras_tensor import KerasTensor, flatten, map_structure
from lstmkit.keras.ops._dtypes import result_type, standardize_dtype, to_torch
from lstmkit.keras.variables import Variable

Op = Callable[..., Any]


# ----- errors: every op names itself, and says what it expected and what it got
def op_error(op: str, message: str) -> ValueError:
    return ValueError(f"ops.{op}: {message}")


def describe(x: Any) -> str:
    """`shape (2, 3) float32` for a tensor-like, the repr for anything else (shortened)."""
    if isinstance(x, (torch.Tensor, Variable, np.ndarray)):
        return f"shape {tuple(x.shape)} {standardize_dtype(x.dtype)}"
    if isinstance(x, (list, tuple)) and builtins.any(isinstance(v, (torch.Tensor, Variable, np.ndarray)) for v in x):
        return f"{type(x).__name__} of [{', '.join(describe(v) for v in x)}]"
    text = repr(x)
    return text if len(text) <= 60 else text[:57] + "..."


# How an op called on symbolic KerasTensors becomes a node of a functional model: set by
# lstmkit.keras.layers.op_layer (layers sit above ops, so they register here rather than being imported)
_SYMBOLIC: Callable[[str, tuple, dict[str, Any]], Any] | None = None


def set_symbolic_handler(handler: Callable[[str, tuple, dict[str, Any]], Any]) -> None:
    global _SYMBOLIC
    _SYMBOLIC = handler


def keras_op(fn: Op | None = None, *, translate: bool = True) -> Any:
    """Mark a public op: a symbolic KerasTensor is refused with a clear message, and (with `translate`)
    torch's complaints about shapes, axes and dtypes become a ValueError naming the op and its inputs.
    Ops that call user functions (cond, scan, ...) do not translate, so the user's own errors pass as they are."""

    def wrap(fn: Op) -> Op:
        name = fn.__name__

        @functools.wraps(fn)
        def op(*args: Any, **kwargs: Any) -> Any:
            if builtins.any(isinstance(t, KerasTensor) for t in flatten((list(args), kwargs))):
                if not translate:  # ops that call user functions: a function cannot be stored in a model
                    raise op_error(name, "got a symbolic KerasTensor (from keras.Input); this op calls a function "
                                         "of yours, so call it inside a layer's call(), not while building a "
                                         "functional model")
                if _SYMBOLIC is None:
                    raise op_error(name, "got a symbolic KerasTensor, and lstmkit.keras.layers (which puts ops "
                                         "in functional models) is not imported")
                return _SYMBOLIC(name, args, kwargs)
            if not translate:
                return fn(*args, **kwargs)
            try:
                return fn(*args, **kwargs)
            except ValueError as e:
                if str(e).startswith("ops."):  # already says which op and what came
                    raise
                raise op_error(name, f"{e} (inputs: {'; '.join(describe(a) for a in args)})") from e
            except (RuntimeError, IndexError, TypeError) as e:  # torch's message, with the op's name and the inputs
                raise op_error(name, f"{str(e).splitlines()[0]} (inputs: {'; '.join(describe(a) for a in args)})"
                               ) from e

        return op

    return wrap(fn) if fn is not None else wrap


def canonical_axis(op: str, axis: Any, ndim: int, shape: Any = None) -> int:
    """`axis` as a non-negative index into `ndim` dimensions, or a clear error."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise op_error(op, f"axis must be an integer, got {axis!r}")
    if not -ndim <= axis < ndim:
        where = f"an input of shape {tuple(shape)}" if shape is not None else f"{ndim} dimensions"
        allowed = f"in [{-ndim}, {ndim - 1}]" if ndim else "None (the input is a scalar)"
        raise op_error(op, f"axis {axis} is out of range for {where}: expected an axis {allowed}")
    return int(axis) % ndim


def canonical_axes(op: str, axis: Any, x: torch.Tensor) -> tuple[int, ...] | None:
    """None (all axes) or a tuple of distinct non-negative axes of `x`."""
    if axis is None:
        return None
    axes = tuple(axis) if isinstance(axis, (list, tuple)) else (axis,)
    out = tuple(canonical_axis(op, a, x.dim(), x.shape) for a in axes)
    if len(set(out)) != len(out):
        raise op_error(op, f"axis {axis!r} names a dimension twice (input of shape {tuple(x.shape)})")
    return out


# ----- conversion
def _device_of(*xs: Any) -> torch.device | None:
    for x in xs:
        if isinstance(x, Variable):
            return x.value.device
        if isinstance(x, torch.Tensor):
            return x.device
    return None


def _array(x: Any) -> np.ndarray:
    try:
        array = np.asarray(x)
    except ValueError as e:  # ragged nesting
        raise ValueError(f"cannot convert {describe(x)} to a tensor: {e}") from None
    if array.dtype == object or array.dtype.kind in "USV":
        raise ValueError(f"cannot convert {describe(x)} ({type(x).__name__} of {array.dtype.name}) to a tensor: "
                         f"expected numbers")
    return array


def tensor(x: Any, dtype: Any = None, device: torch.device | None = None) -> torch.Tensor:
    """`x` as a torch tensor with Keras' conversion rules (the module docstring); Variables give their
    tensor itself, so autograd sees the weight."""
    if isinstance(x, Variable):
        x = x.value
    if isinstance(x, torch.Tensor):
        if device is not None and x.device != device:
            x = x.to(device)
        return x if dtype is None else x.to(to_torch(dtype))
    if isinstance(x, (bool, int, float, complex)):
        if dtype is None:
            dtype = "int64" if isinstance(x, int) and not isinstance(x, bool) and not -2**31 <= x < 2**31 \
                else type(x)
        return torch.as_tensor(x, dtype=to_torch(dtype), device=device)
    if isinstance(x, (list, tuple)):
        leaves = flatten(x)
        if builtins.any(isinstance(v, (torch.Tensor, Variable)) for v in leaves):
            return torch.stack([tensor(v, dtype, device) for v in x])
        array = _array(x)
        if dtype is None:
            dtype = result_type(*(getattr(v, "dtype", type(v)) for v in leaves))
        return torch.as_tensor(array, dtype=to_torch(dtype), device=device)
    array = _array(x)
    if array.dtype == np.uint32:  # no uint32 in torch
        array = array.astype(np.int64)
    t = torch.from_numpy(np.array(array, copy=True)) if array.ndim else torch.as_tensor(array)
    return t.to(device=device, dtype=to_torch(dtype) if dtype is not None else t.dtype)


def tensors(*xs: Any) -> list[torch.Tensor]:
    """All of `xs` as tensors on the device of the first tensor among them."""
    device = _device_of(*xs)
    return [tensor(x, device=device) for x in xs]


@keras_op
def convert_to_tensor(x: Any, dtype: Any = None, sparse: Any = None, ragged: Any = None) -> torch.Tensor:
    if sparse:
        raise op_error("convert_to_tensor", "sparse=True is not supported (torch backend)")
    if ragged:
        raise op_error("convert_to_tensor", "ragged=True is not supported (torch backend)")
    return tensor(x, dtype)


@keras_op
def convert_to_numpy(x: Any) -> np.ndarray:
    def one(v: Any) -> np.ndarray:
        if isinstance(v, Variable):
            v = v.value
        if isinstance(v, torch.Tensor):
            v = v.detach().cpu()
            return np.asarray(v.float() if v.dtype == torch.bfloat16 else v)
        return np.asarray(v)

    if isinstance(x, (list, tuple)):
        return np.array([one(v) for v in x])
    return one(x)


def is_tensor(x: Any) -> bool:
    return isinstance(x, torch.Tensor)


@keras_op
def cast(x: Any, dtype: Any) -> torch.Tensor:
    return tensor(x).to(to_torch(dtype))


@keras_op
def shape(x: Any) -> tuple[int, ...]:
    """The shape as a tuple of ints, as on Keras' torch backend."""
    return tuple(tensor(x).shape) if not isinstance(x, (torch.Tensor, Variable, np.ndarray)) else tuple(x.shape)


@keras_op
def dtype(x: Any) -> str:
    """The standardized dtype string ('float32', 'int32', ...)."""
    return standardize_dtype(x.dtype if isinstance(x, (torch.Tensor, Variable, np.ndarray)) else tensor(x).dtype)


@keras_op
def stop_gradient(variable: Any) -> torch.Tensor:
    return tensor(variable).detach()


@keras_op
def slice(inputs: Any, start_indices: Any, shape: Any) -> torch.Tensor:
    """The block of `inputs` of size `shape` that starts at `start_indices` (one of each per axis)."""
    x = tensor(inputs)
    starts = [int(s) for s in (start_indices.tolist() if isinstance(start_indices, torch.Tensor) else start_indices)]
    sizes = [int(s) for s in (shape.tolist() if isinstance(shape, torch.Tensor) else shape)]
    if not len(starts) == len(sizes) == x.dim():
        raise op_error("slice", f"needs one start index and one size per axis of the input (shape {tuple(x.shape)}),"
                                f" got start_indices={starts} and shape={sizes}")
    for axis, (start, size, dim) in enumerate(zip(starts, sizes, x.shape)):
        if start < 0 or size < 0 or start + size > dim:
            raise op_error("slice", f"the block [{start}, {start + size}) on axis {axis} does not fit in its "
                                    f"{dim} elements (input of shape {tuple(x.shape)})")
    return x[tuple(builtins.slice(s, s + n) for s, n in zip(starts, sizes))]


@keras_op
def slice_update(inputs: Any, start_indices: Any, updates: Any) -> torch.Tensor:
    """A copy of `inputs` with `updates` written at `start_indices` (differentiable in both)."""
    x, u = tensors(inputs, updates)
    starts = [int(s) for s in start_indices]
    if not len(starts) == u.dim() == x.dim():
        raise op_error("slice_update", f"needs one start index per axis of the input (shape {tuple(x.shape)}) and "
                                       f"updates of the same rank, got start_indices={starts} and updates of shape "
                                       f"{tuple(u.shape)}")
    out = x.clone()
    out[tuple(builtins.slice(s, s + n) for s, n in zip(starts, u.shape))] = u.to(x.dtype)
    return out


# ----- control flow: eager, as on Keras' torch backend
@keras_op(translate=False)
def cond(pred: Any, true_fn: Callable[[], Any], false_fn: Callable[[], Any]) -> Any:
    return true_fn() if bool(tensor(pred)) else false_fn()


@keras_op(translate=False)
def scan(f: Callable[[Any, Any], tuple[Any, Any]], init: Any, xs: Any = None, length: int | None = None,
         reverse: bool = False, unroll: int | bool = 1) -> tuple[Any, Any]:
    """`carry, y = f(carry, x)` over the leading axis of `xs` (or `length` times with x None); returns the
    last carry and the ys stacked."""
    if not callable(f):
        raise op_error("scan", f"f must be a callable, got {describe(f)}")
    if xs is None and length is None:
        raise op_error("scan", "needs xs to scan over or a length")
    leaves = [tensor(x) for x in flatten(xs)] if xs is not None else []
    n = int(length) if length is not None else leaves[0].shape[0]
    for leaf in leaves:
        if leaf.dim() == 0 or leaf.shape[0] < n:
            raise op_error("scan", f"every array in xs needs at least {n} rows on axis 0, got {describe(leaf)}")
    carry = map_structure(tensor, init)
    no_y = [torch.zeros_like(leaf) for leaf in flatten(carry)]  # what a step returning y=None stacks, as in Keras
    ys = []
    for i in (reversed(range(n)) if reverse else range(n)):
        x_i = _pack(xs, [leaf[i] for leaf in leaves]) if xs is not None else None
        carry, y = f(carry, x_i)
        ys.append(no_y if y is None else y)
    if reverse:
        ys.reverse()
    return carry, _stack_structures(ys) if ys else None


def _pack(structure: Any, leaves: list[Any]) -> Any:
    it = iter(leaves)
    return map_structure(lambda _: next(it), structure)


def _stack_structures(items: list[Any]) -> Any:
    first = items[0]
    flat = [flatten(item) for item in items]
    stacked = [torch.stack([tensor(v) for v in column]) for column in zip(*flat)]
    return _pack(first, stacked)


@keras_op(translate=False)
def fori_loop(lower: int, upper: int, body_fun: Callable[[int, Any], Any], init_val: Any) -> Any:
    val = init_val
    for i in range(int(lower), int(upper)):
        val = body_fun(i, val)
    return val


@keras_op(translate=False)
def while_loop(cond: Callable[..., Any], body: Callable[..., Any], loop_vars: Any,
               maximum_iterations: int | None = None) -> Any:
    """Run `loop_vars = body(*loop_vars)` while `cond(*loop_vars)` (at most `maximum_iterations` times)."""
    is_tuple = isinstance(loop_vars, (list, tuple))
    state = tuple(map_structure(tensor, tuple(loop_vars) if is_tuple else (loop_vars,)))
    step = 0
    while (maximum_iterations is None or step < maximum_iterations) and bool(cond(*state)):
        out = body(*state)
        state = tuple(out) if isinstance(out, (list, tuple)) else (out,)
        step += 1
    return state if is_tuple else state[0]


@keras_op(translate=False)
def map(f: Callable[[Any], Any], xs: Any) -> Any:
    """`f` on each slice of `xs` along axis 0, the results stacked."""
    leaves = [tensor(x) for x in flatten(xs)]
    return _stack_structures([f(_pack(xs, [leaf[i] for leaf in leaves])) for i in range(leaves[0].shape[0])])


@keras_op(translate=False)
def switch(index: Any, branches: list[Callable[..., Any]], *operands: Any) -> Any:
    """`branches[index](*operands)`, the index clamped to the branches as in Keras."""
    i = builtins.min(builtins.max(int(tensor(index)), 0), len(branches) - 1)
    return branches[i](*operands)
