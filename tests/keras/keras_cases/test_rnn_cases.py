"""Keras 3.15.1's keras/src/layers/rnn/rnn_test.py, re-stated: the generic RNN(cell) over the two toy cells of
`cells.py` (all weights ones, so every expected number is an exact sum), on Keras and on lstmkit.keras (the `K`
fixture). Each sub-case of a Keras test is one pytest id."""

import numpy as np
import pytest

from tests.keras.keras_cases.cells import custom_objects, toy_cells
from tests.keras.keras_cases.helpers import assert_allclose, check_config_round_trip, run_layer_test

BASICS = {  # cell ("one" or "two" states), cell kwargs, RNN kwargs, output shape, trainable weights
    "one-state-int": ("one", {"state_size": 5}, {}, (3, 5), 2),
    "one-state-list": ("one", {"state_size": [5]}, {}, (3, 5), 2),
    "one-state-tuple": ("one", {"state_size": (5,)}, {}, (3, 5), 2),
    "one-state-sequences": ("one", {}, {"return_sequences": True}, (3, 2, 5), 2),
    "one-state-backwards-unroll": ("one", {}, {"go_backwards": True, "unroll": True}, (3, 5), 2),
    "two-states-list": ("two", {"state_size": [5, 5]}, {}, (3, 5), 3),
    "two-states-tuple": ("two", {"state_size": (5, 5)}, {}, (3, 5), 3),
    "two-states-sequences": ("two", {}, {"return_sequences": True}, (3, 2, 5), 3),
}


def make_cell(K, which, units, **kwargs):
    one, two = toy_cells(K)
    return (one if which == "one" else two)(units, **kwargs)


@pytest.mark.parametrize("case", list(BASICS))
def test_basics(K, case):
    which, cell_kwargs, rnn_kwargs, output_shape, n_trainable = BASICS[case]
    run_layer_test(K, K.layers.RNN, {"cell": make_cell(K, which, 5, **cell_kwargs), **rnn_kwargs},
                   input_shape=(3, 2, 4), expected_output_shape=output_shape,
                   expected_num_trainable_weights=n_trainable, expected_num_non_trainable_weights=0,
                   expected_num_seed_generators=0, supports_masking=True, custom_objects=custom_objects(K))


OUTPUT_SHAPES = [  # return_sequences, return_state
    (False, False), (True, False), (False, True), (True, True),
]
SHAPE_IDS = ["last", "sequences", "last-state", "sequences-state"]


def expected_shapes(which, batch, time, units, return_sequences, return_state):
    output = (batch, time, units) if return_sequences else (batch, units)
    if not return_state:
        return output
    return (output, *[(batch, units)] * (1 if which == "one" else 2))


def assert_shapes(actual, expected):
    if isinstance(expected[0], tuple):
        assert len(actual) == len(expected)
        for a, e in zip(actual, expected):
            assert tuple(a) == e
    else:
        assert tuple(actual) == expected


@pytest.mark.parametrize("return_sequences, return_state", OUTPUT_SHAPES, ids=SHAPE_IDS)
def test_compute_output_shape_single_state(K, return_sequences, return_state):
    layer = K.layers.RNN(make_cell(K, "one", 8), return_sequences=return_sequences, return_state=return_state)
    assert_shapes(layer.compute_output_shape((3, 4, 5)),
                  expected_shapes("one", 3, 4, 8, return_sequences, return_state))


@pytest.mark.parametrize("return_sequences, return_state", OUTPUT_SHAPES, ids=SHAPE_IDS)
def test_compute_output_shape_two_states(K, return_sequences, return_state):
    layer = K.layers.RNN(make_cell(K, "two", 8), return_sequences=return_sequences, return_state=return_state)
    assert_shapes(layer.compute_output_shape((3, 4, 5)),
                  expected_shapes("two", 3, 4, 8, return_sequences, return_state))


@pytest.mark.parametrize("which", ["one", "two"])
@pytest.mark.parametrize("return_sequences, return_state", OUTPUT_SHAPES, ids=SHAPE_IDS)
def test_dynamic_shapes(K, which, return_sequences, return_state):
    layer = K.layers.RNN(make_cell(K, which, 8), return_sequences=return_sequences, return_state=return_state)
    assert_shapes(layer.compute_output_shape((None, None, 3)),
                  expected_shapes(which, None, None, 8, return_sequences, return_state))


# Ones everywhere, inputs of ones with 3 features: h1 = 3 (+ the state's sum), h2 = 3 + 2 * h1 per unit, ...
@pytest.mark.parametrize("return_sequences, return_state", OUTPUT_SHAPES, ids=SHAPE_IDS)
def test_forward_pass_single_state(K, return_sequences, return_state):
    layer = K.layers.RNN(make_cell(K, "one", 2), return_sequences=return_sequences, return_state=return_state)
    out = layer(np.ones((1, 2, 3)))
    expected = [[[3.0, 3.0], [9.0, 9.0]]] if return_sequences else [[9.0, 9.0]]
    if return_state:
        output, state = out
        assert_allclose(state, [[9.0, 9.0]])
    else:
        output = out
    assert_allclose(output, expected)


