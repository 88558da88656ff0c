"""The base of Keras 3's optimizers (the optimizers are in classic.py and more.py): Keras' defaults and Keras'
update formulas, on torch tensors.

They differ from torch.optim in ways that change results: RMSprop's defaults (lr 1e-3, rho 0.9,
eps 1e-7 against torch's 1e-2, 0.99, 1e-8) and its epsilon inside the square root
(`lr * g / sqrt(v + eps)`, torch: `lr * g / (sqrt(v) + eps)`); Adam adds eps to sqrt(v) before the
bias correction of the step size; SGD keeps momentum as a velocity in parameter units; Adagrad starts
its accumulators at 0.1. Every optimizer also takes Keras' `weight_decay` (decoupled: w -= w * wd * lr
before the update), `clipnorm`, `clipvalue` and `global_clipnorm`.

Keras 2's names work too, each with a DeprecationWarning naming the Keras 3 spelling: `lr=` for
`learning_rate=` (`lr` wins when both are given, as in Keras 2), `decay=` (Keras 2's inverse-time decay: each
update uses `learning_rate / (1 + decay * iterations)`, iterations counted before the update), `epsilon=None`
(Keras 2's "backend epsilon", 1e-7) and the `optimizer.lr` attribute. `optimizer.learning_rate` reads as a
float that also has Keras 3's variable methods, `assign(value)` and `numpy()`, so `K.set_value(optimizer.lr, x)`
and `optimizer.learning_rate.assign(x)` both set the optimizer's rate.

`learning_rate=` takes a number, a `keras.optimizers.schedules.LearningRateSchedule` (called with the
number of updates done, as Keras; saved with the optimizer's config) or any callable of the step (lstmkit's;
not saveable).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from lstmkit.keras.optimizers import schedules


def _legacy(what: str, instead: str, stacklevel: int = 4) -> None:
    """A DeprecationWarning pointing at the user's line (`stacklevel` frames up: 4 from a constructor)."""
    warnings.warn(f"{what} is a Keras 2 name that Keras 3 dropped; write {instead}", DeprecationWarning,
                  stacklevel=stacklevel)


def _epsilon(value: float | None) -> float:
    if value is None:  # Keras 2's default: "None means backend.epsilon()"
        _legacy("epsilon=None", "epsilon=1e-7 (or leave it out)")
        return 1e-7
    return float(value)


class LearningRate(float):
    """An optimizer's learning rate as read from `optimizer.learning_rate`: a float (so arithmetic, format
    strings and comparisons work) that also sets the optimizer's rate through `assign`, as Keras 3's
    learning-rate variable does."""

    _optimizer: Optimizer

    def __new__(cls, value: float, optimizer: Optimizer) -> LearningRate:
        self = super().__new__(cls, value)
        self._optimizer = optimizer
        return self

    def assign(self, value: Any) -> None:
        if callable(self._optimizer._learning_rate):
            raise TypeError(f"{type(self._optimizer).__name__} was made with a learning-rate schedule, so its "
                            "learning rate cannot be set; make it with a number instead")
        self._optimizer.learning_rate = float(np.asarray(value))

    def numpy(self) -> np.float32:
        return np.float32(self)


