"""`Model`: the functional API (`Model(inputs, outputs)`, an instance of `Functional`) and subclassing
(`class M(Model)` with layers as attributes and a `call`), with Keras' training API from `Trainer`."""

from __future__ import annotations

import json
import os
from typing import Any

from torch import nn

from lstmkit.keras.layers.layer import Layer, get_mask
from lstmkit.keras.layers.recurrent import RNN
from lstmkit.keras.models.saving import load_weights, model_config, save_model, save_weights
from lstmkit.keras.models.summary import summary_text
from lstmkit.keras.models.training import Trainer
from lstmkit.ops import backends
from lstmkit.train.distributed import is_chief


class Model(Trainer, Layer):
    """A layer made of layers, that can be compiled, trained, evaluated, summarised and saved."""

    # The class that Keras' Model(inputs, outputs) builds. functional.py's Functional declares itself
    # (`class Functional(Model, functional_api=True)`) so this module need not import its own subclass,
    # and a user's class that happens to be named "Functional" in the layer registry cannot take its place.
    _functional_api: type[Model] | None = None

    def __init_subclass__(cls, functional_api: bool = False, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if functional_api:
            Model._functional_api = cls

    @classmethod
    def _functional_class(cls) -> type[Model]:
        if Model._functional_api is None:  # only if model.py were loaded without lstmkit.keras.models
            raise RuntimeError("Model(inputs, outputs) needs lstmkit.keras.models.functional to be imported")
        return Model._functional_api

    def __new__(cls, *args: Any, **kwargs: Any) -> Model:
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            return super().__new__(cls._functional_class())
        return super().__new__(cls)

    def __init__(self, *args: Any, name: str | None = None, trainable: bool = True, **kwargs: Any) -> None:
        if args:
            raise TypeError("Model(inputs, outputs) builds a functional model; a subclass takes no positional "
                            "arguments")
        Layer.__init__(self, name=name, trainable=trainable, **kwargs)
        self.compiled = False
        self.optimizer = None
        self.stop_training = False
        self.history: Any = None
        self.supports_masking = True

    # ----- structure --------------------------------------------------------------------------
    def _sublayers(self) -> list[Layer]:
        """For a subclassed model: the layers assigned as attributes, in assignment order."""
        found: list[Layer] = []

        def walk(module: nn.Module) -> None:
            for child in module.children():
                if isinstance(child, Layer):
                    found.append(child)
                else:
                    walk(child)
        walk(self)
        return found

    @property
    def layers(self) -> list[Layer]:
        return self._sublayers()

    def get_layer(self, name: str | None = None, index: int | None = None) -> Layer:
        if index is not None:
            if not 0 <= index < len(self.layers) and not -len(self.layers) <= index < 0:
                raise ValueError(f"get_layer(index={index}): the model has {len(self.layers)} layers")
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r}; the layers are {[layer.name for layer in self.layers]}")

    def _call_internal(self, inputs: Any, *args: Any, mask: Any = None, training: bool | None = None,
                       **kwargs: Any) -> tuple[Any, Any]:
        outputs, _ = Layer._call_internal(self, inputs, *args, mask=mask, training=training, **kwargs)
        return outputs, get_mask(outputs)

    def build(self, input_shape: Any = None) -> None:
        """A subclassed model builds its layers on the first call; run one on zeros of this shape."""
        if input_shape is None:
            raise ValueError(f"Model '{self.name}': build() needs an input shape")
        self.built = True
        self.compute_output_shape(input_shape)

    # ----- lstmkit extras ---------------------------------------------------------------------
    def set_backend(self, backend: str) -> None:
        """Run every recurrent layer on this lstmkit.ops backend ("auto", "reference", or a registered one)."""
        if backend != "auto" and backend not in backends():
            raise ValueError(f"unknown backend {backend!r}: expected 'auto' or one of {backends()}")
        for module in self.modules():
            if isinstance(module, RNN):
                module.backend = backend

    def reset_states(self) -> None:
        """Zero the kept states of every stateful layer."""
        for module in self.modules():
            if isinstance(module, RNN) and module.stateful:
                module.reset_state()

    reset_state = reset_states

    # ----- summary and saving -----------------------------------------------------------------
    def summary(self, line_length: int | None = None, positions: Any = None, print_fn: Any = None,
                expand_nested: bool = False, show_trainable: bool = False, layer_range: Any = None) -> None:
        """Print Keras' table: layer (type), output shape, parameter count, then the totals."""
        text = summary_text(self, line_length=line_length, show_trainable=show_trainable)
        if print_fn is None:
            print(text)
        else:
            print_fn(text)

    def save(self, filepath: str | os.PathLike, overwrite: bool = True, include_optimizer: bool = True) -> None:
        """Write a `.keras` file in Keras 3's own format, which Keras opens: a zip of config.json (architecture,
        compile settings) and model.weights.h5 (weights in Keras' HDF5 layout, and the optimizer's state). No pickle.
        Under data parallelism only rank 0 writes."""
        if not is_chief():
            return
        save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def export(self, filepath: str | os.PathLike, format: str = "tf_saved_model", verbose: bool | None = None,
               input_signature: Any = None, **kwargs: Any) -> None:
        """Keras' `export`; lstmkit writes `format="onnx"` (`opset_version=` as Keras), on ONNX's own
        LSTM/GRU/RNN operators, exact at every length or refused (`lstmkit.export.keras_model`)."""
        if format != "onnx":
            raise ValueError(f"Model '{self.name}': lstmkit exports format='onnx' only, got format={format!r} "
                             "(TensorFlow, OpenVINO and LiteRT formats need their own packages)")
        opset = kwargs.pop("opset_version", None)
        if kwargs:
            raise TypeError(f"export() got unexpected keyword arguments for format='onnx': {sorted(kwargs)}")
        from lstmkit.export.keras_model import DEFAULT_OPSET, export_model

        path = export_model(self, filepath, input_signature=input_signature,
                            opset=DEFAULT_OPSET if opset is None else opset)
        if verbose:
            print(f"Saved artifact at '{path}'.")

    def save_weights(self, filepath: str | os.PathLike, overwrite: bool = True) -> None:
        """Write the weights (Keras' layout and order): `*.weights.h5` Keras 3's HDF5, another `*.h5` Keras 2's,
        anything else (`*.weights.safetensors`) a safetensors file. Under data parallelism only rank 0 writes."""
        if not is_chief():
            return
        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath: str | os.PathLike, skip_mismatch: bool = False) -> None:
        """Load weights written by `save_weights` or held in a `.keras` file."""
        load_weights(self, filepath, skip_mismatch=skip_mismatch)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Model:
        """`Model` in a config is Keras' name for a functional model."""
        if cls is Model:
            return cls._functional_class().from_config(config)
        return super().from_config(config)  # type: ignore[no-any-return]

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(
            f"Model '{self.name}' is a subclassed model: its architecture is Python code, so it cannot be written "
            "to a config; use save_weights() and rebuild the model in code, or a Sequential / functional model"
        )

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(model_config(self), **kwargs)
