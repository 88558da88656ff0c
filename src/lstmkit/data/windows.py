"""Forecasting windows over a multivariate series, with no look into the future.

    data = forecast_windows(load_beijing(), target="TEMP", lookback=120, horizon=24)   # 5 days -> 24 h ahead
    for x, y in data.train: ...            # x (B, 120, F) float32 normalised, y (B,) in °C
    data.baseline_mae("test", lag=24)      # "same as 24 hours ago"

Rows are split in time order into train, validation and test ranges that do not overlap
(`chronological_split`, 50/25/25 by default, as in Deep Learning with Python). A window takes
`lookback` rows `step` apart; its last input is row `e` and its target is row `e + horizon`
(`horizon >= 1`, so strictly after every input). Every input and the target of a window lie
inside one range. The normaliser (mean and standard deviation per column) is fitted on the
training range only and applied to all three.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from lstmkit.data.sequence import TimeseriesDataset, timeseries_dataset_from_array
from lstmkit.data.series import Table


@dataclass(frozen=True)
class Normalizer:
    """Per-column standardisation `(x - mean) / std`, with statistics from the data it was fitted on."""

    mean: np.ndarray  # (F,)
    std: np.ndarray  # (F,); a constant column gets 1 so that it maps to 0 instead of NaN

    @classmethod
    def fit(cls, data: np.ndarray) -> Normalizer:
        """Statistics of `data` (N, F) over its rows (population standard deviation, like NumPy's default)."""
        data = np.asarray(data, dtype=np.float64)
        if data.ndim != 2 or len(data) == 0:
            raise ValueError(f"Normalizer.fit needs a non-empty (rows, columns) array, got shape {data.shape}")
        std = data.std(axis=0)
        return cls(data.mean(axis=0), np.where(std > 0, std, 1.0))

    def transform(self, data: np.ndarray) -> np.ndarray:
        return (np.asarray(data, dtype=np.float64) - self.mean) / self.std

    def inverse(self, data: np.ndarray, column: int | None = None) -> np.ndarray:
        """Back to the original units: all columns, or the values of one `column`."""
        if column is None:
            return np.asarray(data) * self.std + self.mean
        return np.asarray(data) * self.std[column] + self.mean[column]


@dataclass(frozen=True)
class SplitRanges:
    """Row ranges `[start, end)` of the train, validation and test parts, in time order."""

    train: tuple[int, int]
    val: tuple[int, int]
    test: tuple[int, int]

    def __getitem__(self, name: str) -> tuple[int, int]:
        if name not in ("train", "val", "test"):
            raise ValueError(f'a split is "train", "val" or "test", got {name!r}')
        return getattr(self, name)


def chronological_split(n: int, train: float = 0.5, val: float = 0.25) -> SplitRanges:
    """The first `train` fraction of `n` rows, then `val`, then the rest (test)."""
    if not (0 < train < 1 and 0 <= val < 1 and train + val <= 1):
        raise ValueError(f"need 0 < train < 1, 0 <= val and train + val <= 1, got train={train}, val={val}")
    a, b = int(n * train), int(n * (train + val))
    return SplitRanges((0, a), (a, b), (b, n))


class Windows:
    """The windows of one split: iterate for batches `(x, y)`; `len()` is the number of batches."""

    def __init__(self, dataset: TimeseriesDataset, offset: int, target_shift: int, targets: np.ndarray) -> None:
        self.dataset = dataset
        self.offset = offset  # the split's first row
        self.target_shift = target_shift  # rows from a window's first input to its target
        self._targets = targets  # the target column, whole series, in the units y is given in

    def __iter__(self) -> Iterator[Any]:
        return iter(self.dataset)

    def __len__(self) -> int:
        return len(self.dataset)

    def get_state(self) -> dict[str, Any]:
        """The shuffling's state, for a training checkpoint (see `TimeseriesDataset.get_state`)."""
        return self.dataset.get_state()

    def set_state(self, state: dict[str, Any]) -> None:
        self.dataset.set_state(state)

    @property
    def num_windows(self) -> int:
        return self.dataset.num_windows

    def input_rows(self) -> np.ndarray:
        """The series rows of each window's inputs (windows in unshuffled order): (n, lookback)."""
        return self.offset + self.dataset.window_rows(np.sort(self.dataset.positions))

    def target_rows(self) -> np.ndarray:
        """The series row of each window's target (unshuffled order): (n,)."""
        return self.offset + np.sort(self.dataset.positions) + self.target_shift

    def targets(self) -> np.ndarray:
        """Every window's target, unshuffled order: (n,)."""
        return self._targets[self.target_rows()]


@dataclass
class ForecastData:
    """Train / validation / test windows of one series, and what is needed to read their numbers."""

    train: Windows
    val: Windows
    test: Windows
    normalizer: Normalizer
    target: int  # the target column
    ranges: SplitRanges
    normalize_targets: bool
    raw_target: np.ndarray  # (N,) the target column in its own units
    lookback: int
    step: int
    horizon: int

    def to_units(self, y: np.ndarray) -> np.ndarray:
        """Targets or predictions in the target's own units (undoes the normalisation when targets have it)."""
        return self.normalizer.inverse(y, self.target) if self.normalize_targets else np.asarray(y)

    def baseline_mae(self, split: str, lag: int) -> float:
        """Mean absolute error, in the target's units, of predicting each target by the value `lag` rows
        earlier ("same as 24 hours ago": lag 24 on hourly rows; "last value": lag 1 with horizon 1).
        `lag` must be at least the horizon, so the baseline only uses rows the model sees too."""
        if lag < self.horizon:
            raise ValueError(f"lag {lag} is shorter than the horizon {self.horizon}: it would read a row after "
                             "the inputs")
        rows = self.split(split).target_rows()
        return float(np.mean(np.abs(self.raw_target[rows] - self.raw_target[rows - lag])))

    def split(self, name: str) -> Windows:
        """The windows of "train", "val" or "test"."""
        self.ranges[name]  # validates the name
        return getattr(self, name)


def forecast_windows(values: np.ndarray | Table, target: int | str, lookback: int, horizon: int, step: int = 1,
                     stride: int = 1, batch_size: int = 128, train: float = 0.5, val: float = 0.25,
                     shuffle_train: bool = True, seed: int = 0, normalize_targets: bool = False,
                     dtype: Any = np.float32) -> ForecastData:
    """Windows for forecasting column `target` `horizon` rows after the last of `lookback` inputs.

    `values`: (N, F) array or a `Table` (then `target` may be a column name). `step`: rows between
    two inputs of a window (6 takes one 10-minute row per hour); `stride`: rows between two window
    starts. Inputs are normalised with statistics of the training range only; `y` stays in the
    target's units unless `normalize_targets`. The training windows are shuffled on every pass
    (seeded by `seed`); validation and test windows come in time order.
    """
    if isinstance(values, Table):
        if isinstance(target, str):
            target = values.index(target)
        values = values.values
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"values must be (rows, columns), got shape {values.shape}")
    if not isinstance(target, (int, np.integer)) or not 0 <= target < values.shape[1]:
        raise ValueError(f"target must be a column index in [0, {values.shape[1]}) or a Table column name, "
                         f"got {target!r}")
    for name, v in (("lookback", lookback), ("horizon", horizon), ("step", step), ("stride", stride),
                    ("batch_size", batch_size)):
        if int(v) < 1:
            raise ValueError(f"{name} must be at least 1, got {v}")
    bad = np.flatnonzero(~np.isfinite(values).all(axis=0))
    if bad.size:
        raise ValueError(f"columns {bad.tolist()} hold NaN or infinite values; fill or drop them first")
    ranges = chronological_split(len(values), train, val)
    normalizer = Normalizer.fit(values[slice(*ranges.train)])
    inputs = normalizer.transform(values).astype(dtype)  # (N, F)
    raw_target = values[:, target]
    y_all = (inputs[:, target] if normalize_targets else raw_target).astype(dtype)  # (N,)
    shift = (lookback - 1) * step + horizon  # first input -> target
    splits = {}
    for name in ("train", "val", "test"):
        a, b = ranges[name]
        if b - a <= shift:
            raise ValueError(f"the {name} part has {b - a} rows, too few for one window of lookback {lookback}, "
                             f"step {step} and horizon {horizon} ({shift + 1} rows)")
        shuffle = shuffle_train and name == "train"
        dataset = timeseries_dataset_from_array(inputs[a:b], y_all[a + shift : b], sequence_length=lookback,
                                                sequence_stride=stride, sampling_rate=step, batch_size=batch_size,
                                                shuffle=shuffle, seed=seed)
        splits[name] = Windows(dataset, a, shift, y_all)
    return ForecastData(splits["train"], splits["val"], splits["test"], normalizer, int(target), ranges,
                        normalize_targets, raw_target, lookback, step, horizon)
