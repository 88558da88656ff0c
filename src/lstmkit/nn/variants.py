"""The variants' options of `lstmkit.nn.LSTM` and `GRU`: peephole, layer_norm, zoneout_h/zoneout_c, learn_initial_state.

Equations in `lstmkit.ops.reference.lstm` / `gru` and docs/equations.md. The parameters sit next to
torch's, one set per layer k and direction (suffix `_reverse` for the backward one), so `state_dict`
stays readable; none of them is in torch's `_flat_weights`, which keeps its meaning for every model:

  peephole=True (LSTM)        weight_ci_l{k}, weight_cf_l{k}, weight_co_l{k}   (H,)   U(-1/√H, 1/√H) as torch's weights
  layer_norm=True             ln_ih_weight_l{k}, ln_ih_bias_l{k}               (G*H,) gains 1, biases 0
                              ln_hh_weight_l{k}, ln_hh_bias_l{k}               (G*H,)
                              ln_c_weight_l{k}, ln_c_bias_l{k} (LSTM)          (H,)
  learn_initial_state=True    h0_l{k} (H, or P with an LSTM projection; the GRU's state stays H wide), c0_l{k}
                              (H,) (LSTM), zeros; broadcast over the batch when the call passes no hx (an hx
                              passed at call time wins)

G is 4 (LSTM) or 3 (GRU); H is layer k's width (`hidden_size=[...]` gives one per layer). zoneout_h,
zoneout_c (LSTM only) are rates in [0, 1): in training each layer and direction draws per-step, per-unit
masks (`lstmkit.ops.variants.zoneout_mask`) from the module's
`zoneout_generator` (None: torch's default generator; else a generator on the module's device), layer by
layer, forward direction first, h's mask before c's; in eval the step takes the expectation
p h_{t-1} + (1 - p) h̃_t. Only the reference backend has the variants (`backend="auto"` picks it; an explicit
fast backend raises naming the variant).
"""

from __future__ import annotations

import math
import re
from typing import Any

import torch
from torch import nn

from lstmkit.ops.variants import zoneout_mask


