"""The input and output handling that lstmkit.nn's layers outside torch's RNNBase (MinGRU, MinLSTM,
SLSTM) share with torch.nn.LSTM's conventions: a (T, B, I), batch_first (B, T, I) or unbatched (T, I)
tensor, or a PackedSequence, brought to one batch-major (B, T, I) tensor, and the output given back in
the caller's form."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from lstmkit.errors import ShapeError


@dataclass
class SequenceInput:
    """A layer's input as (B, T, I), with what is needed to give the output back in the input's form."""

    x: torch.Tensor
    batched: bool
    packed: bool
    lengths: torch.Tensor | list[int] | None


def sequence_input(name: str, input: torch.Tensor | PackedSequence, *, batch_first: bool, input_size: int,
                   mask: torch.Tensor | None, lengths: torch.Tensor | list[int] | None) -> SequenceInput:
    """`input` as a batch-major (B, T, I) tensor; a PackedSequence's lengths replace `lengths` (and may not
    come with a mask or lengths of their own); errors name the layer and what came."""
    if isinstance(input, PackedSequence):
        if mask is not None or lengths is not None:
            raise ValueError("a PackedSequence carries its own lengths; do not pass mask= or lengths=")
        x, packed_lengths = pad_packed_sequence(input, batch_first=True)
        seq = SequenceInput(x, batched=True, packed=True, lengths=packed_lengths)
    else:
        if not isinstance(input, torch.Tensor):
            raise ValueError(f"{name}: input must be a tensor or a PackedSequence, got {type(input).__name__}")
        if input.dim() not in (2, 3):
            raise ShapeError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D instead")
        batched = input.dim() == 3
        x = input if batched else input.unsqueeze(1)  # unbatched (T, I): a batch of one, time first
        if not batch_first or not batched:
            x = x.transpose(0, 1)
        seq = SequenceInput(x, batched=batched, packed=False, lengths=lengths)
    if seq.x.shape[-1] != input_size:
        raise ShapeError(f"input.size(-1) must be equal to input_size. Expected {input_size}, "
                         f"got {seq.x.shape[-1]}")
    return seq


def sequence_output(seq: SequenceInput, y: torch.Tensor, *, batch_first: bool) -> torch.Tensor | PackedSequence:
    """The layer's (B, T, F) output `y` in the form its input came in."""
    if seq.packed:
        assert seq.lengths is not None
        return pack_padded_sequence(y, torch.as_tensor(seq.lengths).cpu(), batch_first=True, enforce_sorted=False)
    if not seq.batched:
        return y[0]
    return y if batch_first else y.transpose(0, 1)
