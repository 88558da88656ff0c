"""lstmkit.ops against Keras 3 layers (torch backend) with weights converted through lstmkit.nn.convert:
LSTM, GRU (both reset_after), SimpleRNN; go_backwards, masks on either side, returned states."""

import numpy as np
import pytest
import torch

from lstmkit import ops
from lstmkit.nn import convert
from tests.tolerances import KERAS_TOL

keras = pytest.importorskip("keras")

B, T, I, U = 4, 7, 5, 6


def keras_layer(kind, **kw):
    cls = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple_rnn": keras.layers.SimpleRNN}[kind]
    layer = cls(U, return_sequences=True, return_state=True, **kw)
    layer.build((B, T, I))
    # non-trivial weights: Keras' initialisers give zero biases, which would hide a bias mix-up
    rng = np.random.default_rng(1)
    layer.set_weights([rng.normal(0, 0.4, w.shape).astype("float32") for w in layer.get_weights()])
    return layer


def torch_weights(kind, layer, reset_after=True):
    w = layer.get_weights()
    if kind == "lstm":
        return convert.lstm_from_keras(*w)
    if kind == "gru":
        return convert.gru_from_keras(*w, reset_after=reset_after)
    return convert.simple_rnn_from_keras(*w)


def masks():
    right = np.ones((B, T), dtype=bool)
    right[1, 4:] = False
    right[3, 1:] = False
    left = right[:, ::-1].copy()
    return {"none": None, "right": right, "left": left}


CASES = [
    ("lstm", {}), ("lstm", {"recurrent_activation": "hard_sigmoid", "activation": "relu"}),
    ("gru", {"reset_after": True}), ("gru", {"reset_after": False}),
    ("gru", {"reset_after": True, "use_bias": False}),
    ("simple_rnn", {}), ("simple_rnn", {"activation": "relu"}),
]


@pytest.mark.parametrize("kind,kw", CASES, ids=[f"{k}-{kw}" for k, kw in CASES])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("mask_kind", ["none", "right", "left"])
def test_matches_keras(kind, kw, go_backwards, mask_kind):
    layer = keras_layer(kind, go_backwards=go_backwards, **kw)
    w = torch_weights(kind, layer, reset_after=kw.get("reset_after", True))
    x = np.random.default_rng(2).normal(size=(B, T, I)).astype("float32")
    mask = masks()[mask_kind]
    k_out, *k_states = layer(x, mask=None if mask is None else mask)
    k_out = torch.as_tensor(np.asarray(k_out.detach().cpu()))
    k_states = [torch.as_tensor(np.asarray(s.detach().cpu())) for s in k_states]

    act = {key: kw[key] for key in ("activation", "recurrent_activation") if key in kw}
    if kind == "gru":
        act["reset_after"] = kw.get("reset_after", True)
    fn = getattr(ops, kind)
    out, *states = fn(
        torch.from_numpy(x), w["weight_ih"], w["weight_hh"], w.get("bias_ih"), w.get("bias_hh"),
        mask=None if mask is None else torch.from_numpy(mask), reverse=go_backwards, backend="reference", **act,
    )
    if go_backwards:  # Keras returns the sequence in processing order; lstmkit.ops aligns it with the input
        out = out.flip(1)
    torch.testing.assert_close(out, k_out, **KERAS_TOL)
    assert len(states) == len(k_states)  # Keras: [h, c] for LSTM, [h] otherwise
    for s, ks in zip(states, k_states):
        torch.testing.assert_close(s, ks, **KERAS_TOL)


@pytest.mark.parametrize("kind,reset_after", [("lstm", True), ("simple_rnn", True), ("gru", True), ("gru", False)])
def test_weight_conversion_round_trips(kind, reset_after):
    kw = {"reset_after": reset_after} if kind == "gru" else {}
    layer = keras_layer(kind, **kw)
    w = layer.get_weights()
    to = {"lstm": convert.lstm_to_keras, "gru": convert.gru_to_keras, "simple_rnn": convert.simple_rnn_to_keras}[kind]
    back = to(**torch_weights(kind, layer, reset_after), **kw)
    assert [a.shape for a in back] == [a.shape for a in w]
    for a, b in zip(back, w):
        np.testing.assert_array_equal(a, b)


def test_gru_gate_order_is_reordered():
    """Keras z, r, h blocks become PyTorch r, z, n blocks."""
    kernel = np.concatenate([np.full((2, 3), v, dtype="float32") for v in (1.0, 2.0, 3.0)], axis=1)  # z, r, h
    out = convert.gru_from_keras(kernel, np.zeros((3, 9), dtype="float32"))
    assert out["weight_ih"][:, 0].tolist() == [2.0] * 3 + [1.0] * 3 + [3.0] * 3  # r, z, n


def test_torch_bias_pair_sums_into_keras_bias():
    w_ih, w_hh = torch.randn(8, 3), torch.randn(8, 2)
    b_ih, b_hh = torch.randn(8), torch.randn(8)
    kernel, rec, bias = convert.lstm_to_keras(w_ih, w_hh, b_ih, b_hh)
    np.testing.assert_allclose(bias, (b_ih + b_hh).numpy(), rtol=1e-6)
    assert kernel.shape == (3, 8) and rec.shape == (2, 8)


def test_conversion_rejects_wrong_shapes():
    with pytest.raises(ValueError, match=r"recurrent_kernel must have shape \(3, 12\)"):
        convert.lstm_from_keras(np.zeros((2, 12)), np.zeros((3, 8)))
    with pytest.raises(ValueError, match=r"bias must have shape \(2, 9\)"):
        convert.gru_from_keras(np.zeros((2, 9)), np.zeros((3, 9)), np.zeros(9), reset_after=True)
    with pytest.raises(ValueError, match="no projection"):
        convert.lstm_to_keras(torch.zeros(16, 3), torch.zeros(16, 2))
