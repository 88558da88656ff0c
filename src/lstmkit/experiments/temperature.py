"""Temperature forecasting on Beijing's hourly weather: the Jena programs of Deep Learning with Python, on
lstmkit.keras.

From the past `lookback` hours (120: five days) of the 11 hourly columns of `load_beijing()`, one
reading every `step` hours, predict the temperature `horizon` hours after the last reading (24, or
1 for the next hour). Rows are split in time order 50/25/25; inputs and target are standardised with
the training part's statistics; the networks predict the standardised temperature and every MAE is
reported in °C. Models: `baseline` (no training: the reading `lag` hours before the target, where the
lag is the horizon ("last value") or the same hour of an earlier day ("same as 24 hours ago"),
whichever does better on validation), `dense`, `lstm`, `gru`, `gru-dropout`, `stacked-gru`, `bigru`,
`conv1d-gru`. rmsprop and MAE loss as in the book, early stopping on the validation loss with the best
weights restored. Writes config.json, history.json, metrics.json, curves.png, model.keras,
normalizer.json and forecast.png (a test fortnight, predicted vs actual).
"""

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lstmkit.data.sequence import TimeseriesDataset
from lstmkit.data.series import Table
from lstmkit.data.weather import load_beijing
from lstmkit.data.windows import ForecastData, Windows, forecast_windows
from lstmkit.experiments import configs
from lstmkit.experiments.base import open_run
from lstmkit.experiments.configs import TemperatureConfig as Config
from lstmkit.experiments.reporting import console, print_results, save_curves
from lstmkit.io import atomic_savefig, write_json
from lstmkit.runtime import resolve_device, set_seed

MODELS, CONV_MIN_LOOKBACK = configs.TEMPERATURE_MODELS, configs.CONV_MIN_LOOKBACK  # this experiment's names

TARGET = "TEMP"
FORTNIGHT = 14 * 24  # hours shown in forecast.png


# ----- data ---------------------------------------------------------------------------------------
def load(config: Config) -> tuple[Table, ForecastData]:
    """Beijing's hourly table and its windows (standardised inputs and targets, train statistics only)."""
    table = load_beijing()
    if config.time_features:
        table = with_time_features(table)
    data = forecast_windows(table, target=TARGET, lookback=config.lookback, horizon=config.horizon, step=config.step,
                            batch_size=config.batch_size, seed=config.seed, normalize_targets=True)
    return table, data


TIME_COLUMNS = ("hour_sin", "hour_cos", "year_sin", "year_cos")


def with_time_features(table: Table) -> Table:
    """`table` plus the hour of the day and the position in the year, each as a point on a circle (sine,
    cosine), so that 23:00 sits next to 00:00 and 31 December next to 1 January."""
    hours = table.times.astype("datetime64[h]").astype(np.int64)  # hours since 1970-01-01 00:00 (UTC)
    day = 2 * np.pi * (hours % 24) / 24
    year = 2 * np.pi * (hours / 24.0) / 365.2425
    extra = np.stack([np.sin(day), np.cos(day), np.sin(year), np.cos(year)], axis=1)
    return Table(table.times, np.concatenate([table.values, extra], axis=1), (*table.columns, *TIME_COLUMNS))


def first_windows(windows: Windows, n: int, seed: int) -> TimeseriesDataset:
    """The first `n` windows of `windows` in time order, reshuffled on every pass (like the full training set)."""
    ds = windows.dataset
    positions = np.sort(ds.positions)[:n].copy()
    return TimeseriesDataset(ds.data, ds.targets, positions, ds.sequence_length, ds.sampling_rate, ds.batch_size,
                             True, seed, ds.start_index, ds.end_index)


def targets_in_units(data: ForecastData, windows: Windows) -> np.ndarray:
    """Every window's target temperature in °C, time order: (n,)."""
    return data.raw_target[windows.target_rows()]


def mae(pred: np.ndarray, actual: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(pred, dtype=np.float64) - actual)))


# ----- the common-sense baseline --------------------------------------------------------------------
@dataclass(frozen=True)
class Baseline:
    """Predict the target by the temperature read `lag` hours before it, taken from the window's own inputs."""

    lag: int
    index: int  # the input position (time axis) of that reading: -1 is the last one
    column: int
    data: ForecastData

    def predict(self, windows: Windows) -> np.ndarray:
        x = np.concatenate([xb[:, self.index, self.column] for xb, _ in windows])  # (n,) standardised
        return self.data.normalizer.inverse(x, self.column)


def baseline_lags(horizon: int, lookback: int, step: int) -> list[int]:
    """The lags a baseline can read from the inputs: the last reading (lag = horizon) and the same hour of the
    latest day at least `horizon` hours back, when that hour is one of the readings."""
    lags = [horizon]
    daily = 24 * math.ceil(horizon / 24)
    back = daily - horizon  # hours from the last reading back to the daily one
    if daily != horizon and back % step == 0 and back <= (lookback - 1) * step:
        lags.append(daily)
    return lags


