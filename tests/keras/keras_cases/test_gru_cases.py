"""Keras 3.15.1's keras/src/layers/rnn/gru_test.py, re-stated: the same inputs and expected numbers, on Keras and
on lstmkit.keras (the `K` fixture). Each sub-case of a Keras test is one pytest id.

Left out: test_stateful_with_symbolic_batch_size (TensorFlow only, tf.function) and test_torch_cudnn_dispatch_fires
(spies on torch._VF.gru, Keras' own cuDNN path; lstmkit runs its own kernels)."""

import numpy as np
import pytest

from tests.keras.keras_cases.helpers import KERAS_CASE_TOL, assert_allclose, run_layer_test


def constant_gru(K, units, **options):
    """Keras' cases all start from constant weights: kernel 0.01, recurrent kernel 0.02, bias 0.03."""
    return K.layers.GRU(units, kernel_initializer=K.initializers.Constant(0.01),
                        recurrent_initializer=K.initializers.Constant(0.02),
                        bias_initializer=K.initializers.Constant(0.03), **options)


def units(rows, n):
    """Rows of one value each, repeated over `n` equal units."""
    return np.repeat(np.asarray(rows, dtype="float64")[..., None], n, axis=-1)


@pytest.mark.parametrize("init_kwargs, call_kwargs, output_shape, losses", [
    ({"units": 3, "dropout": 0.5}, {"training": True}, (3, 3), None),
    ({"units": 3, "dropout": 0.5, "recurrent_dropout": 0.5}, {"training": True}, (3, 3), None),
    ({"units": 3, "return_sequences": True, "bias_regularizer": "l1", "kernel_regularizer": "l2",
      "recurrent_regularizer": "l2"}, {}, (3, 2, 3), 3),
], ids=["dropout", "recurrent-dropout", "regularizers"])
def test_basics(K, init_kwargs, call_kwargs, output_shape, losses):
    run_layer_test(K, K.layers.GRU, init_kwargs, input_shape=(3, 2, 4), call_kwargs=call_kwargs,
                   expected_output_shape=output_shape, expected_num_losses=losses, expected_num_trainable_weights=3,
                   expected_num_non_trainable_weights=0, supports_masking=True)


PLAIN = [0.5217289, 0.6371659, 0.39384964]
CORRECTNESS = {
    "plain": ({}, PLAIN),
    "go-backwards": ({"go_backwards": True}, [0.24406259, 0.611516, 0.3928808]),
    "unroll": ({"unroll": True}, PLAIN),
    "reset-before": ({"reset_after": False}, [0.51447755, 0.6426879, 0.40208298]),
    "no-bias": ({"use_bias": False}, [0.49988455, 0.64701194, 0.4103359]),
}


@pytest.mark.parametrize("implementation", [1, 2])  # Keras parametrizes the test but passes it to no layer
@pytest.mark.parametrize("case", list(CORRECTNESS))
def test_correctness(K, case, implementation):
    options, rows = CORRECTNESS[case]
    sequence = np.arange(72).reshape((3, 6, 4)).astype("float32")
    assert_allclose(constant_gru(K, 3, **options)(sequence), units(rows, 3), **KERAS_CASE_TOL)


def test_statefulness(K):
    sequence = np.arange(24).reshape((2, 3, 4)).astype("float32")
    expected = units([0.29542392, 0.5885018], 4)  # the second call, which starts from the first one's states
    layer = constant_gru(K, 4, stateful=True)
    layer(sequence)
    assert_allclose(layer(sequence), expected)
    layer.reset_state()
    layer(sequence)
    assert_allclose(layer(sequence), expected)


INITIAL_STATE = {
    "forward": (False, [[0.23774096, 0.33508456], [0.83659905, 1.0227708]]),
    "go-backwards": (True, [[0.13486053, 0.23261218], [0.78257304, 0.9691353]]),
}


@pytest.mark.parametrize("case", list(INITIAL_STATE))
def test_pass_initial_state(K, case):
    go_backwards, expected = INITIAL_STATE[case]
    sequence = np.arange(24).reshape((2, 4, 3)).astype("float32")
    initial_state = np.arange(4).reshape((2, 2)).astype("float32")
    assert_allclose(constant_gru(K, 2, go_backwards=go_backwards)(sequence, initial_state=initial_state), expected)


@pytest.mark.parametrize("case", list(INITIAL_STATE))
def test_pass_return_state(K, case):
    go_backwards, expected = INITIAL_STATE[case]
    sequence = np.arange(24).reshape((2, 4, 3)).astype("float32")
    initial_state = np.arange(4).reshape((2, 2)).astype("float32")
    layer = constant_gru(K, 2, return_state=True, go_backwards=go_backwards)
    output, state = layer(sequence, initial_state=initial_state)
    assert_allclose(output, expected)
    assert_allclose(state, expected)  # a GRU's state is its last output


GAPS = [[True, True, False, True], [True, False, False, True]]  # masked steps inside the sequences
MASKING = {  # options, expected output (a masked step repeats the last output, or gives zeros)
    "unroll": ({"unroll": True}, units([0.19393763, 0.30818558], 2)),
    "return-sequences": ({"return_sequences": True},
                         units([[0.03606692, 0.09497581, 0.09497581, 0.19393763],
                                [0.16051409, 0.16051409, 0.16051409, 0.30818558]], 2)),
    "zero-output-for-mask": ({"return_sequences": True, "zero_output_for_mask": True},
                             units([[0.03606692, 0.09497581, 0.0, 0.19393763],
                                    [0.16051409, 0.0, 0.0, 0.30818558]], 2)),
    "go-backwards": ({"go_backwards": True}, units([0.11669192, 0.28380975], 2)),
}


@pytest.mark.parametrize("case", list(MASKING))
def test_masking(K, case):
    options, expected = MASKING[case]
    sequence = np.arange(24).reshape((2, 4, 3)).astype("float32")
    assert_allclose(constant_gru(K, 2, **options)(sequence, mask=np.array(GAPS)), expected)


def test_legacy_implementation_argument(K):
    """A config from Keras 2 with `implementation` still loads (Keras drops the argument)."""
    config = constant_gru(K, 3).get_config()
    config["implementation"] = 0
    layer = K.layers.GRU.from_config(config)
    sequence = np.arange(72).reshape((3, 6, 4)).astype("float32")
    assert_allclose(layer(sequence), units(PLAIN, 3))
