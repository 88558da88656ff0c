"""Keras' weight initializers, producing torch tensors in Keras' layout.

They are what reproduces Keras' accuracy: `glorot_uniform` kernels, `orthogonal` recurrent kernels,
zero biases and `uniform` (U(-0.05, 0.05)) embeddings, with Keras' fan-in/fan-out rules (a Conv1D
kernel (k, in, out) has fan_in = k*in). A seeded initializer gives the same values at every call, as Keras'.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch


def compute_fans(shape: tuple[int, ...]) -> tuple[float, float]:
    """Keras' fan rule: rank 1 uses the size for both; rank >= 3 multiplies by the receptive field."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    if len(shape) == 2:
        return float(shape[0]), float(shape[1])
    receptive = math.prod(shape[:-2])
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


class Initializer:
    """Base class: `init(shape)` returns a new float32 tensor of that shape."""

    def __init__(self, seed: int | None = None) -> None:
        self.seed = seed

    def _generator(self) -> torch.Generator | None:
        if self.seed is None:
            return None
        g = torch.Generator()
        g.manual_seed(int(self.seed))
        return g

    def __call__(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed} if self.seed is not None else {}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Initializer:
        return cls(**config)


class Zeros(Initializer):
    def __call__(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.zeros(shape, dtype=dtype)


class Ones(Initializer):
    def __call__(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.ones(shape, dtype=dtype)


class Constant(Initializer):
    """A number, or an array (e.g. pretrained embeddings: `Embedding(..., embeddings_initializer=
    Constant(matrix))`), broadcast to the shape asked for; an array that cannot be is an error."""

    def __init__(self, value: Any = 0.0) -> None:
        super().__init__()
        if isinstance(value, dict) and value.get("class_name") == "__numpy__":  # Keras' config of an array
            value = np.asarray(value["config"]["value"], dtype=value["config"].get("dtype", "float32"))
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        self.value = float(value) if np.ndim(value) == 0 else np.asarray(value)

    def __call__(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        if isinstance(self.value, float):
            return torch.full(shape, self.value, dtype=dtype)
        value = torch.as_tensor(self.value, dtype=dtype)
        try:
            return value.expand(shape).clone()
        except RuntimeError:
            raise ValueError(f"Constant: the value of shape {tuple(value.shape)} cannot fill a weight of shape "
                             f"{tuple(shape)}") from None

    def get_config(self) -> dict[str, Any]:
        if isinstance(self.value, float):
            return {"value": self.value}
        return {"value": {"class_name": "__numpy__", "config": {"value": self.value.tolist(),
                                                                "dtype": str(self.value.dtype)}}}


class RandomUniform(Initializer):
    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.minval, self.maxval = float(minval), float(maxval)

    def __call__(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        t = torch.empty(shape, dtype=dtype)
        return t.uniform_(self.minval, self.maxval, generator=self._generator())

    def get_config(self) -> dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class RandomNormal(Initializer):
    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: int | None = None) -> None:
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.empty(shape, dtype=dtype).normal_(self.mean, self.stddev, generator=self._generator())

    def get_config(self) -> dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class TruncatedNormal(RandomNormal):
    """Normal values redrawn when more than two standard deviations from the mean (Keras' rule)."""

    def __call__(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        t = torch.empty(shape, dtype=dtype)
        lo, hi = self.mean - 2 * self.stddev, self.mean + 2 * self.stddev
        return torch.nn.init.trunc_normal_(t, self.mean, self.stddev, lo, hi, generator=self._generator())


class VarianceScaling(Initializer):
    """Scale / fan, fan being fan_in, fan_out or their mean; a normal, truncated normal or uniform draw."""

    def __init__(
        self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal", seed: int | None = None
    ) -> None:
        super().__init__(seed)
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"mode must be fan_in, fan_out or fan_avg, got {mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError(
                f"distribution must be truncated_normal, untruncated_normal or uniform, got {distribution!r}")
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def __call__(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        scale = self.scale / max(1.0, fan)
        g = self._generator()
        t = torch.empty(shape, dtype=dtype)
        if self.distribution == "truncated_normal":
            std = math.sqrt(scale) / 0.87962566103423978  # std of a unit normal truncated at ±2
            return torch.nn.init.trunc_normal_(t, 0.0, std, -2 * std, 2 * std, generator=g)
        if self.distribution == "untruncated_normal":
            return t.normal_(0.0, math.sqrt(scale), generator=g)
        limit = math.sqrt(3.0 * scale)
        return t.uniform_(-limit, limit, generator=g)

    def get_config(self) -> dict[str, Any]:
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, **super().get_config()}


class GlorotUniform(VarianceScaling):
    def __init__(self, seed: int | None = None) -> None:
        super().__init__(1.0, "fan_avg", "uniform", seed)

    def get_config(self) -> dict[str, Any]:
        return Initializer.get_config(self)


class GlorotNormal(VarianceScaling):
    def __init__(self, seed: int | None = None) -> None:
        super().__init__(1.0, "fan_avg", "truncated_normal", seed)

    def get_config(self) -> dict[str, Any]:
        return Initializer.get_config(self)


class HeUniform(VarianceScaling):
    def __init__(self, seed: int | None = None) -> None:
        super().__init__(2.0, "fan_in", "uniform", seed)

    def get_config(self) -> dict[str, Any]:
        return Initializer.get_config(self)


class HeNormal(VarianceScaling):
    def __init__(self, seed: int | None = None) -> None:
        super().__init__(2.0, "fan_in", "truncated_normal", seed)

    def get_config(self) -> dict[str, Any]:
        return Initializer.get_config(self)


class LecunUniform(VarianceScaling):
    def __init__(self, seed: int | None = None) -> None:
        super().__init__(1.0, "fan_in", "uniform", seed)

    def get_config(self) -> dict[str, Any]:
        return Initializer.get_config(self)


class LecunNormal(VarianceScaling):
    def __init__(self, seed: int | None = None) -> None:
        super().__init__(1.0, "fan_in", "truncated_normal", seed)

    def get_config(self) -> dict[str, Any]:
        return Initializer.get_config(self)


class Orthogonal(Initializer):
    """Keras' rule: QR of a normal (max(rows, cols), min(rows, cols)) matrix, signs fixed by diag(R),
    transposed when rows < cols, so a (U, 4U) recurrent kernel gets orthonormal rows."""

    def __init__(self, gain: float = 1.0, seed: int | None = None) -> None:
        super().__init__(seed)
        self.gain = float(gain)

    def __call__(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        if len(shape) < 2:
            raise ValueError(f"the orthogonal initializer needs a shape of rank >= 2, got {tuple(shape)}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = torch.empty(max(rows, cols), min(rows, cols), dtype=torch.float32).normal_(generator=self._generator())
        q, r = torch.linalg.qr(a)
        q = q * torch.sign(torch.diagonal(r))  # (max, min)
        if rows < cols:
            q = q.T
        return (self.gain * q.reshape(shape)).to(dtype)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain, **super().get_config()}


class Identity(Initializer):
    def __init__(self, gain: float = 1.0) -> None:
        super().__init__()
        self.gain = float(gain)

    def __call__(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        if len(shape) != 2:
            raise ValueError(f"the identity initializer needs a 2-D shape, got {tuple(shape)}")
        return self.gain * torch.eye(*shape, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        return {"gain": self.gain}


_CLASSES: dict[str, type[Initializer]] = {
    c.__name__: c
    for c in (Zeros, Ones, Constant, RandomUniform, RandomNormal, TruncatedNormal, VarianceScaling, GlorotUniform,
              GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Orthogonal, Identity)
}
_ALIASES: dict[str, type[Initializer]] = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "uniform": RandomUniform, "random_uniform": RandomUniform,
    "normal": RandomNormal, "random_normal": RandomNormal, "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling, "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform, "he_normal": HeNormal, "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
    "orthogonal": Orthogonal, "identity": Identity,
}


def get(identifier: str | dict | Initializer | None) -> Initializer | None:
    """An initializer from a Keras name (`"glorot_uniform"`, `"GlorotUniform"`), a config dict, or an object."""
    if identifier is None or isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        cls = _ALIASES.get(identifier) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"unknown initializer {identifier!r}: expected one of {sorted(_ALIASES)}")
        return cls()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _CLASSES.get(identifier["class_name"]) or _ALIASES.get(identifier["class_name"])
        if cls is None:
            raise ValueError(f"unknown initializer class {identifier['class_name']!r}")
        return cls(**identifier.get("config", {}))
    if callable(identifier):
        return _Callable(identifier)
    raise ValueError(f"an initializer must be a name, a config dict or an Initializer, got {type(identifier).__name__}")


class _Callable(Initializer):
    """A user function `f(shape, dtype)`; usable, not savable."""

    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn

    def __call__(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.as_tensor(self.fn(shape, dtype=dtype), dtype=dtype)


def serialize(init: Initializer | None) -> dict | None:
    if init is None:
        return None
    if type(init).__name__ not in _CLASSES:
        raise ValueError(f"cannot save the initializer {init!r}: only Keras' named initializers can be written")
    return {"class_name": type(init).__name__, "config": init.get_config()}
