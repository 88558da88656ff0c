"""`keras.ops` on symbolic tensors: an op called while a functional model is being built.

Keras 3 records such a call (`x = ops.mean(x, axis=1)` between two layers, `x * 2`, `x[:, -1]`) as a
node of the graph. Here it becomes an `OpLayer`: a weightless layer whose inputs are the call's
symbolic tensors and whose config is the op's name and its other arguments, so the model runs it on
real tensors, shows it in `summary()` and saves it as data (no code: only ops of `lstmkit.keras.ops`
load). Its output shape comes from running the op on zeros at two sizes of each unknown dimension
(a dimension that changes with them is unknown in the output too). Masks stop at an op, as in Keras.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lstmkit.keras.keras_tensor import KerasTensor, Shape, flatten
from lstmkit.keras.layers.layer import Layer, auto_name
from lstmkit.keras.ops.core import set_symbolic_handler

_TENSOR = "__keras_tensor__"  # {_TENSOR: i}: the op's i-th symbolic input, in a stored template
_ARRAY = "__array__"  # {_ARRAY: nested list, "dtype": name}: a NumPy constant


def _is_plain(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _template(value: Any, tensors: list[KerasTensor], op: str) -> Any:
    """`value` with each KerasTensor replaced by its placeholder (appended to `tensors`) and each NumPy
    constant by its data: what the config stores."""
    if isinstance(value, KerasTensor):
        tensors.append(value)
        return {_TENSOR: len(tensors) - 1}
    if isinstance(value, (list, tuple)):
        items = [_template(v, tensors, op) for v in value]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, dict):
        return {"__dict__": {str(k): _template(v, tensors, op) for k, v in value.items()}}
    if isinstance(value, (np.ndarray, np.generic)):
        return {_ARRAY: np.asarray(value).tolist(), "dtype": str(np.asarray(value).dtype)}
    if isinstance(value, torch.Tensor):
        return {_ARRAY: value.detach().cpu().numpy().tolist(), "dtype": str(value.dtype).removeprefix("torch.")}
    if _is_plain(value):
        return value
    raise ValueError(f"ops.{op}: on a symbolic KerasTensor (while building a functional model) its other "
                     f"arguments must be numbers, strings, arrays or lists of them, got {type(value).__name__}; "
                     f"call the op inside a layer's call() instead")


def _fill(template: Any, tensors: list[Any]) -> Any:
    """The template with real values in place of the placeholders."""
    if isinstance(template, list):
        return [_fill(v, tensors) for v in template]
    if isinstance(template, dict):
        if _TENSOR in template:
            return tensors[template[_TENSOR]]
        if _ARRAY in template:
            return np.asarray(template[_ARRAY], dtype=template["dtype"])
        if "__tuple__" in template:
            return tuple(_fill(v, tensors) for v in template["__tuple__"])
        return {k: _fill(v, tensors) for k, v in template["__dict__"].items()}
    return template


def _op(name: str) -> Any:
    from lstmkit.keras import ops

    if name == "get_item":
        return getitem
    fn = getattr(ops, name, None) if not name.startswith("_") and name in ops.__all__ else None
    if fn is None or not callable(fn):
        raise ValueError(f"OpLayer: {name!r} is not an op of lstmkit.keras.ops")
    return fn


def _torch_dtype(name: str) -> torch.dtype:
    dtype = getattr(torch, name, None)
    return dtype if isinstance(dtype, torch.dtype) else torch.float32


class OpLayer(Layer):
    """One call of `lstmkit.keras.ops.<op>` inside a functional model; `template` holds its arguments
    with placeholders for its symbolic inputs."""

    def __init__(self, op: str, template: Any, input_dtypes: list[str] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("name", auto_name(op))
        super().__init__(**kwargs)
        self.op = op
        self.template = template
        self.input_dtypes = list(input_dtypes or [])
        self._fn = _op(op)

    def _run_op(self, tensors: list[Any]) -> Any:
        args, kwargs = _fill(self.template, tensors)
        return self._fn(*args, **kwargs)

    def call(self, inputs: Any, mask: Any = None) -> Any:
        del mask  # masks stop at an op (Keras' ops do not carry them)
        return self._run_op(list(inputs))

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return None

    def _on_zeros(self, input_shape: list[Shape], fill: int) -> Any:
        zeros = [torch.zeros(tuple(fill if d is None else d for d in shape), dtype=_torch_dtype(dtype))
                 for shape, dtype in zip(input_shape, self.input_dtypes)]
        with torch.no_grad():
            return self._run_op(zeros)

    def compute_output_shape(self, input_shape: Any) -> Any:
        a, b = self._on_zeros(input_shape, 2), self._on_zeros(input_shape, 3)

        def shape(x: Any, y: Any) -> Shape:
            if not isinstance(x, torch.Tensor):
                raise ValueError(f"ops.{self.op} on a symbolic KerasTensor must give tensors, got "
                                 f"{type(x).__name__}")
            if x.dim() != y.dim():
                raise ValueError(f"ops.{self.op}: the rank of its output depends on an unknown input size")
            return tuple(p if p == q else None for p, q in zip(x.shape, y.shape))

        if isinstance(a, (list, tuple)):
            return [shape(x, y) for x, y in zip(a, b)]
        return shape(a, b)

    def _output_dtype(self, inputs: Any) -> str:
        out = flatten(self._on_zeros([t.shape for t in inputs], 2))[0]
        return str(out.dtype).removeprefix("torch.")

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "trainable": self.trainable, "op": self.op, "template": self.template,
                "input_dtypes": self.input_dtypes}


def symbolic_op(name: str, args: tuple, kwargs: dict[str, Any]) -> Any:
    """`ops.<name>(*args, **kwargs)` with KerasTensors among the arguments: a node of the graph."""
    tensors: list[KerasTensor] = []
    template = _template([list(args), kwargs], tensors, name)
    if name == "shape":  # a shape is known while building (None where unknown), as in Keras
        return tensors[0].shape
    layer = OpLayer(name, template, [t.dtype for t in tensors])
    out = layer(tensors)
    return tuple(out) if isinstance(out, list) else out


def _binary(name: str, reverse: bool = False) -> Any:
    def method(self: KerasTensor, other: Any) -> Any:
        fn = _op(name)
        return fn(other, self) if reverse else fn(self, other)
    method.__name__ = f"__{'r' if reverse else ''}{name}__"
    return method


def _install_operators() -> None:
    """`x + 1`, `x * y`, `-x`, `x[:, -1]`, `x @ w` on KerasTensors, through the ops (Keras' KerasTensor has them)."""
    for dunder, op in (("add", "add"), ("sub", "subtract"), ("mul", "multiply"), ("truediv", "divide"),
                       ("floordiv", "floor_divide"), ("pow", "power"), ("matmul", "matmul"), ("mod", "mod")):
        setattr(KerasTensor, f"__{dunder}__", _binary(op))
        setattr(KerasTensor, f"__r{dunder}__", _binary(op, reverse=True))
    for dunder, op in (("lt", "less"), ("le", "less_equal"), ("gt", "greater"), ("ge", "greater_equal")):
        setattr(KerasTensor, f"__{dunder}__", _binary(op))
    KerasTensor.__neg__ = lambda self: _op("negative")(self)  # type: ignore[attr-defined]
    KerasTensor.__abs__ = lambda self: _op("absolute")(self)  # type: ignore[attr-defined]
    KerasTensor.__getitem__ = lambda self, key: symbolic_op("get_item", (self, _key(key)), {})  # type: ignore[attr-defined]


def _key(key: Any) -> Any:
    """An index (ints, slices, None, Ellipsis) as data a config can hold."""
    if isinstance(key, tuple):
        return {"__tuple__": [_key(k) for k in key]}
    if isinstance(key, slice):
        return {"__slice__": [key.start, key.stop, key.step]}
    if key is Ellipsis:
        return {"__ellipsis__": True}
    if key is None or (isinstance(key, int) and not isinstance(key, bool)):
        return key
    raise ValueError(f"indexing a symbolic KerasTensor takes ints, slices, None and ..., got {type(key).__name__}")


def getitem(x: Any, key: Any) -> Any:
    """`x[key]` with a key stored by `_key`."""
    def build(k: Any) -> Any:
        if isinstance(k, dict):
            if "__tuple__" in k:
                return tuple(build(v) for v in k["__tuple__"])
            if "__slice__" in k:
                return slice(*k["__slice__"])
            if "__ellipsis__" in k:
                return Ellipsis
        return k
    return x[build(key)]


_install_operators()
set_symbolic_handler(symbolic_op)
