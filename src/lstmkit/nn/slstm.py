"""`SLSTM`: the xLSTM's sLSTM (Beck et al. 2024) as a torch.nn-style layer over `lstmkit.ops.slstm`
(equations, stabiliser and weight layout in lstmkit/ops/slstm.py and docs/equations.md).

It takes what `torch.nn.LSTM` takes: input (T, B, I), (B, T, I) with `batch_first`, unbatched (T, I),
or a PackedSequence; `mask` (B, T) or `lengths` (B,) mark padding on either side (a padded step keeps
all four states and outputs zeros). The state has four parts, not two: `hx = (h_0, c_0, n_0, m_0)`,
each (layers*directions, B, H) (or (layers*directions, H) unbatched); None starts from zeros (n = 0
is the empty state: the first step sets m to its input gate). It returns
`(output, (h_n, c_n, n_n, m_n))`, output (…, directions*H).

Parameters per layer k and direction (suffix `_reverse` for the backward one):
    weight_ih_l{k} (4H, I_k)     blocks i, f, z, o (torch's LSTM order with z in g's place)
    weight_hh_l{k} (NH, DH, 4DH) the block-diagonal recurrent weight, one (DH, 4DH) block per head
    bias_l{k}      (4H,)         one bias (W x + b + R h: a second one would only add to it)
Initialised as torch's LSTM: U(-1/√H, 1/√H) for every parameter.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

from lstmkit.errors import ShapeError
from lstmkit.nn._sequence import sequence_input, sequence_output
from lstmkit.ops.checks import normalize_mask
from lstmkit.ops.slstm import BACKENDS, FORGET_GATES, slstm

SLSTMState = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


class SLSTM(nn.Module):
    """sLSTM: exponential input gate, normaliser n and stabiliser m, heads with block-diagonal recurrent
    weights (see the module docstring)."""

    def __init__(self, input_size: int, hidden_size: int, num_heads: int = 1, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None, *,
                 forget_gate: str = "sigmoid", backend: str = "auto") -> None:
        super().__init__()
        for arg, value in (("input_size", input_size), ("hidden_size", hidden_size), ("num_heads", num_heads),
                           ("num_layers", num_layers)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"SLSTM: {arg} must be a positive integer, got {value!r}")
        if hidden_size % num_heads:
            raise ValueError(f"SLSTM: hidden_size must be a multiple of num_heads, got hidden_size={hidden_size} and "
                             f"num_heads={num_heads}")
        if not 0.0 <= float(dropout) <= 1.0:
            raise ValueError(f"SLSTM: dropout should be a number in range [0, 1] representing the probability of an "
                             f"element being zeroed, got {dropout}")
        if forget_gate not in FORGET_GATES:
            raise ValueError(f"SLSTM: forget_gate must be one of {FORGET_GATES}, got {forget_gate!r}")
        if backend not in BACKENDS:
            raise ValueError(f"SLSTM: backend must be one of {BACKENDS}, got {backend!r}")
        self.input_size, self.hidden_size, self.num_heads = input_size, hidden_size, num_heads
        self.num_layers = num_layers
        self.bias, self.batch_first, self.dropout = bool(bias), bool(batch_first), float(dropout)
        self.bidirectional, self.forget_gate, self.backend = bool(bidirectional), forget_gate, backend
        directions = 2 if bidirectional else 1
        DH = hidden_size // num_heads
        factory = {"device": device, "dtype": dtype}
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size * directions
            for direction in range(directions):
                sfx = f"_l{layer}" + ("_reverse" if direction else "")
                self.register_parameter("weight_ih" + sfx, nn.Parameter(
                    torch.empty(4 * hidden_size, width, **factory)))  # type: ignore[arg-type]
                self.register_parameter("weight_hh" + sfx, nn.Parameter(
                    torch.empty(num_heads, DH, 4 * DH, **factory)))  # type: ignore[arg-type]
                self.register_parameter("bias" + sfx, nn.Parameter(
                    torch.empty(4 * hidden_size, **factory)) if bias else None)  # type: ignore[arg-type]
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        for key, default in (("num_heads", 1), ("num_layers", 1), ("bias", True), ("batch_first", False),
                             ("dropout", 0.0), ("bidirectional", False), ("forget_gate", "sigmoid"),
                             ("backend", "auto")):
            if getattr(self, key) != default:
                s += f", {key}={getattr(self, key)!r}"
        return s

    def _check_hx(self, hx: object, n: int, B: int, batched: bool) -> SLSTMState | None:
        if hx is None:
            return None
        if not isinstance(hx, (tuple, list)) or len(hx) != 4:
            raise ValueError(f"SLSTM: hx must be a tuple (h_0, c_0, n_0, m_0) of four tensors, got "
                             f"{type(hx).__name__}{f' of {len(hx)}' if isinstance(hx, (tuple, list)) else ''}")
        parts = []
        for name, s in zip(("h_0", "c_0", "n_0", "m_0"), hx):
            if not batched and s.dim() == 2:
                s = s.unsqueeze(1)
            if tuple(s.shape) != (n, B, self.hidden_size):
                raise ShapeError(f"SLSTM: {name} must be {(n, B, self.hidden_size)} (layers*directions, batch, "
                                 f"hidden), got {tuple(s.shape)}")
            parts.append(s)
        return parts[0], parts[1], parts[2], parts[3]

    def forward(self, input: torch.Tensor | PackedSequence, hx: SLSTMState | None = None, *,
                mask: torch.Tensor | None = None, lengths: torch.Tensor | list[int] | None = None
                ) -> tuple[torch.Tensor | PackedSequence, SLSTMState]:
        seq = sequence_input("SLSTM", input, batch_first=self.batch_first, input_size=self.input_size, mask=mask,
                             lengths=lengths)
        x, batched = seq.x, seq.batched
        B, T, _ = x.shape
        directions = 2 if self.bidirectional else 1
        state0 = self._check_hx(hx, self.num_layers * directions, B, batched)
        step_mask = normalize_mask(mask, seq.lengths, B, T, x.device)
        finals: list[SLSTMState] = []
        for layer in range(self.num_layers):
            outs = []
            for direction in range(directions):
                sfx = f"_l{layer}" + ("_reverse" if direction else "")
                index = layer * directions + direction
                init = None if state0 is None else (state0[0][index], state0[1][index], state0[2][index],
                                                    state0[3][index])
                out, final = slstm(x, getattr(self, "weight_ih" + sfx), getattr(self, "weight_hh" + sfx),
                                   getattr(self, "bias" + sfx), init, mask=step_mask, reverse=bool(direction),
                                   forget_gate=self.forget_gate, backend=self.backend)
                outs.append(out)
                finals.append(final)
            x = torch.cat(outs, dim=-1) if directions == 2 else outs[0]  # (B, T, directions*H)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = nn.functional.dropout(x, self.dropout, training=True)
        h_n, c_n, n_n, m_n = (torch.stack([f[k] for f in finals]) for k in range(4))  # (layers*directions, B, H)
        if not batched:
            h_n, c_n, n_n, m_n = h_n[:, 0], c_n[:, 0], n_n[:, 0], m_n[:, 0]
        return sequence_output(seq, x, batch_first=self.batch_first), (h_n, c_n, n_n, m_n)
