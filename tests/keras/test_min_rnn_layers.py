"""lstmkit.keras.layers.MinGRU / MinLSTM (lstmkit extensions): the layer is lstmkit.ops.min_gru / min_lstm on
its Keras-layout kernel, with Keras' masks, go_backwards, return_state and initial_state, and it trains,
saves and loads."""

import numpy as np
import pytest
import torch

import lstmkit.keras as K
from lstmkit import ops

X = np.random.default_rng(0).normal(size=(3, 7, 4)).astype("float32")
MASK = np.array([[True] * 7, [False] * 3 + [True] * 4, [True] * 5 + [False] * 2])


@pytest.mark.parametrize("cls, op", [(K.layers.MinGRU, ops.min_gru), (K.layers.MinLSTM, ops.min_lstm)])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_the_layer_is_the_op_on_its_kernel(cls, op, go_backwards):
    layer = cls(5, return_sequences=True, return_state=True, go_backwards=go_backwards)
    h0 = torch.randn(3, 5)
    seq, h = layer(X, mask=MASK, initial_state=[h0])
    kernel, bias = (torch.as_tensor(w) for w in layer.get_weights())
    assert kernel.shape == (4, layer._gates * 5)
    ref, ref_h = op(torch.as_tensor(X), kernel.T, bias, h0, mask=torch.as_tensor(MASK), reverse=go_backwards)
    torch.testing.assert_close(h, ref_h)
    torch.testing.assert_close(seq, ref.flip(1) if go_backwards else ref)  # Keras: processing order


def test_masks_follow_the_sequence_and_stop_at_the_last_state():
    layer = K.layers.MinGRU(5, return_sequences=True)
    out = layer(torch.as_tensor(X), mask=torch.as_tensor(MASK))
    assert torch.equal(layer.compute_mask(X, torch.as_tensor(MASK)), torch.as_tensor(MASK))
    assert (out[1, :3] == 0).all() and (out[2, 5:] == 0).all()  # padded steps output zeros
    assert K.layers.MinGRU(5).compute_mask(X, torch.as_tensor(MASK)) is None


def test_a_model_with_it_trains_saves_and_loads(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.integers(1, 50, (64, 12))
    x[:32, :4] = 0  # left padding under mask_zero
    y = (x[:, -1] > 25).astype("float32")[:, None]
    model = K.Sequential([K.Input((12,), dtype="int32"), K.layers.Embedding(50, 8, mask_zero=True),
                          K.layers.MinLSTM(16, return_sequences=True), K.layers.MinGRU(8),
                          K.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.count_params() == 50 * 8 + (8 * 48 + 48) + (16 * 16 + 16) + 9
    model.save(tmp_path / "m.keras")
    loaded = K.models.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    config = model.layers[2].get_config()
    assert K.layers.MinGRU.from_config(config).get_config() == config


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="MinGRU: units must be a positive integer"):
        K.layers.MinGRU(0)
    with pytest.raises(ValueError, match=r"mode must be one of \('auto', 'parallel', 'sequential'\)"):
        K.layers.MinLSTM(3, mode="fast")
    with pytest.raises(ValueError, match=r"initial_state must be \(3, 5\)"):
        K.layers.MinGRU(5)(X, initial_state=[torch.zeros(2, 5)])
    with pytest.raises(ValueError, match=r"expects inputs of shape \(batch, time, features\)"):
        K.layers.MinGRU(5)(X[0])
