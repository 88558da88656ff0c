"""Keras 3.15.1's keras/src/layers/rnn/stacked_rnn_cells_test.py, re-stated: RNN over a list of cells (the toy cells
of `cells.py`, all weights ones, and the built-in cells), on Keras and on lstmkit.keras (the `K` fixture). Each
sub-case of a Keras test is one pytest id."""

import numpy as np
import pytest

from tests.keras.keras_cases.cells import custom_objects, toy_cells
from tests.keras.keras_cases.helpers import assert_allclose, run_layer_test

BASICS = {  # cell kind, RNN kwargs, output shape, trainable weights, seed generators
    "one-state": ("one", {}, (2, 5), 6, 0),
    "one-state-sequences": ("one", {"return_sequences": True}, (2, 3, 5), 6, 0),
    "two-states": ("two", {}, (2, 5), 9, 0),
    "two-states-sequences": ("two", {"return_sequences": True}, (2, 3, 5), 9, 0),
    "simple-rnn-cells-dropout": ("SimpleRNNCell", {"return_sequences": True}, (2, 3, 5), 9, 3),
    "gru-cells-dropout": ("GRUCell", {"return_sequences": True}, (2, 3, 5), 9, 3),
    "lstm-cells-dropout": ("LSTMCell", {"return_sequences": True}, (2, 3, 5), 9, 3),
}


def three_cells(K, kind):
    """Cells of 3, 4 and 5 units: the toy ones, or built-in ones with dropout and recurrent dropout 0.1."""
    if kind in ("one", "two"):
        cls = toy_cells(K)[0 if kind == "one" else 1]
        return [cls(3), cls(4), cls(5)]
    return [getattr(K.layers, kind)(n, dropout=0.1, recurrent_dropout=0.1) for n in (3, 4, 5)]


@pytest.mark.parametrize("case", list(BASICS))
def test_basics(K, case):
    kind, rnn_kwargs, output_shape, n_trainable, n_seeds = BASICS[case]
    run_layer_test(K, K.layers.RNN, {"cell": three_cells(K, kind), **rnn_kwargs}, input_shape=(2, 3, 4),
                   expected_output_shape=output_shape, expected_num_trainable_weights=n_trainable,
                   expected_num_non_trainable_weights=0, expected_num_seed_generators=n_seeds,
                   supports_masking=True, custom_objects=custom_objects(K))


SEQUENCE = np.arange(24).reshape((2, 3, 4)).astype("float32")


def pairs(rows):
    """Values repeated over the 2 units of the last cell."""
    return np.repeat(np.asarray(rows, dtype="float64")[..., None], 2, axis=-1)


@pytest.mark.parametrize("return_sequences, return_state", [(False, False), (True, False), (False, True),
                                                            (True, True)],
                         ids=["last", "sequences", "last-state", "sequences-state"])
def test_correctness_single_state_stack(K, return_sequences, return_state):
    one = toy_cells(K)[0]
    layer = K.layers.RNN([one(3), one(2)], return_sequences=return_sequences, return_state=return_state)
    out = layer(SEQUENCE)
    expected = pairs([[18.0, 156.0, 786.0], [162.0, 1020.0, 4386.0]]) if return_sequences else pairs([786.0, 4386.0])
    if return_state:  # a cell with one int-sized state gives its state bare, not in a list
        output, state_1, state_2 = out
        assert_allclose(state_1, np.repeat([[158.0], [782.0]], 3, axis=1))
        assert_allclose(state_2, pairs([786.0, 4386.0]))
    else:
        output = out
    assert_allclose(output, expected)


@pytest.mark.parametrize("return_sequences, return_state", [(False, False), (True, False), (False, True)],
                         ids=["last", "sequences", "last-state"])
def test_correctness_two_states_stack(K, return_sequences, return_state):
    two = toy_cells(K)[1]
    layer = K.layers.RNN([two(3), two(2)], return_sequences=return_sequences, return_state=return_state)
    out = layer(SEQUENCE)
    expected = pairs([[72.0, 624.0, 3144.0], [648.0, 4080.0, 17544.0]]) if return_sequences \
        else pairs([3144.0, 17544.0])
    if return_state:  # one list of two states per cell
        output, state_1, state_2 = out
        for s in state_1:
            assert_allclose(s, np.repeat([[158.0], [782.0]], 3, axis=1))
        for s in state_2:
            assert_allclose(s, pairs([1572.0, 8772.0]))
        assert len(state_1) == len(state_2) == 2
    else:
        output = out
    assert_allclose(output, expected)


def test_statefullness_single_state_stack(K):  # Keras' spelling
    one = toy_cells(K)[0]
    layer = K.layers.RNN([one(3), one(2)], stateful=True)
    layer(SEQUENCE)
    assert_allclose(layer(SEQUENCE), pairs([34092.0, 173196.0]))


def test_statefullness_two_states_stack(K):
    two = toy_cells(K)[1]
    layer = K.layers.RNN([two(3), two(2)], stateful=True)
    layer(SEQUENCE)
    assert_allclose(layer(SEQUENCE), pairs([136368.0, 692784.0]))


def test_return_state_stacked_lstm_cell(K):
    layer = K.layers.RNN([K.layers.LSTMCell(10), K.layers.LSTMCell(10)], return_state=True)
    out = layer(np.zeros((2, 3, 5)))
    assert len(out) == 3
    assert tuple(out[0].shape) == (2, 10)
    for states in out[1:]:  # [h, c] of each cell
        assert [tuple(s.shape) for s in states] == [(2, 10), (2, 10)]
    shape = layer.compute_output_shape((2, 3, 5))
    assert len(shape) == 3
    assert tuple(shape[0]) == (2, 10)
    for states in shape[1:]:
        assert [tuple(s) for s in states] == [(2, 10), (2, 10)]


def test_stacked_lstm_cell_mask(K):
    mask = np.array([[True, True, True], [True, True, False]])
    cells = [K.layers.LSTMCell(units=1, kernel_initializer="ones", recurrent_initializer="ones") for _ in range(2)]
    output = K.layers.RNN(cells)(np.ones((2, 3, 4)), mask=mask)
    assert_allclose(output, [[0.7793], [0.5998]], atol=1e-4)
