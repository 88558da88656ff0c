"""Keras 3.15.1's keras/src/layers/core/embedding_test.py, re-stated: the same inputs and expected numbers, on Keras
and on lstmkit.keras (the `K` fixture).

Left out, out of scope for lstmkit: quantization (test_embedding_quantize_config, test_quantize_*, test_int4_*,
test_embedding_int8_custom_quantizer, test_legacy_load_own_variables, whose stores are mostly int8/int4 ones), LoRA
(test_enable_lora*, test_lora_rank_argument), sparse and ragged inputs (test_sparse, test_ragged,
test_correctness_sparse: TensorFlow/JAX only)."""

import numpy as np
import pytest

from tests.keras.keras_cases.helpers import assert_allclose, run_layer_test


@pytest.mark.parametrize("init_kwargs, input_shape, input_dtype, output_shape, masking", [
    ({"input_dim": 4, "output_dim": 3}, (2,), "int32", (2, 3), False),
    ({"input_dim": 5, "output_dim": 4, "mask_zero": True}, (2, 3), "int64", (2, 3, 4), True),
], ids=["plain", "mask-zero"])
def test_embedding_basics(K, init_kwargs, input_shape, input_dtype, output_shape, masking):
    run_layer_test(K, K.layers.Embedding, init_kwargs, input_shape=input_shape, input_dtype=input_dtype,
                   expected_output_shape=output_shape, expected_num_trainable_weights=1,
                   expected_num_non_trainable_weights=0, expected_num_seed_generators=0, expected_num_losses=0,
                   supports_masking=masking)


def test_correctness(K):
    layer = K.layers.Embedding(input_dim=3, output_dim=2)
    layer.build()
    layer.embeddings.assign(np.array([[0.0, 0.0], [2.0, 2.0], [3.0, 3.0]]))
    assert_allclose(layer(np.array([2, 1, 0])), [[3.0, 3.0], [2.0, 2.0], [0.0, 0.0]])


def test_masking(K):
    layer = K.layers.Embedding(input_dim=3, output_dim=2, mask_zero=True)
    layer.build()
    assert_allclose(layer.compute_mask(np.array([2, 1, 0])), [True, True, False])


def test_compute_mask_no_masking(K):
    layer = K.layers.Embedding(input_dim=3, output_dim=2, mask_zero=False)
    assert layer.compute_mask(np.array([2, 1, 0])) is None


def test_embedding_constraints(K):
    layer = K.layers.Embedding(3, 2, embeddings_constraint="non_neg")
    layer.build((None, 2))
    assert isinstance(layer.embeddings.constraint, K.constraints.NonNeg)


BAD_DIMS = [3.7, 4.0, "3", None, True, False, -1, 0]


@pytest.mark.parametrize("bad_value", BAD_DIMS, ids=repr)
def test_invalid_input_dim(K, bad_value):
    with pytest.raises(ValueError, match="`input_dim` must be a positive integer"):
        K.layers.Embedding(input_dim=bad_value, output_dim=8)


def test_invalid_input_dim_from_config(K):  # test_invalid_input_dim, its last case
    with pytest.raises(TypeError, match="`input_dim` must be a positive integer"):
        K.layers.Embedding.from_config({"input_dim": 3.7, "output_dim": 8})


@pytest.mark.parametrize("bad_value", BAD_DIMS, ids=repr)
def test_invalid_output_dim(K, bad_value):
    with pytest.raises(ValueError, match="`output_dim` must be a positive integer"):
        K.layers.Embedding(input_dim=10, output_dim=bad_value)


def test_invalid_output_dim_from_config(K):  # test_invalid_output_dim, its last case
    with pytest.raises(TypeError, match="`output_dim` must be a positive integer"):
        K.layers.Embedding.from_config({"input_dim": 10, "output_dim": 3.7})


@pytest.mark.parametrize("weights", [np.ones((3, 4)), [np.ones((3, 4))]], ids=["array", "list"])
def test_weights_constructor_arg(K, weights):
    layer = K.layers.Embedding(3, 4, weights=weights)
    assert_allclose(layer.embeddings.numpy(), np.ones((3, 4)))
