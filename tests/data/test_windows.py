"""Forecasting windows without leakage from the future: every target comes after its inputs, the
normaliser sees only the training rows, and the splits do not overlap in time."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit.data.series import Table
from lstmkit.data.windows import Normalizer, chronological_split, forecast_windows

N = 1_000


@pytest.fixture(scope="module")
def series() -> np.ndarray:
    """Column 0 is the row number (so every value says where it came from); column 1 trends and wiggles."""
    t = np.arange(N, dtype=np.float64)
    return np.column_stack([t, 0.05 * t + np.sin(t / 7.0) + np.random.default_rng(0).normal(0, 0.1, N)])


def _rows(data, x: np.ndarray) -> np.ndarray:
    """The row numbers inside normalised inputs (column 0), recovered through the normaliser."""
    return np.rint(data.normalizer.inverse(x[..., 0], column=0)).astype(int)


@pytest.mark.parametrize("lookback, horizon, step, stride", [(10, 1, 1, 1), (24, 24, 1, 3), (8, 5, 6, 2)],
                         ids=lambda v: str(v))
def test_targets_come_strictly_after_the_inputs_inside_one_split(series, lookback, horizon, step, stride):
    data = forecast_windows(series, target=0, lookback=lookback, horizon=horizon, step=step, stride=stride,
                            batch_size=32, seed=1)
    for name in ("train", "val", "test"):
        a, b = data.ranges[name]
        windows = data.split(name)
        x, y = (np.concatenate(parts) for parts in zip(*windows))
        rows, target_rows = _rows(data, x), y.astype(int)  # y is column 0 itself: the target's row number
        assert x.shape == (windows.num_windows, lookback, 2) and x.dtype == np.float32
        np.testing.assert_array_equal(np.diff(rows, axis=1), step)  # inputs `step` rows apart, in time order
        np.testing.assert_array_equal(target_rows, rows[:, -1] + horizon)  # strictly after the last input
        assert rows.min() >= a and target_rows.max() < b  # inputs and targets inside the split
        starts = np.sort(rows[:, 0])
        np.testing.assert_array_equal(starts, np.arange(a, b - (lookback - 1) * step - horizon, stride))
        np.testing.assert_array_equal(np.sort(target_rows), windows.target_rows())
        np.testing.assert_array_equal(np.sort(rows, axis=0), windows.input_rows())


def test_normaliser_uses_the_training_rows_only(series):
    data = forecast_windows(series, target=1, lookback=10, horizon=1)
    a, b = data.ranges.train
    np.testing.assert_allclose(data.normalizer.mean, series[a:b].mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(data.normalizer.std, series[a:b].std(axis=0), rtol=1e-12)
    assert abs(data.normalizer.mean[1] - series[:, 1].mean()) > 5  # the trend makes whole-series stats differ
    x, _ = next(iter(forecast_windows(series, target=1, lookback=10, horizon=1, shuffle_train=False).val))
    np.testing.assert_allclose(x[0, :, 1], (series[500:510, 1] - series[:500, 1].mean()) / series[:500, 1].std(),
                               rtol=1e-5)


def test_splits_are_chronological_and_disjoint():
    r = chronological_split(1_000)
    assert (r.train, r.val, r.test) == ((0, 500), (500, 750), (750, 1_000))
    r = chronological_split(101, train=0.6, val=0.2)
    assert r.train[1] == r.val[0] and r.val[1] == r.test[0] and r.test[1] == 101 and r.train[0] == 0
    with pytest.raises(ValueError, match="need 0 < train < 1"):
        chronological_split(10, train=0.8, val=0.3)


def test_training_windows_reshuffle_every_pass_while_val_and_test_keep_time_order(series):
    data = forecast_windows(series, target=0, lookback=5, horizon=2, batch_size=16, seed=3)
    first = np.concatenate([y for _, y in data.train])
    second = np.concatenate([y for _, y in data.train])
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(np.sort(first), np.sort(second))
    assert len(data.train) == -(-len(first) // 16)
    val = np.concatenate([y for _, y in data.val])
    assert (np.diff(val) > 0).all()


def test_normalised_targets_convert_back(series):
    data = forecast_windows(series, target=1, lookback=6, horizon=3, normalize_targets=True, shuffle_train=False)
    _, y = next(iter(data.test))
    rows = data.test.target_rows()[: len(y)]
    np.testing.assert_allclose(data.to_units(y), series[rows, 1], rtol=1e-5, atol=1e-5)
    assert abs(float(np.mean(y))) < 5  # normalised, unlike the trending raw values near 40


def test_baseline_mae_by_hand():
    values = (3.0 * np.arange(200.0))[:, None]  # rises 3 per row: "same as `lag` rows ago" is off by 3 * lag
    data = forecast_windows(values, target=0, lookback=4, horizon=2)
    assert data.baseline_mae("test", lag=2) == pytest.approx(6.0)
    assert data.baseline_mae("val", lag=5) == pytest.approx(15.0)
    with pytest.raises(ValueError, match="lag 1 is shorter than the horizon 2"):
        data.baseline_mae("test", lag=1)


def test_on_beijing_the_first_window_predicts_the_temperature_a_day_later(shared_data, monkeypatch):
    from lstmkit.data.weather import load_beijing

    monkeypatch.setenv("LSTMKIT_DATA_DIR", str(shared_data))
    table = load_beijing()
    data = forecast_windows(table, target="TEMP", lookback=120, horizon=24, batch_size=64, shuffle_train=False)
    x, y = next(iter(data.train))
    assert x.shape == (64, 120, 11)
    np.testing.assert_array_equal(y, table.column("TEMP")[143 : 143 + 64])  # last input row 119, + 24 hours
    assert data.train.num_windows == 21_912 - 143


def test_bad_input(series):
    with pytest.raises(ValueError, match="columns \\[1\\] hold NaN"):
        forecast_windows(np.column_stack([series[:, 0], np.full(N, np.nan)]), target=0, lookback=3, horizon=1)
    with pytest.raises(ValueError, match="horizon must be at least 1, got 0"):
        forecast_windows(series, target=0, lookback=3, horizon=0)
    with pytest.raises(ValueError, match="the val part has 250 rows, too few"):
        forecast_windows(series, target=0, lookback=200, horizon=60)
    with pytest.raises(ValueError, match=r"target must be a column index in \[0, 2\)"):
        forecast_windows(series, target=2, lookback=3, horizon=1)
    with pytest.raises(ValueError, match="no column 'TEMP'"):
        forecast_windows(Table(np.arange(N).astype("datetime64[h]"), series, ("t", "v")), target="TEMP",
                         lookback=3, horizon=1)


def test_normalizer_constant_column_and_inverse():
    data = np.column_stack([np.arange(10.0), np.full(10, 4.0)])
    norm = Normalizer.fit(data)
    z = norm.transform(data)
    np.testing.assert_allclose(z[:, 1], 0.0)
    np.testing.assert_allclose(norm.inverse(z), data)
    with pytest.raises(ValueError, match="non-empty"):
        Normalizer.fit(np.zeros((0, 2)))
