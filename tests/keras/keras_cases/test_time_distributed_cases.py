"""Keras 3.15.1's keras/src/layers/rnn/time_distributed_test.py, re-stated: the same inputs and expected numbers, on
Keras and on lstmkit.keras (the `K` fixture).

test_masking: Keras' masked Dense is a `layers.Wrapper` subclass; lstmkit.keras has no Wrapper, so here it is a
plain Layer that holds its Dense (what the test checks is that TimeDistributed hands each step its mask)."""

import numpy as np
import pytest

from tests.keras.keras_cases.helpers import assert_allclose, is_keras, run_layer_test


def test_basics(K):
    run_layer_test(K, K.layers.TimeDistributed, {"layer": K.layers.Dense(1, use_bias=False)}, input_shape=(3, 2, 4),
                   expected_output_shape=(3, 2, 1), expected_num_trainable_weights=1,
                   expected_num_non_trainable_weights=0, supports_masking=True)


def test_build(K):  # channels_last, Keras' default image data format
    inputs = K.Input(shape=(10, 128, 128, 3), batch_size=32)
    outputs = K.layers.TimeDistributed(K.layers.Conv2D(64, (3, 3)))(inputs)
    assert tuple(outputs.shape) == (32, 10, 126, 126, 64)


def test_correctness(K):
    sequence = np.arange(24).reshape((3, 2, 4)).astype("float32")
    dense = K.layers.Dense(1, kernel_initializer=K.initializers.Constant(0.01), use_bias=False)
    output = K.layers.TimeDistributed(layer=dense)(sequence)
    assert_allclose(output, [[[0.06], [0.22]], [[0.38], [0.53999996]], [[0.7], [0.86]]])


def test_masking(K):
    class MaskedDense(K.layers.Layer):
        """Dense(units) with constant weights 0.01 whose outputs are zeroed where the mask is False."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.dense = K.layers.Dense(units, kernel_initializer=K.initializers.Constant(0.01), use_bias=False)
            self.supports_masking = True

        def build(self, input_shape):
            self.dense.build(input_shape)

        def call(self, inputs, training=False, mask=None):
            unmasked = self.dense(inputs)
            if mask is None:
                return unmasked
            return unmasked * mask[:, None].to(inputs.dtype)  # (steps, units) times (steps, 1)

    sequence = np.arange(24).reshape((3, 2, 4)).astype("float32")
    mask = np.array([[False, True], [True, False], [True, True]])
    output = K.layers.TimeDistributed(layer=MaskedDense(1))(sequence, mask=mask)
    assert_allclose(output, [[[0], [0.22]], [[0.38], [0]], [[0.7], [0.86]]])


def test_with_mask_zero(K):
    """Keras' case feeds uniform(1, 10) floats, which Keras' Embedding truncates to ids; here the ids it derives
    (whole-number floats) go in on both libraries, since lstmkit refuses fractional ids (the next test)."""
    model = K.Sequential([
        K.layers.Input(shape=(20,)),
        K.layers.Embedding(input_dim=10, output_dim=5, mask_zero=True),
        K.layers.TimeDistributed(K.layers.Dense(units=5, activation="softmax")),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x_train = np.trunc(rng.uniform(1, 10, size=(22, 20)))  # the ids Keras takes from its test's floats
    y_train = rng.integers(1, 2, size=(22, 20))
    history = model.fit(x_train, y_train, epochs=1, batch_size=16, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_fractional_float_ids_are_truncated_by_keras_and_refused_by_lstmkit(K):
    """A documented difference: Keras casts 3.7 to id 3 without a word; lstmkit names the bad ids."""
    embedding = K.layers.Embedding(input_dim=10, output_dim=2)
    x = np.array([[3.7, 1.0]])
    if is_keras(K):
        assert_allclose(embedding(x), embedding(np.array([[3, 1]])))
    else:
        with pytest.raises(ValueError, match="whole number"):
            embedding(x)


MASK_MESSAGE = r"The `mask` passed to the `TimeDistributed` layer has a shape.*"
BATCH, TIMESTEPS, FEATURES = 4, 5, 3


def softmax_td(K):
    return K.layers.TimeDistributed(K.layers.Dense(units=5, activation="softmax"))


def test_mask_validation_with_mismatched_timesteps(K):
    td, inputs = softmax_td(K), np.zeros((BATCH, TIMESTEPS, FEATURES))
    assert tuple(td(inputs, mask=np.ones((BATCH, TIMESTEPS), dtype=bool)).shape) == (BATCH, TIMESTEPS, 5)
    with pytest.raises(ValueError, match=MASK_MESSAGE):
        td(inputs, mask=np.ones((BATCH, TIMESTEPS + 1), dtype=bool))


def test_mask_validation_with_mismatched_batch_size(K):
    with pytest.raises(ValueError, match=MASK_MESSAGE):
        softmax_td(K)(np.zeros((BATCH, TIMESTEPS, FEATURES)), mask=np.ones((BATCH + 1, TIMESTEPS), dtype=bool))


def test_mask_validation_with_correct_shape(K):
    output = softmax_td(K)(np.zeros((BATCH, TIMESTEPS, FEATURES)), mask=np.ones((BATCH, TIMESTEPS, 1), dtype=bool))
    assert tuple(output.shape) == (BATCH, TIMESTEPS, 5)


def test_mask_validation_with_3d_mask(K):
    td, inputs = softmax_td(K), np.zeros((BATCH, TIMESTEPS, FEATURES))
    assert tuple(td(inputs, mask=np.ones((BATCH, TIMESTEPS, 2), dtype=bool)).shape) == (BATCH, TIMESTEPS, 5)
    with pytest.raises(ValueError, match=MASK_MESSAGE):
        td(inputs, mask=np.ones((BATCH, TIMESTEPS + 1, 2), dtype=bool))


def test_mask_validation_with_none_mask(K):
    assert tuple(softmax_td(K)(np.zeros((BATCH, TIMESTEPS, FEATURES)), mask=None).shape) == (BATCH, TIMESTEPS, 5)


def test_mask_validation_with_both_batch_and_timesteps_mismatched(K):
    with pytest.raises(ValueError, match=MASK_MESSAGE):
        softmax_td(K)(np.zeros((BATCH, TIMESTEPS, FEATURES)), mask=np.ones((BATCH + 1, TIMESTEPS + 1), dtype=bool))
