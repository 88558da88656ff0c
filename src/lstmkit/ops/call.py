"""What every backend receives: one frozen description of a recurrence call, and the backend contract.

Dimensions: B batch, T time, I input features, H hidden units, P projection size (LSTM and GRU).

`lstmkit.ops.dispatch` validates the arguments of `lstm`, `gru` or `simple_rnn` once and builds a
`RecurrenceCall`; a backend never sees unvalidated input, and never falls back on its own: its
`supports(call)` says `None` (it runs the call) or the reason it cannot, and `dispatch` alone
decides what happens then (`backend="auto"` tries the next backend, an explicit backend raises).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import torch

from lstmkit.ops.activations import Activation, activation_name

Kind = Literal["lstm", "gru", "simple_rnn"]
GATES: dict[str, int] = {"lstm": 4, "gru": 3, "simple_rnn": 1}


@dataclass(frozen=True, eq=False)
class RecurrenceCall:
    """A validated call of one recurrence over a batch-first sequence.

    Weights in PyTorch's layout (gate blocks stacked on the first axis: LSTM i, f, g, o; GRU r, z, n):
      x                       (B, T, I)
      weight_ih, weight_hh    (G*H, I), (G*H, H or P)
      bias_ih, bias_hh        (G*H,) or None
      weight_hr               (P, H) LSTM or GRU projection, or None
      h0, c0                  (B, H or P), (B, H) LSTM only, else None; zeros when the caller gave none
                              (the GRU's h0 is (B, H) with a projection too)
      mask                    (B, T) bool or None; True where a step is real
      input_dropout_mask      (B, I) or None; recurrent_dropout_mask (B, H or P) or None
    `activation` / `recurrent_activation` are names (`activation_name` gives None for a callable).
    `recurrent_activation` and `reset_after` are those of the LSTM and GRU; the SimpleRNN ignores them.
    """

    kind: Kind
    x: torch.Tensor
    weight_ih: torch.Tensor
    weight_hh: torch.Tensor
    bias_ih: torch.Tensor | None
    bias_hh: torch.Tensor | None
    h0: torch.Tensor
    c0: torch.Tensor | None = None
    weight_hr: torch.Tensor | None = None
    mask: torch.Tensor | None = None
    reverse: bool = False
    activation: str | Activation = "tanh"
    recurrent_activation: str | Activation = "sigmoid"
    reset_after: bool = True
    input_dropout_mask: torch.Tensor | None = None
    recurrent_dropout_mask: torch.Tensor | None = None
    zero_output_for_mask: bool = False

    @property
    def gates(self) -> int:
        return GATES[self.kind]

    @property
    def hidden_size(self) -> int:
        """H: the cell's width (with a projection, h is P wide and c is H wide)."""
        return self.weight_ih.shape[0] // self.gates

    @property
    def activations(self) -> tuple[str | Activation, ...]:
        """The activations this kind of recurrence uses (the SimpleRNN has no recurrent activation)."""
        if self.kind == "simple_rnn":
            return (self.activation,)
        return (self.activation, self.recurrent_activation)

    @property
    def dropout_masks(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        return self.input_dropout_mask, self.recurrent_dropout_mask

    def tensors(self) -> tuple[torch.Tensor, ...]:
        """Every tensor of the call (inputs, weights, states, masks), absent ones left out."""
        all_ = (self.x, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.weight_hr, self.h0,
                self.c0, self.mask, self.input_dropout_mask, self.recurrent_dropout_mask)
        return tuple(t for t in all_ if t is not None)

    def unnamed_activation(self) -> str | None:
        """The reason a kernel with named activations only cannot run this call, else None."""
        for a in self.activations:
            if activation_name(a) is None:
                return f"activation {getattr(a, '__name__', repr(a))} is a callable, not one of the named activations"
        return None

    def beyond_fused_kernels(self) -> str | None:
        """The reason lstmkit's fused kernels (CPU and Triton) cannot run this call, else None: they have no
        LSTM or GRU projection, know the named activations only, and give no gradient for the dropout masks."""
        if self.weight_hr is not None:
            return f"the {self.kind.upper()} projection (weight_hr, proj_size) is not implemented in its kernels"
        reason = self.unnamed_activation()
        if reason is not None:
            return reason
        if any(m is not None and m.requires_grad for m in self.dropout_masks):
            return "a dropout mask that requires grad: its kernels give no gradient for the masks"
        return None


Outputs = tuple[torch.Tensor, ...]  # LSTM (output, h_n, c_n); GRU and SimpleRNN (output, h_n)


class Backend(Protocol):
    """A backend of `lstmkit.ops`: one object, registered once in `lstmkit.ops.dispatch`.

    `name` is what users pass as `backend=`. `auto_devices` lists the device types on which
    `backend="auto"` may choose it (None: every device; an empty set: only when named). `traceable` says whether
    `torch.jit.trace` records a call of it that is right at every sequence length.
    """

    @property
    def name(self) -> str: ...

    @property
    def auto_devices(self) -> frozenset[str] | None: ...

    @property
    def traceable(self) -> bool: ...

    def supports(self, call: RecurrenceCall) -> str | None:
        """None if this backend runs `call`, else the reason it cannot, as a phrase."""
        ...

    def run(self, call: RecurrenceCall) -> Outputs:
        """The outputs of `call`, differentiable with respect to every tensor input."""
        ...
