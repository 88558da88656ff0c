"""`Sequential`: a plain stack of layers, each feeding the next, masks passed along."""

from __future__ import annotations

from typing import Any

from torch import nn

from lstmkit.keras.keras_tensor import KerasTensor
from lstmkit.keras.layers.core import InputLayer
from lstmkit.keras.layers.layer import Layer, fmt_shape, to_tensor, training_mode
from lstmkit.keras.layers.lookup import as_text
from lstmkit.keras.layers.wrappers import layer_from_config, layer_to_config
from lstmkit.keras.models.model import Model


class Sequential(Model):
    """`Sequential([Embedding(10000, 32), LSTM(32), Dense(1, activation="sigmoid")])`.

    With a known input shape (an `Input(shape)` first, or `input_shape=` on the first layer) every layer
    is built as it is added, so a layer that does not fit raises at once, naming the layers and shapes.
    Without one the model is built on the first data it sees (fit, evaluate, predict or a call)."""

    def __init__(self, layers: list | None = None, trainable: bool = True, name: str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._stack = nn.ModuleList()
        self._input_layer: InputLayer | None = None
        self._build_input_shape: Any = None
        for layer in layers or []:
            self.add(layer)

    @property
    def layers(self) -> list[Layer]:
        return list(self._stack)

    def _sublayers(self) -> list[Layer]:
        return list(self._stack)

    def add(self, layer: Any) -> None:
        """Append a layer (or an `Input(shape)`, only first)."""
        if isinstance(layer, KerasTensor):
            if not isinstance(layer.node.layer, InputLayer):
                raise ValueError("Sequential.add takes layers; a symbolic tensor is only accepted from Input()")
            layer = layer.node.layer
        if isinstance(layer, InputLayer):
            if len(self._stack) or self._input_layer is not None:
                raise ValueError("an Input can only be the first entry of a Sequential model")
            self._input_layer = layer
            self._build_input_shape = layer.batch_shape
            return
        if not isinstance(layer, Layer):
            raise ValueError(f"Sequential.add takes an lstmkit.keras layer, got {type(layer).__name__}")
        if any(existing is layer for existing in self._stack):
            raise ValueError(f"layer '{layer.name}' is already in this model")
        if not len(self._stack) and self._build_input_shape is None and layer._batch_input_shape is not None:
            self._build_input_shape = layer._batch_input_shape
        self._stack.append(layer)
        if self._build_input_shape is not None:
            try:
                self._build_chain(self._build_input_shape)
            except ValueError:
                self._stack = nn.ModuleList(list(self._stack)[:-1])
                raise
            self.built = True

    def pop(self) -> Layer:
        if not len(self._stack):
            raise ValueError("pop() on a Sequential model without layers")
        layers = list(self._stack)
        self._stack = nn.ModuleList(layers[:-1])
        return layers[-1]

    def _build_chain(self, input_shape: Any) -> Any:
        """Build every layer on the shape coming out of the one before; returns the output shape."""
        shape = input_shape
        previous: Layer | None = None
        for layer in self._stack:
            try:
                layer._maybe_build(shape)
                out = layer.compute_output_shape(shape)
            except ValueError as e:
                where = (f"the output of layer '{previous.name}' ({type(previous).__name__})" if previous
                         else "the input")
                raise ValueError(f"{e}\n  (its input is {where}, of shape {fmt_shape(shape)})") from None
            if not (isinstance(out, tuple) and all(s is None or isinstance(s, int) for s in out)):
                raise ValueError(f"Layer '{layer.name}' ({type(layer).__name__}) returns several tensors "
                                 f"{fmt_shape(out)}; in a Sequential model every layer must return one tensor "
                                 "(use the functional API)")
            layer._output_shape = out
            shape, previous = out, layer
        return shape

    def build(self, input_shape: Any = None) -> None:
        if input_shape is None:
            input_shape = self._build_input_shape
        if input_shape is None:
            raise ValueError(f"Sequential model '{self.name}': build() needs an input shape")
        if isinstance(input_shape, list):
            raise ValueError("a Sequential model takes one input")
        input_shape = tuple(input_shape)
        self._build_chain(input_shape)
        if self._build_input_shape is None:
            self._build_input_shape = (None, *input_shape[1:])
        self.built = True

    def compute_output_shape(self, input_shape: Any) -> Any:
        shape = tuple(input_shape)
        for layer in self._stack:
            shape = layer.compute_output_shape(shape)
        return shape

    def _call_internal(self, inputs: Any, *args: Any, mask: Any = None, training: bool | None = None,
                       **kwargs: Any) -> tuple[Any, Any]:
        text = as_text(inputs) if getattr(self._stack[0] if len(self._stack) else None, "_takes_text", False) \
            else None
        x: Any = to_tensor(inputs) if text is None else text
        if text is not None:  # raw strings for a first TextVectorization / StringLookup: no tensor made of them
            if not self.built:
                self.build((None, *text.shape[1:]))
        elif not self.built:
            self.build((None, *tuple(x.shape[1:])))
            self.to(x.device)
        elif self._build_input_shape is not None:
            expected = self._build_input_shape
            if len(expected) != x.dim() or any(e is not None and e != g for e, g in zip(expected[1:], x.shape[1:])):
                raise ValueError(f"Sequential model '{self.name}' expects inputs of shape {fmt_shape(expected)}, "
                                 f"got {fmt_shape(tuple(x.shape))}")
        if training is None:
            return self._run(x, mask, None)
        with training_mode(training):
            return self._run(x, mask, training)

    def _run(self, x: Any, mask: Any, training: bool | None) -> tuple[Any, Any]:
        for layer in self._stack:
            x, mask = layer._call_internal(x, mask=mask, training=training)
        return x, mask

    def call(self, inputs: Any, training: bool | None = None, mask: Any = None) -> Any:
        return self._call_internal(inputs, training=training, mask=mask)[0]

    @property
    def input_shape(self) -> Any:
        return self._build_input_shape

    def get_config(self) -> dict[str, Any]:
        layers = [layer_to_config(layer) for layer in self.layers]
        if self._input_layer is not None:
            layers.insert(0, layer_to_config(self._input_layer))
        shape = self._build_input_shape
        return {"name": self.name, "trainable": self.trainable, "layers": layers,
                "build_input_shape": None if shape is None else list(shape)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        for spec in config["layers"]:
            layer = layer_from_config(spec)
            model.add(layer.output_tensor if isinstance(layer, InputLayer) else layer)
        shape = config.get("build_input_shape")
        if not model.built and shape is not None:
            model.build(tuple(shape))
        return model
