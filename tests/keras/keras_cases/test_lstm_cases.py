"""Keras 3.15.1's keras/src/layers/rnn/lstm_test.py, re-stated: the same inputs and expected numbers, on Keras and
on lstmkit.keras (the `K` fixture). Each sub-case of a Keras test is one pytest id."""

import numpy as np
import pytest

from tests.keras.keras_cases.helpers import KERAS_CASE_TOL, assert_allclose, run_layer_test


def constant_lstm(K, units, **options):
    """Keras' cases all start from constant weights: kernel 0.01, recurrent kernel 0.02, bias 0.03."""
    return K.layers.LSTM(units, kernel_initializer=K.initializers.Constant(0.01),
                         recurrent_initializer=K.initializers.Constant(0.02),
                         bias_initializer=K.initializers.Constant(0.03), **options)


@pytest.mark.parametrize("init_kwargs, call_kwargs, output_shape, losses", [
    ({"units": 3, "dropout": 0.5}, {"training": True}, (3, 3), None),
    ({"units": 3, "dropout": 0.5, "recurrent_dropout": 0.5}, {"training": True}, (3, 3), None),
    ({"units": 3, "return_sequences": True, "bias_regularizer": "l1", "kernel_regularizer": "l2",
      "recurrent_regularizer": "l2"}, {}, (3, 2, 3), 3),
], ids=["dropout", "recurrent-dropout", "regularizers"])
def test_basics(K, init_kwargs, call_kwargs, output_shape, losses):
    run_layer_test(K, K.layers.LSTM, init_kwargs, input_shape=(3, 2, 4), call_kwargs=call_kwargs,
                   expected_output_shape=output_shape, expected_num_losses=losses, expected_num_trainable_weights=3,
                   expected_num_non_trainable_weights=0, supports_masking=True)


CORRECTNESS = {  # one row per output: the three units are equal because every weight is a constant
    "plain": ({}, [0.6288687, 0.86899155, 0.9460773]),
    "go-backwards": ({"go_backwards": True}, [0.35622165, 0.74789524, 0.8872726]),
    "unroll": ({"unroll": True}, [0.6288687, 0.86899155, 0.9460773]),
    "no-unit-forget-bias": ({"unit_forget_bias": False}, [0.57019705, 0.8661914, 0.9459622]),
    "no-bias": ({"use_bias": False}, [0.54986924, 0.86226785, 0.9443936]),
}


@pytest.mark.parametrize("implementation", [1, 2])
@pytest.mark.parametrize("case", list(CORRECTNESS))
def test_correctness(K, case, implementation):
    options, rows = CORRECTNESS[case]
    sequence = np.arange(72).reshape((3, 6, 4)).astype("float32")
    output = constant_lstm(K, 3, implementation=implementation, **options)(sequence)
    assert_allclose(output, units(rows, 3), **KERAS_CASE_TOL)


def test_statefulness(K):
    sequence = np.arange(24).reshape((2, 3, 4)).astype("float32")
    expected = units([0.3124785, 0.6863672], 4)  # the second call, which starts from the first one's states
    layer = constant_lstm(K, 4, stateful=True)
    layer(sequence)
    assert_allclose(layer(sequence), expected, **KERAS_CASE_TOL)
    layer.reset_state()
    layer(sequence)
    assert_allclose(layer(sequence), expected, **KERAS_CASE_TOL)


@pytest.mark.parametrize("go_backwards, expected", [
    (False, [[0.20574439, 0.3558822], [0.64930826, 0.66276]]),
    (True, [[0.13281618, 0.2790356], [0.5839337, 0.5992567]]),
], ids=["forward", "go-backwards"])
def test_pass_initial_state(K, go_backwards, expected):
    sequence = np.arange(24).reshape((2, 4, 3)).astype("float32")
    initial_state = [np.arange(4).reshape((2, 2)).astype("float32")] * 2  # h0 and c0
    output = constant_lstm(K, 2, go_backwards=go_backwards)(sequence, initial_state=initial_state)
    assert_allclose(output, expected, **KERAS_CASE_TOL)


def units(rows, n):
    """Rows of one value each, repeated over `n` equal units."""
    return np.repeat(np.asarray(rows, dtype="float64")[..., None], n, axis=-1)


RIGHT_PADDED = [[True, True, True, False], [True, True, False, False]]
LEFT_PADDED = [[False, True, True, True], [False, False, True, True]]
MASKING = {  # options, mask, expected output (a masked step repeats the last output, or gives zeros)
    "unroll": ({"unroll": True}, RIGHT_PADDED, units([0.11755939, 0.28556206], 2)),
    "return-sequences": ({"return_sequences": True}, RIGHT_PADDED,
                         units([[0.01588910, 0.05552048, 0.11755939, 0.11755939],
                                [0.14185596, 0.28556206, 0.28556206, 0.28556206]], 2)),
    "zero-output-for-mask": ({"return_sequences": True, "zero_output_for_mask": True}, RIGHT_PADDED,
                             units([[0.01588910, 0.05552048, 0.11755939, 0.0],
                                    [0.14185596, 0.28556206, 0.0, 0.0]], 2)),
    "go-backwards-left-padded": ({"go_backwards": True}, LEFT_PADDED, units([0.15341201, 0.3844719], 2)),
}


@pytest.mark.parametrize("case", list(MASKING))
def test_masking(K, case):
    options, mask, expected = MASKING[case]
    sequence = np.arange(24).reshape((2, 4, 3)).astype("float32")
    output = constant_lstm(K, 2, **options)(sequence, mask=np.array(mask))
    assert_allclose(output, expected, **KERAS_CASE_TOL)
