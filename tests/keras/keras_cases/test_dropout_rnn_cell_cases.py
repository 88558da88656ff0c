"""Keras 3.15.1's keras/src/layers/rnn/dropout_rnn_cell_test.py, re-stated on Keras and on lstmkit.keras (the `K`
fixture): a user's cell that mixes in DropoutRNNCell (get_dropout_mask / get_recurrent_dropout_mask) and tracks a
SeedGenerator, whose state is the layer's one non-trainable variable.

On lstmkit the mixin is `lstmkit.keras.layers.DropoutRNNCell` (Keras keeps it out of `keras.layers`). Left out: the mixed_float16 half of test_basics (Keras runs it only
with CUDA)."""

from functools import cache

from tests.keras.keras_cases.helpers import is_keras, run_layer_test


class NoDropoutRNNCell(AttributeError):
    """The library has no DropoutRNNCell mixin to build the test's cell from."""


@cache
def cell_with_dropout(K):
    """Keras' RNNCellWithDropout: weights of ones; dropout masks on the inputs and the state when training."""
    if is_keras(K):
        from keras.src.layers.rnn.dropout_rnn_cell import DropoutRNNCell  # not in keras.layers
    else:
        DropoutRNNCell = getattr(K.layers, "DropoutRNNCell", None)
        if DropoutRNNCell is None:
            raise NoDropoutRNNCell("lstmkit.keras.layers has no DropoutRNNCell")

    class RNNCellWithDropout(K.layers.Layer, DropoutRNNCell):
        def __init__(self, units, dropout=0.5, recurrent_dropout=0.5, seed=None, **kwargs):
            super().__init__(**kwargs)
            self.seed = seed
            self.seed_generator = K.random.SeedGenerator(seed)
            self.units = units
            self.state_size = units
            self.dropout = dropout
            self.recurrent_dropout = recurrent_dropout

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones", name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="ones",
                                                    name="recurrent_kernel")

        def call(self, inputs, states, training=False):
            if training:
                inputs = inputs * self.get_dropout_mask(inputs)
            prev_output = states[0]
            h = inputs @ self.kernel
            if training:
                prev_output = prev_output * self.get_recurrent_dropout_mask(prev_output)
            output = h + prev_output @ self.recurrent_kernel
            return output, [output]

    return RNNCellWithDropout


def test_seed_tracking(K):
    cell = cell_with_dropout(K)(3, seed=1337)
    assert len(cell.non_trainable_variables) == 1
    assert len(K.layers.RNN(cell).non_trainable_variables) == 1


def test_basics(K):
    cell_class = cell_with_dropout(K)
    run_layer_test(K, K.layers.RNN, {"cell": cell_class(5, seed=1337)}, input_shape=(3, 2, 4),
                   call_kwargs={"training": True}, expected_output_shape=(3, 5), expected_num_trainable_weights=2,
                   expected_num_non_trainable_weights=0, expected_num_non_trainable_variables=1,
                   supports_masking=True, custom_objects={"RNNCellWithDropout": cell_class})
