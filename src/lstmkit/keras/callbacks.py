"""Keras' callbacks: History, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, CSVLogger, LambdaCallback,
LearningRateScheduler, TerminateOnNaN, ProgbarLogger; their rules follow Keras 3's code.

The base class and the call order live in `lstmkit.train.callbacks`.
"""

from __future__ import annotations

import csv
import io
import math
import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lstmkit.io import atomic_write_text
from lstmkit.train.callbacks import Callback, CallbackList
from lstmkit.train.progress import ProgressBar

__all__ = [
    "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History", "LambdaCallback", "LearningRateScheduler",
    "ModelCheckpoint", "ProgbarLogger", "ReduceLROnPlateau", "TerminateOnNaN",
]


class History(Callback):
    """Records every epoch's logs: `history.history["loss"]`, `["val_acc"]`, ...; `epoch` lists the epochs.
    lstmkit adds `epoch_times` (seconds of training per epoch) and `loop_stats` (set by fit)."""

    def __init__(self) -> None:
        super().__init__()
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.epoch_times: list[float] = []
        self.loop_stats: dict[str, Any] = {}

    def on_train_begin(self, logs: Mapping | None = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: Mapping | None = None) -> None:
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        if self.model is not None:
            self.model.history = self


class ProgbarLogger(ProgressBar):
    """Keras' name for the progress bar callback."""

    def __init__(self, count_mode: str | None = None, verbose: int = 1) -> None:
        super().__init__(verbose=verbose)


class _Monitor(Callback):
    """Keras' MonitorCallback: the comparison from `mode` ("auto" reads the metric's direction)."""

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", baseline: float | None = None,
                 min_delta: float = 0.0) -> None:
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode {mode!r} is unknown, fallback to auto mode", stacklevel=3)
            mode = "auto"
        self.monitor, self.mode = monitor, mode
        self.best: float | None = baseline
        self.min_delta = abs(min_delta)
        self.monitor_op: Callable[[float, float], bool] | None = None

    def _set_monitor_op(self) -> None:
        if self.mode == "min":
            self.monitor_op = _less
        elif self.mode == "max":
            self.monitor_op = _greater
        else:
            name = self.monitor.removeprefix("val_")
            if name == "loss":
                self.monitor_op = _less
            for metric in getattr(self.model, "compiled_metrics_list", lambda: [])():
                if metric.name == name:
                    self.monitor_op = _greater if metric.direction == "up" else _less
            if self.monitor_op is None:
                raise ValueError(f"{type(self).__name__} received monitor={self.monitor!r} but cannot tell whether "
                                 "it should go up or down: pass mode='max' or mode='min'")
        if self.monitor_op is _less:
            self.min_delta *= -1

    def _is_improvement(self, value: float, reference: float | None) -> bool:
        if reference is None:
            return True
        assert self.monitor_op is not None
        return self.monitor_op(value - self.min_delta, reference)


def _less(a: float, b: float) -> bool:
    return a < b


def _greater(a: float, b: float) -> bool:
    return a > b


