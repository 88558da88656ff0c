"""Batches for the training loop: arrays (NumPy, lists, torch tensors) cut into shuffled batches, or any
iterable of (x, y[, sample_weight]) batches; the validation split taken from the end, as Keras does."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sized
from typing import Any

import numpy as np
import torch

from lstmkit.train.device import move

# Data smaller than this goes to the accelerator once, not batch by batch (IMDB at maxlen 500 is 100 MB).
WHOLE_TO_DEVICE_BYTES = 1 << 30

Batch = tuple[Any, torch.Tensor | None, torch.Tensor | None]  # (x or list of x, y, sample_weight)
Columns = list[torch.Tensor | None]  # inputs, targets and sample weights side by side, each optional


def to_tensor(a: Any, name: str) -> torch.Tensor:
    """An array-like as a tensor: floats as float32, integers and booleans as int64."""
    if isinstance(a, torch.Tensor):
        t = a.detach()
        return t.float() if t.is_floating_point() and t.dtype != torch.float32 else t
    arr = np.asarray(a)
    if arr.dtype == object:
        raise ValueError(f"{name} holds sequences of different lengths (an object array of shape {arr.shape}); "
                         "pad them to one length first, e.g. with pad_sequences")
    if arr.dtype.kind == "f":
        return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
    if arr.dtype.kind in "iub":
        return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.int64))
    raise ValueError(f"{name} has dtype {arr.dtype}; expected numbers")


def num_samples(x: list[Any]) -> int:
    return int(x[0].shape[0])


class TensorBatches:
    """In-memory tensors cut into batches of `batch_size` (the last one smaller), reshuffled every epoch.
    An input may also be a NumPy array of text (for a model whose first layer is a TextVectorization): it is
    cut the same way and stays on the CPU."""

    def __init__(self, x: list[Any], y: torch.Tensor | None, sample_weight: torch.Tensor | None,
                 batch_size: int, shuffle: bool | str = False, single_input: bool = True) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        n = num_samples(x)
        for name, t in [*((f"x[{i}]", a) for i, a in enumerate(x)), ("y", y), ("sample_weight", sample_weight)]:
            if t is not None and t.shape[0] != n:
                raise ValueError(f"all inputs and targets must have the same number of samples: x has {n}, "
                                 f"{name} has {t.shape[0]}")
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.single_input = single_input
        self.device: torch.device | None = None
        self._move_per_batch = False

    def __len__(self) -> int:
        return math.ceil(num_samples(self.x) / self.batch_size)

    @property
    def samples(self) -> int:
        return num_samples(self.x)

    def to(self, device: torch.device) -> TensorBatches:
        tensors = [t for t in (*self.x, self.y, self.sample_weight) if isinstance(t, torch.Tensor)]
        size = sum(t.numel() * t.element_size() for t in tensors)
        if device.type == "cpu" or size <= WHOLE_TO_DEVICE_BYTES:
            self.x = [t.to(device) if isinstance(t, torch.Tensor) else t for t in self.x]
            self.y = None if self.y is None else self.y.to(device)
            self.sample_weight = None if self.sample_weight is None else self.sample_weight.to(device)
        else:
            self._move_per_batch = True
        self.device = device
        return self

    def __iter__(self) -> Iterator[Batch]:
        n = num_samples(self.x)
        devices = [t.device for t in (*self.x, self.y) if isinstance(t, torch.Tensor)]
        order = torch.randperm(n, device=devices[0] if devices else None) if self.shuffle else None
        for start in range(0, n, self.batch_size):
            if order is None:
                idx: Any = slice(start, start + self.batch_size)
            else:
                idx = order[start:start + self.batch_size]
            xs = [t[idx] if isinstance(t, torch.Tensor) or order is None else t[idx.cpu().numpy()] for t in self.x]
            y = None if self.y is None else self.y[idx]
            sw = None if self.sample_weight is None else self.sample_weight[idx]
            batch: Batch = (xs[0] if self.single_input else xs, y, sw)
            if self._move_per_batch and self.device is not None:
                batch = move(batch, self.device)
            yield batch


class IterableBatches:
    """Batches from any iterable (a generator, a DataLoader, a list of tuples); each item is
    (x, y), (x, y, sample_weight) or x alone. `steps` limits the batches taken per pass."""

    def __init__(self, data: Iterable[Any], steps: int | None = None) -> None:
        self.data = data
        self.steps = steps
        self.device: torch.device | None = None
        self._iterator: Iterator[Any] | None = None

    def __len__(self) -> int:
        if self.steps is not None:
            return self.steps
        if not isinstance(self.data, Sized):
            return 0
        try:
            return len(self.data)
        except TypeError:  # a DataLoader over an IterableDataset has __len__ and raises TypeError from it
            return 0

    def to(self, device: torch.device) -> IterableBatches:
        self.device = device
        return self

    def __iter__(self) -> Iterator[Batch]:
        if self.steps is None or self._iterator is None:
            self._iterator = iter(self.data)
        taken = 0
        while self.steps is None or taken < self.steps:
            try:
                item = next(self._iterator)
            except StopIteration:
                self._iterator = None
                if taken == 0 and self.steps is not None:
                    raise ValueError("the data iterator is exhausted: give a dataset that can be iterated again "
                                     "or repeats, or a smaller steps_per_epoch") from None
                return
            taken += 1
            yield move(unpack(item), self.device) if self.device is not None else unpack(item)


def unpack(item: Any) -> Batch:
    """(x, y[, sw]) or x to the (x, y, sw) triple, arrays made tensors (NumPy text stays NumPy text, for a
    model whose first layer is a TextVectorization; any other layer refuses it by name)."""
    if isinstance(item, (tuple, list)) and 1 <= len(item) <= 3 and not _is_array(item):
        parts = list(item) + [None] * (3 - len(item))
        x, y, sw = parts
    else:
        x, y, sw = item, None, None
    if isinstance(x, (list, tuple)) and not _is_array(x):
        x = [t if is_text(t) else to_tensor(t, "x") for t in x]
    else:
        x = x if is_text(x) else to_tensor(x, "x")
    return x, None if y is None else to_tensor(y, "y"), None if sw is None else to_tensor(sw, "sample_weight")


def is_text(a: Any) -> bool:
    """A NumPy array of str or bytes (also as Python objects)."""
    if not isinstance(a, np.ndarray):
        return False
    if a.dtype.kind in "US":
        return True
    return a.dtype.kind == "O" and a.size > 0 and all(isinstance(v, (str, bytes)) for v in a.reshape(-1))


def _is_array(item: Any) -> bool:
    """A list of numbers (one array) rather than a tuple of arrays."""
    return isinstance(item, list) and len(item) > 0 and not isinstance(item[0], (np.ndarray, torch.Tensor, list, tuple))


def split_from_end(tensors: Columns, fraction: float) -> tuple[Columns, Columns]:
    """Keras' validation_split: the last `fraction` of the samples (before any shuffling) validate."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_split must be in (0, 1), got {fraction}")
    n = next(t for t in tensors if t is not None).shape[0]
    split_at = math.floor(n * (1.0 - fraction))
    if split_at == 0 or split_at == n:
        raise ValueError(f"validation_split={fraction} leaves no samples on one side of the split ({n} samples)")
    train = [None if t is None else t[:split_at] for t in tensors]
    val = [None if t is None else t[split_at:] for t in tensors]
    return train, val
