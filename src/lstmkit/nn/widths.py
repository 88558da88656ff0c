"""Per-layer widths (`hidden_size=[256, 128]`) and the GRU's projection: parameters torch's RNNBase cannot make.

`torch.nn.RNNBase` makes every layer `hidden_size` wide and refuses `proj_size` for the GRU, so lstmkit.nn's
modules let it make the parameters of one width, and then `make_parameters` remakes them layer by layer,
with torch's names, order, `_flat_weights` and `all_weights`. Layer k (width H_k), direction d:

  weight_ih_l{k}   (G*H_k, I)  for k = 0,  (G*H_k, D * O_{k-1}) above: the layer below's output, both directions
  weight_hh_l{k}   (G*H_k, O_k)            O_k = P with a projection, else H_k
  bias_ih_l{k}, bias_hh_l{k}   (G*H_k,)
  weight_hr_l{k}   (P, H_k)                 with a projection (LSTM, GRU)

G is 4 (LSTM), 3 (GRU) or 1 (RNN); the suffix `_reverse` marks the backward direction. The states that
cannot stack into one (L*D, B, H) tensor are described in `lstmkit.nn.rnn`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def layer_widths(hidden_size: Any, num_layers: Any) -> list[int] | None:
    """The widths of `hidden_size=[H_0, ..., H_{L-1}]` (one per layer), or None for one int (torch's form).

    Raises a ValueError for a list that is empty, holds anything but positive ints, or whose length is not
    `num_layers`."""
    if not isinstance(hidden_size, Sequence) or isinstance(hidden_size, str):
        return None
    widths = list(hidden_size)
    if not widths or any(isinstance(h, bool) or not isinstance(h, int) or h <= 0 for h in widths):
        raise ValueError(f"hidden_size must be a positive int, or a list of one positive int per layer, got "
                         f"{hidden_size!r}")
    if isinstance(num_layers, int) and not isinstance(num_layers, bool) and len(widths) != num_layers:
        raise ValueError(f"hidden_size lists {len(widths)} widths {widths} but num_layers is {num_layers}: give one "
                         f"width per layer (or num_layers={len(widths)})")
    return widths


def check_proj_size(proj_size: Any, widths: Sequence[int]) -> None:
    """torch's checks of `proj_size` (its words), against every layer's width."""
    if isinstance(proj_size, bool) or not isinstance(proj_size, int) or proj_size < 0:
        raise ValueError(f"proj_size should be a positive integer or zero to disable projections, got {proj_size!r}")
    if proj_size and proj_size >= min(widths):
        raise ValueError(f"proj_size has to be smaller than hidden_size: proj_size={proj_size}, hidden widths "
                         f"{list(widths)}")


def make_parameters(module: nn.RNNBase, widths: Sequence[int], factory: dict[str, Any]) -> None:
    """Remake `module`'s weights for layer widths `widths` and `module.proj_size` (see the module docstring),
    replacing those torch's constructor made; the caller then initialises them (`reset_parameters`)."""
    m: Any = module
    for name in m._flat_weights_names:
        delattr(m, name)
    G, D, P = GATES[m.mode], 2 if m.bidirectional else 1, m.proj_size
    m._flat_weights_names, m._all_weights = [], []
    for layer, H in enumerate(widths):
        in_size = m.input_size if layer == 0 else D * (P or widths[layer - 1])
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            shapes: dict[str, tuple[int, ...]] = {"weight_ih": (G * H, in_size), "weight_hh": (G * H, P or H)}
            if m.bias:
                shapes.update(bias_ih=(G * H,), bias_hh=(G * H,))
            if P:
                shapes["weight_hr"] = (P, H)
            names = [base + sfx for base in shapes]
            for name, shape in zip(names, shapes.values()):
                setattr(m, name, nn.Parameter(torch.empty(shape, **factory)))
            m._flat_weights_names.extend(names)
            m._all_weights.append(names)
    m._init_flat_weights()
