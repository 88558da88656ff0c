"""The temperature experiment on the real Beijing data: the common-sense baseline equals ForecastData's,
every model trains and writes its files, the CLI fills the config, runs repeat, bad options are refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from lstmkit.cli import main
from lstmkit.data.windows import forecast_windows
from lstmkit.experiments import temperature as T

PNG = b"\x89PNG\r\n\x1a\n"
TINY = {"epochs": 1, "limit": 64, "lookback": 24, "step": 1}  # one batch of training, seconds per model
METRIC_KEYS = {"model", "horizon", "val_mae", "test_mae", "baseline_val_mae", "baseline_test_mae", "baseline_lag",
               "improvement_vs_baseline", "train_windows", "seconds_per_epoch", "params"}


@pytest.fixture(scope="module")
def data_dir() -> Path:
    value = os.environ.get("LSTMKIT_DATA_DIR")
    if not value or not (Path(value) / "beijing_pm25_hourly.csv.gz").is_file():
        pytest.skip("set LSTMKIT_DATA_DIR to the shared data folder to run the temperature experiment")
    return Path(value).resolve()


@pytest.fixture(scope="module")
def beijing(data_dir):
    """The Beijing table, read once for the module (about a second)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LSTMKIT_DATA_DIR", str(data_dir))
        return T.load_beijing()


@pytest.fixture
def cached(beijing, monkeypatch):
    """run() reads the module's table instead of parsing the csv again."""
    monkeypatch.setattr(T, "load_beijing", lambda: beijing)
    return beijing


def _run(tmp_path: Path, name: str = "run", **options) -> tuple[dict, Path]:
    out = tmp_path / name
    return T.run(T.Config(out=str(out), **options)), out


def _windows(beijing, lookback: int, horizon: int, step: int = 1):
    return forecast_windows(beijing, target="TEMP", lookback=lookback, horizon=horizon, step=step,
                            normalize_targets=True)


# ----- the baseline ---------------------------------------------------------------------------------
@pytest.mark.parametrize("horizon, lookback, step, lag", [(24, 120, 1, 24), (24, 48, 2, 24), (1, 48, 1, 1)],
                         ids=["h24-L120", "h24-L48-s2", "h1-L48"])
def test_baseline_equals_forecast_data_baseline_mae(cached, tmp_path, horizon, lookback, step, lag):
    """The baseline reads its value from the window's inputs; ForecastData reads the raw rows: they agree."""
    metrics, out = _run(tmp_path, model="baseline", horizon=horizon, lookback=lookback, step=step)
    data = _windows(cached, lookback, horizon, step)
    assert metrics["baseline_lag"] == lag  # "same as 24 hours ago"; "last value" one hour ahead
    for split in ("val", "test"):
        expected = data.baseline_mae(split, lag=lag)
        assert metrics[f"{split}_mae"] == pytest.approx(expected, rel=1e-6)
        assert metrics[f"baseline_{split}_mae"] == pytest.approx(expected, rel=1e-6)
    assert metrics["improvement_vs_baseline"] == pytest.approx(0.0, abs=1e-12)
    assert 1.0 < metrics["test_mae"] < 4.0  # hourly Beijing: about 2.7 °C a day ahead, 1.1 °C an hour ahead
    assert (out / "forecast.png").read_bytes().startswith(PNG)
    assert not (out / "model.keras").exists() and json.loads((out / "history.json").read_text()) == {}


def test_baseline_lags_read_only_inputs():
    assert T.baseline_lags(24, 120, 1) == [24]
    assert T.baseline_lags(1, 120, 1) == [1, 24]  # last value, or the same hour yesterday (23 h before the last)
    assert T.baseline_lags(1, 120, 2) == [1]  # 23 h back is not one of the readings 2 h apart
    assert T.baseline_lags(30, 120, 1) == [30, 48]
    assert T.baseline_lags(6, 10, 1) == [6]  # 18 h back is before the window's first reading


