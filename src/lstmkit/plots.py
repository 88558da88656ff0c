"""Training curves: loss and each metric per epoch, training beside validation (matplotlib, Agg)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from lstmkit.io import atomic_savefig


def history_figure(history: Mapping[str, Sequence[float]], title: str = ""):
    """One panel per quantity (loss first, then metrics), `x` and `val_x` on the same axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [k for k in history if not k.startswith("val_") and k != "lr"]
    names += [k[4:] for k in history if k.startswith("val_") and k[4:] not in names]
    if not names:
        raise ValueError("history is empty: expected keys such as 'loss', 'val_loss', 'acc'")
    names.sort(key=lambda k: (k != "loss", k))
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        for key, style, label in ((name, "o-", "training"), (f"val_{name}", "s--", "validation")):
            values = history.get(key)
            if values:
                ax.plot(range(1, len(values) + 1), values, style, label=label, markersize=4)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_history(history: Mapping[str, Sequence[float]] | object, path: str | os.PathLike, title: str = "") -> Path:
    """Write a PNG of the curves of a history dict (or anything with a `.history` dict, like Keras')."""
    hist = getattr(history, "history", history)
    if not isinstance(hist, Mapping):
        raise ValueError(f"expected a history dict or an object with .history, got {type(history).__name__}")
    import matplotlib.pyplot as plt

    fig = history_figure(hist, title)
    try:
        return atomic_savefig(fig, path, dpi=110)
    finally:
        plt.close(fig)
