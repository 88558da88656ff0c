"""`lstmkit.keras.random`: Keras 3's random ops over torch generators.

As in Keras, the ops are stateless: the same integer `seed` gives the same numbers on every call.
Different numbers on each call come from a `SeedGenerator`, whose state (a non-trainable int32
Variable `[seed, counter]`, as Keras keeps it) moves on by one at every draw; `seed=None` draws
from a global SeedGenerator that `keras.utils.set_random_seed` resets. Each draw seeds a fresh
`torch.Generator` with `(seed + counter) mod 2**32` and calls the same torch sampler as Keras' torch
backend, so on the CPU the numbers equal Keras' for the same seed. New tensors are on the CPU
(where lstmkit.keras layers keep their weights until fit), `dropout` and `shuffle` follow their input.
"""

from __future__ import annotations

import itertools
import random as python_random
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from lstmkit.keras.ops._dtypes import FLOATX, is_float, is_int, standardize_dtype, to_torch
from lstmkit.keras.ops.core import describe, tensor
from lstmkit.keras.variables import Variable, standalone_variable

_names = itertools.count()


def _int32(value: int) -> int:
    """`value`'s low 32 bits as a signed int32, as Keras stores seeds on torch."""
    return ((int(value) & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000


class SeedGenerator:
    """A random state for Keras' random ops: `normal(shape, seed=gen)` gives new numbers at each call,
    and the same sequence for the same initial `seed` (None: a random one)."""

    def __init__(self, seed: int | None = None, name: str | None = None, **kwargs: Any) -> None:
        kwargs.pop("backend", None)
        if kwargs:
            raise ValueError(f"SeedGenerator: unrecognized keyword arguments: {kwargs}")
        number = next(_names)
        self.name = name or ("seed_generator" if number == 0 else f"seed_generator_{number}")
        self._initial_seed = seed
        if seed is None:
            seed = make_default_seed()
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ValueError(f"SeedGenerator: argument `seed` must be an integer, got seed={seed!r}")
        self.state: Variable = standalone_variable(torch.tensor([_int32(seed), 0], dtype=torch.int32),
                                                   "seed_generator_state", self.name)

    def next(self, ordered: bool = True) -> torch.Tensor:
        """The state before this draw; the state moves on (counter + 1, or Keras' hash when not `ordered`)."""
        current = self.state.value.clone()
        if ordered:
            self.state.assign(current + torch.tensor([0, 1], dtype=torch.int32))
        else:
            self.state.assign((current + 1) * 5387 % 933199)
        return current

    def get_config(self) -> dict[str, Any]:
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SeedGenerator:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<SeedGenerator name={self.name}, state={self.state.numpy().tolist()}>"


_GLOBAL: SeedGenerator | None = None


def make_default_seed() -> int:
    return python_random.randint(1, int(1e9))


def global_seed_generator() -> SeedGenerator:
    """The generator behind `seed=None` (made on first use from Python's `random`, so that
    `set_random_seed` fixes it)."""
    global _GLOBAL
    if _GLOBAL is None:
        _GLOBAL = SeedGenerator()
    return _GLOBAL


def reset_global_seed_generator() -> None:
    """Forget the global generator (keras.utils.set_random_seed does), so the next one follows the new seed."""
    global _GLOBAL
    _GLOBAL = None


def draw_seed(seed: Any) -> tuple[int, int]:
    """`(seed, counter)` for one draw: an int as is (counter 0), a SeedGenerator's next state, or the
    global generator's for None."""
    if isinstance(seed, SeedGenerator):
        first, second = seed.next().tolist()
    elif isinstance(seed, int):
        first, second = _int32(seed), 0
    elif seed is None:
        first, second = global_seed_generator().next(ordered=False).tolist()
    else:
        raise ValueError(f"argument `seed` must be an integer, a SeedGenerator or None, got {describe(seed)} "
                         f"({type(seed).__name__})")
    return int(first), int(second)


def _generator(seed: Any, device: torch.device | str = "cpu") -> torch.Generator:
    first, second = draw_seed(seed)
    generator = torch.Generator(device=device)
    generator.manual_seed((first + second) & 0xFFFFFFFF)
    return generator


def _shape(op: str, shape: Any) -> tuple[int, ...]:
    if isinstance(shape, int):
        shape = (shape,)
    if not isinstance(shape, (Sequence, torch.Size)) or not all(isinstance(d, int) and d >= 0 for d in shape):
        raise ValueError(f"random.{op}: shape must be a tuple of non-negative ints, got {shape!r}")
    return tuple(shape)


def _float_dtype(op: str, dtype: Any) -> torch.dtype:
    if dtype is not None and not is_float(dtype):
        raise ValueError(f"random.{op} needs a floating-point dtype, got dtype={dtype!r}")
    return to_torch(dtype or FLOATX)


# ----- distributions
def normal(shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = None, seed: Any = None) -> torch.Tensor:
    """Samples of N(mean, stddev²)."""
    dims, torch_dtype = _shape("normal", shape), _float_dtype("normal", dtype)
    generator = _generator(seed)
    if isinstance(mean, (int, float)) and isinstance(stddev, (int, float)):
        return torch.normal(float(mean), float(stddev), size=dims, generator=generator, dtype=torch_dtype)
    z = torch.normal(0.0, 1.0, size=dims, generator=generator, dtype=torch_dtype)
    return z * tensor(stddev).to(torch_dtype) + tensor(mean).to(torch_dtype)


def uniform(shape: Any, minval: float = 0.0, maxval: float = 1.0, dtype: Any = None, seed: Any = None) -> torch.Tensor:
    """Samples of U[minval, maxval)."""
    dims, torch_dtype = _shape("uniform", shape), _float_dtype("uniform", dtype)
    u = torch.rand(dims or (1,), generator=_generator(seed), dtype=torch_dtype)
    out = (maxval - minval) * u + minval
    return out if dims else out[0]


def randint(shape: Any, minval: int, maxval: int, dtype: Any = "int32", seed: Any = None) -> torch.Tensor:
    """Integers drawn uniformly from [minval, maxval)."""
    if dtype is not None and not is_int(dtype):
        raise ValueError(f"random.randint needs an integer dtype, got dtype={dtype!r}")
    if not int(minval) < int(maxval):
        raise ValueError(f"random.randint needs minval < maxval, got minval={minval}, maxval={maxval}")
    return torch.randint(int(minval), int(maxval), _shape("randint", shape), generator=_generator(seed),
                         dtype=to_torch(dtype or "int32"))


def truncated_normal(shape: Any, mean: float = 0.0, stddev: float = 1.0, dtype: Any = None,
                     seed: Any = None) -> torch.Tensor:
    """N(mean, stddev²) restricted to [mean - 2 stddev, mean + 2 stddev]: of four standard normal
    candidates per value the first inside (-2, 2) is kept, as Keras does; the rare value with none inside
    (p = 0.0455⁴) is drawn again, where Keras would keep an outlier."""
    dims, torch_dtype = _shape("truncated_normal", shape), _float_dtype("truncated_normal", dtype)
    generator = _generator(seed)
    candidates = torch.normal(0.0, 1.0, size=(*dims, 4), generator=generator, dtype=torch_dtype)
    valid = (candidates > -2) & (candidates < 2)
    z = candidates.gather(-1, valid.max(-1, keepdim=True)[1]).squeeze(-1)
    bad = ~valid.any(-1)
    while bool(bad.any()):
        redraw = torch.normal(0.0, 1.0, size=(int(bad.sum()),), generator=generator, dtype=torch_dtype)
        keep = (redraw > -2) & (redraw < 2)
        positions = bad.nonzero(as_tuple=True)
        z[tuple(p[keep] for p in positions)] = redraw[keep]
        bad[tuple(p[keep] for p in positions)] = False
    return z * stddev + mean


def categorical(logits: Any, num_samples: int, dtype: Any = "int32", seed: Any = None) -> torch.Tensor:
    """`num_samples` class indices per row of `logits` (batch, classes), drawn from softmax(logits)."""
    t = tensor(logits)
    if t.dim() != 2:
        raise ValueError(f"random.categorical: logits must be 2-D (batch_size, num_classes), got shape "
                         f"{tuple(t.shape)}")
    probs = torch.softmax(t, dim=-1)
    samples = torch.multinomial(probs, int(num_samples), replacement=True, generator=_generator(seed, t.device))
    return samples.to(to_torch(dtype))


def dropout(inputs: Any, rate: float, noise_shape: Any = None, seed: Any = None) -> torch.Tensor:
    """Zero each element with probability `rate` and scale the rest by 1 / (1 - rate); `noise_shape`
    (None entries take the input's size) shares one mask along its size-1 axes."""
    x = tensor(inputs)
    if not 0.0 <= float(rate) <= 1.0:
        raise ValueError(f"random.dropout: rate must be in [0, 1], got {rate}")
    if rate == 1.0:
        return torch.zeros_like(x)
    if rate == 0.0:
        return x
    seeded = seed is not None and not (isinstance(seed, SeedGenerator) and seed._initial_seed is None)
    if not seeded and noise_shape is None:  # unseeded: torch's own dropout on the global generator, as Keras
        return F.dropout(x, p=float(rate), training=True)
    keep = 1.0 - float(rate)
    shape = x.shape if noise_shape is None else tuple(
        x.shape[i] if d is None else int(d) for i, d in enumerate(noise_shape))
    try:
        torch.broadcast_shapes(shape, x.shape)
    except RuntimeError:
        raise ValueError(f"random.dropout: noise_shape {tuple(noise_shape)} does not broadcast to the input's shape "
                         f"{tuple(x.shape)}") from None
    probabilities = torch.full(shape, keep, device=x.device)
    mask = torch.bernoulli(probabilities, generator=_generator(seed, x.device)).bool()
    return torch.where(torch.broadcast_to(mask, x.shape), x / keep, torch.zeros_like(x))


def shuffle(x: Any, axis: int = 0, seed: Any = None) -> torch.Tensor:
    """`x` with its slices along `axis` permuted at random (independently for each leading index, as Keras)."""
    t = tensor(x)
    if not -t.dim() <= axis < t.dim():
        raise ValueError(f"random.shuffle: axis {axis} is out of range for an input of shape {tuple(t.shape)}")
    axis %= t.dim()
    order = torch.rand(t.shape[:axis + 1], generator=_generator(seed, t.device), device=t.device).argsort(axis)
    order = order.reshape(*order.shape, *(1,) * (t.dim() - axis - 1))
    order = order.repeat(*(1,) * (axis + 1), *t.shape[axis + 1:])
    return t.gather(axis, order)


def _sample_on_cpu(seed: Any, draw: Any) -> torch.Tensor:
    """torch's Gamma, Beta and Binomial take no generator: seed the global CPU one for the draw and put
    its state back afterwards (Keras' torch backend draws the same way)."""
    first, second = draw_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed((first + second) & 0xFFFFFFFF)
        out: torch.Tensor = draw()
    return out


def gamma(shape: Any, alpha: Any, dtype: Any = None, seed: Any = None) -> torch.Tensor:
    dims, torch_dtype = _shape("gamma", shape), _float_dtype("gamma", dtype)
    concentration = torch.broadcast_to(tensor(alpha).float(), dims)
    return _sample_on_cpu(seed, lambda: torch.distributions.Gamma(concentration, torch.ones(dims)).sample()
                          ).to(torch_dtype)


def beta(shape: Any, alpha: Any, beta: Any, dtype: Any = None, seed: Any = None) -> torch.Tensor:
    dims, torch_dtype = _shape("beta", shape), _float_dtype("beta", dtype)
    a, b = (torch.broadcast_to(tensor(v).float(), dims) for v in (alpha, beta))
    return _sample_on_cpu(seed, lambda: torch.distributions.Beta(a, b).sample()).to(torch_dtype)


def binomial(shape: Any, counts: Any, probabilities: Any, dtype: Any = None, seed: Any = None) -> torch.Tensor:
    dims = _shape("binomial", shape)
    n, p = (torch.broadcast_to(tensor(v).float(), dims) for v in (counts, probabilities))
    out = _sample_on_cpu(seed, lambda: torch.distributions.Binomial(total_count=n, probs=p).sample())
    return out.to(to_torch(standardize_dtype(dtype)))


__all__ = ["SeedGenerator", "beta", "binomial", "categorical", "dropout", "gamma", "normal", "randint", "shuffle",
           "truncated_normal", "uniform"]
