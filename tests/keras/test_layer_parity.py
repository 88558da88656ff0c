"""Each lstmkit.keras layer against Keras 3 itself (torch backend): the same weights through
get_weights/set_weights, the same inputs and masks, outputs, states and output masks equal to 1e-5;
weight shapes (Keras' layout) and parameter counts equal."""

import numpy as np
import pytest
import torch

from lstmkit.keras import layers as L
from tests.keras.conftest import to_numpy
from tests.tolerances import KERAS_TOL

keras = pytest.importorskip("keras")
K = keras.layers

B, T, I, U = 3, 5, 4, 3


def randomize(klayer, seed=1):
    """Non-trivial weights (Keras' zero biases would hide a bias mix-up)."""
    rng = np.random.default_rng(seed)
    klayer.set_weights([rng.normal(0, 0.4, w.shape).astype("float32") for w in klayer.get_weights()])


def copy_weights(klayer, layer, x, **call_kw):
    """Build both on x, randomize Keras' weights, copy them into lstmkit's."""
    klayer(x, **call_kw)
    layer(x, **call_kw)
    randomize(klayer)
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in klayer.get_weights()]
    layer.set_weights(klayer.get_weights())
    assert layer.count_params() == klayer.count_params()


def assert_same(ours, theirs):
    ours, theirs = list(ours) if isinstance(ours, (list, tuple)) else [ours], \
        list(theirs) if isinstance(theirs, (list, tuple)) else [theirs]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(torch.as_tensor(to_numpy(a)), torch.as_tensor(to_numpy(b)), **KERAS_TOL)


def masks():
    right = np.ones((B, T), dtype=bool)
    right[1, 3:] = False
    right[2, 1:] = False
    left = right[:, ::-1].copy()
    return {"none": None, "right": right, "left": left}


RNN_CASES = [
    ("LSTM", {}),
    ("LSTM", {"recurrent_activation": "hard_sigmoid", "activation": "relu", "unit_forget_bias": False}),
    ("GRU", {"reset_after": True}),
    ("GRU", {"reset_after": False}),
    ("GRU", {"use_bias": False}),
    ("SimpleRNN", {}),
    ("SimpleRNN", {"activation": "relu"}),
]


@pytest.mark.parametrize("kind,kw", RNN_CASES, ids=[f"{k}-{kw}" for k, kw in RNN_CASES])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["fwd", "bwd"])
@pytest.mark.parametrize("mask_kind", ["none", "right", "left"])
@pytest.mark.parametrize("return_sequences", [True, False], ids=["seq", "last"])
def test_recurrent_layers_match_keras(kind, kw, go_backwards, mask_kind, return_sequences):
    x = np.random.default_rng(2).normal(size=(B, T, I)).astype("float32")
    opts = dict(go_backwards=go_backwards, return_sequences=return_sequences, return_state=True, **kw)
    klayer, layer = getattr(K, kind)(U, **opts), getattr(L, kind)(U, **opts)
    copy_weights(klayer, layer, x)
    mask = masks()[mask_kind]
    theirs = klayer(x, mask=mask)
    ours = layer(torch.from_numpy(x), mask=None if mask is None else torch.from_numpy(mask))
    assert len(ours) == (3 if kind == "LSTM" else 2)  # [output, h(, c)] like Keras
    assert_same(ours, theirs)
    if return_sequences and mask is not None:  # the mask travels on with the sequence
        assert torch.equal(ours[0]._keras_mask, torch.from_numpy(mask))


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "SimpleRNN"])
def test_initial_state_matches_keras(kind):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(B, T, I)).astype("float32")
    states = [rng.normal(size=(B, U)).astype("float32") for _ in range(2 if kind == "LSTM" else 1)]
    klayer, layer = getattr(K, kind)(U, return_sequences=True), getattr(L, kind)(U, return_sequences=True)
    copy_weights(klayer, layer, x)
    assert_same(layer(torch.from_numpy(x), initial_state=[torch.from_numpy(s) for s in states]),
                klayer(x, initial_state=states))