@pytest.mark.parametrize("return_sequences, return_state", OUTPUT_SHAPES, ids=SHAPE_IDS)
def test_forward_pass_two_states(K, return_sequences, return_state):
    layer = K.layers.RNN(make_cell(K, "two", 2), return_sequences=return_sequences, return_state=return_state)
    out = layer(np.ones((1, 2, 3)))
    expected = [[[6.0, 6.0], [18.0, 18.0]]] if return_sequences else [[18.0, 18.0]]
    if return_state:
        output, state_1, state_2 = out
        assert_allclose(state_1, [[9.0, 9.0]])
        assert_allclose(state_2, [[9.0, 9.0]])
    else:
        output = out
    assert_allclose(output, expected)


@pytest.mark.parametrize("return_state", [False, True])
def test_passing_initial_state_single_state(K, return_state):
    layer = K.layers.RNN(make_cell(K, "one", 2), return_state=return_state)
    out = layer(np.ones((2, 3, 2)), initial_state=np.ones((2, 2)))
    expected = np.full((2, 2), 22.0)
    if return_state:
        assert_allclose(out[0], expected)
        assert_allclose(out[1], expected)
    else:
        assert_allclose(out, expected)


@pytest.mark.parametrize("return_state", [False, True])
def test_passing_initial_state_two_states(K, return_state):
    layer = K.layers.RNN(make_cell(K, "two", 2), return_state=return_state)
    out = layer(np.ones((2, 3, 2)), initial_state=[np.ones((2, 2)), np.ones((2, 2))])
    if return_state:
        output, state_1, state_2 = out
        assert_allclose(state_1, np.full((2, 2), 22.0))
        assert_allclose(state_2, np.full((2, 2), 22.0))
    else:
        output = out
    assert_allclose(output, np.full((2, 2), 44.0))


@pytest.mark.parametrize("return_state", [False, True])
def test_statefulness_single_state(K, return_state):
    layer = K.layers.RNN(make_cell(K, "one", 2), stateful=True, return_state=return_state)
    sequence = np.ones((1, 2, 3))
    layer(sequence)
    out = layer(sequence)  # starts from the first call's state, 9
    if return_state:
        assert_allclose(out[0], [[45.0, 45.0]])
        assert_allclose(out[1], [[45.0, 45.0]])
    else:
        assert_allclose(out, [[45.0, 45.0]])


@pytest.mark.parametrize("return_state", [False, True])
def test_statefulness_two_states(K, return_state):
    layer = K.layers.RNN(make_cell(K, "two", 2), stateful=True, return_state=return_state)
    sequence = np.ones((1, 2, 3))
    layer(sequence)
    out = layer(sequence)
    if return_state:
        output, state_1, state_2 = out
        assert_allclose(state_1, [[45.0, 45.0]])
        assert_allclose(state_2, [[45.0, 45.0]])
    else:
        output = out
    assert_allclose(output, [[90.0, 90.0]])


def test_go_backwards(K):
    sequence = np.arange(24).reshape((2, 3, 4)).astype("float32")
    layer = K.layers.RNN(make_cell(K, "one", 2), go_backwards=True)
    layer(sequence)
    assert_allclose(layer(sequence), [[202.0, 202.0], [538.0, 538.0]])
    # Keras' test goes on with a stateful (forward) layer: the second call starts from the first one's state
    layer = K.layers.RNN(make_cell(K, "one", 2), stateful=True, return_state=True)
    layer(sequence)
    output, state = layer(sequence)
    assert_allclose(output, [[954.0, 954.0], [3978.0, 3978.0]])
    assert_allclose(state, [[954.0, 954.0], [3978.0, 3978.0]])


@pytest.mark.parametrize("which", ["two", "one"])
def test_serialization(K, which):
    check_config_round_trip(K, K.layers.RNN(make_cell(K, which, 2), return_sequences=False), custom_objects(K))


def test_stateful_batch_size_mismatch_raises(K):
    layer = K.layers.RNN(make_cell(K, "two", 2), stateful=True)
    inputs = K.Input(shape=(5, 3), batch_size=4)
    model = K.Model(inputs, layer(inputs))
    rng = np.random.default_rng(0)
    model(rng.uniform(size=(4, 5, 3)).astype("float32"))
    with pytest.raises(ValueError, match="batch size"):
        model(rng.uniform(size=(1, 5, 3)).astype("float32"))


@pytest.mark.parametrize("unroll", [False, True])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_masking(K, return_sequences, unroll):
    sequence = np.arange(24).reshape((2, 4, 3)).astype("float32")
    mask = np.array([[True, True, True, False], [True, True, False, False]])
    layer = K.layers.RNN(make_cell(K, "one", 2), return_sequences=return_sequences, unroll=unroll)
    output = layer(sequence, mask=mask)
    if return_sequences:  # a masked step repeats the last output
        expected = [[[3.0] * 2, [18.0] * 2, [57.0] * 2, [57.0] * 2], [[39.0] * 2] + [[126.0] * 2] * 3]
    else:
        expected = [[57.0, 57.0], [126.0, 126.0]]
    assert_allclose(output, expected, atol=1e-5, rtol=1e-5)
