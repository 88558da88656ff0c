"""lstmkit: LSTM, GRU and SimpleRNN from their equations, on PyTorch tensors.

The subpackages load on first use (`lstmkit.nn`, `lstmkit.ops`, `lstmkit.keras`, ...), so that
`import lstmkit` and the `lstmkit` command's help and version do not import torch.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__version__ = "0.1.0"

_SUBMODULES = ("data", "experiments", "insight", "keras", "nn", "ops", "runtime", "train")

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str) -> ModuleType:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
