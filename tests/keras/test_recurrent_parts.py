"""What each of SimpleRNN, LSTM and GRU says for itself (its bias, its Keras layout, its own config
entries), checked per layer: the parity tests run every layer with default options, where a
swapped GRU gate block in `weights` or a lost `reset_after` in a config would not show."""

import numpy as np
import pytest
import torch

from lstmkit.keras import layers as L

B, T, I, U = 2, 4, 5, 3

LAYERS = {
    "SimpleRNN": (L.SimpleRNN, {}),
    "SimpleRNN-nobias": (L.SimpleRNN, {"use_bias": False}),
    "LSTM": (L.LSTM, {}),
    "LSTM-nobias": (L.LSTM, {"use_bias": False}),
    "GRU": (L.GRU, {}),
    "GRU-v1": (L.GRU, {"reset_after": False}),
    "GRU-nobias": (L.GRU, {"use_bias": False}),
}


def built(cls, kw, seed=0):
    layer = cls(U, **kw)
    layer(torch.zeros(B, T, I))
    rng = np.random.default_rng(seed)  # distinct values in every gate block and bias
    layer.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in layer.get_weights()])
    return layer


@pytest.mark.parametrize("name", list(LAYERS))
def test_differentiable_weights_are_the_keras_layout_of_get_weights(name):
    cls, kw = LAYERS[name]
    layer = built(cls, kw)
    views = layer.weights  # what regularizers, constraints and users read
    assert [w.requires_grad for w in views] == [True] * len(views)
    got = [w.detach().numpy() for w in views]
    want = layer.get_weights()
    assert [g.shape for g in got] == [w.shape for w in want]
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


OWN_OPTIONS = {
    "SimpleRNN": (L.SimpleRNN, {"activation": "relu"}),
    "LSTM": (L.LSTM, {"unit_forget_bias": False, "recurrent_activation": "hard_sigmoid"}),
    "GRU": (L.GRU, {"reset_after": False, "recurrent_activation": "hard_sigmoid"}),
}


@pytest.mark.parametrize("name", list(OWN_OPTIONS))
def test_own_options_survive_the_config_and_bidirectional(name):
    cls, kw = OWN_OPTIONS[name]
    layer = cls(U, **kw)
    config = layer.get_config()
    assert {k: config[k] for k in kw} == kw
    assert type(layer).from_config(config).get_config() == config
    # Bidirectional copies its layer through the config: a lost entry changes the layer it runs
    wrapped = L.Bidirectional(layer)
    for copy in (wrapped.forward_layer, wrapped.backward_layer):
        assert {k: copy.get_config()[k] for k in kw} == kw


def test_unit_forget_bias_false_starts_the_lstm_bias_at_zero():
    lstm = L.LSTM(U, unit_forget_bias=False)
    lstm(torch.zeros(B, T, I))
    np.testing.assert_array_equal(lstm.get_weights()[2], np.zeros(4 * U, dtype="float32"))
