"""keras.ops called on symbolic tensors while a functional model is built (`ops.mean(x, axis=1)`,
`x[:, -1]`, `x * 2`, `ops.concatenate`, `ops.split`): on Keras and on lstmkit.keras (`K`), the same
graph with the same weights gives the same numbers, the same output shapes and parameter counts."""

import numpy as np
import pytest

from tests.keras.conftest import to_numpy

RNG = np.random.default_rng(1)
X = RNG.uniform(-1, 1, (3, 6, 4)).astype("float32")


def graph(K):
    """LSTM states pooled three ways through ops, then Dense."""
    x = K.Input((6, 4))
    h = K.layers.LSTM(5, return_sequences=True)(x)
    mean = K.ops.mean(h, axis=1)  # (None, 5)
    last = h[:, -1]  # (None, 5)
    first, second = K.ops.split(h, 2, axis=1)  # two (None, 3, 5)
    both = K.ops.concatenate([mean, last * 2.0 - 1.0, K.ops.max(second - first, axis=1)], axis=-1)  # (None, 15)
    y = K.layers.Dense(2)(K.ops.tanh(both))
    return K.Model(x, y), (mean, last, first, both)


def test_the_same_graph_gives_the_same_numbers_and_shapes(K):
    import keras

    reference, _ = graph(keras)
    model, (mean, last, first, both) = graph(K)
    model.set_weights(reference.get_weights())
    assert tuple(mean.shape) == (None, 5) and tuple(last.shape) == (None, 5)
    assert tuple(first.shape) == (None, 3, 5) and tuple(both.shape) == (None, 15)
    assert model.count_params() == reference.count_params() == 4 * (5 * (4 + 5) + 5) + 15 * 2 + 2
    np.testing.assert_allclose(to_numpy(model.predict(X, verbose=0)), to_numpy(reference.predict(X, verbose=0)),
                               rtol=1e-5, atol=1e-6)


def test_unknown_sizes_stay_unknown_and_integer_ops_keep_their_dtype(K):
    x = K.Input((None, 3))
    assert tuple(K.ops.sum(x, axis=1).shape) == (None, 3)
    assert tuple(K.ops.reshape(x, (-1, 3)).shape) == (None, 3)
    assert tuple(K.ops.expand_dims(x, 0).shape) == (1, None, None, 3)
    ids = K.Input((4,), dtype="int32")
    assert "int" in str(K.ops.argmax(ids, axis=-1).dtype)
    assert K.ops.shape(x) == (None, None, 3)


def test_a_graph_with_ops_trains_saves_and_loads(tmp_path):
    import lstmkit.keras as K

    model, _ = graph(K)
    model.compile(optimizer="adam", loss="mse")
    before = [w.copy() for w in model.get_weights()]
    model.fit(X, np.ones((3, 2), "float32"), epochs=1, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    model.save(tmp_path / "ops.keras")
    loaded = K.models.load_model(tmp_path / "ops.keras")
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_what_a_model_cannot_hold_is_refused_by_name():
    import lstmkit.keras as K

    x = K.Input((3,))
    with pytest.raises(ValueError, match=r"ops\.scan: got a symbolic KerasTensor .* calls a function of yours"):
        K.ops.scan(lambda c, v: (c, v), 0.0, x)
    with pytest.raises(ValueError, match=r"ops\.add: on a symbolic KerasTensor .* got object"):
        K.ops.add(x, object())
    with pytest.raises(TypeError, match=r"OpLayer: 'system' is not an op of lstmkit\.keras\.ops"):
        K.layers.OpLayer.from_config({"name": "evil", "op": "system", "template": [[], {"__dict__": {}}]})