class EarlyStopping(_Monitor):
    """Stop when `monitor` has not improved for `patience` epochs; optionally restore the best weights."""

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", baseline: float | None = None, restore_best_weights: bool = False,
                 start_from_epoch: int = 0) -> None:
        super().__init__(monitor, mode, min_delta=min_delta)
        self.patience, self.verbose, self.baseline = patience, verbose, baseline
        self.restore_best_weights, self.start_from_epoch = restore_best_weights, start_from_epoch
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights: list | None = None
        self.best_epoch = 0

    def on_train_begin(self, logs: Mapping | None = None) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch: int, logs: Mapping | None = None) -> None:
        if self.monitor_op is None:
            self._set_monitor_op()
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                          f"Available metrics are: {','.join(logs or {})}", stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Mapping | None = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ReduceLROnPlateau(_Monitor):
    """Multiply the learning rate by `factor` after `patience` epochs without improvement."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, verbose: int = 0,
                 mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0,
                 **kwargs: Any) -> None:
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0, got {factor}")
        self.factor, self.min_lr, self.patience = factor, min_lr, patience
        self.verbose, self.cooldown = verbose, cooldown
        self.cooldown_counter = 0
        self.wait = 0

    def on_train_begin(self, logs: Mapping | None = None) -> None:
        self.best = None
        self.cooldown_counter = 0
        self.wait = 0

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch: int, logs: Mapping | None = None) -> None:
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        if isinstance(logs, dict):
            logs["learning_rate"] = float(optimizer.learning_rate)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Learning rate reduction is conditioned on metric `{self.monitor}` which is not "
                          f"available. Available metrics are: {','.join(logs)}.", stacklevel=2)
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience:
                old_lr = float(optimizer.learning_rate)
                if old_lr > self.min_lr:
                    new_lr = max(old_lr * self.factor, self.min_lr)
                    optimizer.learning_rate = new_lr
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class ModelCheckpoint(_Monitor):
    """Save the model (`.keras`) or its weights after each epoch, or only when `monitor` improves.
    `filepath` may hold `{epoch:02d}` (1-based) and log names, e.g. "ckpt-{epoch:02d}-{val_loss:.2f}.keras"."""

    def __init__(self, filepath: str | os.PathLike, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False, mode: str = "auto",
                 save_freq: str | int = "epoch", initial_value_threshold: float | None = None) -> None:
        super().__init__(monitor, mode, baseline=initial_value_threshold)
        if save_freq != "epoch":
            raise ValueError(f"ModelCheckpoint: only save_freq='epoch' is supported, got {save_freq!r}")
        self.filepath = os.fspath(filepath)
        self.verbose, self.save_best_only, self.save_weights_only = verbose, save_best_only, save_weights_only
        if save_weights_only and not self.filepath.endswith((".weights.safetensors", ".safetensors")):
            raise ValueError("ModelCheckpoint(save_weights_only=True) needs a filepath ending in "
                             f"'.weights.safetensors', got {self.filepath!r}")
        if not save_weights_only and not self.filepath.endswith(".keras"):
            raise ValueError(f"ModelCheckpoint needs a filepath ending in '.keras' (or save_weights_only=True with "
                             f"'.weights.safetensors'), got {self.filepath!r}")

    def on_epoch_end(self, epoch: int, logs: Mapping | None = None) -> None:
        logs = dict(logs or {})
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            if self.monitor_op is None:
                self._set_monitor_op()
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=2)
                return
            if not self._is_improvement(current, self.best):
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
            if self.verbose > 0:
                prev = "inf" if self.best is None else f"{self.best:.5f}"
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {prev} to {current:.5f}, saving to {path}")
            self.best = current
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class CSVLogger(Callback):
    """One CSV row per epoch: `epoch` then the logs' keys (sorted). The file is rewritten whole each epoch."""

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.keys: list[str] | None = None
        self._rows: list[list[str]] = []
        self._prefix = ""

    def on_train_begin(self, logs: Mapping | None = None) -> None:
        self.keys = None
        self._rows = []
        self._prefix = ""
        if self.append and os.path.exists(self.filename):
            self._prefix = Path(self.filename).read_text()
            first = self._prefix.splitlines()[0] if self._prefix.strip() else ""
            if first:
                self.keys = first.split(self.sep)[1:]

    def on_epoch_end(self, epoch: int, logs: Mapping | None = None) -> None:
        logs = logs or {}
        write_header = self.keys is None
        if self.keys is None:
            self.keys = sorted(logs)
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter=self.sep, lineterminator="\n")
        if write_header:
            self._prefix += _csv_line([("epoch"), *self.keys], self.sep)
        self._rows.append([str(epoch), *(_csv_value(logs.get(k, "NA")) for k in self.keys)])
        writer.writerows(self._rows)
        atomic_write_text(self.filename, self._prefix + buf.getvalue())


def _csv_line(items: list[str], sep: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, delimiter=sep, lineterminator="\n").writerow(items)
    return buf.getvalue()


def _csv_value(v: Any) -> str:
    return repr(float(v)) if isinstance(v, (int, float)) or hasattr(v, "__float__") else str(v)


class LambdaCallback(Callback):
    """A callback from functions: on_epoch_begin(epoch, logs), on_epoch_end(epoch, logs),
    on_train_batch_begin(batch, logs), on_train_batch_end(batch, logs), on_train_begin(logs), on_train_end(logs),
    and any other hook by its name."""

    def __init__(self, on_epoch_begin: Callable | None = None, on_epoch_end: Callable | None = None,
                 on_train_begin: Callable | None = None, on_train_end: Callable | None = None,
                 on_train_batch_begin: Callable | None = None, on_train_batch_end: Callable | None = None,
                 **kwargs: Callable) -> None:
        super().__init__()
        hooks = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_train_begin=on_train_begin,
                     on_train_end=on_train_end, on_train_batch_begin=on_train_batch_begin,
                     on_train_batch_end=on_train_batch_end, **kwargs)
        for name, fn in hooks.items():
            if not name.startswith("on_") or not hasattr(Callback, name):
                raise ValueError(f"LambdaCallback: unknown hook {name!r}")
            if fn is not None:
                setattr(self, name, fn)


class LearningRateScheduler(Callback):
    """Sets the learning rate at each epoch's start to `schedule(epoch, lr)`."""

    def __init__(self, schedule: Callable[[int, float], float], verbose: int = 0) -> None:
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch: int, logs: Mapping | None = None) -> None:
        lr = float(self.schedule(epoch, float(self.model.optimizer.learning_rate)))
        if not math.isfinite(lr):
            raise ValueError(f"the learning-rate schedule returned {lr} at epoch {epoch}")
        self.model.optimizer.learning_rate = lr
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch: int, logs: Mapping | None = None) -> None:
        if isinstance(logs, dict):
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class TerminateOnNaN(Callback):
    """Stops training when the loss becomes NaN or infinite."""

    def on_batch_end(self, batch: int, logs: Mapping | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True
