"""`SLSTM` as a Keras-style layer (an lstmkit extension: Keras has no sLSTM), over `lstmkit.ops.slstm`
(Beck et al. 2024; equations in lstmkit/ops/slstm.py and docs/equations.md).

Keras' recurrent-layer conventions: `units`, `return_sequences`, `return_state` (`[output, h, c, n, m]`),
`go_backwards` (outputs in processing order, as Keras gives them), masks from Embedding(mask_zero=True)
or Masking on either side (a masked step keeps all four states and outputs zeros), `initial_state=[h, c,
n, m]`. Weights in Keras' layout: `kernel` (I, 4U) with blocks i, f, z, o on the last axis,
`recurrent_kernel` (NH, U/NH, 4U/NH) (the block-diagonal recurrent weight, as lstmkit.nn.SLSTM's
`weight_hh`), `bias` (4U,); `unit_forget_bias=True` starts the forget block of the bias at 1, as Keras'
LSTM does.
"""

from __future__ import annotations

from typing import Any

import torch

from lstmkit.keras import initializers as initializers_mod
from lstmkit.keras.keras_tensor import Shape
from lstmkit.keras.layers.layer import Layer, fmt_shape
from lstmkit.ops.slstm import BACKENDS, FORGET_GATES, slstm


class SLSTM(Layer):
    """sLSTM: exponential input gate with normaliser and stabiliser states, block-diagonal heads."""

    def __init__(self, units: int, num_heads: int = 1, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, forget_gate: str = "sigmoid", backend: str = "auto",
                 **kwargs: Any) -> None:
        for arg, value in (("units", units), ("num_heads", num_heads)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"SLSTM: {arg} must be a positive integer, got {value!r}")
        if units % num_heads:
            raise ValueError(f"SLSTM: units must be a multiple of num_heads, got units={units} and "
                             f"num_heads={num_heads}")
        if forget_gate not in FORGET_GATES:
            raise ValueError(f"SLSTM: forget_gate must be one of {FORGET_GATES}, got {forget_gate!r}")
        if backend not in BACKENDS:
            raise ValueError(f"SLSTM: backend must be one of {BACKENDS}, got {backend!r}")
        super().__init__(**kwargs)
        self.units, self.num_heads, self.forget_gate, self.backend = units, num_heads, forget_gate, backend
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.use_bias = bool(go_backwards), bool(use_bias)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.kernel_initializer = initializers_mod.get(kernel_initializer)
        self.recurrent_initializer = initializers_mod.get(recurrent_initializer)
        self.bias_initializer = initializers_mod.get(bias_initializer)
        self.supports_masking = True

    def _check_input_shape(self, input_shape: Any) -> None:
        if not isinstance(input_shape, tuple) or len(input_shape) != 3 or input_shape[-1] is None:
            raise self._error(f"expects inputs of shape (batch, time, features) with known features, got "
                              f"{fmt_shape(input_shape)}")

    def _bias_init(self) -> Any:
        if not self.unit_forget_bias:
            return self.bias_initializer
        U, init = self.units, self.bias_initializer

        def forget_one(shape: tuple[int, ...], dtype: Any = None) -> torch.Tensor:  # Keras' unit_forget_bias
            return torch.cat([init((U,)), torch.ones(U), init((2 * U,))])

        return forget_one

    def build(self, input_shape: Shape) -> None:
        U, NH = self.units, self.num_heads
        DH = U // NH
        self.kernel = self.add_weight((input_shape[-1], 4 * U), self.kernel_initializer, name="kernel")
        self.recurrent_kernel = self.add_weight((NH, DH, 4 * DH), self.recurrent_initializer, name="recurrent_kernel")
        self.bias = self.add_weight((4 * U,), self._bias_init(), name="bias") if self.use_bias else None

    def call(self, inputs: torch.Tensor, mask: torch.Tensor | None = None, initial_state: Any = None) -> Any:
        x = inputs if inputs.is_floating_point() else inputs.float()
        kernel = self._stored(self._weight_specs[0])
        recurrent = self._stored(self._weight_specs[1])
        bias = self._stored(self._weight_specs[2]) if self.use_bias else None
        if x.shape[-1] != kernel.shape[0]:
            raise self._error(f"was built for {kernel.shape[0]} input features but got an input of shape "
                              f"{fmt_shape(tuple(x.shape))}")
        state = None
        if initial_state is not None:
            parts = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            if len(parts) != 4:
                raise self._error(f"initial_state must be [h, c, n, m] (four tensors), got {len(parts)}")
            parts = [torch.as_tensor(p, dtype=x.dtype, device=x.device) for p in parts]
            for name, p in zip("hcnm", parts):
                if tuple(p.shape) != (x.shape[0], self.units):
                    raise self._error(f"initial_state {name} must be ({x.shape[0]}, {self.units}), got "
                                      f"{fmt_shape(tuple(p.shape))}")
            state = (parts[0], parts[1], parts[2], parts[3])
        if mask is not None:
            mask = torch.as_tensor(mask, device=x.device).bool()
            if tuple(mask.shape) != tuple(x.shape[:2]):
                raise self._error(f"mask of shape {fmt_shape(tuple(mask.shape))} does not fit inputs of shape "
                                  f"{fmt_shape(tuple(x.shape))}")
        out, final = slstm(x, kernel.T, recurrent, bias, state, mask=mask, reverse=self.go_backwards,
                           forget_gate=self.forget_gate, backend=self.backend)
        if self.go_backwards:
            out = out.flip(1)  # Keras: outputs in the order the steps were processed
        result = out if self.return_sequences else final[0]
        return [result, *final] if self.return_state else result

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if mask is None or not self.return_sequences:
            return [None] * 5 if self.return_state else None
        out_mask = torch.as_tensor(mask).flip(1) if self.go_backwards else mask
        return [out_mask, None, None, None, None] if self.return_state else out_mask

    def compute_output_shape(self, input_shape: Shape) -> Any:
        B, T = input_shape[0], input_shape[1]
        out = (B, T, self.units) if self.return_sequences else (B, self.units)
        return [out, *[(B, self.units)] * 4] if self.return_state else out

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units, "num_heads": self.num_heads,
                "return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "use_bias": self.use_bias,
                "kernel_initializer": initializers_mod.serialize(self.kernel_initializer),
                "recurrent_initializer": initializers_mod.serialize(self.recurrent_initializer),
                "bias_initializer": initializers_mod.serialize(self.bias_initializer),
                "unit_forget_bias": self.unit_forget_bias, "forget_gate": self.forget_gate, "backend": self.backend}
