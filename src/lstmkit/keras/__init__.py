"""`lstmkit.keras`: Keras' API on lstmkit's recurrences, so a Keras program runs with `keras` replaced by
`lstmkit.keras` in its imports. Modules as in Keras: layers, models, datasets, preprocessing, utils,
optimizers, losses, metrics, callbacks, config, activations, initializers, regularizers, constraints, ops,
random, and Keras 2's `backend`.

`__version__` is "3.15.1+lstmkit.<lstmkit's version>": the Keras release whose API the facade follows
(its tests compare against Keras 3.15.1), with a PEP 440 local label saying it is lstmkit's facade. So the
checks programs make go as on Keras 3.15.1: `__version__.startswith("3")`, `int(__version__.split(".")[0])`,
`split(".")[:2]` and `packaging.version.parse(__version__) >= parse("3.0")`."""

from lstmkit import __version__ as _lstmkit_version
from lstmkit.keras import (
    activations,
    backend,
    callbacks,
    config,
    constraints,
    datasets,
    distribution,
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

__version__ = f"3.15.1+lstmkit.{_lstmkit_version}"

__all__ = [
    "Input", "Layer", "Model", "Sequential", "__version__", "activations", "backend", "callbacks", "config",
    "constraints", "datasets", "distribution", "initializers", "layers", "load_model", "losses", "metrics",
    "mixed_precision", "models", "ops", "optimizers", "preprocessing", "random", "regularizers", "saving", "utils",
]
