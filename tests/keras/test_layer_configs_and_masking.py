"""Every layer's get_config/from_config round trip gives an equal config, and supports_masking is what
Keras says for each layer, side by side with Keras: the mask goes through the layers Keras carries it
through (Dense, Dropout, Activation, normalization, recurrent layers, ...) and stops where Keras stops."""

import numpy as np
import pytest

# name -> (constructor arguments, an input shape it builds on)
CASES = {
    "Dense": ((2,), (None, 3)), "Dropout": ((0.5,), (None, 3)), "Activation": (("relu",), (None, 3)),
    "Flatten": ((), (None, 3, 2)), "Reshape": (((6,),), (None, 3, 2)), "RepeatVector": ((2,), (None, 3)),
    "LayerNormalization": ((), (None, 3)), "BatchNormalization": ((), (None, 3)), "Conv1D": ((2, 2), (None, 5, 3)),
    "MaxPooling1D": ((2,), (None, 4, 3)), "AveragePooling1D": ((2,), (None, 4, 3)),
    "GlobalMaxPooling1D": ((), (None, 4, 3)), "GlobalAveragePooling1D": ((), (None, 4, 3)),
    "SpatialDropout1D": ((0.5,), (None, 4, 3)), "Masking": ((), (None, 4, 3)), "Embedding": ((5, 2), (None, 4)),
    "LSTM": ((2,), (None, 4, 3)), "GRU": ((2,), (None, 4, 3)), "SimpleRNN": ((2,), (None, 4, 3)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_supports_masking_is_keras(name):
    import keras

    import lstmkit.keras as lk

    args, _ = CASES[name]
    theirs, ours = getattr(keras.layers, name)(*args), getattr(lk.layers, name)(*args)
    assert ours.supports_masking == theirs.supports_masking


@pytest.mark.parametrize("name", sorted(CASES))
def test_config_round_trip(K, name):
    args, shape = CASES[name]
    layer = getattr(K.layers, name)(*args)
    layer.build(shape)
    config = layer.get_config()
    again = type(layer).from_config(config)
    assert again.get_config() == config


def test_a_mask_reaches_the_lstm_through_dense_and_dropout(K):
    ids = np.array([[1, 2, 0, 0]])
    model = K.Sequential([K.Input((4,), dtype="int32"), K.layers.Embedding(5, 3, mask_zero=True),
                          K.layers.Dense(3), K.layers.Dropout(0.1), K.layers.LSTM(2, return_sequences=True)])
    out = np.asarray(model(ids).detach().cpu())
    np.testing.assert_array_equal(out[0, 2], out[0, 1])  # masked steps carry the last real output
    np.testing.assert_array_equal(out[0, 3], out[0, 1])
