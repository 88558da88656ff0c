"""`MinGRU` and `MinLSTM` (Feng et al. 2024): torch.nn-style layers over `lstmkit.ops.min_gru` /
`min_lstm`: the recurrence is linear in h, so a whole sequence is one scan, parallel in log space
(`mode="parallel"`) or a one-pass loop of fused multiply-adds (`mode="sequential"`, the same numbers);
`mode="auto"` takes the loop on the CPU and the parallel scan elsewhere (see lstmkit.ops.min_rnn).

They take and return what `torch.nn.GRU` does: input (T, B, I), (B, T, I) with `batch_first`, unbatched
(T, I), or a PackedSequence; `hx` (layers*directions, B, H); output (…, directions*H) and h_n. Per layer
and direction the parameters are `weight_ih_l{k}` ((2H, I) with blocks z, h̃ for MinGRU; (3H, I) with
blocks f, i, h̃ for MinLSTM) and `bias_ih_l{k}`, suffix `_reverse` for the backward direction; there
is no recurrent weight (the gates read x_t only, which is what makes the scan possible). `mask` (B, T)
or `lengths` (B,) mark padding on either side: a padded step keeps the state and outputs zeros.
Initialised as torch's GRU: U(-1/√H, 1/√H).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from lstmkit.errors import ShapeError
from lstmkit.nn._sequence import sequence_input, sequence_output
from lstmkit.ops.checks import normalize_mask
from lstmkit.ops.min_rnn import MODES, min_rnn


class _MinRNN(nn.Module):
    _kind = ""
    _gates = 0

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None, *,
                 mode: str = "auto") -> None:
        super().__init__()
        name = type(self).__name__
        for arg, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name}: {arg} must be a positive integer, got {value!r}")
        if not 0.0 <= float(dropout) <= 1.0:
            raise ValueError(f"{name}: dropout should be a number in range [0, 1] representing the probability of "
                             f"an element being zeroed, got {dropout}")
        if mode not in MODES:
            raise ValueError(f"{name}: mode must be one of {MODES}, got {mode!r}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bool(bias), bool(batch_first), float(dropout)
        self.bidirectional, self.mode = bool(bidirectional), mode
        directions = 2 if bidirectional else 1
        factory = {"device": device, "dtype": dtype}
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size * directions
            for direction in range(directions):
                sfx = f"_l{layer}" + ("_reverse" if direction else "")
                self.register_parameter("weight_ih" + sfx, nn.Parameter(
                    torch.empty(self._gates * hidden_size, width, **factory)))  # type: ignore[arg-type]
                self.register_parameter("bias_ih" + sfx, nn.Parameter(
                    torch.empty(self._gates * hidden_size, **factory)) if bias else None)  # type: ignore[arg-type]
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        for key, default in (("bias", True), ("batch_first", False), ("dropout", 0.0), ("bidirectional", False),
                             ("mode", "auto")):
            if getattr(self, key) != default:
                s += f", {key}={getattr(self, key)!r}"
        return s

    def forward(self, input: torch.Tensor | PackedSequence, hx: torch.Tensor | None = None, *,
                mask: torch.Tensor | None = None, lengths: torch.Tensor | list[int] | None = None
                ) -> tuple[torch.Tensor | PackedSequence, torch.Tensor]:
        seq = sequence_input(type(self).__name__, input, batch_first=self.batch_first, input_size=self.input_size,
                             mask=mask, lengths=lengths)
        x, batched = seq.x, seq.batched
        B, T, _ = x.shape
        directions = 2 if self.bidirectional else 1
        n = self.num_layers * directions
        if hx is not None:
            if not batched and hx.dim() == 2:
                hx = hx.unsqueeze(1)
            if tuple(hx.shape) != (n, B, self.hidden_size):
                raise ShapeError(f"Expected hidden size {(n, B, self.hidden_size)}, got {list(hx.shape)}: hx must "
                                 f"be (layers*directions, batch, hidden)")
        step_mask = normalize_mask(mask, seq.lengths, B, T, x.device)
        h_n = []
        for layer in range(self.num_layers):
            outs = []
            for direction in range(directions):
                sfx = f"_l{layer}" + ("_reverse" if direction else "")
                index = layer * directions + direction
                out, h = min_rnn(self._kind, x, getattr(self, "weight_ih" + sfx), getattr(self, "bias_ih" + sfx),
                                 hx[index] if hx is not None else None, mask=step_mask, reverse=bool(direction),
                                 mode=self.mode)
                outs.append(out)
                h_n.append(h)
            x = torch.cat(outs, dim=-1) if directions == 2 else outs[0]  # (B, T, directions*H)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = nn.functional.dropout(x, self.dropout, training=True)
        h_stack = torch.stack(h_n)  # (layers*directions, B, H)
        return sequence_output(seq, x, batch_first=self.batch_first), (h_stack if batched else h_stack[:, 0])


class MinGRU(_MinRNN):
    """minGRU: z_t = σ(x_t W_z^T + b_z), h̃_t = g(x_t W_h^T + b_h), h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t."""

    _kind, _gates = "min_gru", 2


class MinLSTM(_MinRNN):
    """minLSTM: f, i = σ(x_t W_{f,i}^T + b), h̃_t = g(x_t W_h^T + b_h),
    h_t = f/(f + i) ⊙ h_{t-1} + i/(f + i) ⊙ h̃_t."""

    _kind, _gates = "min_lstm", 3