def choose_baseline(config: Config, data: ForecastData) -> Baseline:
    """The candidate lag with the lowest validation MAE (test data are not looked at)."""
    column = data.target
    candidates = [Baseline(lag, -1 - (lag - config.horizon) // config.step, column, data)
                  for lag in baseline_lags(config.horizon, config.lookback, config.step)]
    actual = targets_in_units(data, data.val)
    return min(candidates, key=lambda b: mae(b.predict(data.val), actual))


# ----- the networks -------------------------------------------------------------------------------
def build(config: Config, features: int) -> Any:
    """The Keras model of `config.model` (not the baseline), compiled, as the book writes it."""
    from lstmkit.keras import layers, optimizers
    from lstmkit.keras.models import Sequential

    if config.model == "baseline":
        raise ValueError("the baseline is not a network: it has nothing to build")
    u = config.units
    body = {
        "dense": lambda: [layers.Flatten(), layers.Dense(u, activation="relu")],
        "lstm": lambda: [layers.LSTM(u)],
        "gru": lambda: [layers.GRU(u)],
        "gru-dropout": lambda: [layers.GRU(u, dropout=0.2, recurrent_dropout=0.2)],
        "stacked-gru": lambda: [layers.GRU(u, recurrent_dropout=0.5, return_sequences=True),
                                layers.GRU(u, recurrent_dropout=0.5), layers.Dropout(0.5)],
        "bigru": lambda: [layers.Bidirectional(layers.GRU(u))],
        "conv1d-gru": lambda: [layers.Conv1D(32, 5, activation="relu"), layers.MaxPooling1D(3),
                               layers.Conv1D(32, 5, activation="relu"),
                               layers.GRU(u, dropout=0.1, recurrent_dropout=0.5)],
        "mingru": lambda: [layers.MinGRU(u)],  # issue 20: the scan-trained recurrences and the xLSTM's sLSTM
        "minlstm": lambda: [layers.MinLSTM(u)],
        "slstm": lambda: [layers.SLSTM(u, num_heads=4, backend=config.backend if config.backend in ("reference", "cpu")
                                       else "auto")],
    }[config.model]()
    model = Sequential([layers.Input(shape=(config.lookback, features)), *body, layers.Dense(1)])
    optimizer = {"rmsprop": optimizers.RMSprop, "adam": optimizers.Adam}[config.optimizer]
    device = None if config.device == "auto" else config.device
    model.compile(optimizer=optimizer(learning_rate=config.learning_rate), loss=config.loss, metrics=["mae"],
                  device=device)
    if config.backend != "auto":
        model.set_backend(config.backend)
    return model


def train(config: Config, model: Any, data: ForecastData, backup: Any = None
          ) -> tuple[dict[str, list[float]], list[float]]:
    """Fit on the training windows (the first `limit` of them), validate every epoch; history and epoch times.
    `backup`: a BackupAndRestore (the run's), whose checkpoints let an interrupted run resume."""
    from lstmkit.keras.callbacks import EarlyStopping

    train_set: Any = data.train
    if config.limit is not None:
        train_set = first_windows(data.train, config.limit, config.seed)
    callbacks = [EarlyStopping(monitor="val_loss", patience=config.patience, restore_best_weights=True)] \
        if config.early_stopping else []
    if backup is not None:
        callbacks.append(backup)
    history = model.fit(train_set, epochs=config.epochs, validation_data=data.val, callbacks=callbacks, verbose=1)
    if backup is not None:
        return backup.full_history(history), [float(t) for t in backup.full_epoch_times(history)]
    hist = {k: [float(v) for v in vals] for k, vals in history.history.items()}
    return hist, [float(t) for t in getattr(history, "epoch_times", [])]


def predict(model: Any, data: ForecastData, windows: Windows) -> np.ndarray:
    """The model's forecasts for `windows`, in °C, time order: (n,)."""
    return data.to_units(np.asarray(model.predict(windows, verbose=0)).reshape(-1))


# ----- the figure ---------------------------------------------------------------------------------
def fortnight(table: Table, windows: Windows) -> slice:
    """The first FORTNIGHT consecutive test targets that start at midnight (all of them when there are fewer)."""
    rows = windows.target_rows()
    hours = (table.times[rows].astype("datetime64[h]").astype(np.int64)) % 24
    midnights = np.flatnonzero(hours == 0)
    first = int(midnights[0]) if midnights.size and midnights[0] + FORTNIGHT <= len(rows) else 0
    return slice(first, first + FORTNIGHT)


def forecast_figure(times: np.ndarray, actual: np.ndarray, forecasts: dict[str, np.ndarray], title: str) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 4))
    t = times.astype("datetime64[s]")
    ax.plot(t, actual, color="black", lw=1.6, label="actual")
    styles = [("tab:blue", "-"), ("tab:gray", "--")]
    for (name, values), (color, ls) in zip(forecasts.items(), styles):
        ax.plot(t, values, color=color, ls=ls, lw=1.2, label=name)
    ax.set_ylabel("temperature (°C)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def save_forecast(path: Path, table: Table, data: ForecastData, config: Config, pred: np.ndarray,
                  base: np.ndarray, test_mae: float, base_mae: float, lag: int) -> Path:
    """forecast.png: a test fortnight, actual against the model's (and the baseline's) forecasts."""
    import matplotlib.pyplot as plt

    span = fortnight(table, data.test)
    rows = data.test.target_rows()[span]
    forecasts = {f"baseline (lag {lag} h), MAE {base_mae:.2f} °C": base[span]}
    if config.model != "baseline":
        forecasts = {f"{config.model}, MAE {test_mae:.2f} °C": pred[span], **forecasts}
    title = (f"Beijing temperature {config.horizon} h ahead from {config.lookback} readings every {config.step} h: "
             f"test fortnight (MAE over the whole test part)")
    fig = forecast_figure(table.times[rows], data.raw_target[rows], forecasts, title)
    try:
        return atomic_savefig(fig, path, dpi=110)
    finally:
        plt.close(fig)


