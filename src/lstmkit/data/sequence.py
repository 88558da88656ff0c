"""Keras' sequence utilities on NumPy: `pad_sequences`, `to_categorical`, `timeseries_dataset_from_array`.

Same arguments, defaults and results as `keras.utils.*` (Keras 3). Where Keras returns a
`tf.data.Dataset`, `timeseries_dataset_from_array` returns a `TimeseriesDataset`: an iterable of
NumPy batches that can be iterated again (every epoch) and has `len()` (its number of batches), a
`lstmkit.data.dataset.Dataset` (so `.take()`, `.map()`, `.cache()`, ... work as on tf.data).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from lstmkit.data.dataset import Array, Dataset


def pad_sequences(sequences: Sequence[Any], maxlen: int | None = None, dtype: Any = "int32", padding: str = "pre",
                  truncating: str = "pre", value: Any = 0.0) -> np.ndarray:
    """Pad (or cut) every sequence to one length: an array `(len(sequences), maxlen, *sample_shape)`.

    `maxlen` None: the longest sequence's length. `padding="pre"` puts `value` before a short
    sequence, `"post"` after it; `truncating="pre"` keeps the last `maxlen` items of a long one,
    `"post"` the first. The items' own shape (e.g. vectors) is taken from the first non-empty
    sequence and must be the same in all.
    """
    if not hasattr(sequences, "__len__"):
        raise ValueError(f"`sequences` must be a list of sequences, got {type(sequences).__name__}")
    if padding not in ("pre", "post"):
        raise ValueError(f'padding must be "pre" or "post", got {padding!r}')
    if truncating not in ("pre", "post"):
        raise ValueError(f'truncating must be "pre" or "post", got {truncating!r}')
    if maxlen is not None and maxlen < 0:
        raise ValueError(f"maxlen must be None or >= 0, got {maxlen}")
    lengths, sample_shape = [], None
    for i, s in enumerate(sequences):
        if not hasattr(s, "__len__"):
            raise ValueError(f"`sequences` must be a list of sequences; item {i} is {type(s).__name__}: {s!r}")
        lengths.append(len(s))
        if sample_shape is None and len(s):
            sample_shape = np.asarray(s).shape[1:]
    sample_shape = sample_shape or ()
    if maxlen is None:
        maxlen = max(lengths, default=0)
    text_dtype = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not text_dtype:
        raise ValueError(f"a str padding value {value!r} needs dtype=object (or a str dtype), got dtype={dtype}")
    out = np.full((len(lengths), maxlen, *sample_shape), value, dtype=dtype)  # (N, maxlen, ...)
    if maxlen == 0:
        return out
    for i, s in enumerate(sequences):
        if not len(s):
            continue
        kept = np.asarray(s[-maxlen:] if truncating == "pre" else s[:maxlen], dtype=dtype)
        if kept.shape[1:] != sample_shape:
            raise ValueError(f"sequence {i} has items of shape {kept.shape[1:]}, the first non-empty one "
                             f"{sample_shape}; all must match")
        if padding == "pre":
            out[i, maxlen - len(kept):] = kept
        else:
            out[i, : len(kept)] = kept
    return out


def to_categorical(y: Any, num_classes: int | None = None) -> np.ndarray:
    """One-hot rows (float64) for the integer class labels `y`; the class axis is last.

    A trailing axis of size 1 is dropped first (labels shaped `(N, 1)` give `(N, C)`).
    `num_classes` None: `max(y) + 1`. Labels must lie in `[0, num_classes)`.
    """
    if hasattr(y, "detach"):  # a torch tensor
        y = y.detach().cpu().numpy()
    y = np.array(y, dtype="int64")
    shape = y.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    flat = y.reshape(-1)
    if not num_classes:
        num_classes = int(flat.max()) + 1 if flat.size else 0
    if flat.size and (flat.min() < 0 or flat.max() >= num_classes):
        raise ValueError(f"to_categorical: labels must lie in [0, {num_classes}) for num_classes={num_classes}, "
                         f"got values from {flat.min()} to {flat.max()}")
    out = np.zeros((flat.size, num_classes))  # (N, C) float64, like Keras
    out[np.arange(flat.size), flat] = 1
    return out.reshape((*shape, num_classes))


class TimeseriesDataset(Dataset):
    """Batches `(x, y)` of sliding windows over a series (what `timeseries_dataset_from_array` returns).

    Window `k` starts at row `start_index + p_k` and takes `sequence_length` rows `sampling_rate`
    apart; its target is `targets[start_index + p_k]`. Iterating again gives the same windows;
    with `shuffle` the first pass uses Keras' order (the start positions shuffled by
    `np.random.RandomState(seed)`) and every later pass a fresh permutation from the same generator.
    """

    def __init__(self, data: Any, targets: Any, positions: np.ndarray, sequence_length: int, sampling_rate: int,
                 batch_size: int | None, shuffle: bool, seed: int, start_index: int, end_index: int) -> None:
        self.data = data
        self.targets = targets
        self.positions = positions  # window starts relative to start_index, in the first pass's order
        self.sequence_length = sequence_length
        self.sampling_rate = sampling_rate
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.start_index = start_index
        self.end_index = end_index
        self._rng = np.random.RandomState(seed)
        if shuffle:
            self._rng.shuffle(self.positions)
        self._passes = 0
        self._offsets = np.arange(sequence_length) * sampling_rate  # (L,)

    @property
    def num_windows(self) -> int:
        return len(self.positions)

    def get_state(self) -> dict[str, Any]:
        """Where the shuffling stands (the generator and the passes made), for a training checkpoint: restored
        with `set_state`, the next passes come in the same orders as they would have."""
        kind, keys, pos, has_gauss, gauss = self._rng.get_state()
        return {"passes": self._passes, "rng": {"kind": kind, "keys": np.asarray(keys, dtype=np.int64),
                                                "pos": int(pos), "has_gauss": int(has_gauss), "gauss": float(gauss)}}

    def set_state(self, state: dict[str, Any]) -> None:
        rng = state["rng"]
        self._rng.set_state((rng["kind"], np.asarray(rng["keys"], dtype=np.int64).astype(np.uint32), int(rng["pos"]),
                             int(rng["has_gauss"]), float(rng["gauss"])))
        self._passes = int(state["passes"])

    def __len__(self) -> int:
        if self.batch_size is None:
            return self.num_windows
        return -(-self.num_windows // self.batch_size)

    def _size(self) -> int:
        return len(self)

    def window_rows(self, positions: np.ndarray) -> np.ndarray:
        """The data rows of the windows starting at `positions`: (n, sequence_length)."""
        return self.start_index + positions[:, None] + self._offsets[None, :]

    def __iter__(self) -> Iterator[Any]:
        positions = self.positions
        if self.shuffle and self._passes > 0:
            positions = positions.copy()
            self._rng.shuffle(positions)
        self._passes += 1
        step = self.batch_size or 1
        for first in range(0, len(positions), step):
            chosen = positions[first : first + step]
            x = np.asarray(self.data[self.window_rows(chosen)]).view(Array)  # (b, L, ...)
            y = None if self.targets is None else np.asarray(self.targets[self.start_index + chosen]).view(Array)
            if self.batch_size is None:
                x, y = x[0], (None if y is None else y[0])
            yield x if y is None else (x, y)


def timeseries_dataset_from_array(data: Any, targets: Any, sequence_length: int, sequence_stride: int = 1,
                                  sampling_rate: int = 1, batch_size: int | None = 128, shuffle: bool = False,
                                  seed: int | None = None, start_index: int | None = None,
                                  end_index: int | None = None) -> TimeseriesDataset:
    """Sliding windows over `data` (time on axis 0), batched, with Keras' semantics.

    Window starts are `start_index + 0, s, 2s, ...` (`s = sequence_stride`); a window takes
    `sequence_length` steps `sampling_rate` apart and must end before `end_index` (exclusive);
    `targets[i]` is the target of the window that starts at row `i` (`targets=None`: yield `x` only).
    The number of windows is `min(end - start - (sequence_length - 1) * sampling_rate, len(targets))`
    rounded up to the stride. `batch_size=None` yields single windows.
    """
    data = np.asarray(data)
    if targets is not None:
        targets = np.asarray(targets)
    n = len(data)
    if sequence_length < 1:
        raise ValueError(f"sequence_length must be at least 1, got {sequence_length}")
    if start_index is not None and not 0 <= start_index < n:
        raise ValueError(f"start_index must be in [0, {n}) for data of length {n}, got {start_index}")
    if end_index is not None and not 0 < end_index <= n:
        raise ValueError(f"end_index must be in (0, {n}] for data of length {n}, got {end_index}")
    if start_index is not None and end_index is not None and end_index <= start_index:
        raise ValueError(f"end_index must be higher than start_index, got start_index={start_index}, "
                         f"end_index={end_index}")
    for label, value in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        if not 0 < value < n:
            raise ValueError(f"{label} must be in [1, {n}) for data of length {n}, got {value}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be None or at least 1, got {batch_size}")
    start = start_index or 0
    end = n if end_index is None else end_index
    num = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        num = min(num, len(targets) - start)
    positions = np.arange(0, max(num, 0), sequence_stride, dtype=np.int64)
    if shuffle and seed is None:
        seed = int(np.random.randint(1_000_000))  # noqa: NPY002 - Keras draws the unset seed from the global generator
    return TimeseriesDataset(data, targets, positions, sequence_length, sampling_rate, batch_size, shuffle,
                             seed or 0, start, end)
