"""`LSTMCell`, `GRUCell`, `RNNCell`: drop-in replacements for the `torch.nn` cells (one time step).

Each step is the `lstmkit.ops` recurrence over a sequence of length 1, so a cell and its layer
compute with the same equations.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from lstmkit import ops
from lstmkit.ops.activations import Activation

States = list[torch.Tensor | None]  # a cell's h (and c), each optional


class _CellBase(nn.Module):
    gates: int = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool, device: Any, dtype: torch.dtype | None,
                 backend: str) -> None:
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.input_size, self.hidden_size, self.bias, self.backend = input_size, hidden_size, bias, backend
        factory = {"device": device, "dtype": dtype}
        G = self.gates
        self.weight_ih = nn.Parameter(torch.empty(G * hidden_size, input_size, **factory))
        self.weight_hh = nn.Parameter(torch.empty(G * hidden_size, hidden_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(G * hidden_size, **factory))
            self.bias_hh = nn.Parameter(torch.empty(G * hidden_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")

    def _prepare(self, input: torch.Tensor, states: States) -> tuple[torch.Tensor, States, bool]:
        if not isinstance(input, torch.Tensor) or input.dim() not in (1, 2):
            got = tuple(input.shape) if isinstance(input, torch.Tensor) else type(input).__name__
            raise ValueError(f"{type(self).__name__}: expected input of shape (B, I) or (I,), got {got}")
        batched = input.dim() == 2
        x = (input if batched else input.unsqueeze(0)).unsqueeze(1)  # (B, 1, I)
        out: States = []
        for s in states:
            if s is not None and s.dim() != input.dim():
                raise ValueError(
                    f"{type(self).__name__}: state of shape {tuple(s.shape)} does not match "
                    f"{'batched' if batched else 'unbatched'} input of shape {tuple(input.shape)}"
                )
            out.append(None if s is None else (s if batched else s.unsqueeze(0)))
        return x, out, batched


class LSTMCell(_CellBase):
    """Drop-in `torch.nn.LSTMCell`: returns (h_1, c_1). Extras: `activation`, `recurrent_activation`, `backend`."""

    gates = 4

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: torch.dtype | None = None, *, activation: str | Activation = "tanh",
                 recurrent_activation: str | Activation = "sigmoid", backend: str = "auto") -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype, backend)
        self.activation, self.recurrent_activation = activation, recurrent_activation

    def forward(self, input: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        h0, c0 = (None, None) if hx is None else hx
        x, (h0, c0), batched = self._prepare(input, [h0, c0])
        _, h, c = ops.lstm(x, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, h0=h0, c0=c0,
                           activation=self.activation, recurrent_activation=self.recurrent_activation,
                           backend=self.backend)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(_CellBase):
    """Drop-in `torch.nn.GRUCell`: returns h_1. Extras: `reset_after`, activations, `backend`."""

    gates = 3

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: torch.dtype | None = None, *, reset_after: bool = True,
                 activation: str | Activation = "tanh", recurrent_activation: str | Activation = "sigmoid",
                 backend: str = "auto") -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype, backend)
        self.reset_after, self.activation, self.recurrent_activation = reset_after, activation, recurrent_activation

    def forward(self, input: torch.Tensor, hx: torch.Tensor | None = None) -> torch.Tensor:
        x, (h0,), batched = self._prepare(input, [hx])
        _, h = ops.gru(x, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, h0=h0,
                       activation=self.activation, recurrent_activation=self.recurrent_activation,
                       reset_after=self.reset_after, backend=self.backend)
        return h if batched else h.squeeze(0)


class RNNCell(_CellBase):
    """Drop-in `torch.nn.RNNCell` (`nonlinearity` "tanh" or "relu"): returns h_1."""

    gates = 1

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device: Any = None, dtype: torch.dtype | None = None, *, backend: str = "auto") -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, device, dtype, backend)
        self.nonlinearity = nonlinearity

    def forward(self, input: torch.Tensor, hx: torch.Tensor | None = None) -> torch.Tensor:
        x, (h0,), batched = self._prepare(input, [hx])
        _, h = ops.simple_rnn(x, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, h0=h0,
                              activation=self.nonlinearity, backend=self.backend)
        return h if batched else h.squeeze(0)
