"""plot_history: loss and metric curves per epoch, training beside validation, as a PNG (matplotlib, Agg)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lstmkit.plots import plot_history as _plot


def plot_history(history: Any, path: str | os.PathLike, title: str = "") -> Path:
    """Write `path` (PNG): one panel for the loss, one per metric, training and validation curves.
    `history` is what `fit` returns (or its `.history` dict). Returns the path written."""
    return _plot(history, path, title=title)
