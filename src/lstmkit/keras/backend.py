"""`lstmkit.keras.backend`, imported by the books as `from keras import backend as K`.

Two groups of names:
- what Keras 3 still has under `keras.backend` (and `keras.config`), with Keras 3's behaviour and errors:
  `backend`, `clear_session`, `epsilon`/`set_epsilon`, `floatx`/`set_floatx`, `image_data_format`/
  `set_image_data_format`, `is_keras_tensor`, `get_uid`, `standardize_dtype`, `is_float_dtype`,
  `is_int_dtype`, `result_type`;
- Keras 2 names that Keras 3 dropped (`int_shape`, `get_value`, `set_value`, `count_params` and the tensor
  functions such as `K.mean`, `K.square`, `K.clip`): they work as in Keras 2 and each call emits a
  DeprecationWarning naming the Keras 3 spelling. `K.function`, `K.gradients` and `K.placeholder` build
  TensorFlow graphs, which lstmkit has not: they raise NotImplementedError naming what to write instead.

The settings (`floatx`, `epsilon`, `image_data_format`, `backend`) are `lstmkit.keras.config`'s functions, so
`keras.backend` and `keras.config` always agree; see there for what lstmkit accepts of them.
"""

from __future__ import annotations

import gc
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from lstmkit.keras import mixed_precision as _mixed_precision
from lstmkit.keras import ops as _ops
from lstmkit.keras import random as _random
from lstmkit.keras.config import backend as backend  # keras.config's settings: one source of truth
from lstmkit.keras.config import epsilon as epsilon
from lstmkit.keras.config import floatx as floatx
from lstmkit.keras.config import image_data_format as image_data_format
from lstmkit.keras.config import set_epsilon as set_epsilon
from lstmkit.keras.config import set_floatx as set_floatx
from lstmkit.keras.config import set_image_data_format as set_image_data_format
from lstmkit.keras.keras_tensor import KerasTensor
from lstmkit.keras.layers import layer as _layer
from lstmkit.keras.ops import _dtypes
from lstmkit.keras.variables import Variable


def _deprecated(old: str, new: str) -> None:
    warnings.warn(f"keras.backend.{old} is a Keras 2 name that Keras 3 dropped; write {new}",
                  DeprecationWarning, stacklevel=3)


# ----- what Keras 3 keeps ------------------------------------------------------------------------------
def clear_session(free_memory: bool = True) -> None:
    """Forget Keras' global state: layer names start again at `dense`, the dtype policy is back to float32."""
    _layer._UIDS.clear()
    _mixed_precision.set_global_policy(None)
    if free_memory:
        gc.collect()


def get_uid(prefix: str = "") -> int:
    """How many names with this prefix were given, this one included (`dense` is 1, `dense_1` is 2)."""
    _layer._UIDS[prefix] += 1
    return _layer._UIDS[prefix]


def is_keras_tensor(x: Any) -> bool:
    """True for a symbolic tensor (from Input() or a layer called on one), False for real tensors."""
    return isinstance(x, KerasTensor)


standardize_dtype = _dtypes.standardize_dtype
is_float_dtype = _dtypes.is_float
is_int_dtype = _dtypes.is_int
result_type = _dtypes.result_type


# ----- Keras 2 names ---------------------------------------------------------------------------------
def _shape_of(x: Any) -> tuple:
    if isinstance(x, (KerasTensor, Variable)):
        return tuple(x.shape)
    if isinstance(x, torch.Tensor):
        return tuple(int(s) for s in x.shape)
    if isinstance(x, np.ndarray):
        return tuple(int(s) for s in x.shape)
    raise TypeError(f"int_shape needs a tensor, a Variable, an array or a symbolic tensor, got "
                    f"{type(x).__name__}")


def int_shape(x: Any) -> tuple:
    """The shape as a tuple of ints, None for unknown sizes (Keras 2)."""
    _deprecated("int_shape(x)", "x.shape (a tuple in Keras 3) or keras.ops.shape(x)")
    return _shape_of(x)


def count_params(x: Any) -> int:
    """The number of scalars in a tensor or Variable (Keras 2)."""
    _deprecated("count_params(x)", "math.prod(x.shape), or layer.count_params() for a layer")
    shape = _shape_of(x)
    if any(s is None for s in shape):
        raise ValueError(f"count_params needs a fully known shape, got {shape}")
    return int(math.prod(shape))


def get_value(x: Any) -> Any:
    """The value of a Variable, a tensor or an optimizer's learning rate, as NumPy (Keras 2)."""
    _deprecated("get_value(x)", "keras.ops.convert_to_numpy(x), or x.numpy() for a Variable")
    if isinstance(x, KerasTensor):
        raise ValueError(f"get_value: {x} is symbolic (from Input() or a layer call) and has no value; call the "
                         "model on data to get values")
    if isinstance(x, Variable):
        return x.numpy()
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, (float, int, np.ndarray, np.generic)) and not isinstance(x, bool):
        return np.asarray(x, dtype=np.float32 if isinstance(x, float) else None)[()]
    raise TypeError(f"get_value needs a Variable, a tensor or a number, got {type(x).__name__}")


