"""Masks through TimeDistributed (carried to the next layer, checked), and Constant initializers of an
array (the Keras recipe for pretrained embeddings), side by side with Keras."""

import numpy as np
import pytest
import torch


def test_a_mask_passes_through_time_distributed(K):
    ids = np.array([[0, 0, 3, 4, 5], [1, 2, 3, 0, 0]])
    model = K.Sequential([K.Input((5,), dtype="int32"), K.layers.Embedding(6, 4, mask_zero=True),
                          K.layers.TimeDistributed(K.layers.Dense(3)), K.layers.LSTM(2, return_sequences=True)])
    out = np.asarray(model(ids).detach().cpu())
    # masked steps carry the previous output: the padded tail repeats the last real step, the padded head is 0
    np.testing.assert_array_equal(out[1, 3], out[1, 2])
    np.testing.assert_array_equal(out[1, 4], out[1, 2])
    np.testing.assert_array_equal(out[0, :2], np.zeros((2, 2)))


def test_time_distributed_refuses_a_mask_of_another_shape(K):
    layer = K.layers.TimeDistributed(K.layers.Dense(3))
    x = np.ones((2, 5, 4), "float32")
    with pytest.raises(ValueError, match=r"(?s)mask.*\(2, 5"):
        layer(x, mask=np.ones((2, 4), bool))


def test_constant_of_a_matrix_fills_an_embedding(K):
    matrix = np.arange(12, dtype="float32").reshape(4, 3)
    layer = K.layers.Embedding(4, 3, embeddings_initializer=K.initializers.Constant(matrix))
    out = layer(np.array([[3, 0]]))
    np.testing.assert_array_equal(np.asarray(out.detach().cpu()), matrix[[3, 0]][None])
    config = K.initializers.Constant(matrix).get_config()
    again = K.initializers.Constant.from_config(config)
    np.testing.assert_array_equal(np.asarray(again((4, 3))), matrix)


def test_constant_of_a_number_and_a_mismatch():
    from lstmkit.keras import initializers

    np.testing.assert_array_equal(initializers.Constant(2.0)((2,)).numpy(), [2.0, 2.0])
    with pytest.raises(ValueError, match=r"shape \(2, 3\) cannot fill a weight of shape \(3, 2\)"):
        initializers.Constant(np.zeros((2, 3)))((3, 2))
    assert torch.equal(initializers.Constant(np.ones(3))((2, 3)), torch.ones(2, 3))  # broadcast as Keras does


def test_embedding_builds_without_a_shape_and_takes_pretrained_weights(K):
    layer = K.layers.Embedding(5, 2)
    layer.build()
    assert layer.built and tuple(layer.embeddings.shape) == (5, 2)
    matrix = np.arange(10, dtype="float32").reshape(5, 2)
    pretrained = K.layers.Embedding(5, 2, weights=[matrix])  # GloVe recipe: in place before any call
    np.testing.assert_array_equal(pretrained.get_weights()[0], matrix)
    np.testing.assert_array_equal(np.asarray(pretrained(np.array([[4]])).detach()), [[[8.0, 9.0]]])


def test_compute_mask_takes_numpy_arrays(K):
    x = np.array([[[0.0, 0.0], [1.0, 2.0]]], "float32")
    mask = K.layers.Masking(mask_value=0.0).compute_mask(x)
    np.testing.assert_array_equal(np.asarray(mask), [[False, True]])
    ids = K.layers.Embedding(5, 2, mask_zero=True).compute_mask(np.array([[0, 3]]))
    np.testing.assert_array_equal(np.asarray(ids), [[False, True]])
