"""The LSTM and GRU variants no library fuses: peephole connections, layer normalisation, zoneout.

Dimensions: B batch, T time, I input features, H hidden units, P projection size (LSTM only).

The equations are in the docstrings of `lstmkit.ops.reference.lstm` and `gru` (which apply them)
and in docs/equations.md. This module holds what they share with `lstmkit.ops.dispatch`:

  `VariantCall`     a `RecurrenceCall` with the variants' tensors. The CPU backend runs them on its
                    kernel's variants' path (`lstmkit.ops.cpu.run_variants`; its `variants` attribute lists
                    them, its `supports()` names what it still lacks: the GRU's with reset_after=False,
                    the LSTM projection, torch.compile/jit.trace/torch.func), so `backend="auto"` takes it;
                    the Triton kernels have none, so `beyond_fused_kernels()` (which Triton's `supports()`
                    asks) names them and an explicit `backend="triton"` raises naming the variant.
  `layer_norm`      LN(v; γ, β) over the last axis, eps `LN_EPS` (Ba, Kiros & Hinton 2016)
  `zoneout`         d ⊙ prev + (1 - d) ⊙ new (Krueger et al. 2016), d a 0/1 mask or the rate itself
  `zoneout_mask`    the per-step, per-unit Bernoulli masks d (B, T, size) that training draws

Peephole weights p_i, p_f, p_o are vectors (H,); layer-norm gains and biases are (G*H,) for the
projections (G = 4 LSTM gates, 3 GRU gates) and (H,) for the LSTM's cell state.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from lstmkit.ops.call import RecurrenceCall
from lstmkit.ops.checks import check_param

LN_EPS = 1e-5  # as torch.nn.LayerNorm and haste's LayerNormLSTM

Zoneout = float | torch.Tensor | None  # a rate (eval: the expectation), a (B, T, size) 0/1 mask (training), or None


def layer_norm(v: torch.Tensor, weight: torch.Tensor | None, bias: torch.Tensor | None) -> torch.Tensor:
    """γ ⊙ (v - mean(v)) / sqrt(var(v) + eps) + β over the last axis (biased variance); v itself without γ."""
    if weight is None:
        return v
    return F.layer_norm(v, (v.shape[-1],), weight, bias, LN_EPS)


def zoneout(d: float | torch.Tensor | None, prev: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    """d ⊙ prev + (1 - d) ⊙ new: a unit keeps its previous value where d is 1 (training, a 0/1 mask of
    one step), or the expectation of that with d the rate p (eval, haste's semantics)."""
    if d is None:
        return new
    return d * prev + (1 - d) * new


def zoneout_mask(
    batch: int, steps: int, size: int, p: float, *, like: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor | None:
    """Per-step, per-unit Bernoulli(p) masks d (batch, steps, size) of 0 and 1 (1: keep the previous
    value), in `like`'s dtype and device; None when p == 0. Indexed by input position, like the outputs
    (a reverse direction reads d[:, t] at step t too)."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"zoneout rate must be in [0, 1), got {p}")
    if p == 0.0:
        return None
    return (torch.rand(batch, steps, size, device=like.device, generator=generator) < p).to(like.dtype)


def step_zoneout(z: Zoneout, t: int) -> float | torch.Tensor | None:
    """What `zoneout` takes at step t: the step's (B, size) mask, the rate, or None."""
    if isinstance(z, torch.Tensor):
        return z[:, t]
    return z or None


@dataclass(frozen=True, eq=False)
class VariantCall(RecurrenceCall):
    """A `RecurrenceCall` with variants (each None where unused):

      weight_ci, weight_cf, weight_co     (H,) LSTM peepholes from c_{t-1} to i and f, from c_t to o
      ln_ih_weight, ln_ih_bias            (G*H,) layer norm of W x
      ln_hh_weight, ln_hh_bias            (G*H,) layer norm of R h
      ln_c_weight, ln_c_bias              (H,) LSTM: layer norm of c_t before the output's tanh
      zoneout_h, zoneout_c                a rate (eval) or a (B, T, P or H) / (B, T, H) 0/1 mask (training)
    """

    weight_ci: torch.Tensor | None = None
    weight_cf: torch.Tensor | None = None
    weight_co: torch.Tensor | None = None
    ln_ih_weight: torch.Tensor | None = None
    ln_ih_bias: torch.Tensor | None = None
    ln_hh_weight: torch.Tensor | None = None
    ln_hh_bias: torch.Tensor | None = None
    ln_c_weight: torch.Tensor | None = None
    ln_c_bias: torch.Tensor | None = None
    zoneout_h: Zoneout = None
    zoneout_c: Zoneout = None

    @property
    def variants(self) -> tuple[str, ...]:
        """The variants this call uses, by name: "peephole", "layer_norm", "zoneout"."""
        used = []
        if self.weight_ci is not None:
            used.append("peephole")
        if any(w is not None for w in (self.ln_ih_weight, self.ln_hh_weight, self.ln_c_weight)):
            used.append("layer_norm")
        if self.zoneout_h is not None or self.zoneout_c is not None:
            used.append("zoneout")
        return tuple(used)

    def variant_tensors(self) -> dict[str, Any]:
        """The variants' arguments by keyword, as `lstmkit.ops.reference.lstm`/`gru` take them."""
        names = ["ln_ih_weight", "ln_ih_bias", "ln_hh_weight", "ln_hh_bias", "zoneout_h"]
        if self.kind == "lstm":
            names += ["weight_ci", "weight_cf", "weight_co", "ln_c_weight", "ln_c_bias", "zoneout_c"]
        return {n: getattr(self, n) for n in names}

    def tensors(self) -> tuple[torch.Tensor, ...]:
        extra = (t for t in self.variant_tensors().values() if isinstance(t, torch.Tensor))
        return (*super().tensors(), *extra)

    def beyond_fused_kernels(self) -> str | None:
        if self.variants:
            return (f"its kernels have no {' or '.join(self.variants)} (an LSTM/GRU variant of issue 19); "
                    "the reference backend runs it")
        return super().beyond_fused_kernels()


def variant_kwargs(call: RecurrenceCall) -> dict[str, Any]:
    """The variant keywords of `call` for the reference functions ({} for a plain call)."""
    return call.variant_tensors() if isinstance(call, VariantCall) else {}


def check_variants(
    kind: str, x: torch.Tensor, B: int, T: int, H: int, Hr: int, *, reset_after: bool = True,
    peephole: tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None] = (None, None, None),
    ln_ih: tuple[torch.Tensor | None, torch.Tensor | None] = (None, None),
    ln_hh: tuple[torch.Tensor | None, torch.Tensor | None] = (None, None),
    ln_c: tuple[torch.Tensor | None, torch.Tensor | None] = (None, None),
    zoneout_h: Zoneout = None, zoneout_c: Zoneout = None,
) -> tuple[Zoneout, Zoneout]:
    """Validate the variants' arguments of a `kind` call ("lstm" or "gru"); returns the zoneouts with a
    rate of 0 made None. G*H is the projections' width, Hr the hidden state's (P with a projection)."""
    G = 4 if kind == "lstm" else 3
    given = [p is not None for p in peephole]
    if any(given) and not all(given):
        raise ValueError(f"{kind}: the peephole weights weight_ci, weight_cf, weight_co go together; got "
                         f"{', '.join(n for n, g in zip(('weight_ci', 'weight_cf', 'weight_co'), given) if g)} alone")
    for n, p in zip(("weight_ci", "weight_cf", "weight_co"), peephole):
        check_param(p, (H,), f"{kind}: {n}", x, optional=True)
    for part, (w, b), size in (("ih", ln_ih, G * H), ("hh", ln_hh, G * H), ("c", ln_c, H)):
        if w is None and b is not None:
            raise ValueError(f"{kind}: ln_{part}_bias needs ln_{part}_weight (the gain), got the bias alone")
        check_param(w, (size,), f"{kind}: ln_{part}_weight", x, optional=True)
        check_param(b, (size,), f"{kind}: ln_{part}_bias", x, optional=True)
    if kind == "gru" and ln_hh[0] is not None and not reset_after:
        raise ValueError("gru: layer norm of the recurrent projection (ln_hh_weight) needs reset_after=True: "
                         "with reset_after=False the reset gate enters before the matmul, so there is no "
                         "3H projection of h_{t-1} to normalise")
    return (_check_zoneout(kind, "zoneout_h", zoneout_h, (B, T, Hr), x),
            _check_zoneout(kind, "zoneout_c", zoneout_c, (B, T, H), x))


def _check_zoneout(kind: str, name: str, z: Zoneout, shape: tuple[int, ...], x: torch.Tensor) -> Zoneout:
    if z is None or isinstance(z, torch.Tensor):
        check_param(z, shape, f"{kind}: {name} (a 0/1 mask per step)", x, optional=True)
        return z
    if isinstance(z, bool) or not isinstance(z, (int, float)):
        raise ValueError(f"{kind}: {name} must be a rate in [0, 1) or a (batch, time, size) = {shape} mask, "
                         f"got {type(z).__name__}")
    if not 0.0 <= z < 1.0:
        raise ValueError(f"{kind}: {name} rate must be in [0, 1), got {z}")
    return float(z) or None
