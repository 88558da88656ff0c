"""`MinGRU` and `MinLSTM` as Keras-style layers (an lstmkit extension: Keras has no such layers), over
`lstmkit.ops.min_gru` / `min_lstm` (Feng et al. 2024; equations in lstmkit.ops.min_rnn).

Keras' recurrent-layer conventions: `units`, `return_sequences`, `return_state`, `go_backwards` (outputs
in processing order, as Keras gives them), masks from Embedding(mask_zero=True) or Masking (a masked step
keeps the state), `initial_state=`. Weights in Keras' layout: `kernel` (I, 2U) with blocks z, h̃ for
MinGRU and (I, 3U) with blocks f, i, h̃ for MinLSTM, `bias` (2U,) / (3U,); there is no recurrent kernel.
"""

from __future__ import annotations

from typing import Any

import torch

from lstmkit import ops
from lstmkit.keras import initializers as initializers_mod
from lstmkit.keras.keras_tensor import Shape
from lstmkit.keras.layers.layer import Layer, fmt_shape


class _MinRNN(Layer):
    _gates = 0
    _op: Any = None

    def __init__(self, units: int, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", mode: str = "auto", **kwargs: Any) -> None:
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"{type(self).__name__}: units must be a positive integer, got {units!r}")
        if mode not in ops.min_rnn.MODES:
            raise ValueError(f"{type(self).__name__}: mode must be one of {ops.min_rnn.MODES}, got {mode!r}")
        super().__init__(**kwargs)
        self.units, self.mode = units, mode
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.use_bias = bool(go_backwards), bool(use_bias)
        self.kernel_initializer = initializers_mod.get(kernel_initializer)
        self.bias_initializer = initializers_mod.get(bias_initializer)
        self.supports_masking = True

    def _check_input_shape(self, input_shape: Any) -> None:
        if not isinstance(input_shape, tuple) or len(input_shape) != 3 or input_shape[-1] is None:
            raise self._error(f"expects inputs of shape (batch, time, features) with known features, got "
                              f"{fmt_shape(input_shape)}")

    def build(self, input_shape: Shape) -> None:
        G, U = self._gates, self.units
        self.kernel = self.add_weight((input_shape[-1], G * U), self.kernel_initializer, name="kernel")
        self.bias = self.add_weight((G * U,), self.bias_initializer, name="bias") if self.use_bias else None

    def call(self, inputs: torch.Tensor, mask: torch.Tensor | None = None, initial_state: Any = None
             ) -> Any:
        x = inputs if inputs.is_floating_point() else inputs.float()
        kernel = self._stored(self._weight_specs[0])
        bias = self._stored(self._weight_specs[1]) if self.use_bias else None
        if x.shape[-1] != kernel.shape[0]:
            raise self._error(f"was built for {kernel.shape[0]} input features but got an input of shape "
                              f"{fmt_shape(tuple(x.shape))}")
        h0 = None
        if initial_state is not None:
            h0 = initial_state[0] if isinstance(initial_state, (list, tuple)) else initial_state
            h0 = torch.as_tensor(h0, dtype=x.dtype, device=x.device)
            if tuple(h0.shape) != (x.shape[0], self.units):
                raise self._error(f"initial_state must be ({x.shape[0]}, {self.units}), got "
                                  f"{fmt_shape(tuple(h0.shape))}")
        if mask is not None:
            mask = torch.as_tensor(mask, device=x.device).bool()
            if tuple(mask.shape) != tuple(x.shape[:2]):
                raise self._error(f"mask of shape {fmt_shape(tuple(mask.shape))} does not fit inputs of shape "
                                  f"{fmt_shape(tuple(x.shape))}")
        out, h_n = type(self)._op(x, kernel.T, bias, h0, mask=mask, reverse=self.go_backwards, mode=self.mode)
        if self.go_backwards:
            out = out.flip(1)  # Keras: outputs in the order the steps were processed
        result = out if self.return_sequences else h_n
        return [result, h_n] if self.return_state else result

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if mask is None or not self.return_sequences:
            return [None, None] if self.return_state else None
        out_mask = torch.as_tensor(mask).flip(1) if self.go_backwards else mask
        return [out_mask, None] if self.return_state else out_mask

    def compute_output_shape(self, input_shape: Shape) -> Any:
        B, T = input_shape[0], input_shape[1]
        out = (B, T, self.units) if self.return_sequences else (B, self.units)
        return [out, (B, self.units)] if self.return_state else out

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units, "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards, "use_bias": self.use_bias,
                "kernel_initializer": initializers_mod.serialize(self.kernel_initializer),
                "bias_initializer": initializers_mod.serialize(self.bias_initializer), "mode": self.mode}


class MinGRU(_MinRNN):
    """minGRU: z = σ(x W_z + b_z), h̃ = g(x W_h + b_h), h = (1 - z) h_prev + z h̃ (lstmkit extension)."""

    _gates = 2
    _op = staticmethod(ops.min_gru)


class MinLSTM(_MinRNN):
    """minLSTM: f, i = σ(x W + b), h̃ = g(x W_h + b_h), h = f/(f+i) h_prev + i/(f+i) h̃ (lstmkit extension)."""

    _gates = 3
    _op = staticmethod(ops.min_lstm)
