"""`keras.optimizers.schedules`: learning rates as functions of the optimizer's step, with Keras 3's formulas.

A schedule is called with the number of updates done so far (`optimizer.iterations` before the update, so the
first update uses `schedule(0)`) and returns the rate as a float32 value, as Keras computes it in the dtype of
`initial_learning_rate` (float32). Any of them is the `learning_rate=` of every optimizer; `get_config` /
`from_config` make them part of a saved model (a subclass of `LearningRateSchedule` saves too when it has a
`get_config` and is registered with `keras.saving.register_keras_serializable` or given in `custom_objects`).

With s the step:
- ExponentialDecay: lr0 * rate^(s / decay_steps) (`staircase`: floor of the exponent).
- PiecewiseConstantDecay: values[0] while s <= boundaries[0], values[i] while boundaries[i-1] < s <=
  boundaries[i], values[-1] after the last boundary.
- PolynomialDecay: (lr0 - end) * (1 - min(s, D) / D)^power + end; `cycle`: D times ceil(s / D) (1 at s = 0).
- InverseTimeDecay: lr0 / (1 + rate * s / decay_steps) (`staircase`: floor of s / decay_steps).
- CosineDecay: without warmup, lr0 * ((1 - alpha) * 0.5 * (1 + cos(pi * min(s, D) / D)) + alpha); with
  `warmup_target`, a line from lr0 to the target over `warmup_steps`, then the cosine from the target over D.
- CosineDecayRestarts (SGDR): the cosine over periods first_decay_steps * t_mul^i, the i-th scaled by m_mul^i.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from lstmkit.keras import registry


class LearningRateSchedule:
    """Base class: subclasses define `__call__(step)` and, to be saved, `get_config()`."""

    def __call__(self, step: Any) -> Any:
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override "
                                  "`__call__(self, step)`.")

    def get_config(self) -> dict[str, Any]:
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override `get_config()` in "
                                  "order to be serializable.")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LearningRateSchedule:
        return cls(**config)


def _step(step: Any) -> float:
    """The optimizer step as a float (an int, a NumPy or torch scalar, or a Variable)."""
    value = step.numpy() if hasattr(step, "numpy") else step
    return float(np.asarray(value))


def _positive(value: Any, name: str) -> None:
    if not value > 0:
        raise ValueError(f"Argument `{name}` must be > 0. Received: {name}={value}")


def _f32(value: float) -> np.float32:
    out: np.float32 = np.float32(value)  # Keras computes the schedules in float32
    return out


class ExponentialDecay(LearningRateSchedule):
    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False,
                 name: str = "ExponentialDecay") -> None:
        _positive(decay_steps, "decay_steps")
        self.initial_learning_rate, self.decay_steps, self.decay_rate = initial_learning_rate, decay_steps, decay_rate
        self.staircase, self.name = staircase, name

    def __call__(self, step: Any) -> np.float32:
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return _f32(self.initial_learning_rate * self.decay_rate ** p)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    def __init__(self, boundaries: list, values: list, name: str = "PiecewiseConstant") -> None:
        if len(boundaries) != len(values) - 1:
            raise ValueError("The length of boundaries should be 1 less than the length of values. Received: "
                             f"boundaries={boundaries} of length {len(boundaries)}, and values={values} of length "
                             f"{len(values)}.")
        if any(b >= c for b, c in itertools.pairwise(boundaries)):
            raise ValueError(f"PiecewiseConstantDecay: boundaries must increase strictly, got {boundaries}")
        self.boundaries, self.values, self.name = boundaries, values, name

    def __call__(self, step: Any) -> np.float32:
        s = _step(step)
        for boundary, value in zip(self.boundaries, self.values):
            if s <= boundary:
                return _f32(value)
        return _f32(self.values[-1])

    def get_config(self) -> dict[str, Any]:
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    def __init__(self, initial_learning_rate: float, decay_steps: int, end_learning_rate: float = 0.0001,
                 power: float = 1.0, cycle: bool = False, name: str = "PolynomialDecay") -> None:
        _positive(decay_steps, "decay_steps")
        self.initial_learning_rate, self.decay_steps = initial_learning_rate, decay_steps
        self.end_learning_rate, self.power, self.cycle, self.name = end_learning_rate, power, cycle, name

    def __call__(self, step: Any) -> np.float32:
        s, d = _step(step), float(self.decay_steps)
        if self.cycle:
            d *= 1.0 if s == 0 else math.ceil(s / d)
        else:
            s = min(s, d)
        lr0, end = self.initial_learning_rate, self.end_learning_rate
        return _f32((lr0 - end) * (1 - s / d) ** self.power + end)

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    def __init__(self, initial_learning_rate: float, decay_steps: float, decay_rate: float, staircase: bool = False,
                 name: str = "InverseTimeDecay") -> None:
        _positive(decay_steps, "decay_steps")
        self.initial_learning_rate, self.decay_steps, self.decay_rate = initial_learning_rate, decay_steps, decay_rate
        self.staircase, self.name = staircase, name

    def __call__(self, step: Any) -> np.float32:
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return _f32(self.initial_learning_rate / (1 + self.decay_rate * p))

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class CosineDecay(LearningRateSchedule):
    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0, name: str = "CosineDecay",
                 warmup_target: float | None = None, warmup_steps: int = 0) -> None:
        _positive(decay_steps, "decay_steps")
        self.initial_learning_rate, self.decay_steps, self.alpha, self.name = (initial_learning_rate, decay_steps,
                                                                               alpha, name)
        self.warmup_target, self.warmup_steps = warmup_target, warmup_steps

    def _decay(self, s: float, decay_from: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * s / self.decay_steps))
        return decay_from * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step: Any) -> np.float32:
        s = _step(step)
        if self.warmup_target is None:
            return _f32(self._decay(min(s, self.decay_steps), self.initial_learning_rate))
        s = min(s, self.decay_steps + self.warmup_steps)
        if s < self.warmup_steps:  # a line from initial_learning_rate up to warmup_target
            fraction = s / self.warmup_steps
            return _f32((self.warmup_target - self.initial_learning_rate) * fraction + self.initial_learning_rate)
        return _f32(self._decay(s - self.warmup_steps, self.warmup_target))

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    def __init__(self, initial_learning_rate: float, first_decay_steps: int, t_mul: float = 2.0, m_mul: float = 1.0,
                 alpha: float = 0.0, name: str = "SGDRDecay") -> None:
        _positive(first_decay_steps, "first_decay_steps")
        self.initial_learning_rate, self.first_decay_steps = initial_learning_rate, first_decay_steps
        self._t_mul, self._m_mul, self.alpha, self.name = t_mul, m_mul, alpha, name

    def __call__(self, step: Any) -> np.float32:
        fraction = _step(step) / self.first_decay_steps
        t_mul = self._t_mul
        if t_mul == 1.0:
            restart = math.floor(fraction)
            fraction -= restart
        else:  # periods of first_decay_steps * t_mul^i: which one the step is in, and how far into it
            restart = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
            done = (1.0 - t_mul ** restart) / (1.0 - t_mul)
            fraction = (fraction - done) / t_mul ** restart
        cosine = 0.5 * self._m_mul ** restart * (1.0 + math.cos(math.pi * fraction))
        return _f32(self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha))

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "first_decay_steps": self.first_decay_steps,
                "t_mul": self._t_mul, "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}


_BUILTINS: dict[str, type[LearningRateSchedule]] = {
    cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, InverseTimeDecay,
                                  CosineDecay, CosineDecayRestarts)}


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """Keras' form: `{"module", "class_name", "config", "registered_name"}`."""
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(f"serialize needs a LearningRateSchedule, got {type(schedule).__name__}")
    builtin = _BUILTINS.get(type(schedule).__name__) is type(schedule)
    registered = registry.get_registered_name(schedule)
    return {"module": "keras.optimizers.schedules" if builtin else type(schedule).__module__,
            "class_name": type(schedule).__name__, "config": schedule.get_config(),
            "registered_name": None if builtin else registered}


def deserialize(config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> LearningRateSchedule:
    """A schedule from `serialize`'s dict: a built-in by class name, else a registered or custom class."""
    if not (isinstance(config, dict) and "class_name" in config):
        raise ValueError(f"a learning-rate schedule config is a dict with 'class_name' and 'config', got {config!r}")
    with registry.custom_object_scope(custom_objects):
        cls = registry.resolve(config, _BUILTINS, what="learning-rate schedule")
    if not (isinstance(cls, type) and issubclass(cls, LearningRateSchedule)):
        raise ValueError(f"{config['class_name']!r} is not a LearningRateSchedule")
    return cls.from_config(dict(config.get("config") or {}))


__all__ = ["CosineDecay", "CosineDecayRestarts", "ExponentialDecay", "InverseTimeDecay", "LearningRateSchedule",
           "PiecewiseConstantDecay", "PolynomialDecay", "deserialize", "serialize"]
