"""See inside a recurrent network: gates, cell state and gradient flow, and the memory tasks that show them.

The names below load their module (and torch, matplotlib) on first use, so that `lstmkit inspect --help`
answers at once.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "gates_figure": "gates", "running_predictions": "gates",
    "GradientFlow": "gradients", "gradient_flow": "gradients", "gradient_flow_figure": "gradients",
    "gradient_flow_study": "gradients",
    "LayerTrace": "probes", "Probe": "probes", "probe": "probes",
    "TextModel": "runs", "load_imdb_run": "runs",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