class Optimizer:
    """Base class. `build(params)` once, then `apply(params)` after each backward pass."""

    def __init__(self, learning_rate: float | Callable[[int], float] = 0.001, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, name: str | None = None, **kwargs: Any) -> None:
        for ignored in ("use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
                        "gradient_accumulation_steps", "jit_compile"):
            value = kwargs.pop(ignored, None)
            if value not in (None, False, 0.99):
                raise ValueError(f"{type(self).__name__}: {ignored}={value!r} is not supported")
        if "lr" in kwargs:  # Keras 2's name; it won over learning_rate there
            _legacy("lr=", "learning_rate=")
            learning_rate = kwargs.pop("lr")
        decay = kwargs.pop("decay", 0.0)
        if not isinstance(decay, (int, float)) or isinstance(decay, bool) or decay < 0:
            raise ValueError(f"{type(self).__name__}: decay must be a non-negative number, got {decay!r}")
        if decay:
            _legacy("decay=", f"learning_rate=lambda step: lr / (1 + {decay} * step) (Keras 3's "
                              f"InverseTimeDecay(lr, decay_steps=1, decay_rate={decay}))")
            if callable(learning_rate):
                raise ValueError(f"{type(self).__name__}: give decay= with a number as the learning rate, not with "
                                 "a schedule (a schedule already decays it)")
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected arguments {sorted(kwargs)}")
        if sum(v is not None for v in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("give at most one of clipnorm, clipvalue and global_clipnorm")
        self._learning_rate = learning_rate
        self.decay = float(decay)
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self.params: list[torch.Tensor] = []
        self.state: list[dict[str, torch.Tensor]] = []
        self.built = False

    @property
    def learning_rate(self) -> LearningRate:
        lr = self._learning_rate
        return LearningRate(float(lr(self.iterations)) if callable(lr) else float(lr), self)

    @learning_rate.setter
    def learning_rate(self, value: Any) -> None:
        if callable(value):
            self._learning_rate = value
            return
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its `learning_rate` "
                            "constructor argument, hence its learning rate is not settable. If you need the learning "
                            "rate to be settable, you should instantiate the optimizer with a float "
                            "`learning_rate` argument.")
        self._learning_rate = float(np.asarray(value))

    @property
    def lr(self) -> LearningRate:
        """Keras 2's name of `learning_rate`."""
        _legacy("optimizer.lr", "optimizer.learning_rate", stacklevel=3)
        return self.learning_rate

    @lr.setter
    def lr(self, value: float) -> None:
        _legacy("optimizer.lr", "optimizer.learning_rate", stacklevel=3)
        self.learning_rate = value

    def _step_learning_rate(self) -> float:
        """The rate this update uses: Keras 2's inverse-time `decay` applied to the learning rate."""
        lr = float(self.learning_rate)
        return lr / (1.0 + self.decay * self.iterations) if self.decay else lr

    def build(self, params: Iterable[torch.Tensor]) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.state = [self._init_state(p) for p in self.params]
        self.built = True

    def _init_state(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        return {}

    @torch.no_grad()
    def apply(self) -> None:
        """One step on every built parameter that has a gradient."""
        pairs = [(i, p, p.grad) for i, p in enumerate(self.params) if p.grad is not None]
        if not pairs:
            return
        grads = self._clip([g for _, _, g in pairs])
        lr = self._step_learning_rate()
        for (i, p, _), g in zip(pairs, grads):
            if self.weight_decay:
                p.sub_(p * (self.weight_decay * lr))
            self._update(p, g, self.state[i], lr)
        self.iterations += 1

    def _clip(self, grads: list[torch.Tensor]) -> list[torch.Tensor]:
        if self.clipnorm:
            out = []
            for g in grads:
                norm = g.square().sum().sqrt()
                out.append(g * self.clipnorm / torch.maximum(norm, torch.as_tensor(self.clipnorm, device=g.device)))
            return out
        if self.global_clipnorm:
            norm = torch.sqrt(sum(g.square().sum() for g in grads))
            scale = self.global_clipnorm * torch.minimum(1.0 / norm, torch.as_tensor(1.0 / self.global_clipnorm))
            return [g * scale for g in grads]
        if self.clipvalue:
            return [g.clamp(-self.clipvalue, self.clipvalue) for g in grads]
        return grads

    def _update(self, p: torch.Tensor, g: torch.Tensor, state: dict[str, torch.Tensor], lr: float) -> None:
        raise NotImplementedError

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The optimizer's slots, named `{param index}/{slot}`, for saving."""
        return {f"{i}/{k}": v for i, s in enumerate(self.state) for k, v in s.items()}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor], iterations: int) -> None:
        for key, value in tensors.items():
            i, slot = key.split("/", 1)
            target = self.state[int(i)][slot]
            if tuple(target.shape) != tuple(value.shape):
                raise ValueError(f"optimizer slot {key} has shape {tuple(target.shape)} in the model but "
                                 f"{tuple(value.shape)} in the file")
            target.copy_(value)
        self.iterations = int(iterations)

    def get_config(self) -> dict[str, Any]:
        lr: Any
        if isinstance(self._learning_rate, schedules.LearningRateSchedule):
            lr = schedules.serialize(self._learning_rate)
        elif callable(self._learning_rate):
            raise ValueError(f"{type(self).__name__}: a learning rate given as a plain function cannot be saved to a "
                             "config; give a keras.optimizers.schedules.LearningRateSchedule (a subclass with "
                             "get_config()) instead")
        else:
            lr = float(self.learning_rate)
        config = {"name": self.name, "learning_rate": lr, "weight_decay": self.weight_decay,
                  "clipnorm": self.clipnorm, "clipvalue": self.clipvalue, "global_clipnorm": self.global_clipnorm}
        if self.decay:
            config["decay"] = self.decay
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Optimizer:
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):  # a schedule's config
            config["learning_rate"] = schedules.deserialize(config["learning_rate"], custom_objects)
        return cls(**config)
