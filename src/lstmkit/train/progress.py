"""Keras-style progress output, drawn with rich.

verbose=1: "Epoch 3/10", then a live bar per epoch with the ETA while it runs and, when it ends,
  `157/157 ━━━━━━━━━━━━━━━━━━━━ 12s 75ms/step - acc: 0.8612 - loss: 0.3301 - val_acc: ... - val_loss: ...`
  (on a console that is not a terminal rich prints only that final line);
verbose=2: the "Epoch" line and one summary line per epoch `157/157 - 12s - 75ms/step - acc: ... - loss: ...`;
verbose=0: nothing.

The bar reads the logs at most ten times a second, so on a GPU it does not force a synchronisation per batch.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import IO, Any

from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn
from rich.table import Column
from rich.text import Text

from lstmkit.train.callbacks import Callback

REFRESH_SECONDS = 0.1


def format_value(value: float) -> str:
    """Keras' number format: 4 decimals, or scientific below 1e-3."""
    value = float(value)
    return f"{value:.4f}" if abs(value) > 1e-3 or value == 0 else f"{value:.4e}"


def format_logs(logs: Mapping[str, Any] | None) -> str:
    if not logs:
        return ""
    return "".join(f" - {k}: {format_value(v)}" for k, v in logs.items() if _is_number(v))


def _is_number(v: Any) -> bool:
    try:
        float(v)
    except (TypeError, ValueError):
        return False
    return True


def format_duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{round(seconds)}s"


def format_step_time(seconds_per_step: float) -> str:
    if seconds_per_step >= 1:
        return f"{seconds_per_step:.0f}s/step"
    if seconds_per_step >= 1e-3:
        return f"{seconds_per_step * 1e3:.0f}ms/step"
    return f"{seconds_per_step * 1e6:.0f}us/step"


class _TimeColumn(ProgressColumn):
    """ETA while running, elapsed when done, then the time per step (Keras' layout)."""

    def render(self, task: Task) -> Text:
        done = task.completed
        elapsed = task.fields.get("elapsed", 0.0)
        if done <= 0:
            return Text("")
        per_step = elapsed / done
        if task.total is not None and done < task.total:
            shown = format_duration(per_step * (task.total - done))
        else:
            shown = format_duration(elapsed)
        return Text(f"{shown} {format_step_time(per_step)}", style="bold")


class ProgressBar(Callback):
    """The progress display of fit / evaluate / predict, as a callback (Keras' ProgbarLogger)."""

    def __init__(self, verbose: int = 1, file: IO[str] | None = None, mode: str = "train") -> None:
        super().__init__()
        if verbose not in (0, 1, 2):
            raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
        self.verbose = verbose
        self.file = file
        self.mode = mode  # "train", "test" (evaluate) or "predict"
        self._progress: Progress | None = None
        self._task: Any = None
        self._start = 0.0
        self._last_draw = 0.0
        self._seen = 0

    # ----- drawing ----------------------------------------------------------------------------
    def _console(self) -> Console:
        file = self.file or sys.stdout
        interactive = hasattr(file, "isatty") and file.isatty()
        # Off a terminal rich would assume 80 columns and fold Keras' long line; logs take it whole.
        return Console(file=file, highlight=False, soft_wrap=True, width=None if interactive else 250)

    def _begin(self) -> None:
        self._start = time.perf_counter()
        self._last_draw = 0.0
        self._seen = 0
        if self.verbose != 1:
            return
        steps = self.params.get("steps")
        self._progress = Progress(
            TextColumn("[bold]{task.completed}/{task.fields[total_text]}", table_column=Column(no_wrap=True)),
            BarColumn(bar_width=20, complete_style="green", finished_style="green"),
            _TimeColumn(table_column=Column(no_wrap=True)),
            TextColumn("{task.fields[metrics]}", markup=False, table_column=Column(no_wrap=True)),
            console=self._console(), transient=False, auto_refresh=False,
        )
        self._task = self._progress.add_task("", total=steps, total_text="?" if steps is None else steps,
                                             metrics="", elapsed=0.0)
        self._progress.start()

    def _update(self, step: int, logs: Mapping[str, Any] | None, final: bool = False) -> None:
        self._seen = step
        if self.verbose != 1 or self._progress is None:
            return
        now = time.perf_counter()
        if not final and now - self._last_draw < REFRESH_SECONDS:
            return
        self._last_draw = now
        fields: dict[str, Any] = {"elapsed": now - self._start, "metrics": format_logs(logs).lstrip()}
        if final and self.params.get("steps") is None:
            fields["total"] = step
            fields["total_text"] = step
        self._progress.update(self._task, completed=step, **fields)
        self._progress.refresh()

    def _end(self, logs: Mapping[str, Any] | None) -> None:
        elapsed = time.perf_counter() - self._start
        if self.verbose == 1 and self._progress is not None:
            self._update(self._seen, logs, final=True)
            self._progress.stop()
            self._progress = None
        elif self.verbose == 2:
            steps = self._seen
            per_step = elapsed / steps if steps else 0.0
            line = f"{steps}/{steps} - {format_duration(elapsed)} - {format_step_time(per_step)}{format_logs(logs)}"
            self._console().print(line, markup=False)

    # ----- hooks ------------------------------------------------------------------------------
    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self.verbose and self.mode == "train":
            epochs = self.params.get("epochs")
            self._console().print(f"Epoch {epoch + 1}/{epochs}", markup=False)
            self._begin()

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._update(batch + 1, logs)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self.verbose and self.mode == "train":
            self._end(logs)

    def on_test_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        if self.verbose and self.mode == "test":
            self._begin()

    def on_test_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self.mode == "test":
            self._update(batch + 1, logs)

    def on_test_end(self, logs: Mapping[str, Any] | None = None) -> None:
        if self.verbose and self.mode == "test":
            self._end(logs)

    def on_predict_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        if self.verbose and self.mode == "predict":
            self._begin()

    def on_predict_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        if self.mode == "predict":
            self._update(batch + 1, None)

    def on_predict_end(self, logs: Mapping[str, Any] | None = None) -> None:
        if self.verbose and self.mode == "predict":
            self._end(None)
