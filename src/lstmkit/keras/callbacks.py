"""Keras' callbacks: History, EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, CSVLogger, LambdaCallback,
LearningRateScheduler, TerminateOnNaN, ProgbarLogger, BackupAndRestore and TensorBoard (in tensorboard.py);
their rules follow Keras 3's code.

The base class and the call order live in `lstmkit.train.callbacks`.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from lstmkit.io import atomic_write_text
from lstmkit.keras.tensorboard import TensorBoard
from lstmkit.train.callbacks import Callback, CallbackList
from lstmkit.train.distributed import is_chief
from lstmkit.train.progress import ProgressBar

__all__ = [
    "BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History", "LambdaCallback",
    "LearningRateScheduler", "ModelCheckpoint", "ProgbarLogger", "ReduceLROnPlateau", "TensorBoard", "TerminateOnNaN",
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

    def get_state(self) -> dict[str, Any]:
        """What this callback has learnt during training, for a checkpoint (see BackupAndRestore)."""
        return {"best": self.best}

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.best = state["best"]

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

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "wait": self.wait, "stopped_epoch": self.stopped_epoch,
                "best_epoch": self.best_epoch, "best_weights": self.best_weights}

    def set_state(self, state: Mapping[str, Any]) -> None:
        super().set_state(state)
        self.wait, self.stopped_epoch, self.best_epoch = state["wait"], state["stopped_epoch"], state["best_epoch"]
        self.best_weights = state["best_weights"]

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

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "wait": self.wait, "cooldown_counter": self.cooldown_counter}

    def set_state(self, state: Mapping[str, Any]) -> None:
        super().set_state(state)
        self.wait, self.cooldown_counter = state["wait"], state["cooldown_counter"]

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
        # Keras 3 names weight files `.weights.h5`; Keras 2 programs write `.h5`; lstmkit's own are safetensors.
        # The name goes to model.save_weights as it is, which picks the format from it.
        if save_weights_only and not self.filepath.endswith((".weights.safetensors", ".safetensors", ".h5")):
            raise ValueError("ModelCheckpoint(save_weights_only=True) needs a filepath ending in '.weights.h5' or "
                             f"'.weights.safetensors', got {self.filepath!r}")
        if save_weights_only and self.filepath.endswith(".h5") and not self.filepath.endswith(".weights.h5"):
            warnings.warn(f"ModelCheckpoint({self.filepath!r}, save_weights_only=True): a weights file named "
                          "'.h5' is Keras 2's; Keras 3 names it '.weights.h5'", DeprecationWarning, stacklevel=2)
        if not save_weights_only and not self.filepath.endswith(".keras"):
            raise ValueError(f"ModelCheckpoint needs a filepath ending in '.keras' (or save_weights_only=True with "
                             f"'.weights.h5' or '.weights.safetensors'), got {self.filepath!r}")

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
        if is_chief():  # data parallelism: rank 0 writes
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


class BackupAndRestore(Callback):
    """Keras' BackupAndRestore: after every epoch the training state goes to `backup_dir`; a `fit` started
    again with this callback (after a crash, a kill, a Ctrl-C) continues from the last finished epoch,
    and the backup is deleted when training ends (unless `delete_checkpoint=False`).

    lstmkit keeps more than Keras (the weights and the epoch): the optimizer's slots, iterations and
    learning rate, every random generator (Python, NumPy, torch, each GPU), the state of the other
    callbacks that have one (EarlyStopping's patience and best weights, ReduceLROnPlateau's, a
    ModelCheckpoint's best) and of the training data's shuffling (a `timeseries_dataset_from_array`
    dataset), and the logs of the epochs done. So a resumed fit on the CPU ends with the same weights
    and logs, bit for bit, as one never interrupted, with shuffling and dropout on. `model.history`
    after a resumed fit holds the epochs it ran, as in Keras; `restored_history` the ones before.

    `double_checkpoint=True` keeps the previous backup as well, used when the latest cannot be read.
    `save_freq` is "epoch" only: resuming inside an epoch would need the data stream's position.
    """

    FILE = "checkpoint.safetensors"
    PREVIOUS = "checkpoint.previous.safetensors"
    runs_last = True  # restores after the other callbacks reset themselves, saves after they updated

    def __init__(self, backup_dir: str | os.PathLike, save_freq: str | int = "epoch", double_checkpoint: bool = False,
                 delete_checkpoint: bool = True) -> None:
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore needs a backup_dir, got an empty one")
        if save_freq != "epoch":
            raise ValueError(f"BackupAndRestore: only save_freq='epoch' is supported, got {save_freq!r} (resuming "
                             "inside an epoch would need the position in the data stream)")
        self.backup_dir = Path(backup_dir)
        self.save_freq, self.double_checkpoint, self.delete_checkpoint = save_freq, double_checkpoint, delete_checkpoint
        self.restored_epoch = 0  # epochs already done when training began (0: started afresh)
        self.restored_history: dict[str, list[float]] = {}
        self.restored_epoch_times: list[float] = []
        self._history: dict[str, list[float]] = {}
        self._epoch_times: list[float] = []
        self._epoch_started = 0.0
        self._stopped = False

    # ----- what is saved
    def _stateful(self) -> dict[str, Any]:
        """The other parts of this fit with a state: callbacks and the training data, by position and type."""
        context = getattr(self.model, "_fit_context", None) or {}
        parts: dict[str, Any] = {}
        for i, cb in enumerate(context.get("callbacks", [])):
            if cb is not self and callable(getattr(cb, "get_state", None)):
                parts[f"callback-{i}-{type(cb).__name__}"] = cb
        for i, data in enumerate(context.get("data", [])):
            if callable(getattr(data, "get_state", None)):
                parts[f"data-{i}-{type(data).__name__}"] = data
        return parts

    def _state(self, epoch: int) -> dict[str, Any]:
        from lstmkit.train.checkpoint import random_state

        optimizer = self.model.optimizer
        lr = optimizer._learning_rate
        return {
            "epoch": epoch,
            "weights": dict(self.model.state_dict()),
            "optimizer": {"class": type(optimizer).__name__, "iterations": optimizer.iterations,
                          "learning_rate": None if callable(lr) else float(lr), "slots": optimizer.state_tensors()},
            "random": random_state(),
            "parts": {name: part.get_state() for name, part in self._stateful().items()},
            "history": self._history, "epoch_times": self._epoch_times, "stopped": self._stopped,
        }

    def _restore(self, state: dict[str, Any], path: Path) -> None:
        from lstmkit.errors import FileFormatError
        from lstmkit.train.checkpoint import set_random_state

        weights = state["weights"]
        own = self.model.state_dict()
        missing, extra = sorted(set(own) - set(weights)), sorted(set(weights) - set(own))
        if missing or extra:
            raise FileFormatError(path, f"its weights do not fit this model: missing {missing}, unexpected {extra}")
        for name, value in weights.items():
            if tuple(own[name].shape) != tuple(value.shape):
                raise FileFormatError(path, f"weight {name} is {tuple(value.shape)} in the backup and "
                                            f"{tuple(own[name].shape)} in the model")
        self.model.load_state_dict(weights)
        optimizer, saved = self.model.optimizer, state["optimizer"]
        if saved["class"] != type(optimizer).__name__:
            raise FileFormatError(path, f"it was written by a {saved['class']} optimizer, and this model "
                                        f"trains with {type(optimizer).__name__}")
        optimizer.load_state_tensors(saved["slots"], saved["iterations"])
        if saved["learning_rate"] is not None:
            optimizer.learning_rate = saved["learning_rate"]
        parts = self._stateful()
        if set(parts) != set(state["parts"]):
            raise FileFormatError(path, f"it holds the state of {sorted(state['parts'])}, and this fit has "
                                        f"{sorted(parts)}: give fit the same callbacks and data")
        for name, part in parts.items():
            part.set_state(state["parts"][name])
        set_random_state(state["random"])
        self._history = {k: list(v) for k, v in state["history"].items()}
        self._epoch_times = list(state["epoch_times"])
        self.restored_epoch = int(state["epoch"])
        self._stopped = bool(state["stopped"])
        self.restored_history = {k: list(v) for k, v in self._history.items()}
        self.restored_epoch_times = list(self._epoch_times)

    def _read_backup(self) -> tuple[dict[str, Any], Path] | None:
        from lstmkit.errors import FileFormatError
        from lstmkit.train import checkpoint

        latest, previous = self.backup_dir / self.FILE, self.backup_dir / self.PREVIOUS
        if not latest.exists() and not previous.exists():
            return None
        try:
            return checkpoint.load(latest), latest
        except (FileFormatError, FileNotFoundError):
            if not (self.double_checkpoint and previous.exists()):
                raise
            warnings.warn(f"{latest} cannot be read; resuming from the previous backup {previous}", stacklevel=3)
            return checkpoint.load(previous), previous

    # ----- the hooks
    def on_train_begin(self, logs: Mapping | None = None) -> None:
        self.restored_epoch, self.restored_history, self.restored_epoch_times = 0, {}, []
        self._history, self._epoch_times, self._stopped = {}, [], False
        found = self._read_backup()
        if found is not None:
            self._restore(*found)
            # stopped early (EarlyStopping) before the backup: no epoch is left to run
            self.model._initial_epoch = self.params.get("epochs", self.restored_epoch) if self._stopped \
                else self.restored_epoch

    def full_history(self, history: Any) -> dict[str, list[float]]:
        """The logs of every epoch, those before the resume and those of `history` (this fit's History)."""
        new = history.history
        return {k: self.restored_history.get(k, []) + [float(v) for v in new.get(k, [])]
                for k in {**self.restored_history, **new}}

    def full_epoch_times(self, history: Any) -> list[float]:
        """The training seconds of every epoch, before the resume and in `history`."""
        return self.restored_epoch_times + list(getattr(history, "epoch_times", []))

    def on_epoch_begin(self, epoch: int, logs: Mapping | None = None) -> None:
        import time

        self._epoch_started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Mapping | None = None) -> None:
        import time

        from lstmkit.train import checkpoint

        stats = (getattr(self.model, "_fit_context", None) or {}).get("stats")
        # the loop's own measure of the epoch (its training batches), as History.epoch_times has it
        seconds = stats.epoch_seconds[-1] if stats is not None and stats.epoch_seconds else \
            time.perf_counter() - self._epoch_started
        self._epoch_times.append(float(seconds))
        if self.model.stop_training:  # EarlyStopping ended training: a resume must not train on
            self._stopped = True
        for key, value in (logs or {}).items():
            self._history.setdefault(key, []).append(float(value))
        if not is_chief():  # data parallelism: rank 0 writes the backup
            return
        latest = self.backup_dir / self.FILE
        if self.double_checkpoint and latest.exists():
            os.replace(latest, self.backup_dir / self.PREVIOUS)
        checkpoint.save(latest, self._state(epoch + 1))

    def on_train_end(self, logs: Mapping | None = None) -> None:
        if not self.delete_checkpoint or not is_chief():
            return
        for name in (self.FILE, self.PREVIOUS):
            (self.backup_dir / name).unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # a folder the user keeps other files in stays
            self.backup_dir.rmdir()
