"""The loops under `fit`, `evaluate` and `predict`, with their callbacks and timing.

The model supplies the steps (`train_step(batch)`: forward, loss, backward, optimizer step, metric
update; `test_step(batch)`; `predict_step(batch) -> outputs`) and a function giving the current logs.
The loop owns the order of callback calls (Keras 3's) and measures, per batch, the time spent inside
the step and the time around it (fetching the batch, callbacks, progress): `LoopStats.overhead`
is the fraction of batch time outside the step.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from lstmkit.train.callbacks import CallbackList

Logs = Callable[[], dict[str, float]]


class LazyLogs(Mapping[str, float]):
    """The running logs of an epoch, read only when a callback looks at them (a read may synchronise
    with the GPU, so the progress bar reads ten times a second rather than every batch)."""

    def __init__(self, fn: Logs) -> None:
        self._fn = fn
        self._values: dict[str, float] | None = None

    def _get(self) -> dict[str, float]:
        if self._values is None:
            self._values = self._fn()
        return self._values

    def __getitem__(self, key: str) -> float:
        return self._get()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._get())

    def __len__(self) -> int:
        return len(self._get())


@dataclass
class LoopStats:
    """Wall time per batch, split into the step (forward/backward/optimizer) and the rest of the loop."""

    batches: int = 0
    step_seconds: float = 0.0
    batch_seconds: float = 0.0
    epoch_seconds: list[float] = field(default_factory=list)  # training batches of each epoch
    validation_seconds: list[float] = field(default_factory=list)
    synchronize: bool = False  # wait for the GPU around each step, for exact split timings

    def add(self, step: float, batch: float) -> None:
        self.batches += 1
        self.step_seconds += step
        self.batch_seconds += batch

    @property
    def overhead(self) -> float:
        """Fraction of the batch time spent outside the step."""
        return 0.0 if self.batch_seconds == 0 else 1.0 - self.step_seconds / self.batch_seconds

    def as_dict(self) -> dict[str, Any]:
        return {"batches": self.batches, "step_seconds": self.step_seconds, "batch_seconds": self.batch_seconds,
                "overhead": self.overhead, "epoch_seconds": list(self.epoch_seconds),
                "validation_seconds": list(self.validation_seconds)}


def _sync(stats: LoopStats) -> None:
    if stats.synchronize and torch.cuda.is_available():
        torch.cuda.synchronize()


def run_batches(
    step: Callable[[Any], Any],
    batches: Iterable[Any],
    begin: Callable[[int, Mapping[str, Any] | None], None],
    end: Callable[[int, Mapping[str, Any] | None], None],
    logs: Logs,
    stats: LoopStats | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> int:
    """One pass: begin(i), step(batch), end(i, lazy logs) for each batch; returns the batches done."""
    done = 0
    t_prev = time.perf_counter()
    for i, batch in enumerate(batches):
        begin(i, None)
        if stats is not None:
            _sync(stats)
        t0 = time.perf_counter()
        step(batch)
        if stats is not None:
            _sync(stats)
        t1 = time.perf_counter()
        end(i, LazyLogs(logs))
        done += 1
        if stats is not None:
            t_end = time.perf_counter()
            stats.add(t1 - t0, t_end - t_prev)
            t_prev = t_end
        if stop():
            break
    return done


def fit_loop(
    *,
    model: Any,
    train_step: Callable[[Any], Any],
    train_logs: Logs,
    reset_metrics: Callable[[], None],
    train_data: Iterable[Any],
    epochs: int,
    initial_epoch: int,
    callbacks: CallbackList,
    validate: Callable[[], dict[str, float]] | None = None,
    validation_freq: int = 1,
    stats: LoopStats | None = None,
    final_logs: Logs | None = None,
    agree: Callable[[bool], bool] | None = None,
) -> dict[str, float]:
    """Epochs of training with Keras' callback order; returns the last epoch's logs.

    A callback may set `model._initial_epoch` in on_train_begin (BackupAndRestore, resuming): training
    then starts at that epoch, as in Keras. Validation runs after the epochs whose 1-based number is a
    multiple of `validation_freq`, counted from 0 whatever `initial_epoch` is (Keras' rule). `final_logs`
    (default `train_logs`) gives each epoch's logs: under data parallelism it sums the metrics over ranks,
    while the batch logs stay local. `agree` (data parallelism) turns this rank's `stop_training` into the
    ranks' common decision, true when any rank stopped, after every batch and epoch: a callback that stops on
    a rank's own logs (TerminateOnNaN on a local loss, a user's batch callback) stops every rank at the same
    step, where one rank alone leaving the loop would leave the others waiting in the next all-reduce."""

    def stopped() -> bool:
        if agree is not None:
            model.stop_training = agree(bool(model.stop_training))
        return bool(model.stop_training)

    model.stop_training = False
    model._initial_epoch = None
    callbacks.on_train_begin()
    initial_epoch = model._initial_epoch or initial_epoch
    logs: dict[str, float] = {}
    for epoch in range(initial_epoch, epochs):
        reset_metrics()
        callbacks.on_epoch_begin(epoch)
        t0 = time.perf_counter()
        done = run_batches(train_step, train_data, callbacks.on_train_batch_begin, callbacks.on_train_batch_end,
                           train_logs, stats, stop=stopped)
        if done == 0:
            raise ValueError("fit got no data: the training set yielded no batch in this epoch")
        epoch_logs = dict((final_logs or train_logs)())
        t1 = time.perf_counter()
        if validate is not None and (epoch + 1) % validation_freq == 0:
            epoch_logs.update({f"val_{k}": v for k, v in validate().items()})
        if stats is not None:
            stats.epoch_seconds.append(t1 - t0)
            stats.validation_seconds.append(time.perf_counter() - t1)
        callbacks.on_epoch_end(epoch, epoch_logs)
        logs = epoch_logs
        if stopped():
            break
    callbacks.on_train_end(logs)
    return logs


def evaluate_loop(*, test_step: Callable[[Any], Any], test_logs: Logs, reset_metrics: Callable[[], None],
                  data: Iterable[Any], callbacks: CallbackList, final_logs: Logs | None = None) -> dict[str, float]:
    """One pass over `data` without training; on_test_* callbacks; returns the logs (`final_logs`, default
    `test_logs`)."""
    reset_metrics()
    callbacks.on_test_begin()
    done = run_batches(test_step, data, callbacks.on_test_batch_begin, callbacks.on_test_batch_end, test_logs)
    if done == 0:
        raise ValueError("evaluate got no data: the data yielded no batch")
    logs = dict((final_logs or test_logs)())
    callbacks.on_test_end(logs)
    return logs


def predict_loop(*, predict_step: Callable[[Any], Any], data: Iterable[Any], callbacks: CallbackList) -> list[Any]:
    """Outputs of every batch, in order; on_predict_* callbacks."""
    outputs: list[Any] = []
    callbacks.on_predict_begin()

    def step(batch: Any) -> None:
        outputs.append(predict_step(batch))

    done = run_batches(step, data, callbacks.on_predict_batch_begin, callbacks.on_predict_batch_end, dict)
    if done == 0:
        raise ValueError("predict got no data: the data yielded no batch")
    callbacks.on_predict_end()
    return outputs
