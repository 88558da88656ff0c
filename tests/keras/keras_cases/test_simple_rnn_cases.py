"""Keras 3.15.1's keras/src/layers/rnn/simple_rnn_test.py, re-stated: the same inputs and expected numbers, on
Keras and on lstmkit.keras (the `K` fixture). Each sub-case of a Keras test is one pytest id."""

import numpy as np
import pytest

from tests.keras.keras_cases.helpers import assert_allclose, run_layer_test


def constant_rnn(K, units, **options):
    """Keras' cases all start from constant weights: kernel 0.01, recurrent kernel 0.02, bias 0.03."""
    return K.layers.SimpleRNN(units, kernel_initializer=K.initializers.Constant(0.01),
                              recurrent_initializer=K.initializers.Constant(0.02),
                              bias_initializer=K.initializers.Constant(0.03), **options)


def units(rows, n):
    """Rows of one value each, repeated over `n` equal units."""
    return np.repeat(np.asarray(rows, dtype="float64")[..., None], n, axis=-1)


@pytest.mark.parametrize("case", ["dropout", "regularizers"])
def test_basics(K, case):
    if case == "dropout":  # the cell's seed generator: its state is the one non-trainable variable
        run_layer_test(K, K.layers.SimpleRNN, {"units": 3, "dropout": 0.5, "recurrent_dropout": 0.5},
                       input_shape=(3, 2, 4), call_kwargs={"training": True}, expected_output_shape=(3, 3),
                       expected_num_trainable_weights=3, expected_num_non_trainable_weights=0,
                       expected_num_non_trainable_variables=1, supports_masking=True)
    else:
        run_layer_test(K, K.layers.SimpleRNN, {"units": 3, "return_sequences": True, "bias_regularizer": "l1",
                                               "kernel_regularizer": "l2", "recurrent_regularizer": "l2"},
                       input_shape=(3, 2, 4), expected_output_shape=(3, 2, 3), expected_num_losses=3,
                       expected_num_trainable_weights=3, expected_num_non_trainable_weights=0, supports_masking=True)


FORWARD = [0.405432, 0.73605347]
BACKWARD = [0.11144729, 0.5528889]
CORRECTNESS = {
    "plain": ({}, FORWARD),
    "unroll": ({"unroll": True}, FORWARD),
    "go-backwards": ({"go_backwards": True}, BACKWARD),
    "go-backwards-unroll": ({"go_backwards": True, "unroll": True}, BACKWARD),
}


@pytest.mark.parametrize("case", list(CORRECTNESS))
def test_correctness(K, case):
    options, rows = CORRECTNESS[case]
    sequence = np.arange(24).reshape((2, 3, 4)).astype("float32")
    assert_allclose(constant_rnn(K, 4, **options)(sequence), units(rows, 4))


def test_statefulness(K):
    sequence = np.arange(24).reshape((2, 3, 4)).astype("float32")
    expected = units([0.40559256, 0.7361247], 4)  # the second call, which starts from the first one's states
    layer = constant_rnn(K, 4, stateful=True)
    layer(sequence)
    assert_allclose(layer(sequence), expected)
    layer.reset_state()
    layer(sequence)
    assert_allclose(layer(sequence), expected)


@pytest.mark.parametrize("go_backwards, rows", [
    (False, [0.33621645, 0.6262637]),
    (True, [0.07344437, 0.43043602]),
], ids=["forward", "go-backwards"])
def test_pass_initial_state(K, go_backwards, rows):
    sequence = np.arange(24).reshape((2, 4, 3)).astype("float32")
    initial_state = np.arange(8).reshape((2, 4)).astype("float32")
    output = constant_rnn(K, 4, go_backwards=go_backwards)(sequence, initial_state=initial_state)
    assert_allclose(output, units(rows, 4))


GAPS = [[True, True, False, True], [True, False, False, True]]  # masked steps inside the sequences
MASKING = {  # units, options, expected output (a masked step repeats the last output, or gives zeros)
    "unroll": (4, {"unroll": True}, units([0.32951632, 0.61799484], 4)),
    "return-sequences": (2, {"return_sequences": True},
                         units([[0.0599281, 0.15122814, 0.15122814, 0.32394567],
                                [0.3969304, 0.3969304, 0.3969304, 0.608085]], 2)),
    "zero-output-for-mask": (2, {"return_sequences": True, "zero_output_for_mask": True},
                             units([[0.0599281, 0.15122814, 0.0, 0.32394567],
                                    [0.3969304, 0.0, 0.0, 0.608085]], 2)),
    "go-backwards": (4, {"go_backwards": True}, units([0.07376196, 0.43645123], 4)),
}


@pytest.mark.parametrize("case", list(MASKING))
def test_masking(K, case):
    n, options, expected = MASKING[case]
    sequence = np.arange(24).reshape((2, 4, 3)).astype("float32")
    assert_allclose(constant_rnn(K, n, **options)(sequence, mask=np.array(GAPS)), expected)
