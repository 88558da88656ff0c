"""ONNX export of lstmkit.keras models."""

from __future__ import annotations

from typing import Any


def is_keras_model(obj: Any) -> bool:
    from lstmkit.keras.models.model import Model

    return isinstance(obj, Model)
