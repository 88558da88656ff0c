"""The errors of `lstmkit.export`: a configuration that no exported graph computes exactly is refused."""

from __future__ import annotations

from lstmkit.errors import LstmkitError


class ExportError(LstmkitError, ValueError):
    """A module, layer or input that the export cannot write as a graph computing exactly what eager
    PyTorch computes; the message names the layer and the reason. Never a silently different graph."""


class MissingDependency(LstmkitError, ImportError):
    """An optional package that the export needs is not installed."""