def test_one_hour_ahead_the_last_value_beats_yesterday_on_validation(cached):
    config = T.Config(model="baseline", horizon=1, lookback=48)
    data = _windows(cached, 48, 1)
    chosen = T.choose_baseline(config, data)
    assert chosen.lag == 1 and chosen.index == -1
    assert data.baseline_mae("val", lag=1) < data.baseline_mae("val", lag=24)


# ----- the networks -------------------------------------------------------------------------------
@pytest.mark.parametrize("model", [m for m in T.MODELS if m != "baseline"])
def test_every_model_trains_and_writes_its_files(cached, tmp_path, model):
    options = {**TINY, "lookback": 48, "step": 2} if model == "conv1d-gru" else TINY
    metrics, out = _run(tmp_path, model=model, **options)
    for name in ("config.json", "history.json", "metrics.json", "curves.png", "model.keras", "normalizer.json",
                 "forecast.png"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "metrics.json").read_text())
    assert METRIC_KEYS <= set(saved) and saved["model"] == model and saved["horizon"] == 24
    assert {k: metrics[k] for k in saved} == saved  # run() returns what it wrote
    assert saved["train_windows"] == 64 and saved["epochs_run"] == 1 and saved["params"] > 0
    for key in ("val_mae", "test_mae", "baseline_val_mae", "baseline_test_mae"):
        assert np.isfinite(saved[key]) and 0.5 < saved[key] < 40.0, key  # °C, not standardised units
    assert saved["improvement_vs_baseline"] == pytest.approx(1 - saved["test_mae"] / saved["baseline_test_mae"])
    history = json.loads((out / "history.json").read_text())
    assert {"loss", "val_loss", "mae", "val_mae", "val_mae_degC"} <= set(history)
    assert history["val_mae_degC"][0] == pytest.approx(history["val_mae"][0] * saved["target_std"])
    assert (out / "curves.png").read_bytes().startswith(PNG)
    assert (out / "forecast.png").read_bytes().startswith(PNG)
    written = json.loads((out / "config.json").read_text())
    assert written["config"]["model"] == model
    assert written["experiment"] == "temperature"  # the run folder names its experiment


def test_saved_model_predicts_the_reported_test_mae(cached, tmp_path):
    from lstmkit.keras.models import load_model

    metrics, out = _run(tmp_path, model="gru", **TINY)
    # Keras' count: GRU(32) on 11 measured columns + 4 time features, then Dense(1)
    assert metrics["params"] == 3 * (32 * (15 + 32) + 2 * 32) + 33
    data = _windows(T.with_time_features(cached), 24, 24)
    model = load_model(str(out / "model.keras"))
    pred = data.to_units(model.predict(data.test, verbose=0).reshape(-1))
    actual = cached.column("TEMP")[data.test.target_rows()]
    assert np.mean(np.abs(pred - actual)) == pytest.approx(metrics["test_mae"], rel=1e-5)
    norm = json.loads((out / "normalizer.json").read_text())
    np.testing.assert_allclose(norm["mean"], data.normalizer.mean)
    assert norm["columns"][2] == "TEMP" and norm["lookback"] == 24


def test_a_short_training_learns_the_temperature(cached, tmp_path):
    """Two passes over the training windows: near the baseline, far from predicting a constant (about 10 °C)."""
    metrics, _ = _run(tmp_path, model="gru", epochs=2, lookback=24)
    assert metrics["test_mae"] < 4.0 and metrics["val_mae"] < 4.0


def test_same_seed_same_metrics(cached, tmp_path):
    options = {**TINY, "model": "gru-dropout", "limit": 300}  # dropout masks and shuffling both follow the seed
    a, _ = _run(tmp_path, "a", **options)
    b, _ = _run(tmp_path, "b", **options)
    c, _ = _run(tmp_path, "c", seed=1, **options)
    assert (a["val_mae"], a["test_mae"]) == (b["val_mae"], b["test_mae"])
    assert a["test_mae"] != c["test_mae"]


def test_limit_takes_the_first_training_windows_in_time_order(beijing):
    data = _windows(beijing, 24, 24)
    first = T.first_windows(data.train, 100, seed=0)
    one = np.concatenate([y for _, y in first])
    two = np.concatenate([y for _, y in first])
    expected = data.train.targets()[:100]
    np.testing.assert_array_equal(np.sort(one), np.sort(expected))
    np.testing.assert_array_equal(np.sort(two), np.sort(expected))
    assert not np.array_equal(one, two)  # reshuffled on every pass


