"""lstmkit.keras.layers.SLSTM (an lstmkit extension): the layer is lstmkit.ops.slstm on its Keras-layout
weights, with Keras' masks, go_backwards, return_state ([output, h, c, n, m]) and initial_state, and a
model with it trains, saves and loads."""

import numpy as np
import pytest
import torch

import lstmkit.keras as K
from lstmkit.ops import slstm

X = np.random.default_rng(0).normal(size=(3, 7, 4)).astype("float32")
MASK = np.array([[True] * 7, [False] * 3 + [True] * 4, [True] * 5 + [False] * 2])


@pytest.mark.parametrize("go_backwards", [False, True])
def test_the_layer_is_the_op_on_its_weights(go_backwards, one_thread):
    layer = K.layers.SLSTM(6, num_heads=2, return_sequences=True, return_state=True, go_backwards=go_backwards)
    state = [torch.randn(3, 6), torch.randn(3, 6), torch.rand(3, 6) + 0.5, torch.randn(3, 6)]
    seq, h, c, n, m = layer(X, mask=MASK, initial_state=state)
    kernel, recurrent, bias = (torch.as_tensor(w) for w in layer.get_weights())
    assert kernel.shape == (4, 24) and recurrent.shape == (2, 3, 12) and bias.shape == (24,)
    assert torch.equal(bias[6:12], torch.ones(6)) and torch.equal(bias[:6], torch.zeros(6))  # unit_forget_bias
    ref, final = slstm(torch.as_tensor(X), kernel.T, recurrent, bias, tuple(state), mask=torch.as_tensor(MASK),
                       reverse=go_backwards, backend="reference")
    for got, want in zip((h, c, n, m), final):
        torch.testing.assert_close(got, want)
    torch.testing.assert_close(seq, ref.flip(1) if go_backwards else ref)  # Keras: processing order


def test_masks_follow_the_sequence():
    layer = K.layers.SLSTM(4, return_sequences=True)
    out = layer(torch.as_tensor(X), mask=torch.as_tensor(MASK))
    assert torch.equal(layer.compute_mask(X, torch.as_tensor(MASK)), torch.as_tensor(MASK))
    assert (out[1, :3] == 0).all() and (out[2, 5:] == 0).all()  # padded steps output zeros
    assert K.layers.SLSTM(4).compute_mask(X, torch.as_tensor(MASK)) is None
    last = K.layers.SLSTM(4)
    last.build((None, 7, 4))
    last.set_weights(layer.get_weights())
    last_real = out[torch.arange(3), torch.tensor([6, 6, 4])]  # the state after each row's last real step
    torch.testing.assert_close(last(torch.as_tensor(X), mask=torch.as_tensor(MASK)), last_real)
    assert K.layers.SLSTM(4, return_state=True).compute_output_shape((None, 7, 4)) == [(None, 4)] * 5


def test_a_model_with_it_trains_saves_and_loads(tmp_path, one_thread):
    rng = np.random.default_rng(1)
    x = rng.integers(1, 50, (64, 12))
    x[:32, :4] = 0  # left padding under mask_zero
    y = (x[:, -1] > 25).astype("float32")[:, None]
    model = K.Sequential([K.Input((12,), dtype="int32"), K.layers.Embedding(50, 8, mask_zero=True),
                          K.layers.SLSTM(8, num_heads=2, return_sequences=True),
                          K.layers.SLSTM(4, forget_gate="exp"), K.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(x, y, epochs=6, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.count_params() == 50 * 8 + (8 * 32 + 2 * 4 * 16 + 32) + (8 * 16 + 4 * 16 + 16) + 5
    model.save(tmp_path / "m.keras")
    loaded = K.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.layers[2].forget_gate == "exp" and loaded.layers[1].num_heads == 2
    config = model.layers[1].get_config()
    assert K.layers.SLSTM.from_config(config).get_config() == config


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="SLSTM: units must be a positive integer, got 0"):
        K.layers.SLSTM(0)
    with pytest.raises(ValueError, match="SLSTM: units must be a multiple of num_heads, got units=6 and num_heads=4"):
        K.layers.SLSTM(6, num_heads=4)
    with pytest.raises(ValueError, match=r"forget_gate must be one of \('sigmoid', 'exp'\), got 'hard'"):
        K.layers.SLSTM(4, forget_gate="hard")
    with pytest.raises(ValueError, match=r"initial_state must be \[h, c, n, m\] \(four tensors\), got 2"):
        K.layers.SLSTM(5)(X, initial_state=[torch.zeros(3, 5)] * 2)
    with pytest.raises(ValueError, match=r"initial_state n must be \(3, 5\), got \(2, 5\)"):
        K.layers.SLSTM(5)(X, initial_state=[torch.zeros(3, 5)] * 2 + [torch.zeros(2, 5), torch.zeros(3, 5)])
    with pytest.raises(ValueError, match=r"expects inputs of shape \(batch, time, features\)"):
        K.layers.SLSTM(5)(X[0])