def test_weights_layout_and_initializers_follow_keras():
    """Parameter counts from KERAS_PARITY.md, Keras' weight shapes, unit forget bias, orthogonal recurrent kernel."""
    lstm = L.LSTM(32)
    lstm(torch.zeros(2, 3, 32))
    kernel, recurrent, bias = lstm.get_weights()
    assert (kernel.shape, recurrent.shape, bias.shape) == ((32, 128), (32, 128), (128,))
    np.testing.assert_array_equal(bias, np.r_[np.zeros(32), np.ones(32), np.zeros(64)])
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(32), atol=1e-5)  # (U, 4U): orthonormal rows
    limit = np.sqrt(6 / (32 + 128))
    assert np.abs(kernel).max() <= limit and np.abs(kernel).max() > 0.9 * limit  # glorot_uniform's bound
    assert lstm.count_params() == 4 * (32 * (32 + 32) + 32) == 8320
    rnn = L.SimpleRNN(32)
    rnn(torch.zeros(2, 3, 32))
    assert rnn.count_params() == 2080
    gru = L.GRU(32)
    gru(torch.zeros(2, 3, 32))
    assert gru.count_params() == 3 * (32 * 64 + 2 * 32) and gru.get_weights()[2].shape == (2, 96)
    gru_v1 = L.GRU(32, reset_after=False)
    gru_v1(torch.zeros(2, 3, 32))
    assert gru_v1.count_params() == 3 * (32 * 64 + 32) and gru_v1.get_weights()[2].shape == (96,)
    emb = L.Embedding(1000, 8)
    emb(torch.zeros(2, 3, dtype=torch.long))
    assert 0 < np.abs(emb.get_weights()[0]).max() <= 0.05  # Keras' "uniform": U(-0.05, 0.05)


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("return_sequences", [True, False], ids=["seq", "last"])
@pytest.mark.parametrize("mask_kind", ["none", "left"])
def test_bidirectional_matches_keras(merge_mode, return_sequences, mask_kind):
    x = np.random.default_rng(4).normal(size=(B, T, I)).astype("float32")
    klayer = K.Bidirectional(K.LSTM(U, return_sequences=return_sequences, return_state=True), merge_mode=merge_mode)
    layer = L.Bidirectional(L.LSTM(U, return_sequences=return_sequences, return_state=True), merge_mode=merge_mode)
    copy_weights(klayer, layer, x)
    mask = masks()[mask_kind]
    ours = layer(torch.from_numpy(x), mask=None if mask is None else torch.from_numpy(mask))
    theirs = klayer(x, mask=mask)
    assert_same(ours, theirs)  # outputs, then forward h, c, then backward h, c


def test_bidirectional_gru_parameters_and_names():
    layer = L.Bidirectional(L.GRU(U), name="bi")
    layer(torch.zeros(B, T, I))
    klayer = K.Bidirectional(K.GRU(U))
    klayer(np.zeros((B, T, I), "float32"))
    assert layer.count_params() == klayer.count_params()
    assert layer.forward_layer.name.startswith("forward_") and layer.backward_layer.go_backwards


@pytest.mark.parametrize("kw", [
    {"padding": "valid"}, {"padding": "same"}, {"padding": "causal"}, {"padding": "same", "strides": 2},
    {"padding": "valid", "dilation_rate": 2}, {"padding": "valid", "activation": "relu", "strides": 2},
])
def test_conv1d_matches_keras(kw):
    x = np.random.default_rng(5).normal(size=(B, 9, I)).astype("float32")
    klayer, layer = K.Conv1D(6, 3, **kw), L.Conv1D(6, 3, **kw)
    copy_weights(klayer, layer, x)
    assert_same(layer(torch.from_numpy(x)), klayer(x))
    assert layer.compute_output_shape((None, 9, I)) == tuple(klayer.compute_output_shape((None, 9, I)))


@pytest.mark.parametrize("cls,kw", [
    ("MaxPooling1D", {}), ("MaxPooling1D", {"pool_size": 3, "strides": 2}),
    ("MaxPooling1D", {"pool_size": 3, "padding": "same"}), ("AveragePooling1D", {"pool_size": 2}),
    ("AveragePooling1D", {"pool_size": 3, "strides": 1, "padding": "same"}),
    ("GlobalMaxPooling1D", {}), ("GlobalAveragePooling1D", {}), ("GlobalMaxPooling1D", {"keepdims": True}),
    ("Flatten", {}),
])
def test_pooling_and_flatten_match_keras(cls, kw):
    x = np.random.default_rng(6).normal(size=(B, 9, I)).astype("float32")
    assert_same(getattr(L, cls)(**kw)(torch.from_numpy(x)), getattr(K, cls)(**kw)(x))


def test_global_average_pooling_uses_the_mask_like_keras():
    x = np.random.default_rng(7).normal(size=(B, T, I)).astype("float32")
    mask = masks()["left"]
    assert_same(L.GlobalAveragePooling1D()(torch.from_numpy(x), mask=torch.from_numpy(mask)),
                K.GlobalAveragePooling1D()(x, mask=mask))


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "softmax", "linear", "elu", "selu", "softplus",
                                        "softsign", "swish", "gelu", "hard_sigmoid", "leaky_relu", "relu6", "mish"])
