"""Package attributes that import their module on first use, so that importing a package (and the
`lstmkit` command's help) does not import torch, numpy or matplotlib."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Collection, Mapping
from typing import Any


def lazy_getattr(package: str, submodules: Collection[str] = (),
                 exports: Mapping[str, str] | None = None) -> Callable[[str], Any]:
    """A module `__getattr__` for `package`: a name in `submodules` is that submodule; a name in
    `exports` is the attribute of that name of the submodule it maps to, kept on the package once found."""
    exports = exports or {}

    def __getattr__(name: str) -> Any:
        if name in submodules:
            return importlib.import_module(f"{package}.{name}")
        if name in exports:
            value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
            setattr(sys.modules[package], name, value)  # found once, then a plain attribute
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
