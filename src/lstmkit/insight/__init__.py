"""See inside a recurrent network: gates, cell state and gradient flow, and the memory tasks that show them.

The names below load their module (and torch, matplotlib) on first use, so that `lstmkit inspect --help`
answers at once.
"""

from __future__ import annotations

from lstmkit._lazy import lazy_getattr

_EXPORTS = {
    "gates_figure": "gates", "running_predictions": "gates",
    "GradientFlow": "gradients", "gradient_flow": "gradients", "gradient_flow_figure": "gradients",
    "gradient_flow_study": "gradients",
    "LayerTrace": "probes", "Probe": "probes", "probe": "probes",
    "TextModel": "runs", "load_imdb_run": "runs",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_getattr(__name__, exports=_EXPORTS)


def __dir__() -> list[str]:
    return __all__