def test_forecast_fortnight_is_336_consecutive_hours_from_midnight(beijing):
    data = _windows(beijing, 120, 24)
    rows = data.test.target_rows()[T.fortnight(beijing, data.test)]
    times = beijing.times[rows]
    assert len(rows) == 336 and str(times[0]).endswith("T00")
    assert (np.diff(times) == np.timedelta64(1, "h")).all()


# ----- the command line and bad options ----------------------------------------------------------
def test_cli_runs_the_experiment(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("LSTMKIT_DATA_DIR", str(data_dir))
    out = tmp_path / "cli"
    code = main(["run", "temperature", "--model", "gru", "--epochs", "1", "--limit", "64", "--lookback", "24",
                 "--horizon", "1", "--units", "8", "--optimizer", "adam", "--no-early-stopping", "--out", str(out)])
    assert code == 0
    config = json.loads((out / "config.json").read_text())["config"]
    assert (config["model"], config["horizon"], config["lookback"], config["units"], config["optimizer"]) == \
        ("gru", 1, 24, 8, "adam")
    assert config["early_stopping"] is False and config["batch_size"] == 256
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["horizon"] == 1 and metrics["baseline_lag"] == 1 and np.isfinite(metrics["test_mae"])
    assert metrics["params"] == 3 * (8 * (15 + 8) + 2 * 8) + 9


@pytest.mark.parametrize("options, message", [
    ({"model": "transformer"}, "--model must be one of baseline, dense, lstm"),
    ({"horizon": 0}, "--horizon must be at least 1, got 0"),
    ({"lookback": 0}, "--lookback must be at least 1, got 0"),
    ({"step": -2}, "--step must be at least 1, got -2"),
    ({"limit": 0}, "--limit must be at least 1 training window, got 0"),
    ({"model": "conv1d-gru", "lookback": 12}, "conv1d-gru needs --lookback >= 19"),
], ids=["model", "horizon", "lookback", "step", "limit", "conv-lookback"])
def test_bad_options_are_clear_errors(options, message):
    with pytest.raises(ValueError, match=message):
        T.Config(**options)


def test_bad_options_on_the_command_line(tmp_path, capsys):
    assert main(["run", "temperature", "--horizon", "0", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "lstmkit: error: --horizon must be at least 1, got 0" in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()  # refused before the run folder is made
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "temperature", "--model", "transformer"])
    assert exit_info.value.code == 2 and "invalid choice: 'transformer'" in capsys.readouterr().err


def test_the_baseline_is_not_built_as_a_network():
    with pytest.raises(ValueError, match="the baseline is not a network"):
        T.build(T.Config(model="baseline"), features=11)


def test_time_features_are_circles_of_the_hour_and_the_year():
    times = np.array(["2013-01-01T00", "2013-01-01T06", "2013-01-01T23", "2013-07-02T12"], dtype="datetime64[h]")
    table = T.Table(times, np.zeros((4, 2)), ("a", "TEMP"))
    out = T.with_time_features(table)
    assert out.columns == ("a", "TEMP", *T.TIME_COLUMNS)
    hs, hc, ys, yc = (out.values[:, out.index(c)] for c in T.TIME_COLUMNS)
    np.testing.assert_allclose(hs[:2], [0.0, 1.0], atol=1e-12)  # midnight, 06:00
    np.testing.assert_allclose(hc[:2], [1.0, 0.0], atol=1e-12)
    assert abs(hs[2] - np.sin(2 * np.pi * 23 / 24)) < 1e-12 and hc[2] > 0.96  # 23:00 sits next to midnight
    np.testing.assert_allclose(hs**2 + hc**2, 1.0)
    np.testing.assert_allclose(ys**2 + yc**2, 1.0)
    assert yc[0] > 0.99 and yc[3] < -0.99  # 1 January and about half a year later, opposite on the circle