def set_value(x: Any, value: Any) -> None:
    """Assign a value to a Variable, a tensor, or an optimizer's learning rate (`model.optimizer.lr`)."""
    _deprecated("set_value(x, value)", "x.assign(value) (model.optimizer.learning_rate = value for the "
                                       "learning rate)")
    assign = getattr(x, "assign", None)
    if isinstance(x, (Variable,)) or (isinstance(x, float) and callable(assign)):
        assign(value)  # type: ignore[misc]
        return
    if isinstance(x, torch.Tensor):
        v = torch.as_tensor(np.asarray(value), dtype=x.dtype)
        if tuple(v.shape) != tuple(x.shape):
            raise ValueError(f"set_value: the tensor has shape {tuple(x.shape)}, the value {tuple(v.shape)}")
        with torch.no_grad():
            x.copy_(v.to(x.device))
        return
    raise TypeError(f"set_value needs a Variable, a tensor or an optimizer's learning rate "
                    f"(model.optimizer.learning_rate), got {type(x).__name__} {x!r}")


def _graph_only(name: str, instead: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"keras.backend.{name} builds a TensorFlow graph, which lstmkit.keras (torch, "
                                  f"eager) has not; {instead}")
    refuse.__name__ = name
    return refuse


function = _graph_only("function", "for the outputs of inner layers build keras.Model(model.input, layer.output) "
                                   "and call it or its predict()")
gradients = _graph_only("gradients", "compute gradients of eager tensors with torch.autograd.grad(loss, inputs)")
placeholder = _graph_only("placeholder", "use keras.Input(shape=...) for symbolic inputs")


def _legacy_op(name: str, target: Callable[..., Any], new: str,
               adapt: Callable[..., tuple[tuple, dict]] | None = None) -> Callable[..., Any]:
    def op(*args: Any, **kwargs: Any) -> Any:
        _deprecated(f"{name}()", new)
        if adapt is not None:
            args, kwargs = adapt(*args, **kwargs)
        return target(*args, **kwargs)
    op.__name__ = name
    op.__doc__ = f"Keras 2's `K.{name}`: {new}."
    return op


def _concatenate_args(tensors: Any, axis: int = -1) -> tuple[tuple, dict]:
    return (tensors,), {"axis": axis}  # Keras 2 joins on the last axis, keras.ops on the first


def _argmax_args(x: Any, axis: int = -1) -> tuple[tuple, dict]:
    return (x,), {"axis": axis}  # Keras 2's default is the last axis, keras.ops' the flattened array


def _random_normal_args(shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = None,
                        seed: Any = None) -> tuple[tuple, dict]:
    return (shape,), {"mean": mean, "stddev": stddev, "dtype": dtype, "seed": seed}


# Keras 2's tensor functions, each the keras.ops function of the same meaning (same arguments unless noted)
abs = _legacy_op("abs", _ops.abs, "keras.ops.abs")  # Keras 2's name (shadows the builtin here; not used in this module)
argmax = _legacy_op("argmax", _ops.argmax, "keras.ops.argmax(x, axis=-1)", _argmax_args)
cast = _legacy_op("cast", _ops.cast, "keras.ops.cast")
clip = _legacy_op("clip", _ops.clip, "keras.ops.clip")
concatenate = _legacy_op("concatenate", _ops.concatenate, "keras.ops.concatenate(tensors, axis=-1)",
                         _concatenate_args)
exp = _legacy_op("exp", _ops.exp, "keras.ops.exp")
expand_dims = _legacy_op("expand_dims", _ops.expand_dims, "keras.ops.expand_dims")
log = _legacy_op("log", _ops.log, "keras.ops.log")
max = _legacy_op("max", _ops.max, "keras.ops.max")  # Keras 2's name (shadows the builtin here; not used in this module)
maximum = _legacy_op("maximum", _ops.maximum, "keras.ops.maximum")
mean = _legacy_op("mean", _ops.mean, "keras.ops.mean")
min = _legacy_op("min", _ops.min, "keras.ops.min")  # Keras 2's name (shadows the builtin here; not used in this module)
minimum = _legacy_op("minimum", _ops.minimum, "keras.ops.minimum")
random_normal = _legacy_op("random_normal", _random.normal, "keras.random.normal", _random_normal_args)
reshape = _legacy_op("reshape", _ops.reshape, "keras.ops.reshape")
shape = _legacy_op("shape", _ops.shape, "keras.ops.shape")
sigmoid = _legacy_op("sigmoid", _ops.sigmoid, "keras.ops.sigmoid")
softmax = _legacy_op("softmax", _ops.softmax, "keras.ops.softmax")
sqrt = _legacy_op("sqrt", _ops.sqrt, "keras.ops.sqrt")
square = _legacy_op("square", _ops.square, "keras.ops.square")
squeeze = _legacy_op("squeeze", _ops.squeeze, "keras.ops.squeeze")
sum = _legacy_op("sum", _ops.sum, "keras.ops.sum")  # Keras 2's name (shadows the builtin here; not used in this module)
tanh = _legacy_op("tanh", _ops.tanh, "keras.ops.tanh")
