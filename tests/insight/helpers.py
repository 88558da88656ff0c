"""Helpers shared by the insight tests."""

import pytest


def keras_facade():
    """lstmkit.keras's layers and models, or skip while that package is not built yet."""
    layers = pytest.importorskip("lstmkit.keras.layers", reason="lstmkit.keras is not built yet")
    models = pytest.importorskip("lstmkit.keras.models", reason="lstmkit.keras is not built yet")
    if not all(hasattr(models, n) for n in ("Sequential", "load_model")) or not hasattr(layers, "LSTM"):
        pytest.skip("lstmkit.keras has no Sequential, load_model or LSTM yet")
    return layers, models