def test_dense_with_each_activation_matches_keras(activation):
    x = np.random.default_rng(8).normal(size=(B, T, I)).astype("float32")  # 3-D: applied on the last axis
    klayer, layer = K.Dense(5, activation=activation), L.Dense(5, activation=activation)
    copy_weights(klayer, layer, x)
    assert_same(layer(torch.from_numpy(x)), klayer(x))


def test_embedding_and_masking_match_keras():
    ids = np.array([[0, 0, 3, 4, 1], [5, 2, 0, 0, 0], [7, 1, 2, 3, 4]])
    klayer, layer = K.Embedding(10, 4, mask_zero=True), L.Embedding(10, 4, mask_zero=True)
    copy_weights(klayer, layer, ids)
    out = layer(torch.from_numpy(ids))
    assert_same(out, klayer(ids))
    np.testing.assert_array_equal(to_numpy(out._keras_mask), to_numpy(klayer.compute_mask(ids)))
    x = np.random.default_rng(9).normal(size=(B, T, I)).astype("float32")
    x[0, :2] = 0.0
    x[2, 4] = 0.0
    kout = K.Masking(0.0)(x)
    out = L.Masking(0.0)(torch.from_numpy(x))
    assert_same(out, kout)
    np.testing.assert_array_equal(to_numpy(out._keras_mask), to_numpy(kout._keras_mask))


def test_time_distributed_matches_keras():
    x = np.random.default_rng(10).normal(size=(B, T, I)).astype("float32")
    klayer, layer = K.TimeDistributed(K.Dense(2)), L.TimeDistributed(L.Dense(2))
    copy_weights(klayer, layer, x)
    assert_same(layer(torch.from_numpy(x)), klayer(x))


@pytest.mark.parametrize("kw", [{}, {"center": False}, {"scale": False}, {"axis": [1, 2]}, {"epsilon": 1e-5}])
def test_layer_normalization_matches_keras(kw):
    x = np.random.default_rng(11).normal(2.0, 3.0, size=(B, T, I)).astype("float32")
    klayer, layer = K.LayerNormalization(**kw), L.LayerNormalization(**kw)
    copy_weights(klayer, layer, x)
    assert_same(layer(torch.from_numpy(x)), klayer(x))


@pytest.mark.parametrize("masked", [False, True])
def test_batch_normalization_matches_keras_in_training_and_inference(masked):
    x = np.random.default_rng(12).normal(2.0, 3.0, size=(B, T, I)).astype("float32")
    mask = masks()["left"] if masked else None
    klayer, layer = K.BatchNormalization(momentum=0.9), L.BatchNormalization(momentum=0.9)
    copy_weights(klayer, layer, x)
    gamma, beta, mean, var = klayer.get_weights()
    klayer.set_weights([gamma, beta, mean, np.abs(var) + 0.5])  # a variance must be positive
    layer.set_weights(klayer.get_weights())
    tm = None if mask is None else torch.from_numpy(mask)
    assert_same(layer(torch.from_numpy(x), training=True, mask=tm), klayer(x, training=True, mask=mask))
    assert_same(layer.get_weights(), klayer.get_weights())  # moving mean and variance updated alike
    assert_same(layer(torch.from_numpy(x), training=False), klayer(x, training=False))
    assert len(layer.non_trainable_weights) == 2 and len(layer.trainable_weights) == 2


def test_dropout_scales_kept_units_and_is_identity_at_inference():
    x = torch.ones(200, 50)
    layer = L.Dropout(0.3)
    torch.testing.assert_close(layer(x), x)
    y = layer(x, training=True)
    kept = y != 0
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / 0.7))
    assert 0.25 < 1 - kept.float().mean().item() < 0.35


def test_recurrent_dropout_masks_are_drawn_once_per_batch():
    """Variational dropout: with input dropout only, a (B, I) mask times every step; the output equals the
    layer run without dropout on inputs multiplied by one fixed mask per sequence."""
    layer = L.SimpleRNN(4, dropout=0.5, return_sequences=True, seed=3)
    x = torch.randn(6, 7, 5)
    layer(x)
    torch.manual_seed(0)
    out = layer(x, training=True)
    gen = torch.Generator().manual_seed(3)
    from lstmkit.ops import dropout_mask

    m = dropout_mask(6, 5, 0.5, like=x, generator=gen)
    ref = L.SimpleRNN(4, return_sequences=True)
    ref(x)
    ref.set_weights(layer.get_weights())
    torch.testing.assert_close(out, ref(x * m[:, None, :]))
