"""Optimizers by name or config: `keras.optimizers.get`, `serialize` and `deserialize`."""

from __future__ import annotations

from typing import Any

import torch

from lstmkit.keras.optimizers.base import Optimizer
from lstmkit.keras.optimizers.classic import SGD, Adagrad, Adam, AdamW, RMSprop
from lstmkit.keras.optimizers.more import Adadelta, Adamax, Ftrl, Lion, Nadam

_BY_NAME: dict[str, type[Optimizer]] = {
    "sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW, "adagrad": Adagrad, "adadelta": Adadelta,
    "adamax": Adamax, "nadam": Nadam, "ftrl": Ftrl, "lion": Lion}
_CLASSES = {cls.__name__: cls for cls in _BY_NAME.values()}


def get(identifier: str | Optimizer | dict) -> Optimizer:
    """An optimizer from a name ("rmsprop", "adam", "nadam", ...: Keras' defaults), a config dict or an
    Optimizer object."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower()) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"unknown optimizer {identifier!r}: expected one of {sorted(_BY_NAME)} or an Optimizer")
        return cls()
    if isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]].from_config(identifier.get("config", {}))
    if isinstance(identifier, torch.optim.Optimizer):
        raise ValueError("compile() needs an lstmkit.keras optimizer (or its name), not a torch.optim optimizer: "
                         "torch's are built on parameters before the model is built, and use other formulas")
    raise ValueError(f"an optimizer must be a name or an Optimizer, got {identifier!r}")


def serialize(opt: Optimizer) -> dict[str, Any]:
    return {"class_name": type(opt).__name__, "config": opt.get_config()}


def deserialize(config: dict[str, Any], custom_objects: dict[str, Any] | None = None) -> Optimizer:
    """An optimizer from `serialize`'s dict (a schedule in its learning rate is rebuilt too)."""
    cls = _CLASSES.get(config.get("class_name", "")) if isinstance(config, dict) else None
    if cls is None:
        raise ValueError(f"unknown optimizer config {config!r}: expected a class_name among {sorted(_CLASSES)}")
    return cls.from_config(config.get("config", {}), custom_objects)
