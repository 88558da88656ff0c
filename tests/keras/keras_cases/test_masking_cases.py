"""Keras 3.15.1's keras/src/layers/core/masking_test.py, re-stated: the same inputs and expected masks, on Keras and
on lstmkit.keras (the `K` fixture)."""

import numpy as np

from tests.keras.keras_cases.helpers import assert_allclose, run_layer_test


def test_masking_basics(K):
    run_layer_test(K, K.layers.Masking, {"mask_value": 0.0}, input_shape=(2, 3, 2), expected_output_shape=(2, 3, 2),
                   expected_num_trainable_weights=0, expected_num_non_trainable_weights=0,
                   expected_num_seed_generators=0, expected_num_losses=0, supports_masking=True,
                   assert_built_after_instantiation=True)


X = np.array([[[0.0, 0.0], [1.0, 2.0], [0.0, 0.0]], [[2.0, 2.0], [0.0, 0.0], [2.0, 1.0]]])
EXPECTED_MASK = [[False, True, False], [True, False, True]]  # False where a step is all mask_value


def test_masking_correctness(K):
    assert_allclose(K.layers.Masking(mask_value=0.0).compute_mask(X), EXPECTED_MASK)

    seen = []

    class TestLayer(K.layers.Layer):
        """Records the mask it is called with."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True

        def compute_output_shape(self, input_shape):
            return input_shape

        def call(self, inputs, mask=None):
            seen.append(mask)
            return inputs

    K.Sequential([K.layers.Masking(mask_value=0.0), TestLayer()])(X)
    assert len(seen) >= 1 and all(m is not None for m in seen)
    for mask in seen:
        assert_allclose(mask, EXPECTED_MASK)


def test_masking_with_tensor(K, tmp_path):
    model = K.Sequential([K.layers.Masking(mask_value=0.0), K.layers.LSTM(1)])
    x = np.array([[[1.0, 2.0], [0.0, 0.0], [0.0, 0.0]], [[2.0, 2.0], [2.0, 1.0], [0.0, 0.0]]])
    model(x)
    model.save(tmp_path / "model.keras")
    reloaded = K.saving.load_model(tmp_path / "model.keras")
    reloaded(x)
