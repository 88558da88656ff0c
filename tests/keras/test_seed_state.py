"""A layer's random state as Keras keeps it: the built-in cells own a SeedGenerator whose state is one of
the layer's `non_trainable_variables` and drives its dropout masks; a user's cell gets Keras' masks from
the DropoutRNNCell mixin; a layer without weights is built when made; `fit` on a model with nothing to
train runs and changes nothing. Counts and behaviour are checked on Keras and on lstmkit.keras (`K`)."""

import numpy as np
import pytest

from tests.keras.conftest import to_numpy

X = np.random.default_rng(0).uniform(0, 1, (4, 5, 3)).astype("float32")


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
def test_a_recurrent_layer_counts_its_cells_seed_state_as_a_non_trainable_variable(K, kind):
    layer = getattr(K.layers, kind)(2, dropout=0.5)
    layer.build((None, 5, 3))
    assert len(layer.trainable_variables) == 3
    assert len(layer.non_trainable_weights) == 0
    assert len(layer.non_trainable_variables) == 1  # the cell's SeedGenerator state
    assert len(layer.variables) == 4
    assert to_numpy(layer.non_trainable_variables[0].value).dtype == np.int32


def test_a_frozen_layer_has_every_variable_non_trainable(K):
    layer = K.layers.LSTM(2)
    layer.build((None, 5, 3))
    layer.trainable = False
    assert layer.trainable_variables == []
    assert len(layer.non_trainable_variables) == 4


def test_a_seeded_cells_masks_follow_its_seed_state():
    """The state is where the dropout stream stands: winding it back replays the masks, and a layer with the
    same seed draws the same ones."""
    import lstmkit.keras as K

    a = K.layers.LSTM(3, dropout=0.5, recurrent_dropout=0.5, seed=11, return_sequences=True)
    b = K.layers.LSTM(3, dropout=0.5, recurrent_dropout=0.5, seed=11, return_sequences=True)
    a.build((None, 5, 3))
    b.build((None, 5, 3))
    b.set_weights(a.get_weights())
    state = a.non_trainable_variables[0]
    start = state.numpy().copy()
    first = to_numpy(a(X, training=True))
    np.testing.assert_array_equal(state.numpy(), start + np.array([0, 1], "int32"))  # one draw per sequence
    np.testing.assert_array_equal(to_numpy(b(X, training=True)), first)
    second = to_numpy(a(X, training=True))
    assert not np.allclose(second, first)  # new masks for the next sequence
    state.assign(start)
    np.testing.assert_array_equal(to_numpy(a(X, training=True)), first)
    np.testing.assert_array_equal(to_numpy(a(X, training=False)), to_numpy(b(X, training=False)))


def test_a_user_cell_with_keras_dropout_masks_keeps_one_mask_per_sequence():
    import lstmkit.keras as K

    class Cell(K.layers.Layer, K.layers.DropoutRNNCell):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = self.state_size = units
            self.dropout, self.recurrent_dropout = 0.5, 0.0
            self.seed_generator = K.random.SeedGenerator(3)
            self.masks = []

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones", name="kernel")

        def call(self, inputs, states, training=False):
            if training:
                mask = self.get_dropout_mask(inputs)
                self.masks.append(mask)
                inputs = inputs * mask
            assert self.get_recurrent_dropout_mask(states[0]) is None  # rate 0: no mask
            out = inputs @ self.kernel + states[0]
            return out, [out]

    cell = Cell(2)
    rnn = K.layers.RNN(cell)
    assert len(rnn.non_trainable_variables) == 1
    rnn(X, training=True)
    assert len(cell.masks) == 5 and all(m is cell.masks[0] for m in cell.masks)  # one mask for all 5 steps
    kept = to_numpy(cell.masks[0])
    assert set(np.unique(kept)) <= {0.0, 2.0}  # dropped, or kept and scaled by 1 / (1 - 0.5)
    rnn(X, training=True)
    assert cell.masks[5] is not cell.masks[0]  # the RNN reset it: a new one for the next sequence

    class NoGenerator(K.layers.Layer, K.layers.DropoutRNNCell):
        dropout, recurrent_dropout, state_size = 0.5, 0.0, 2

        def call(self, inputs, states, training=False):
            return inputs * self.get_dropout_mask(inputs), states

    with pytest.raises(ValueError, match=r"NoGenerator: a DropoutRNNCell needs a `seed_generator`"):
        K.layers.RNN(NoGenerator())(X[..., :2], training=True)


def test_a_layer_without_weights_is_built_when_made(K):
    assert K.layers.Masking().built
    assert K.layers.Dropout(0.5).built
    assert not K.layers.Dense(2).built


def test_a_layer_built_when_made_still_checks_its_first_input():
    import lstmkit.keras as K

    with pytest.raises(ValueError, match=r"\(MaxPooling1D\).*shorter than pool_size=4"):
        K.layers.MaxPooling1D(4)(np.zeros((1, 2, 3), "float32"))


def test_fit_of_a_model_with_nothing_to_train_runs_and_changes_nothing(K):
    model = K.Sequential([K.Input((5, 3)), K.layers.LSTM(2)])
    model.layers[0].trainable = False
    before = [w.copy() for w in model.get_weights()]
    model.compile(optimizer="sgd", loss="mse")
    with pytest.warns(UserWarning, match="does not have any trainable weights"):
        model.fit(X, np.ones((4, 2), "float32"), epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
