"""lstmkit extensions of Keras' LSTM and GRU layers (not in Keras): peephole, layer_norm, zoneout, learn_initial_state.

    keras.layers.LSTM(units, peephole=True, layer_norm=True, zoneout_h=0.1, zoneout_c=0.1, learn_initial_state=True)
    keras.layers.GRU(units, layer_norm=True, zoneout_h=0.1, learn_initial_state=True)

Equations in `lstmkit.ops.reference.lstm` / `gru` and docs/equations.md; they run on lstmkit.ops' reference
backend. The variants' weights are the layer's own weights, so they come before its cell's in `weights` and
`get_weights()` (as any layer's own weights come before its sublayers' in Keras) and `model.save()` writes them
in the layer's own group of Keras' HDF5 layout (`layers/lstm/vars`, beside `layers/lstm/cell/vars`); a plain
layer has none and Keras' weights alone. Names and shapes, in this order, in Keras' gate order (LSTM i, f, c, o;
GRU z, r, h; layer norm's statistics do not depend on the order, its gains and biases follow it):

  peephole            input_gate_peephole, forget_gate_peephole, output_gate_peephole   (U,)  the layer's
                      kernel_initializer, as Keras 2's PeepholeLSTMCell
  layer_norm          input_norm_gamma, input_norm_beta (G*U,)     LN of x · kernel (ones, zeros)
                      recurrent_norm_gamma, recurrent_norm_beta (G*U,)   LN of h · recurrent_kernel
                      cell_norm_gamma, cell_norm_beta (U,)   LSTM: LN of c_t before the output activation
  learn_initial_state initial_h (U,), initial_c (U,) (LSTM); zeros; broadcast over the batch when no
                      initial_state is passed (an initial_state passed, or a stateful layer's kept state, wins)

zoneout_h, zoneout_c (LSTM) are rates in [0, 1): with training=True a per-step, per-unit mask is drawn per call
(`lstmkit.ops.variants.zoneout_mask`) from the layer's `zoneout_generator` (None: torch's default generator),
h's before c's; in inference the step takes the expectation p h_{t-1} + (1 - p) h̃_t. G is 4 (LSTM) or 3 (GRU).
"""

from __future__ import annotations

from typing import Any

import torch

from lstmkit.keras.layers.layer import Layer
from lstmkit.nn.convert import reorder_gru_gates
from lstmkit.ops.variants import zoneout_mask

# the layer arguments and their defaults; a config lists one only when it differs from its default
DEFAULTS: dict[str, Any] = {"peephole": False, "layer_norm": False, "zoneout_h": 0.0, "zoneout_c": 0.0,
                            "learn_initial_state": False}


def check_options(kind: str, options: dict[str, Any], reset_after: bool = True) -> dict[str, Any]:
    """The variants' options of a `kind` ("lstm" or "gru") layer, validated, as plain values."""
    for name in ("peephole", "layer_norm", "learn_initial_state"):
        if not isinstance(options[name], bool):
            raise ValueError(f"{name} must be True or False, got {options[name]!r}")
    for name in ("zoneout_h", "zoneout_c"):
        rate = options[name]
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
            raise ValueError(f"{name} must be a rate in [0, 1), got {rate!r}")
    if kind == "gru":
        for name in ("peephole", "zoneout_c"):
            if options[name]:
                raise ValueError(f"GRU has no cell state: {name} is an LSTM option (lstmkit extension)")
        if options["layer_norm"] and not reset_after:
            raise ValueError("GRU(layer_norm=True) needs reset_after=True: with reset_after=False the reset gate "
                             "enters before the recurrent matmul, so there is no 3U projection of h to normalise")
    return {k: (float(v) if k.startswith("zoneout") else v) for k, v in options.items()}


def config_entries(options: dict[str, Any]) -> dict[str, Any]:
    """The options that differ from their defaults (a plain layer's config stays Keras')."""
    return {k: v for k, v in options.items() if v != DEFAULTS[k]}


