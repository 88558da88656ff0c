"""`LSTM`, `GRU` and `RNN`: drop-in replacements for their `torch.nn` namesakes, on `lstmkit.ops`.

Same constructor arguments, parameter names and shapes (`weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`,
`bias_hh_l0`, `*_reverse`, `weight_hr_l0`), call signature and return values as torch's, so
`load_state_dict` works both ways. What torch lacks comes as keyword-only extras: `backend=`,
`recurrent_dropout=`, activations, `reset_after=` (GRU), and `mask=` / `lengths=` at call time.

Dimensions: B batch, T time, I input features, H hidden units, P projection, L layers, D directions.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from lstmkit import ops
from lstmkit.ops.activations import Activation
from lstmkit.ops.checks import normalize_mask, quiet_under_jit_trace

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]

_GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


class LayerWeights(NamedTuple):
    """The parameters of one layer and direction (torch's names without the `_l{k}[_reverse]` suffix)."""

    weight_ih: torch.Tensor
    weight_hh: torch.Tensor
    bias_ih: torch.Tensor | None
    bias_hh: torch.Tensor | None
    weight_hr: torch.Tensor | None


class _RNNBase(nn.Module):
    """Stacked, optionally bidirectional recurrence; one `lstmkit.ops` call per layer and direction."""

    mode: str = ""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: torch.dtype | None = None,
        *,
        backend: str = "auto",
        recurrent_dropout: float = 0.0,
        activation: str | Activation = "tanh",
        recurrent_activation: str | Activation = "sigmoid",
    ) -> None:
        super().__init__()
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not isinstance(proj_size, int) or proj_size < 0:
            raise ValueError(f"proj_size must be a non-negative integer, got {proj_size!r}")
        if proj_size >= hidden_size:
            raise ValueError(f"proj_size must be smaller than hidden_size ({hidden_size}), got {proj_size}")
        if proj_size and self.mode != "LSTM":
            raise ValueError("proj_size is only supported by LSTM")
        if not 0.0 <= float(dropout) <= 1.0:  # torch's range: 1 zeroes the input of the next layer
            raise ValueError(f"dropout must be a probability in [0, 1], got {dropout}")
        if not 0.0 <= float(recurrent_dropout) < 1.0:  # a state multiplied by 0 / (1 - 1) at every step
            raise ValueError(f"recurrent_dropout must be in [0, 1) (1 would drop the whole state at every step), "
                             f"got {recurrent_dropout}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        self.backend = backend
        self.recurrent_dropout = float(recurrent_dropout)
        self.activation = activation
        self.recurrent_activation = recurrent_activation
        factory = {"device": device, "dtype": dtype}
        G, H, D = _GATES[self.mode], hidden_size, 2 if bidirectional else 1
        Hr = proj_size or hidden_size  # the size of h, the recurrent state
        self._flat_weights_names: list[str] = []
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else Hr * D
            for direction in range(D):
                sfx = f"_l{layer}" + ("_reverse" if direction else "")
                shapes: list[tuple[str, tuple[int, ...]]] = [
                    (f"weight_ih{sfx}", (G * H, layer_input)), (f"weight_hh{sfx}", (G * H, Hr))]
                if bias:
                    shapes += [(f"bias_ih{sfx}", (G * H,)), (f"bias_hh{sfx}", (G * H,))]
                if proj_size:
                    shapes.append((f"weight_hr{sfx}", (proj_size, H)))
                for name, shape in shapes:
                    self.register_parameter(name, nn.Parameter(torch.empty(shape, **factory)))
                    self._flat_weights_names.append(name)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """torch's initialisation: every parameter from U(-1/sqrt(H), 1/sqrt(H))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def flatten_parameters(self) -> None:
        """Accepted for drop-in compatibility; lstmkit keeps no flat cuDNN buffer."""

    @property
    def all_weights(self) -> list[list[nn.Parameter]]:
        per = len(self._flat_weights_names) // (self.num_layers * (2 if self.bidirectional else 1))
        names = self._flat_weights_names
        return [[getattr(self, n) for n in names[i : i + per]] for i in range(0, len(names), per)]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        for name, default in (("bias", True), ("batch_first", False), ("dropout", 0.0), ("bidirectional", False)):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        if self.recurrent_dropout:
            s += f", recurrent_dropout={self.recurrent_dropout}"
        if self.backend != "auto":
            s += f", backend={self.backend!r}"
        return s

    # -- the recurrence of one layer and direction, implemented per mode ---------------------------
    def _run(
        self, x: torch.Tensor, w: LayerWeights, h0: torch.Tensor, c0: torch.Tensor | None,
        mask: torch.Tensor | None, reverse: bool, rec_mask: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError

    def _layer_weights(self, layer: int, direction: int) -> LayerWeights:
        sfx = f"_l{layer}" + ("_reverse" if direction else "")
        return LayerWeights(getattr(self, "weight_ih" + sfx), getattr(self, "weight_hh" + sfx),
                            *(getattr(self, n + sfx, None) for n in ("bias_ih", "bias_hh", "weight_hr")))

    def _check_state(self, s: Any, shape: tuple[int, ...], name: str, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(s, torch.Tensor):
            raise ValueError(f"{name} must be a tensor of shape {shape}, got {type(s).__name__}")
        if tuple(s.shape) != shape:
            raise ValueError(f"{name} must have shape {shape} (layers*directions, batch, size), got {tuple(s.shape)}")
        if s.dtype != x.dtype or s.device != x.device:
            raise ValueError(
                f"{name} has dtype {s.dtype} on {s.device} but the input has dtype {x.dtype} on {x.device}"
            )
        return s

    @quiet_under_jit_trace
    def forward(
        self,
        input: torch.Tensor | PackedSequence,
        hx: State | None = None,
        *,
        mask: torch.Tensor | None = None,
        lengths: torch.Tensor | list[int] | None = None,
    ) -> tuple[torch.Tensor | PackedSequence, State]:
        """Run over `input` (T, B, I), (B, T, I) with batch_first, unbatched (T, I), or a PackedSequence.

        `mask` (B, T) bool (True = real step) or `lengths` (B,) mark padding on either side; at a
        masked step the state is carried forward and the output is zero, as for packed input.
        Returns (output, h_n) for GRU/RNN and (output, (h_n, c_n)) for LSTM, shaped as torch's.
        """
        packed_input = input if isinstance(input, PackedSequence) else None
        if packed_input is not None:
            if mask is not None or lengths is not None:
                raise ValueError("a PackedSequence carries its own lengths; do not pass mask= or lengths=")
            x, packed_lengths = pad_packed_sequence(packed_input, batch_first=True)  # (B, T, I), batch order
            lengths = packed_lengths
            batched = True
        else:
            if not isinstance(input, torch.Tensor):
                raise ValueError(f"input must be a tensor or a PackedSequence, got {type(input).__name__}")
            if input.dim() not in (2, 3):
                raise ValueError(
                    f"{type(self).__name__}: expected input of rank 3 ((T, B, I), or (B, T, I) with batch_first) "
                    f"or rank 2 (unbatched (T, I)), got shape {tuple(input.shape)}"
                )
            batched = input.dim() == 3
            x = input if not batched else (input if self.batch_first else input.transpose(0, 1))
            if not batched:
                x = x.unsqueeze(0)  # (1, T, I)
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"{type(self).__name__}: input size mismatch: expected {self.input_size} features, got {x.shape[-1]}"
            )
        B = x.shape[0]
        D = 2 if self.bidirectional else 1
        Hr = self.proj_size or self.hidden_size
        h0_all, c0_all = self._initial_states(hx, B, D, Hr, x, batched)
        if mask is not None and not batched:
            raise ValueError("mask= needs batched input")
        # In eval mode dropout is off; the recurrent masks are drawn once per sequence (Gal & Ghahramani).
        rec_p = self.recurrent_dropout if self.training else 0.0
        layer_input = x
        h_n: list[torch.Tensor] = []
        c_n: list[torch.Tensor] = []
        step_mask = normalize_mask(mask, lengths, B, x.shape[1], x.device)
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                k = layer * D + d
                rec_mask = ops.dropout_mask(B, Hr, rec_p, like=x) if rec_p else None
                out, h, c = self._run(
                    layer_input, self._layer_weights(layer, d), h0_all[k],
                    None if c0_all is None else c0_all[k], step_mask, bool(d), rec_mask,
                )
                outs.append(out)
                h_n.append(h)
                if c is not None:
                    c_n.append(c)
            layer_input = outs[0] if D == 1 else torch.cat(outs, dim=2)  # (B, T, D*Hr)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = nn.functional.dropout(layer_input, self.dropout, training=True)
        output: torch.Tensor | PackedSequence = layer_input  # (B, T, D*Hr)
        h_stack = torch.stack(h_n)  # (L*D, B, Hr)
        c_stack = torch.stack(c_n) if c_n else None  # (L*D, B, H)
        if packed_input is not None:
            order = packed_input.sorted_indices
            out_sorted = layer_input if order is None else layer_input.index_select(0, order)
            len_sorted = packed_lengths if order is None else packed_lengths.index_select(0, order.cpu())
            data = pack_padded_sequence(out_sorted, len_sorted, batch_first=True, enforce_sorted=True).data
            output = PackedSequence(data, packed_input.batch_sizes, packed_input.sorted_indices,
                                    packed_input.unsorted_indices)
        elif not batched:
            output = layer_input.squeeze(0)  # (T, D*Hr)
            h_stack = h_stack.squeeze(1)
            c_stack = c_stack.squeeze(1) if c_stack is not None else None
        elif not self.batch_first:
            output = layer_input.transpose(0, 1)  # (T, B, D*Hr)
        state: State = h_stack if c_stack is None else (h_stack, c_stack)
        return output, state

    def _initial_states(
        self, hx: State | None, B: int, D: int, Hr: int, x: torch.Tensor, batched: bool
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        LD = self.num_layers * D
        is_lstm = self.mode == "LSTM"
        if hx is None:
            h0 = x.new_zeros(LD, B, Hr)
            return h0, (x.new_zeros(LD, B, self.hidden_size) if is_lstm else None)
        if is_lstm:
            if not (isinstance(hx, tuple | list) and len(hx) == 2):
                raise ValueError("LSTM expects hx as a tuple (h_0, c_0)")
            h0, c0 = hx
        else:
            if not isinstance(hx, torch.Tensor):
                raise ValueError(f"{self.mode} expects hx as a tensor, got {type(hx).__name__}")
            h0, c0 = hx, None
        lead = (LD, B) if batched else (LD,)
        h0 = self._check_state(h0, (*lead, Hr), "h_0", x)
        if c0 is not None:
            c0 = self._check_state(c0, (*lead, self.hidden_size), "c_0", x)
        if not batched:
            h0 = h0.unsqueeze(1)
            c0 = c0.unsqueeze(1) if c0 is not None else None
        return h0, c0


class LSTM(_RNNBase):
    """Drop-in `torch.nn.LSTM` (gates i, f, g, o; equations in `lstmkit.ops.reference.lstm`).

    Keyword-only extras: `backend`, `recurrent_dropout`, `activation`, `recurrent_activation`.
    """

    mode = "LSTM"

    def _run(
        self, x: torch.Tensor, w: LayerWeights, h0: torch.Tensor, c0: torch.Tensor | None,
        mask: torch.Tensor | None, reverse: bool, rec_mask: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        return ops.lstm(
            x, w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh, weight_hr=w.weight_hr,
            h0=h0, c0=c0, mask=mask, reverse=reverse, activation=self.activation,
            recurrent_activation=self.recurrent_activation, recurrent_dropout_mask=rec_mask,
            zero_output_for_mask=True, backend=self.backend,
        )


class GRU(_RNNBase):
    """Drop-in `torch.nn.GRU` (gates r, z, n; equations in `lstmkit.ops.reference.gru`).

    Keyword-only extras: `backend`, `recurrent_dropout`, `activation`, `recurrent_activation`, and
    `reset_after` (True: PyTorch's equation; False: Cho et al.'s, reset applied before the matmul).
    """

    mode = "GRU"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: torch.dtype | None = None,
        *,
        reset_after: bool = True,
        backend: str = "auto",
        recurrent_dropout: float = 0.0,
        activation: str | Activation = "tanh",
        recurrent_activation: str | Activation = "sigmoid",
    ) -> None:
        self.reset_after = reset_after
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, 0, device, dtype,
            backend=backend, recurrent_dropout=recurrent_dropout, activation=activation,
            recurrent_activation=recurrent_activation,
        )

    def _run(
        self, x: torch.Tensor, w: LayerWeights, h0: torch.Tensor, c0: torch.Tensor | None,
        mask: torch.Tensor | None, reverse: bool, rec_mask: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        out, h = ops.gru(
            x, w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh, h0=h0, mask=mask, reverse=reverse,
            activation=self.activation, recurrent_activation=self.recurrent_activation,
            reset_after=self.reset_after, recurrent_dropout_mask=rec_mask, zero_output_for_mask=True,
            backend=self.backend,
        )
        return out, h, None


class RNN(_RNNBase):
    """Drop-in `torch.nn.RNN` (Elman; `nonlinearity` "tanh" or "relu").

    Keyword-only extras: `backend`, `recurrent_dropout`.
    """

    mode = "RNN"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: torch.dtype | None = None,
        *,
        backend: str = "auto",
        recurrent_dropout: float = 0.0,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        super().__init__(
            input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, 0, device, dtype,
            backend=backend, recurrent_dropout=recurrent_dropout, activation=nonlinearity,
        )

    def _run(
        self, x: torch.Tensor, w: LayerWeights, h0: torch.Tensor, c0: torch.Tensor | None,
        mask: torch.Tensor | None, reverse: bool, rec_mask: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        out, h = ops.simple_rnn(
            x, w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh, h0=h0, mask=mask, reverse=reverse,
            activation=self.nonlinearity, recurrent_dropout_mask=rec_mask, zero_output_for_mask=True,
            backend=self.backend,
        )
        return out, h, None


SimpleRNN = RNN
