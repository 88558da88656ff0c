"""`keras.saving`: register_keras_serializable and the registry of names, serialize_keras_object /
deserialize_keras_object, custom_object_scope, and load_model / save_model / load_weights /
save_weights (the `.keras` files of `lstmkit.keras.models`)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from lstmkit.keras.models import saving as _files
from lstmkit.keras.registry import (
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    get_registered_object,
    register_keras_serializable,
    to_config,
)

CustomObjectScope = custom_object_scope


def serialize_keras_object(obj: Any) -> Any:
    """A layer, model, initializer, ... as its config dict (`class_name`, `config`, `registered_name`);
    None, numbers, strings and lists as they are."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(o) for o in obj]
    if not callable(getattr(obj, "get_config", None)):
        raise ValueError(f"cannot serialize {type(obj).__name__}: it has no get_config()")
    out = to_config(obj)
    out.setdefault("registered_name", None)
    return out


def deserialize_keras_object(config: Any, custom_objects: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
    """The object a `serialize_keras_object` config describes (by registered or class name; no code runs)."""
    if config is None or isinstance(config, (bool, int, float)):
        return config
    if isinstance(config, str):
        found = get_registered_object(config, custom_objects)
        if found is None:
            raise ValueError(f"unknown object {config!r}: pass it in custom_objects or register it")
        return found
    if isinstance(config, list):
        return [deserialize_keras_object(c, custom_objects) for c in config]
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"deserialize_keras_object needs a dict with a 'class_name', got {config!r}")
    from lstmkit.keras import constraints, initializers, optimizers, regularizers
    from lstmkit.keras.layers.layer import LAYER_CLASSES
    from lstmkit.keras.registry import resolve

    builtins: dict[str, Any] = dict(LAYER_CLASSES)
    for module in (initializers, regularizers, constraints, optimizers):
        builtins.update({k: v for k, v in vars(module).items() if isinstance(v, type)})
    with custom_object_scope(custom_objects):
        cls = resolve(config, builtins, "object")
        return cls.from_config(dict(config.get("config") or {}))


def load_model(filepath: str | os.PathLike, custom_objects: Mapping[str, Any] | None = None, compile: bool = True,
               safe_mode: bool = True) -> Any:
    """A model saved with `model.save(...)` of lstmkit, Keras 3 (`.keras`) or Keras 2 (`.h5`);
    `custom_objects` name the user's classes in its config. A Lambda's bytecode loads only with
    `safe_mode=False`, as in Keras."""
    with custom_object_scope(custom_objects):
        return _files.load_model(filepath, compile=compile, safe_mode=safe_mode)


save_model = _files.save_model
save_weights = _files.save_weights
load_weights = _files.load_weights

__all__ = [
    "CustomObjectScope", "custom_object_scope", "deserialize_keras_object", "get_custom_objects",
    "get_registered_name", "get_registered_object", "load_model", "load_weights", "register_keras_serializable",
    "save_model", "save_weights", "serialize_keras_object",
]
