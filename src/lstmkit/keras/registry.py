"""The names a saved config may use for a class: lstmkit.keras' own layer classes, the classes a user
registers with `register_keras_serializable`, and `custom_objects` given to a load (or set with
`custom_object_scope`). A config names a class; nothing in a file is ever run as code."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any

_REGISTERED: dict[str, Any] = {}  # "package>name" -> class or function
_SCOPE: ContextVar[dict[str, Any] | None] = ContextVar("lstmkit_keras_custom_objects", default=None)


def register_keras_serializable(package: str = "Custom", name: str | None = None) -> Any:
    """Decorator: save and load `obj` under `package>name` (its class name by default), as Keras does."""
    if not isinstance(package, str) or not package or ">" in package:
        raise ValueError(f"register_keras_serializable: package must be a non-empty string without '>', got "
                         f"{package!r}")

    def decorator(obj: Any) -> Any:
        key = f"{package}>{name or obj.__name__}"
        # as Keras: a class defined again (a notebook cell run twice) takes the name over
        _REGISTERED[key] = obj
        obj._registered_name = key
        return obj

    return decorator


def get_registered_name(obj: Any) -> str:
    """`package>name` for a registered class, else its class name."""
    cls = obj if isinstance(obj, type) else type(obj)
    registered = cls.__dict__.get("_registered_name")
    return registered if isinstance(registered, str) else cls.__name__


def get_custom_objects() -> dict[str, Any]:
    """The registered objects by name (a live view for reading; register with the decorator)."""
    return dict(_REGISTERED)


@contextlib.contextmanager
def custom_object_scope(*objects: Mapping[str, Any] | None) -> Iterator[None]:
    """Within: `custom_objects` (name -> class) resolve names in configs, before the registry."""
    merged = dict(_SCOPE.get() or {})
    for m in objects:
        merged.update(m or {})
    token = _SCOPE.set(merged)
    try:
        yield
    finally:
        _SCOPE.reset(token)


def get_registered_object(name: str, custom_objects: Mapping[str, Any] | None = None,
                          module_objects: Mapping[str, Any] | None = None) -> Any:
    """The class or function a config names: `custom_objects`, the scope, the registry, `module_objects`;
    None when nothing has that name."""
    for source in (custom_objects or {}, _SCOPE.get() or {}, _REGISTERED, module_objects or {}):
        if name in source:
            return source[name]
    return None


def resolve(spec: Mapping[str, Any], builtins: Mapping[str, Any], what: str = "layer") -> Any:
    """The class a `{"class_name", "registered_name"?}` config names: custom objects and registered ones
    first (a user's class named like a built-in wins only when given or registered), then `builtins`."""
    for key in (spec.get("registered_name"), spec.get("class_name")):
        if isinstance(key, str) and key:
            found = get_registered_object(key)
            if found is not None:
                return found
    name = spec.get("class_name", "")
    if name in builtins:
        return builtins[name]
    raise ValueError(f"unknown {what} class {name!r}: not an lstmkit.keras {what}; pass it in custom_objects, "
                     "register it with lstmkit.keras.saving.register_keras_serializable, or import the module that "
                     "defines it before loading")


def to_config(obj: Any) -> dict[str, Any]:
    """`{"class_name", "config"}` of an object with get_config(), and its registered name when it has one."""
    out: dict[str, Any] = {"class_name": type(obj).__name__, "config": obj.get_config()}
    registered = get_registered_name(obj)
    if registered != type(obj).__name__:
        out["registered_name"] = registered
    return out
