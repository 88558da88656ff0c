"""`keras.mixed_precision`: a dtype policy per layer and a global one.

"float32" (the default) computes and stores in float32. "mixed_bfloat16" and "mixed_float16" keep the
variables in float32 (what the optimizer updates) and run each layer's computation under torch's
autocast in bfloat16 or float16, as Keras' mixed policies do; losses are computed in float32.
With "mixed_float16", `compile` wraps the optimizer in a `LossScaleOptimizer` (Keras' rule): the loss
is multiplied by a dynamic scale before the backward pass so small gradients do not underflow float16,
the gradients are unscaled before the update, and a step whose gradients are not finite is skipped
and halves the scale (it doubles after `dynamic_growth_steps` good steps).
"""

from __future__ import annotations

import math
from typing import Any

import torch

POLICIES = {"float32": ("float32", "float32"), "mixed_bfloat16": ("bfloat16", "float32"),
            "mixed_float16": ("float16", "float32")}


class DTypePolicy:
    """A named policy: `compute_dtype` (what layers compute in) and `variable_dtype` (what weights are)."""

    def __init__(self, name: str = "float32") -> None:
        if isinstance(name, DTypePolicy):
            name = name.name
        if name not in POLICIES:
            raise ValueError(f"dtype policy must be one of {sorted(POLICIES)}, got {name!r} (lstmkit keeps "
                             "variables in float32)")
        self.name = name
        self.compute_dtype, self.variable_dtype = POLICIES[name]

    @property
    def torch_compute_dtype(self) -> torch.dtype:
        return getattr(torch, self.compute_dtype)  # type: ignore[no-any-return]

    @property
    def mixed(self) -> bool:
        return self.compute_dtype != self.variable_dtype

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> DTypePolicy:
        return cls(**config)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f'<DTypePolicy "{self.name}">'


Policy = DTypePolicy
_GLOBAL = DTypePolicy("float32")


def set_global_policy(policy: str | DTypePolicy | None) -> None:
    """The policy of every layer made from now on (None: back to "float32")."""
    global _GLOBAL
    _GLOBAL = DTypePolicy(policy or "float32")


def global_policy() -> DTypePolicy:
    return _GLOBAL


dtype_policy = global_policy
set_dtype_policy = set_global_policy


def policy_of(dtype: Any) -> DTypePolicy:
    """A layer's policy from its `dtype` argument: a policy, its name, "float32", or None (the global one)."""
    if dtype is None:
        return _GLOBAL
    if isinstance(dtype, DTypePolicy):
        return dtype
    if isinstance(dtype, dict) and dtype.get("class_name") == "DTypePolicy":  # Keras' config form
        return DTypePolicy(dtype.get("config", {}).get("name", "float32"))
    name = str(dtype).removeprefix("torch.")
    return DTypePolicy(name)


class LossScaleOptimizer:
    """Keras' LossScaleOptimizer around an lstmkit.keras optimizer (dynamic loss scaling for float16)."""

    def __init__(self, inner_optimizer: Any, initial_scale: float = 2.0**15, dynamic_growth_steps: int = 2000,
                 **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(f"LossScaleOptimizer: unexpected arguments {sorted(kwargs)}")
        if not initial_scale > 0 or dynamic_growth_steps < 1:
            raise ValueError(f"LossScaleOptimizer needs initial_scale > 0 and dynamic_growth_steps >= 1, got "
                             f"{initial_scale}, {dynamic_growth_steps}")
        self.inner_optimizer = inner_optimizer
        self.scale = float(initial_scale)
        self.dynamic_growth_steps = int(dynamic_growth_steps)
        self._good_steps = 0

    def __getattr__(self, name: str) -> Any:  # everything else is the inner optimizer's
        if name == "inner_optimizer":
            raise AttributeError(name)
        return getattr(self.inner_optimizer, name)

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        return loss * self.scale

    @torch.no_grad()
    def apply(self) -> None:
        """Unscale the gradients; apply them if all are finite, else skip the step and halve the scale."""
        grads = [p.grad for p in self.inner_optimizer.params if p.grad is not None]
        finite = all(bool(torch.isfinite(g).all()) for g in grads)
        if not finite:
            self.scale = max(self.scale / 2.0, 1.0)
            self._good_steps = 0
            return
        for g in grads:
            g.div_(self.scale)
        self.inner_optimizer.apply()
        self._good_steps += 1
        if self._good_steps >= self.dynamic_growth_steps and math.isfinite(self.scale * 2):
            self.scale *= 2.0
            self._good_steps = 0
