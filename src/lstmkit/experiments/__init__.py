"""The classic experiments, one small module each (`build` and `run`); their configs are data in
`configs.py`, which imports no torch, so that `lstmkit run EXPERIMENT --help` answers at once."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from types import ModuleType

from lstmkit.experiments import configs

# name -> (module, its config class in lstmkit.experiments.configs); imported on demand
EXPERIMENTS: dict[str, tuple[str, str]] = {
    "imdb": ("lstmkit.experiments.imdb", "ImdbConfig"),
    "temperature": ("lstmkit.experiments.temperature", "TemperatureConfig"),
    "pos": ("lstmkit.experiments.pos", "PosConfig"),
    "memory": ("lstmkit.experiments.memory", "MemoryConfig"),
}


def _check(name: str) -> tuple[str, str]:
    if name not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {name!r}: expected one of {sorted(EXPERIMENTS)}")
    return EXPERIMENTS[name]


def get_experiment(name: str) -> ModuleType:
    """The module of experiment `name` (it has `Config`, `build`, `run`)."""
    return importlib.import_module(_check(name)[0])


def experiment_config(name: str) -> type:
    """The config dataclass of experiment `name`, without importing the experiment (nor torch)."""
    return getattr(configs, _check(name)[1])  # type: ignore[no-any-return]


def experiment_doc(name: str) -> str:
    """The docstring of experiment `name`'s module, read from its source without running it."""
    spec = importlib.util.find_spec(_check(name)[0])
    if spec is None or spec.origin is None:
        raise ValueError(f"the module of experiment {name!r} is missing")
    with open(spec.origin, encoding="utf-8") as f:
        return ast.get_docstring(ast.parse(f.read())) or ""
