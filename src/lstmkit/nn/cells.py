"""`LSTMCell`, `GRUCell`, `RNNCell`: drop-in replacements for the `torch.nn` cells (one time step).

Each subclasses its torch.nn namesake (torch's constructor, parameters, initialisation and repr;
`isinstance(cell, torch.nn.RNNCellBase)` holds) and replaces its forward: the step is the
`lstmkit.ops` recurrence over a sequence of length 1, so a cell and its layer compute with the same
equations. Shape errors are `lstmkit.errors.ShapeError` (a ValueError and torch's RuntimeError)
with torch's phrase.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from lstmkit import ops
from lstmkit.errors import ShapeError
from lstmkit.ops.activations import Activation

States = list[torch.Tensor | None]  # a cell's h (and c), each optional


class _CellExtras:
    input_size: int
    hidden_size: int
    weight_ih: torch.Tensor
    backend: str

    def _prepare(self, input: torch.Tensor, states: States, hidden_names: tuple[str, ...]
                 ) -> tuple[torch.Tensor, States, bool]:
        name = type(self).__name__
        if not isinstance(input, torch.Tensor):
            raise ValueError(f"{name}: expected input of shape (B, I) or (I,), got {type(input).__name__}")
        if input.dim() not in (1, 2):
            raise ShapeError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead: "
                             f"input of shape (B, I) or (I,), got {tuple(input.shape)}")
        batched = input.dim() == 2
        if input.shape[-1] != self.input_size:
            raise ShapeError(f"input has inconsistent input_size: got {input.shape[-1]} expected {self.input_size}: "
                             f"{name} was made for {self.input_size} features")
        B = input.shape[0] if batched else 1
        out: States = []
        for k, (s, label) in enumerate(zip(states, hidden_names)):
            if s is None:
                out.append(None)
                continue
            if s.dim() not in (1, 2):
                raise ShapeError(f"{name}: Expected {label} to be 1D or 2D, got {s.dim()}D instead: "
                                 f"state of shape (B, H) or (H,), got {tuple(s.shape)}")
            if s.dim() != input.dim():
                raise ShapeError(
                    f"{name}: state of shape {tuple(s.shape)} does not match "
                    f"{'batched' if batched else 'unbatched'} input of shape {tuple(input.shape)}"
                )
            s = s if batched else s.unsqueeze(0)
            if s.shape[0] != B:
                raise ShapeError(f"Input batch size {B} doesn't match hidden{k} batch size {s.shape[0]}: "
                                 f"{name} got input {tuple(input.shape)} and state {tuple(s.shape)}")
            if s.shape[1] != self.hidden_size:
                raise ShapeError(f"hidden{k} has inconsistent hidden_size: got {s.shape[1]}, expected "
                                 f"{self.hidden_size}: {name} has {self.hidden_size} units")
            out.append(s)
        x = (input if batched else input.unsqueeze(0)).unsqueeze(1)  # (B, 1, I)
        return x, out, batched

    def _empty_state(self, x: torch.Tensor) -> torch.Tensor:
        """hidden_size 0: torch returns an empty (B, 0) state; still connected to the input and weights."""
        return x[:, 0] @ self.weight_ih.t()[:, :0]


class LSTMCell(_CellExtras, nn.LSTMCell):
    """Drop-in `torch.nn.LSTMCell`: returns (h_1, c_1). Extras: `activation`, `recurrent_activation`, `backend`."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: torch.dtype | None = None, *, activation: str | Activation = "tanh",
                 recurrent_activation: str | Activation = "sigmoid", backend: str = "auto") -> None:
        nn.LSTMCell.__init__(self, input_size, hidden_size, bias, device, dtype)
        self.activation, self.recurrent_activation, self.backend = activation, recurrent_activation, backend

    def forward(self, input: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
        h0, c0 = (None, None) if hx is None else hx
        x, (h0, c0), batched = self._prepare(input, [h0, c0], ("hx[0]", "hx[1]"))
        if self.hidden_size == 0:
            h = c = self._empty_state(x)
        else:
            _, h, c = ops.lstm(x, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, h0=h0, c0=c0,
                               activation=self.activation, recurrent_activation=self.recurrent_activation,
                               backend=self.backend)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(_CellExtras, nn.GRUCell):
    """Drop-in `torch.nn.GRUCell`: returns h_1. Extras: `reset_after`, activations, `backend`."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device: Any = None,
                 dtype: torch.dtype | None = None, *, reset_after: bool = True,
                 activation: str | Activation = "tanh", recurrent_activation: str | Activation = "sigmoid",
                 backend: str = "auto") -> None:
        nn.GRUCell.__init__(self, input_size, hidden_size, bias, device, dtype)
        self.reset_after, self.activation, self.recurrent_activation = reset_after, activation, recurrent_activation
        self.backend = backend

    def forward(self, input: torch.Tensor, hx: torch.Tensor | None = None) -> torch.Tensor:
        x, (h0,), batched = self._prepare(input, [hx], ("hidden",))
        if self.hidden_size == 0:
            h = self._empty_state(x)
        else:
            _, h = ops.gru(x, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, h0=h0,
                           activation=self.activation, recurrent_activation=self.recurrent_activation,
                           reset_after=self.reset_after, backend=self.backend)
        return h if batched else h.squeeze(0)


class RNNCell(_CellExtras, nn.RNNCell):
    """Drop-in `torch.nn.RNNCell` (`nonlinearity` "tanh" or "relu"): returns h_1."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device: Any = None, dtype: torch.dtype | None = None, *, backend: str = "auto") -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}. Select from 'tanh' or 'relu'")
        nn.RNNCell.__init__(self, input_size, hidden_size, bias, nonlinearity, device, dtype)
        self.backend = backend

    def forward(self, input: torch.Tensor, hx: torch.Tensor | None = None) -> torch.Tensor:
        x, (h0,), batched = self._prepare(input, [hx], ("hidden",))
        if self.hidden_size == 0:
            h = self._empty_state(x)
        else:
            _, h = ops.simple_rnn(x, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, h0=h0,
                                  activation=self.nonlinearity, backend=self.backend)
        return h if batched else h.squeeze(0)
