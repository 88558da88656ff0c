"""A small builder over the `onnx` package's helper API: named nodes, initializers, the model, the file.

`onnx` is imported here, lazily (`load_onnx`), so `import lstmkit.export` works without it and an export
without it ends in one line saying how to install it.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from lstmkit.export.errors import ExportError, MissingDependency
from lstmkit.io import atomic_write_bytes

DEFAULT_OPSET = 17  # LSTM/GRU/RNN have had their present form since opset 14; onnxruntime 1.20+ runs 17 everywhere
MIN_OPSET = 14  # GRU linear_before_reset and LSTM layout as today, Reshape allowzero, Squeeze axes as an input


def load_onnx() -> ModuleType:
    try:
        import onnx
    except ImportError:
        raise MissingDependency("ONNX export needs the onnx package, which is not installed: pip install onnx "
                                "(or pip install 'lstmkit[export]')") from None
    return onnx


def check_opset(opset: Any) -> int:
    if not isinstance(opset, int) or isinstance(opset, bool) or opset < MIN_OPSET:
        raise ExportError(f"opset must be an integer >= {MIN_OPSET} (the LSTM, GRU and RNN operators as exported "
                          f"here), got {opset!r}")
    return opset


class Graph:
    """Nodes in the order they are added; every intermediate value gets a fresh name from a hint."""

    def __init__(self, opset: int) -> None:
        self.onnx = load_onnx()
        self.opset = opset
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.inputs: list[Any] = []
        self.outputs: list[Any] = []
        self._count = 0

    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"{hint}_{self._count}"

    def const(self, value: Any, hint: str, dtype: Any = np.float32) -> str:
        """An initializer holding `value` (a numpy array or a nested list) as `dtype`."""
        name = self.fresh(hint)
        array = np.array(value, dtype=dtype, order="C")  # not ascontiguousarray: it makes a scalar 1-D
        self.initializers.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def ints(self, values: list[int], hint: str) -> str:
        return self.const(np.asarray(values, dtype=np.int64), hint, np.int64)

    def op(self, op_type: str, inputs: list[str], hint: str, **attrs: Any) -> str:
        """Add a node with one output; returns its name. "" in `inputs` is an omitted optional input."""
        return self.multi(op_type, inputs, hint, 1, **attrs)[0]

    def multi(self, op_type: str, inputs: list[str], hint: str, outputs: int, **attrs: Any) -> list[str]:
        """Add a node with `outputs` outputs; returns their names."""
        names = [self.fresh(f"{hint}_{op_type}") for _ in range(outputs)]
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, names, name=self.fresh(hint), **attrs))
        return names

    def reduce(self, op_type: str, x: str, axes: list[int], hint: str, keepdims: int) -> str:
        """ReduceMin/Max/Sum over `axes`: axes an input from opset 18 (ReduceSum 13), an attribute before."""
        if op_type == "ReduceSum" or self.opset >= 18:
            return self.op(op_type, [x, self.ints(axes, "axes")], hint, keepdims=keepdims)
        return self.op(op_type, [x], hint, axes=axes, keepdims=keepdims)

    def named_op(self, op_type: str, inputs: list[str], node_name: str, **attrs: Any) -> str:
        """A node whose name is a sentence: onnxruntime prints the name of a node that fails at run time."""
        out = self.fresh("checked")
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, [out], name=node_name, **attrs))
        return out

    def add_input(self, name: str, elem_type: int, shape: list[int | str]) -> str:
        self.inputs.append(self.onnx.helper.make_tensor_value_info(name, elem_type, shape))
        return name

    def add_output(self, value: str, name: str, elem_type: int, shape: list[int | str | None]) -> None:
        """Expose `value` as the graph output `name`, through an Identity so names stay the caller's."""
        self.nodes.append(self.onnx.helper.make_node("Identity", [value], [name], name=self.fresh(f"output_{name}")))
        self.outputs.append(self.onnx.helper.make_tensor_value_info(name, elem_type, shape))

    def model(self, graph_name: str, doc: str) -> Any:
        helper = self.onnx.helper
        graph = helper.make_graph(self.nodes, graph_name, self.inputs, self.outputs, self.initializers, doc_string=doc)
        opsets = [helper.make_opsetid("", self.opset)]
        model = helper.make_model(graph, opset_imports=opsets, producer_name="lstmkit",
                                  ir_version=helper.find_min_ir_version_for(opsets))
        self.onnx.checker.check_model(model, full_check=True)
        return model


def elem_type(onnx: ModuleType, dtype: Any) -> int:
    return int(onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))


def write_whole(data: bytes, path: str | os.PathLike) -> Path:
    """Write `data` to `path` whole or not at all: a temporary file in the same folder, then os.replace."""
    target = Path(path)
    if target.is_dir():
        raise ExportError(f"{target} is a folder; expected the path of the .onnx file to write")
    if not target.parent.is_dir():
        raise ExportError(f"{target}: the folder {target.parent} does not exist")
    return atomic_write_bytes(target, data)
