"""Wrappers: Bidirectional (a forward and a backward copy of a recurrent layer) and TimeDistributed."""

from __future__ import annotations

from typing import Any

import torch

from lstmkit.keras.keras_tensor import Shape
from lstmkit.keras.layers.layer import LAYER_CLASSES, Layer, _call_arguments, fmt_shape
from lstmkit.keras.layers.recurrent import RNN
from lstmkit.keras.registry import resolve, to_config

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def layer_from_config(spec: dict[str, Any]) -> Layer:
    """A layer from {"class_name", "config"}: a custom object or registered class of that name, else an
    lstmkit.keras layer class (`lstmkit.keras.registry`; no code is loaded)."""
    cls = resolve(spec, LAYER_CLASSES)
    return cls.from_config(dict(spec["config"]))


def layer_to_config(layer: Layer) -> dict[str, Any]:
    return to_config(layer)


class Bidirectional(Layer):
    """Runs a copy of `layer` forward and one backward (go_backwards flipped) over the sequence and
    merges their outputs ("concat", "sum", "mul", "ave", or None for a list of both). The backward
    outputs are put back in input order before merging. With return_state the forward states come
    first, then the backward ones; weights are the forward layer's then the backward layer's."""

    def __init__(self, layer: Layer, merge_mode: str | None = "concat", weights: list | None = None,
                 backward_layer: Layer | None = None, **kwargs: Any) -> None:
        if not isinstance(layer, RNN):
            raise ValueError(f"Bidirectional needs a SimpleRNN, LSTM or GRU layer, got {type(layer).__name__}")
        if merge_mode not in MERGE_MODES:
            raise ValueError(f"Bidirectional: merge_mode must be one of {MERGE_MODES}, got {merge_mode!r}")
        super().__init__(**kwargs)
        config = layer.get_config()
        config.pop("batch_input_shape", None)
        self.forward_layer = type(layer).from_config({**config, "name": f"forward_{layer.name}"})
        if backward_layer is None:
            back = {**config, "name": f"backward_{layer.name}", "go_backwards": not layer.go_backwards}
            self.backward_layer = type(layer).from_config(back)
        else:
            if not isinstance(backward_layer, RNN):
                raise ValueError(f"Bidirectional: backward_layer must be a recurrent layer, got "
                                 f"{type(backward_layer).__name__}")
            self.backward_layer = backward_layer
        if self.forward_layer.go_backwards == self.backward_layer.go_backwards:
            raise ValueError("Bidirectional: the forward and backward layers must differ in go_backwards")
        for attr in ("stateful", "return_sequences", "return_state"):
            if getattr(self.forward_layer, attr) != getattr(self.backward_layer, attr):
                raise ValueError(f"Bidirectional: the forward and backward layers must agree on {attr}")
        for sub in (self.forward_layer, self.backward_layer):
            sub.zero_output_for_mask = sub.return_sequences  # Keras forces this on both
            if hasattr(layer, "use_cudnn"):  # not in the config; Keras copies it onto both
                sub.use_cudnn = layer.use_cudnn
        if layer._batch_input_shape is not None and self._batch_input_shape is None:
            self._batch_input_shape = layer._batch_input_shape
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.stateful = layer.stateful
        self.supports_masking = True
        self._initial_weights = weights

    def _sublayers(self) -> list[Layer]:
        return [self.forward_layer, self.backward_layer]

    def _check_input_shape(self, input_shape: Any) -> None:
        self.forward_layer._check_input_shape(input_shape)

    def build(self, input_shape: Shape) -> None:
        self.forward_layer._maybe_build(input_shape)
        self.backward_layer._maybe_build(input_shape)
        if self._initial_weights is not None:
            self.built = True
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, sequences: torch.Tensor, initial_state: Any = None, mask: Any = None,
             training: bool = False) -> Any:
        fwd_state = bwd_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fwd_state, bwd_state = list(initial_state[:half]), list(initial_state[half:])
        y, _ = self.forward_layer._call_internal(sequences, initial_state=fwd_state, mask=mask, training=training)
        y_rev, _ = self.backward_layer._call_internal(sequences, initial_state=bwd_state, mask=mask,
                                                      training=training)
        states: tuple = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = y_rev.flip(1)  # back to input order
        if self.merge_mode == "concat":
            output: Any = torch.cat([y, y_rev], dim=-1)
        elif self.merge_mode == "sum":
            output = y + y_rev
        elif self.merge_mode == "ave":
            output = (y + y_rev) / 2
        elif self.merge_mode == "mul":
            output = y * y_rev
        else:
            output = [y, y_rev]
        if self.return_state:
            return (*output, *states) if self.merge_mode is None else (output, *states)
        return output

    def compute_output_shape(self, input_shape: Shape) -> Any:
        shape = self.forward_layer.compute_output_shape(input_shape)
        state_shapes: tuple = ()
        if self.return_state:
            shape, state_shapes = shape[0], tuple(shape[1:])
        if self.merge_mode == "concat":
            out: Any = (*shape[:-1], shape[-1] * 2)
        elif self.merge_mode is None:
            out = [shape, shape]
        else:
            out = shape
        if self.return_state:
            return (*out, *state_shapes, *state_shapes) if self.merge_mode is None else (out, *state_shapes * 2)
        return out

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out_mask = mask if self.return_sequences else None
        outputs = [out_mask, out_mask] if self.merge_mode is None else [out_mask]
        if self.return_state:
            outputs += [None] * (2 * self.forward_layer._n_states)
        return outputs if len(outputs) > 1 else outputs[0]

    def reset_state(self, states: Any = None) -> None:
        if states is None:
            self.forward_layer.reset_state()
            self.backward_layer.reset_state()
            return
        half = len(states) // 2
        self.forward_layer.reset_state(states[:half])
        self.backward_layer.reset_state(states[half:])

    def reset_states(self, states: Any = None) -> None:
        self.reset_state(states)

    def get_config(self) -> dict[str, Any]:
        layer_config = self.forward_layer.get_config()
        layer_config["name"] = layer_config["name"].removeprefix("forward_")
        return {**super().get_config(), "merge_mode": self.merge_mode,
                "layer": {"class_name": type(self.forward_layer).__name__, "config": layer_config},
                "backward_layer": layer_to_config(self.backward_layer)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Bidirectional:
        config = dict(config)
        layer = layer_from_config(config.pop("layer"))
        backward = config.pop("backward_layer", None)
        return cls(layer, backward_layer=layer_from_config(backward) if backward else None, **config)


class TimeDistributed(Layer):
    """Applies `layer` (the same weights) to every step of a (batch, time, ...) input."""

    def __init__(self, layer: Layer, **kwargs: Any) -> None:
        if not isinstance(layer, Layer):
            raise ValueError(f"TimeDistributed needs a layer, got {type(layer).__name__}")
        super().__init__(**kwargs)
        self.layer = layer
        self.supports_masking = True

    def _sublayers(self) -> list[Layer]:
        return [self.layer]

    def _check_input_shape(self, input_shape: Any) -> None:
        if not isinstance(input_shape, tuple) or len(input_shape) < 3:
            raise self._error(f"expects inputs of shape (batch, time, ...), got {fmt_shape(input_shape)}")

    def build(self, input_shape: Shape) -> None:
        self.layer._maybe_build((None, *input_shape[2:]))

    def call(self, inputs: torch.Tensor, mask: Any = None, training: bool = False) -> torch.Tensor:
        B, T = inputs.shape[:2]
        flat = inputs.reshape(B * T, *inputs.shape[2:])  # (B*T, ...)
        inner_mask = None
        if mask is not None:
            mask = torch.as_tensor(mask, device=inputs.device)
            if mask.dim() < 2 or tuple(mask.shape[:2]) != (B, T):  # Keras' words, and the layer's name
                raise self._error(f"The `mask` passed to the `TimeDistributed` layer has a shape "
                                  f"{fmt_shape(tuple(mask.shape))} that is incompatible with the input shape "
                                  f"{fmt_shape(tuple(inputs.shape))}: its first two dimensions (batch size and "
                                  f"timesteps) must be ({B}, {T})")
            if "mask" in _call_arguments(type(self.layer)):  # as Keras: each step's mask, to a layer that takes one
                inner_mask = mask.reshape(B * T, *mask.shape[2:])  # (B*T, ...)
        y, _ = self.layer._call_internal(flat, mask=inner_mask, training=training)
        return y.reshape(B, T, *y.shape[1:])

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        inner = self.layer.compute_output_shape((None, *input_shape[2:]))
        return (input_shape[0], input_shape[1], *inner[1:])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "layer": layer_to_config(self.layer)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TimeDistributed:
        config = dict(config)
        return cls(layer_from_config(config.pop("layer")), **config)
