"""`lstmkit.keras`: Keras' API on lstmkit's recurrences, so a Keras program runs with `keras` replaced by
`lstmkit.keras` in its imports. Modules as in Keras: layers, models, datasets, preprocessing, utils,
optimizers, losses, metrics, callbacks, activations, initializers, regularizers, constraints, ops, random."""

from lstmkit.keras import (
    activations,
    callbacks,
    constraints,
    datasets,
    initializers,
    layers,
    losses,
    metrics,
    mixed_precision,
    models,
    ops,
    optimizers,
    preprocessing,
    random,
    regularizers,
    saving,
    utils,
)
from lstmkit.keras.layers import Input, Layer
from lstmkit.keras.models import Model, Sequential, load_model

__all__ = [
    "Input", "Layer", "Model", "Sequential", "activations", "callbacks", "constraints", "datasets", "initializers",
    "layers", "load_model", "losses", "metrics", "mixed_precision", "models", "ops", "optimizers", "preprocessing",
    "random", "regularizers", "saving", "utils",
]
