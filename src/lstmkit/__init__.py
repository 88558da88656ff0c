"""lstmkit: LSTM, GRU and SimpleRNN from their equations, on PyTorch tensors.

The subpackages load on first use (`lstmkit.nn`, `lstmkit.ops`, `lstmkit.keras`, ...), so that
`import lstmkit` and the `lstmkit` command's help and version do not import torch.
"""

from __future__ import annotations

from lstmkit._lazy import lazy_getattr

__version__ = "0.1.0"

_SUBMODULES = ("data", "experiments", "insight", "keras", "nn", "ops", "runtime", "train")

__all__ = ["__version__", *_SUBMODULES]


__getattr__ = lazy_getattr(__name__, _SUBMODULES)


def __dir__() -> list[str]:
    return sorted(__all__)
