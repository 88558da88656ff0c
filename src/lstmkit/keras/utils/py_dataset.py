"""`keras.utils.PyDataset` (Keras 3) and `keras.utils.Sequence` (Keras 2's name, the same class in Keras 3):
a dataset of batches by index that `fit`, `evaluate` and `predict` take.

A subclass defines `__len__` (the number of batches) and `__getitem__(index)` returning `x`, `(x, y)` or
`(x, y, sample_weight)`, and may define `on_epoch_begin()` / `on_epoch_end()`: each pass of fit (every
epoch; its batches in a new random order when `shuffle=True`), evaluate and predict is `on_epoch_begin()`,
the batches, `on_epoch_end()`, as Keras 3 calls them. `workers`, `use_multiprocessing` and `max_queue_size`
are kept and read back as in Keras; lstmkit draws the batches in this process, one at a time.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any


class PyDataset:
    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10) -> None:
        for name, value in (("workers", workers), ("max_queue_size", max_queue_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"PyDataset: {name} must be a non-negative integer, got {value!r}")
        self._workers, self._use_multiprocessing, self._max_queue_size = workers, bool(use_multiprocessing), \
            max_queue_size

    # a subclass whose __init__ does not call super().__init__() still reads Keras' defaults
    @property
    def workers(self) -> int:
        return int(self.__dict__.get("_workers", 1))

    @workers.setter
    def workers(self, value: int) -> None:
        self._workers = value

    @property
    def use_multiprocessing(self) -> bool:
        return bool(self.__dict__.get("_use_multiprocessing", False))

    @use_multiprocessing.setter
    def use_multiprocessing(self, value: bool) -> None:
        self._use_multiprocessing = value

    @property
    def max_queue_size(self) -> int:
        return int(self.__dict__.get("_max_queue_size", 10))

    @max_queue_size.setter
    def max_queue_size(self, value: int) -> None:
        self._max_queue_size = value

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__(self, index), returning batch "
                                  "number `index` as x, (x, y) or (x, y, sample_weight)")

    @property
    def num_batches(self) -> int | None:
        """The number of batches (`len(self)`)."""
        if hasattr(self, "__len__"):
            return len(self)  # type: ignore[arg-type]
        raise NotImplementedError(f"{type(self).__name__} must define __len__ (its number of batches) or the "
                                  "num_batches property")

    def __iter__(self) -> Iterator[Any]:
        n = self.num_batches
        for index in range(n) if n is not None else itertools.count():
            yield self[index]

    def on_epoch_begin(self) -> None:
        """Called before each pass over the batches."""

    def on_epoch_end(self) -> None:
        """Called after each pass over the batches."""


Sequence = PyDataset  # Keras 2's name; Keras 3 keeps it as this class