# ----- the run ------------------------------------------------------------------------------------
def run(config: Config) -> dict:
    set_seed(config.seed)
    resolve_device(config.device)  # fails early and clearly when cuda is asked for and absent
    with open_run(config) as run:
        return _run(run)


def _run(run: Any) -> dict:
    config, out = run.config, run.out  # a resumed run's own options
    set_seed(config.seed)
    table, data = load(config)
    baseline = choose_baseline(config, data)
    val_actual, test_actual = targets_in_units(data, data.val), targets_in_units(data, data.test)
    base_val, base_test = baseline.predict(data.val), baseline.predict(data.test)
    hist: dict[str, list[float]] = {}
    epoch_times: list[float] = []
    model = None
    if config.model == "baseline":
        val_pred, test_pred = base_val, base_test
    else:
        model = build(config, features=len(table.columns))
        hist, epoch_times = train(config, model, data, run.backup())
        val_pred, test_pred = predict(model, data, data.val), predict(model, data, data.test)
    std = float(data.normalizer.std[data.target])
    for key in ("mae", "val_mae"):  # the standardised MAE in °C, for reading the curves
        if key in hist:
            hist[f"{key}_degC"] = [v * std for v in hist[key]]
    val_mae, test_mae = mae(val_pred, val_actual), mae(test_pred, test_actual)
    base_val_mae, base_test_mae = mae(base_val, val_actual), mae(base_test, test_actual)
    train_windows = data.train.num_windows if config.limit is None else min(config.limit, data.train.num_windows)
    metrics = {
        "model": config.model, "horizon": config.horizon, "lookback": config.lookback, "step": config.step,
        "val_mae": val_mae, "test_mae": test_mae,
        "baseline_val_mae": base_val_mae, "baseline_test_mae": base_test_mae, "baseline_lag": baseline.lag,
        "improvement_vs_baseline": 1.0 - test_mae / base_test_mae,  # 0.10: a 10% lower test MAE
        "val_improvement_vs_baseline": 1.0 - val_mae / base_val_mae,
        "units": "degC", "target_std": std,
        "train_windows": train_windows, "val_windows": data.val.num_windows, "test_windows": data.test.num_windows,
        "epochs_run": len(hist.get("loss", [])),
        "best_epoch": (int(np.argmin(hist["val_loss"])) + 1) if hist.get("val_loss") else None,
        "seconds_per_epoch": epoch_times,
        "params": None if model is None else int(model.count_params()),
    }
    write_json(out / "history.json", hist)
    write_json(out / "metrics.json", metrics)
    write_json(out / "normalizer.json", {"columns": list(table.columns), "target": TARGET,
                                         "mean": data.normalizer.mean, "std": data.normalizer.std,
                                         "lookback": config.lookback, "step": config.step,
                                         "horizon": config.horizon})
    if model is not None:
        save_curves({k: v for k, v in hist.items() if k in ("loss", "val_loss", "mae_degC", "val_mae_degC")},
                    out / "curves.png", title=f"temperature {config.model}, {config.horizon} h ahead")
        model.save(str(out / "model.keras"))
    save_forecast(out / "forecast.png", table, data, config, test_pred, base_test, test_mae, base_test_mae,
                  baseline.lag)
    print_results(f"temperature {config.model}, {config.horizon} h ahead (MAE in °C)", {
        "validation MAE": val_mae, "test MAE": test_mae,
        f"baseline validation MAE (lag {baseline.lag} h)": base_val_mae, "baseline test MAE": base_test_mae,
        "test improvement vs baseline": f"{100 * metrics['improvement_vs_baseline']:.1f}%",
    })
    console.print(f"wrote {run.target}")
    return {**metrics, "config": asdict(config)}