def needs_weights(options: dict[str, Any]) -> bool:
    return bool(options["peephole"] or options["layer_norm"] or options["learn_initial_state"])


class RecurrentVariants:
    """The variants' weights of one LSTM or GRU layer, made as that layer's own weights (see the module
    docstring): Keras' file layout keeps a recurrent layer's own variables beside its cell's, so they save."""

    def __init__(self, kind: str, units: int, peephole: bool = False, layer_norm: bool = False,
                 learn_initial_state: bool = False, kernel_initializer: Any = "glorot_uniform") -> None:
        self.kind, self.units = kind, int(units)
        self.peephole, self.layer_norm, self.learn_initial_state = peephole, layer_norm, learn_initial_state
        self.kernel_initializer = kernel_initializer

    def build(self, owner: Layer) -> None:
        U, G = self.units, 4 if self.kind == "lstm" else 3
        if self.peephole:
            for gate in ("input", "forget", "output"):
                owner.add_weight((U,), self.kernel_initializer, name=f"{gate}_gate_peephole")
        if self.layer_norm:
            parts = [("input", G * U), ("recurrent", G * U)] + ([("cell", U)] if self.kind == "lstm" else [])
            for part, size in parts:
                owner.add_weight((size,), "ones", name=f"{part}_norm_gamma")
                owner.add_weight((size,), "zeros", name=f"{part}_norm_beta")
        if self.learn_initial_state:
            for state in ("h", "c") if self.kind == "lstm" else ("h",):
                owner.add_weight((U,), "zeros", name=f"initial_{state}")

    @staticmethod
    def tensor(owner: Layer, name: str) -> torch.Tensor:
        """The parameter behind the owner's weight `name`."""
        for spec in owner._weight_specs:
            if spec.name == name:
                return owner._stored(spec)
        raise owner._error(f"has no weight {name!r}")

    def ops_kwargs(self, owner: Layer, dtype: torch.dtype) -> dict[str, torch.Tensor]:
        """The peephole and layer-norm keywords of `lstmkit.ops.lstm`/`gru`, in PyTorch's gate order."""
        kw: dict[str, torch.Tensor] = {}
        if self.peephole:
            for gate, key in (("input", "weight_ci"), ("forget", "weight_cf"), ("output", "weight_co")):
                kw[key] = self.tensor(owner, f"{gate}_gate_peephole")
        if self.layer_norm:
            for part, key in (("input", "ln_ih"), ("recurrent", "ln_hh"), ("cell", "ln_c")):
                if part == "cell" and self.kind != "lstm":
                    continue
                gamma, beta = self.tensor(owner, f"{part}_norm_gamma"), self.tensor(owner, f"{part}_norm_beta")
                if self.kind == "gru":  # Keras' z, r, h to PyTorch's r, z, n
                    gamma, beta = reorder_gru_gates(gamma, 0), reorder_gru_gates(beta, 0)
                kw[f"{key}_weight"], kw[f"{key}_bias"] = gamma, beta
        return {k: (v if v.dtype == dtype else v.to(dtype)) for k, v in kw.items()}

    def initial_states(self, owner: Layer, B: int, like: torch.Tensor) -> list[torch.Tensor]:
        """The learned initial states, (B, U) each, broadcast over the batch."""
        names = ["initial_h", "initial_c"] if self.kind == "lstm" else ["initial_h"]
        return [self.tensor(owner, n).to(like.dtype)[None].expand(B, -1) for n in names]


def zoneout_kwargs(options: dict[str, Any], x: torch.Tensor, units: int, training: bool,
                   generator: torch.Generator | None) -> dict[str, Any]:
    """zoneout_h / zoneout_c for `lstmkit.ops`: masks drawn now in training (h's first), else the rates."""
    kw: dict[str, Any] = {}
    B, T = x.shape[0], x.shape[1]
    for name in ("zoneout_h", "zoneout_c"):
        rate = options[name]
        if rate:
            kw[name] = zoneout_mask(B, T, units, rate, like=x, generator=generator) if training else rate
    return kw
