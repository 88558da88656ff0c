"""The generic RNN(cell): Keras' cell protocol, built-in cells stepped one at a time equal the fused
recurrences they stand for, stacked cells, masks, go_backwards, states; a custom peephole cell trains;
a cell that breaks the protocol is a clear error. Side by side with Keras where the API is Keras'."""

import numpy as np
import pytest
import torch

import lstmkit.keras as lk
from lstmkit.keras import layers as L


def x_data(B=3, T=6, I=4, seed=0):
    return np.random.default_rng(seed).normal(size=(B, T, I)).astype("float32")


CASES = [(kind, name, options) for kind in ("SimpleRNN", "LSTM", "GRU")
         for name, options in (("plain", {}), ("backwards", {"go_backwards": True}),
                               ("sequences-states", {"return_sequences": True, "return_state": True}))]
CASES.append(("GRU", "reset-before", {"reset_after": False}))


@pytest.mark.parametrize("kind, name, options", CASES, ids=[f"{k}-{n}" for k, n, _ in CASES])
def test_builtin_cells_stepped_equal_the_fused_layer(kind, name, options):
    """A subclass of a built-in cell runs step by step (RNN fuses only the built-in classes themselves)."""
    cell_options = {k: v for k, v in options.items() if k == "reset_after"}
    rnn_options = {k: v for k, v in options.items() if k != "reset_after"}
    fused = getattr(L, kind)(5, **cell_options, **rnn_options)
    stepped_cell = type("Stepped" + kind, (getattr(L, kind + "Cell"),), {})(5, **cell_options)
    stepped = L.RNN(stepped_cell, **rnn_options)
    x = x_data()
    mask = np.ones((3, 6), bool)
    mask[0, :2] = False  # left padding
    mask[1, 4:] = False  # right padding
    fused(x)
    stepped(x)
    stepped.set_weights(fused.get_weights())
    a = fused(x, mask=torch.as_tensor(mask))
    b = stepped(x, mask=torch.as_tensor(mask))
    for u, v in zip(a if isinstance(a, tuple) else [a], b if isinstance(b, tuple) else [b], strict=True):
        torch.testing.assert_close(u, v, rtol=1e-5, atol=1e-6)


def test_a_layer_holds_its_cell_and_the_weights_are_the_cells(K):
    layer = K.layers.LSTM(3, name="lstm")
    layer.build((None, 2, 4))
    assert type(layer.cell).__name__ == "LSTMCell" and layer.cell.units == 3 and layer.units == 3
    assert [v.path for v in layer.weights] == ["lstm/lstm_cell/kernel", "lstm/lstm_cell/recurrent_kernel",
                                               "lstm/lstm_cell/bias"]
    assert layer.weights[0] is layer.cell.kernel


def test_rnn_of_a_cell_list_stacks_them(K):
    cells = [K.layers.LSTMCell(4), K.layers.GRUCell(3)]
    layer = K.layers.RNN(cells, return_state=True)
    out = layer(x_data())
    assert layer.cell.state_size == [[4, 4], 3]  # each cell's
    assert len(out) == 3 and tuple(out[0].shape) == (3, 3)  # the output, then one list of states per cell
    assert [[tuple(s.shape) for s in states] for states in out[1:]] == [[(3, 4), (3, 4)], [(3, 3)]]
    assert len(layer.weights) == 6


def test_stacked_cells_equal_stacked_layers():
    x = x_data()
    stacked = L.RNN([L.LSTMCell(4), L.GRUCell(3)])
    first, second = L.LSTM(4, return_sequences=True), L.GRU(3)
    second(first(x))
    stacked(x)
    stacked.set_weights(first.get_weights() + second.get_weights())
    torch.testing.assert_close(stacked(x), second(first(x)), rtol=1e-5, atol=1e-6)


class Peephole(lk.layers.Layer):
    """An LSTM cell with peephole connections (Gers & Schmidhuber 2000), written as a user would."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], 4 * self.units), initializer="glorot_uniform",
                                      name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, 4 * self.units), initializer="orthogonal",
                                                name="recurrent_kernel")
        self.peephole = self.add_weight(shape=(3, self.units), initializer="zeros", name="peephole")
        self.bias = self.add_weight(shape=(4 * self.units,), initializer="zeros", name="bias")

    def call(self, inputs, states):
        h, c = states
        z = inputs @ self.kernel + h @ self.recurrent_kernel + self.bias
        i, f, g, o = torch.chunk(z, 4, dim=-1)
        p = self.peephole.value
        i, f = torch.sigmoid(i + p[0] * c), torch.sigmoid(f + p[1] * c)
        c = f * c + i * torch.tanh(g)
        h = torch.sigmoid(o + p[2] * c) * torch.tanh(c)
        return h, [h, c]


def test_a_custom_peephole_cell_trains_inside_rnn():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 8, 1)).astype("float32")
    y = (x.sum(axis=(1, 2)) > 0).astype("float32")
    torch.manual_seed(0)
    model = lk.Sequential([lk.Input((8, 1)), L.RNN(Peephole(8)), L.Dense(1, activation="sigmoid")])
    model.compile(optimizer=lk.optimizers.Adam(0.02), loss="binary_crossentropy", metrics=["acc"])
    before = model.evaluate(x, y, verbose=0)[0]
    model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    after, acc = model.evaluate(x, y, verbose=0)
    assert after < 0.6 * before and acc > 0.85, (before, after, acc)
    peephole = model.layers[0].cell.peephole.numpy()
    assert np.abs(peephole).max() > 0  # the peephole weights learnt too


@pytest.mark.parametrize("cell, message", [
    (4, "a cell needs a call"),
    (object(), "a cell needs a call"),
])
def test_a_cell_that_breaks_the_protocol_is_refused(cell, message):
    with pytest.raises(ValueError, match=message):
        L.RNN(cell)


def test_a_cell_returning_states_of_the_wrong_size_is_refused():
    class Wrong(lk.layers.Layer):
        state_size = 4

        def call(self, inputs, states):
            return inputs, [inputs]  # (B, I) = (3, 2), not (3, 4)

    with pytest.raises(ValueError, match=r"returned a state of shape \(3, 2\); its state_size says \(3, 4\)"):
        L.RNN(Wrong())(x_data(I=2))


def test_initial_state_of_the_wrong_size_names_the_layer():
    layer = L.LSTM(3, name="enc")
    with pytest.raises(ValueError, match=r"Layer 'enc'.*initial state must have shape \(3, 3\)"):
        layer(x_data(), initial_state=[torch.zeros(3, 4), torch.zeros(3, 4)])


def test_integer_inputs_are_cast_to_float(K):
    layer = K.layers.SimpleRNN(2)
    out = layer(np.ones((2, 3, 1), "int32"))
    assert str(out.dtype).endswith("float32")
