"""The classic experiments, one small module each: a config dataclass, `build` and `run`."""

from __future__ import annotations

import importlib
from types import ModuleType

# name -> module; imported on demand so that `lstmkit --help` stays fast
EXPERIMENTS: dict[str, str] = {
    "imdb": "lstmkit.experiments.imdb",
    "temperature": "lstmkit.experiments.temperature",
    "pos": "lstmkit.experiments.pos",
    "memory": "lstmkit.experiments.memory",
}


def get_experiment(name: str) -> ModuleType:
    """The module of experiment `name` (it has `Config`, `build`, `run`)."""
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}: expected one of {sorted(EXPERIMENTS)}")
    return importlib.import_module(EXPERIMENTS[name])
