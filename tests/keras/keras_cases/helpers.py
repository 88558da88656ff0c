"""What Keras' `testing.TestCase.run_layer_test` checks, as plain assertions that run on Keras 3 itself and on
lstmkit.keras (the `K` fixture), so a case that is wrong fails on Keras too.

`run_layer_test` builds the layer class several times from `init_kwargs` (the same cell or layer objects in them
each time, as Keras' helper does) and checks:
1. the config round trip: `from_config(get_config())` and `deserialize_keras_object(serialize_keras_object(...))`
   give the same config (tuples kept apart from lists) and the same attribute names (`dir`);
2. `supports_masking`;
3. after `build(input_shape)` and after a symbolic call on `Input(batch_shape=input_shape)`: the layer is built,
   the numbers of trainable and non-trainable weights, of non-trainable variables and of seed generators, and the
   symbolic output shape (None in the expected shape matches any size);
4. an eager call on inputs drawn from U(0, 3) cast to `input_dtype`: the output shape and the number of losses;
5. one `fit` step of a subclassed Model around the layer, with SGD and the sum of the outputs as the loss; here also
   that a trainable weight moved (Keras' helper only runs the step).
Where an expected number is not given, the first built layer's own count is expected of the others (Keras' rule).
The counts of seed generators and non-trainable variables are compared last and raise `RandomStateMismatch`.
Left out: the mixed-precision pass (Keras runs it only with CUDA) and the count of `torch_params` (a Keras torch
backend internal; lstmkit's weights are the module's parameters and buffers).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from tests.keras.conftest import to_numpy

KERAS_CASE_TOL = {"atol": 1e-5, "rtol": 1e-5}  # the tolerance Keras' RNN tests state (its default is 1e-6)


class RandomStateMismatch(AssertionError):
    """The counts of seed generators or non-trainable variables differ from Keras' (checked after all else, so that
    an xfail(raises=RandomStateMismatch) on a library without them still runs every other check)."""


def is_keras(K: Any) -> bool:
    return K.__name__ == "keras"


def assert_allclose(actual: Any, expected: Any, atol: float = 1e-6, rtol: float = 1e-6) -> None:
    """Keras' assertAllClose: NumPy's allclose on the values, after converting tensors."""
    np.testing.assert_allclose(to_numpy(actual), to_numpy(expected), atol=atol, rtol=rtol)


def all_layers(layer: Any) -> list[Any]:
    """The layer and every layer inside it (Keras: `_flatten_layers`; lstmkit layers are torch modules)."""
    if hasattr(layer, "_flatten_layers"):
        return list(layer._flatten_layers(include_self=True, recursive=True))
    return list(layer.modules())


def seed_generators(layer: Any) -> list[Any]:
    """The distinct seed generators that the layer and its sublayers track (`_seed_generators`)."""
    found: dict[int, Any] = {}
    for sub in all_layers(layer):
        for generator in getattr(sub, "_seed_generators", None) or []:
            found[id(generator)] = generator
    return list(found.values())


def encode_tuples(value: Any) -> Any:
    """Tuples as {"__tuple__": [...]}, so that JSON keeps them apart from lists (as Keras' helper does)."""
    if isinstance(value, tuple):
        return {"__tuple__": [encode_tuples(v) for v in value]}
    if isinstance(value, list):
        return [encode_tuples(v) for v in value]
    if isinstance(value, dict):
        return {k: encode_tuples(v) for k, v in value.items()}
    return value


def decode_tuples(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(decode_tuples(v) for v in value["__tuple__"])
        return {k: decode_tuples(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_tuples(v) for v in value]
    return value


def as_json(config: Any) -> str:
    return json.dumps(encode_tuples(config), sort_keys=True)


def check_config_round_trip(K: Any, layer: Any, custom_objects: dict | None = None) -> Any:
    """Keras' run_class_serialization_test: both round trips (the second through JSON text) keep the config and
    the attribute names."""
    config = as_json(layer.get_config())
    names = set(dir(layer)) - {"__annotations__"}
    with K.saving.custom_object_scope(custom_objects or {}):
        revived = type(layer).from_config(layer.get_config())
    assert as_json(revived.get_config()) == config
    assert set(dir(revived)) - {"__annotations__"} == names
    serialized = decode_tuples(json.loads(as_json(K.saving.serialize_keras_object(layer))))
    with K.saving.custom_object_scope(custom_objects or {}):
        revived = K.saving.deserialize_keras_object(serialized)
    assert as_json(revived.get_config()) == config
    assert set(dir(revived)) - {"__annotations__"} == names
    return revived


def make_inputs(input_shape: Any, dtype: str = "float32", seed: int = 0) -> Any:
    """Inputs as Keras' helper draws them: U(0, 3), cast to `dtype` (so integers 0, 1, 2)."""
    if isinstance(input_shape, list):
        return [make_inputs(s, dtype, seed + i) for i, s in enumerate(input_shape)]
    return (np.random.default_rng(seed).uniform(size=input_shape) * 3).astype(dtype)


def shape_matches(expected: Any, actual: Any) -> bool:
    """Shapes, or nested lists/tuples of shapes, equal where `expected` is not None."""
    if hasattr(actual, "shape"):
        actual = tuple(actual.shape)
    if isinstance(expected, (list, tuple)) and expected and isinstance(expected[0], (list, tuple)):
        return len(expected) == len(actual) and all(shape_matches(e, a) for e, a in zip(expected, actual))
    return len(expected) == len(actual) and all(e is None or e == a for e, a in zip(expected, actual))


def output_shapes(output: Any) -> Any:
    if isinstance(output, (list, tuple)):
        return [output_shapes(o) for o in output]
    return tuple(output.shape)


def train_one_step(K: Any, layer: Any, x: Any, y: Any) -> None:
    """One SGD step of a subclassed Model around `layer`, minimising the sum of its outputs."""
    class TestModel(K.Model):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def call(self, inputs: Any, training: bool = False) -> Any:
            return self.inner(inputs, training=training)

    def sum_of_outputs(y_true: Any, y_pred: Any) -> Any:
        return y_pred.sum()

    model = TestModel(layer)
    model.compile(optimizer="sgd", loss=sum_of_outputs)
    before = [to_numpy(w).copy() for w in layer.trainable_weights]
    model.fit(x, to_numpy(y), batch_size=len(x), epochs=1, verbose=0)
    after = [to_numpy(w) for w in layer.trainable_weights]
    if before:
        assert any(not np.array_equal(a, b) for a, b in zip(after, before)), "no trainable weight moved"


def run_layer_test(K: Any, layer_cls: Any, init_kwargs: dict, input_shape: Any, input_dtype: str = "float32",
                   call_kwargs: dict | None = None, expected_output_shape: Any = None,
                   expected_num_trainable_weights: int | None = None,
                   expected_num_non_trainable_weights: int | None = None,
                   expected_num_non_trainable_variables: int | None = None,
                   expected_num_seed_generators: int | None = None, expected_num_losses: int | None = None,
                   supports_masking: bool | None = None, custom_objects: dict | None = None,
                   run_training_check: bool = True, assert_built_after_instantiation: bool = False) -> None:
    """The checks listed in this module's docstring, for `layer_cls(**init_kwargs)` on inputs of `input_shape`."""
    call_kwargs = call_kwargs or {}
    x = make_inputs(input_shape, input_dtype)
    first = layer_cls(**init_kwargs)
    first(x, **call_kwargs)
    if expected_num_trainable_weights is None:
        expected_num_trainable_weights = len(first.trainable_weights)
    if expected_num_non_trainable_weights is None:
        expected_num_non_trainable_weights = len(first.non_trainable_weights)
    if expected_num_seed_generators is None:
        expected_num_seed_generators = len(seed_generators(first))

    layer = layer_cls(**init_kwargs)
    check_config_round_trip(K, layer, custom_objects)
    if supports_masking is not None:
        assert layer.supports_masking == supports_masking

    random_state_counts = []  # (seed generators, non-trainable variables) of each built layer, checked last

    def check_built(layer: Any) -> None:
        assert layer.built
        assert len(layer.trainable_weights) == expected_num_trainable_weights
        assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights
        variables = getattr(layer, "non_trainable_variables", None)
        random_state_counts.append((len(seed_generators(layer)), None if variables is None else len(variables)))

    layer = layer_cls(**init_kwargs)
    layer.build(input_shape)
    check_built(layer)

    layer = layer_cls(**init_kwargs)
    symbolic = layer(K.Input(batch_shape=input_shape, dtype=input_dtype), **call_kwargs)
    check_built(layer)
    if expected_output_shape is not None:
        assert shape_matches(expected_output_shape, symbolic), (expected_output_shape, output_shapes(symbolic))
    if assert_built_after_instantiation:
        assert layer_cls(**init_kwargs).built, "a layer without weights is built when made"

        class OwnBuild(layer_cls):
            def build(self, input_shape: Any) -> None:
                pass

        assert not OwnBuild(**init_kwargs).built, "a subclass with its own build() is not built before it runs"

    layer = layer_cls(**init_kwargs)
    output = layer(x, **call_kwargs)
    if expected_output_shape is not None:
        assert shape_matches(expected_output_shape, output), (expected_output_shape, output_shapes(output))
    if expected_num_losses is not None:
        assert len(layer.losses) == expected_num_losses
    if run_training_check:
        train_one_step(K, layer, x, output)
    for n_seeds, n_variables in random_state_counts:
        if n_seeds != expected_num_seed_generators or (
                expected_num_non_trainable_variables is not None and n_variables != expected_num_non_trainable_variables):
            raise RandomStateMismatch(f"{n_seeds} seed generators and {n_variables} non-trainable variables, expected "
                                      f"{expected_num_seed_generators} and {expected_num_non_trainable_variables}")