class VariantOptions:
    """Mixed into lstmkit.nn's recurrent modules, before `torch.nn.RNNBase`."""

    _kind: str
    hidden_size: int  # torch's; a list of one width per layer with per-layer widths (read it by _layer_hidden)
    num_layers: int
    bidirectional: bool
    proj_size: int
    training: bool
    peephole: bool = False
    layer_norm: bool = False
    zoneout_h: float = 0.0
    zoneout_c: float = 0.0
    learn_initial_state: bool = False
    zoneout_generator: torch.Generator | None = None
    _variant_params: tuple[str, ...] = ()

    # -- the widths of layer k: H_k, the state's width (hx, h_n) and the output's ------------------
    def _per_layer(self) -> bool:
        """Made with `hidden_size=[...]`: the states are lists of L*D tensors (see `lstmkit.nn.rnn`)."""
        hs: Any = self.hidden_size
        return isinstance(hs, list)

    def _layer_hidden(self, layer: int) -> int:
        """H_k: the width of layer k's gates (and of the LSTM's cell)."""
        hs: Any = self.hidden_size
        return int(hs[layer] if isinstance(hs, list) else hs)

    def _state_width(self, layer: int) -> int:
        """The width of layer k's h in hx and h_n: P for the LSTM with a projection (torch's), H_k otherwise (the
        GRU's state stays H_k wide with a projection: its output W_hr h follows from it)."""
        return self.proj_size if self.proj_size and self._kind == "LSTM" else self._layer_hidden(layer)

    def _out_width(self, layer: int) -> int:
        """The width of layer k's output per direction, and of the recurrence's input (P with a projection)."""
        return self.proj_size or self._layer_hidden(layer)

    def _set_variants(self, *, peephole: bool, layer_norm: bool, zoneout_h: float, zoneout_c: float,
                      learn_initial_state: bool, device: Any, dtype: torch.dtype | None) -> None:
        is_lstm = self._kind == "LSTM"
        for name, value in (("peephole", peephole), ("layer_norm", layer_norm),
                            ("learn_initial_state", learn_initial_state)):
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be True or False, got {value!r}")
        if peephole and not is_lstm:
            raise ValueError(f"peephole=True is for the LSTM (its cell state feeds the gates); {self._kind} has none")
        for name, rate in (("zoneout_h", zoneout_h), ("zoneout_c", zoneout_c)):
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
                raise ValueError(f"{name} must be a rate in [0, 1), got {rate!r}")
        if zoneout_c and not is_lstm:
            raise ValueError(f"zoneout_c is for the LSTM's cell state; {self._kind} has none (use zoneout_h)")
        self.peephole, self.layer_norm, self.learn_initial_state = peephole, layer_norm, learn_initial_state
        self.zoneout_h, self.zoneout_c = float(zoneout_h), float(zoneout_c)
        G = 4 if is_lstm else 3
        names = []
        module: Any = self
        for layer in range(self.num_layers):
            H = self._layer_hidden(layer)
            shapes: dict[str, int] = {}
            if peephole:
                shapes.update(weight_ci=H, weight_cf=H, weight_co=H)
            if layer_norm:
                shapes.update(ln_ih_weight=G * H, ln_ih_bias=G * H, ln_hh_weight=G * H, ln_hh_bias=G * H)
                if is_lstm:
                    shapes.update(ln_c_weight=H, ln_c_bias=H)
            if learn_initial_state:
                shapes.update(h0=self._state_width(layer), **({"c0": H} if is_lstm else {}))
            for d in range(2 if self.bidirectional else 1):
                sfx = f"_l{layer}" + ("_reverse" if d else "")
                for base, size in shapes.items():
                    module.register_parameter(base + sfx, nn.Parameter(torch.empty(size, device=device, dtype=dtype)))
                    names.append(base + sfx)
        self._variant_params = tuple(names)
        self._reset_variant_parameters()

    def _reset_variant_parameters(self) -> None:
        with torch.no_grad():
            for name in self._variant_params:
                p = getattr(self, name)
                if name.startswith("weight_c"):
                    H = self._layer_hidden(_layer_of(name))
                    stdv = 1.0 / math.sqrt(H) if H > 0 else 0.0
                    nn.init.uniform_(p, -stdv, stdv)
                elif name.startswith("ln_") and "_weight_" in name:
                    nn.init.ones_(p)
                else:
                    nn.init.zeros_(p)

    def reset_parameters(self) -> None:
        """torch's initialisation of its weights, then the variants': gains 1, biases and initial states 0. With
        per-layer widths layer k's weights are U(-1/√H_k, 1/√H_k), as a torch module of that width draws them."""
        module: Any = self
        if isinstance(module.hidden_size, list):
            with torch.no_grad():
                for names in module._all_weights:
                    H = self._layer_hidden(_layer_of(names[0]))
                    stdv = 1.0 / math.sqrt(H)
                    for name in names:
                        nn.init.uniform_(getattr(self, name), -stdv, stdv)
        else:
            nn.RNNBase.reset_parameters(self)  # type: ignore[arg-type]
        self._reset_variant_parameters()

    def _learned_initial_states(self, B: int) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
        """h0 and c0 (LSTM; else None) for each layer and direction k = layer * D + direction: the learned
        vectors broadcast over the batch, (B, width of layer k's state) each."""
        D = 2 if self.bidirectional else 1
        sfxs = [f"_l{layer}" + ("_reverse" if d else "") for layer in range(self.num_layers) for d in range(D)]
        h0 = [getattr(self, "h0" + s).expand(B, -1) for s in sfxs]  # (B, Hr) each
        if self._kind != "LSTM":
            return h0, None
        return h0, [getattr(self, "c0" + s).expand(B, -1) for s in sfxs]  # (B, H) each

    def _variant_kwargs(self, layer: int, direction: int, x: torch.Tensor) -> dict[str, Any]:
        """The variants' keywords of `lstmkit.ops.lstm`/`gru` for one layer and direction (zoneout masks drawn
        here in training, h's before c's)."""
        sfx = f"_l{layer}" + ("_reverse" if direction else "")
        names = []
        if self.peephole:
            names += ["weight_ci", "weight_cf", "weight_co"]
        if self.layer_norm:
            names += ["ln_ih_weight", "ln_ih_bias", "ln_hh_weight", "ln_hh_bias"]
            if self._kind == "LSTM":
                names += ["ln_c_weight", "ln_c_bias"]
        kw: dict[str, Any] = {n: getattr(self, n + sfx) for n in names}
        B, T = x.shape[0], x.shape[1]
        for name, rate, size in (("zoneout_h", self.zoneout_h, self._state_width(layer)),
                                 ("zoneout_c", self.zoneout_c, self._layer_hidden(layer))):
            if not rate:
                continue
            kw[name] = (zoneout_mask(B, T, size, rate, like=x, generator=self.zoneout_generator)
                        if self.training else rate)
        return kw

    def _variants_repr(self) -> str:
        s = ""
        for name in ("peephole", "layer_norm", "learn_initial_state"):
            if getattr(self, name):
                s += f", {name}=True"
        for name in ("zoneout_h", "zoneout_c"):
            if getattr(self, name):
                s += f", {name}={getattr(self, name)}"
        return s


def _layer_of(name: str) -> int:
    """k in a parameter name `..._l{k}` or `..._l{k}_reverse`."""
    m = re.search(r"_l(\d+)(_reverse)?$", name)
    assert m is not None, name
    return int(m.group(1))
