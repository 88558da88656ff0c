"""Functional models: `Model(inputs, outputs)` over the graph of layer calls on symbolic tensors.

The graph is walked once at construction (outputs back to the inputs, then ordered so every node comes
after the nodes that feed it); a call runs the nodes in that order on real tensors, each node passed the
masks of its inputs, as Keras does.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import torch
from torch import nn

from lstmkit.keras.keras_tensor import KerasTensor, Node, flatten, map_structure
from lstmkit.keras.layers.core import InputLayer
from lstmkit.keras.layers.layer import Layer, fmt_shape, to_tensor, training_mode
from lstmkit.keras.layers.lookup import as_text
from lstmkit.keras.layers.wrappers import layer_from_config, layer_to_config
from lstmkit.keras.models.model import Model


def _ordered_nodes(outputs: list[KerasTensor]) -> list[Node]:
    """Nodes from the inputs to `outputs`, each after its parents (post-order DFS)."""
    order: list[Node] = []
    seen: set[int] = set()
    stack: list[tuple[Node, bool]] = [(t.node, False) for t in reversed(outputs) if t.node is not None]
    while stack:
        node, expanded = stack.pop()
        if id(node) in seen:
            continue
        if expanded:
            seen.add(id(node))
            order.append(node)
            continue
        stack.append((node, True))
        for parent in reversed(node.parents):
            if parent.node is None:
                raise ValueError(f"the tensor {parent} was not made by a layer call; build the graph from Input()")
            if id(parent.node) not in seen:
                stack.append((parent.node, False))
    return order


class Functional(Model, functional_api=True):
    """The model of a graph of layers from `inputs` (Input() tensors) to `outputs`."""

    def __init__(self, inputs: Any, outputs: Any, name: str | None = None, trainable: bool = True,
                 **kwargs: Any) -> None:
        super().__init__(name=name or None, trainable=trainable, **kwargs)
        flat_in, flat_out = flatten(inputs), flatten(outputs)
        for t in (*flat_in, *flat_out):
            if not isinstance(t, KerasTensor):
                raise ValueError(f"Model(inputs, outputs) needs symbolic tensors from Input() and layer calls, got "
                                 f"{type(t).__name__}")
        for t in flat_in:
            if not isinstance(t.node.layer, InputLayer):
                raise ValueError(f"every model input must come from Input(), got {t}")
        self._inputs_structure, self._outputs_structure = inputs, outputs
        self._input_tensors, self._output_tensors = flat_in, flat_out
        nodes = _ordered_nodes(flat_out)
        given = {id(t.node) for t in flat_in}
        for node in nodes:
            if isinstance(node.layer, InputLayer) and id(node) not in given:
                raise ValueError(f"graph disconnected: the outputs depend on the input '{node.layer.name}', which is "
                                 "not among Model(inputs=...)")
        self._nodes = [n for n in nodes if not isinstance(n.layer, InputLayer)]
        layers: list[Layer] = [t.node.layer for t in flat_in]
        for node in self._nodes:
            if all(node.layer is not layer for layer in layers):
                layers.append(node.layer)
        self._graph_layers = nn.ModuleList(layers)
        self.built = True

    @property
    def inputs(self) -> list[KerasTensor]:
        return list(self._input_tensors)

    @property
    def outputs(self) -> list[KerasTensor]:
        return list(self._output_tensors)

    @property
    def input(self) -> Any:
        return self._inputs_structure

    @property
    def output(self) -> Any:
        return self._outputs_structure

    def _sublayers(self) -> list[Layer]:
        return list(self._graph_layers)

    def _num_inputs(self) -> int:
        return len(self._input_tensors)

    def _input_names(self) -> list[str]:
        return [t.node.layer.name for t in self._input_tensors]

    def _output_names(self) -> list[str]:
        if isinstance(self._outputs_structure, dict):  # Keras: the keys of a dict of outputs are their names
            return list(self._outputs_structure)
        return [t.node.layer.name for t in self._output_tensors]

    def _check_inputs(self, values: list[torch.Tensor]) -> None:
        for kt, v in zip(self._input_tensors, values):
            expected = kt.shape
            got = tuple(v.shape)
            if len(got) != len(expected) or any(e is not None and e != g for e, g in zip(expected[1:], got[1:])):
                raise ValueError(f"Model '{self.name}': input '{kt.node.layer.name}' expects shape "
                                 f"{fmt_shape(expected)}, got {fmt_shape(got)}")

    def _call_internal(self, inputs: Any, *args: Any, mask: Any = None, training: bool | None = None,
                       **kwargs: Any) -> tuple[Any, Any]:
        if isinstance(inputs, dict) and not isinstance(self._inputs_structure, dict):
            inputs = self._inputs_from_dict(inputs, f"Model '{self.name}'")  # keyed by the Input names, as Keras
        values = flatten(inputs) if len(self._input_tensors) > 1 else [inputs]
        if len(values) != len(self._input_tensors):
            raise ValueError(f"Model '{self.name}' takes {len(self._input_tensors)} inputs, got {len(values)}")
        # a "string" Input keeps its text as a NumPy array for the TextVectorization / StringLookup it feeds
        values = [text if kt.dtype == "string" and (text := as_text(v)) is not None else to_tensor(v)
                  for kt, v in zip(self._input_tensors, values)]
        self._check_inputs(values)
        masks = flatten(mask) if isinstance(mask, (list, tuple)) else [mask] * len(values)
        known: dict[int, tuple[Any, Any]] = {id(kt): (v, m) for kt, v, m in zip(self._input_tensors, values, masks)}

        def value(a: Any) -> Any:
            return known[id(a)][0] if isinstance(a, KerasTensor) else a

        def mask_of(a: Any) -> Any:
            return known[id(a)][1] if isinstance(a, KerasTensor) else None

        train = bool(training) if training is not None else None
        with training_mode(train) if train is not None else contextlib.nullcontext():
            for node in self._nodes:
                first = node.args[0]
                call_args = map_structure(value, node.args[1:])
                call_kwargs = map_structure(value, dict(node.kwargs))
                call_kwargs.setdefault("training", train)
                out, out_mask = node.layer._call_internal(map_structure(value, first), *call_args,
                                                          mask=map_structure(mask_of, first), **call_kwargs)
                flat_out = flatten(out) if isinstance(out, (list, tuple)) else [out]
                if isinstance(out_mask, (list, tuple)):
                    flat_masks = list(out_mask) + [None] * (len(flat_out) - len(out_mask))
                else:
                    flat_masks = [out_mask] + [None] * (len(flat_out) - 1)
                for kt, o, m in zip(flatten(node.outputs), flat_out, flat_masks):
                    known[id(kt)] = (o, m)
        outputs = map_structure(value, self._outputs_structure)
        out_masks = map_structure(mask_of, self._outputs_structure)
        return outputs, out_masks

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        return self._call_internal(inputs, training=training, mask=mask)[0]

    def compute_output_shape(self, input_shape: Any) -> Any:
        return map_structure(lambda t: t.shape, self._outputs_structure)

    def build(self, input_shape: Any = None) -> None:
        self.built = True

    def get_config(self) -> dict[str, Any]:
        input_nodes = [t.node for t in self._input_tensors]
        nodes = input_nodes + list(self._nodes)
        node_ids = {id(n): i for i, n in enumerate(nodes)}
        return {
            "name": self.name,
            "trainable": self.trainable,
            "layers": [layer_to_config(layer) for layer in self.layers],
            "nodes": [{"layer": n.layer.name, "args": map_structure(lambda a: _ref(a, node_ids), list(n.args)),
                       "kwargs": map_structure(lambda a: _ref(a, node_ids), dict(n.kwargs))}
                      for n in nodes],
            "inputs": map_structure(lambda t: _ref(t, node_ids), self._inputs_structure),
            "outputs": map_structure(lambda t: _ref(t, node_ids), self._outputs_structure),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Functional:
        layers = {spec["config"]["name"]: layer_from_config(spec) for spec in config["layers"]}
        produced: list[Any] = []
        for node in config["nodes"]:
            layer = layers[node["layer"]]
            if isinstance(layer, InputLayer):
                produced.append(layer.output_tensor)
                continue
            args = _resolve(node["args"], produced)
            kwargs = _resolve(node["kwargs"], produced)
            produced.append(layer(*args, **kwargs))
        inputs = _resolve(config["inputs"], produced)
        outputs = _resolve(config["outputs"], produced)
        return cls(inputs, outputs, name=config.get("name"), trainable=config.get("trainable", True))


def _ref(t: Any, node_ids: dict[int, int]) -> Any:
    """A KerasTensor in a config: [index of the node that made it, its index among the node's outputs]."""
    if isinstance(t, KerasTensor):
        return {"__keras_tensor__": [node_ids[id(t.node)], t.index]}
    if isinstance(t, torch.Tensor | np.ndarray):
        raise ValueError("a functional model whose layer calls take constant tensors cannot be saved to a config")
    return t


def _resolve(value: Any, produced: list[Any]) -> Any:
    if isinstance(value, dict) and set(value) == {"__keras_tensor__"}:
        node, index = value["__keras_tensor__"]
        outputs = produced[node]
        return outputs if not isinstance(outputs, (list, tuple)) else flatten(outputs)[index]
    if isinstance(value, list):
        return [_resolve(v, produced) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, produced) for k, v in value.items()}
    return value

