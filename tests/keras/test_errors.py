"""Bad input gets a clear ValueError naming the layer and the shapes, or what was expected and what came."""

import numpy as np
import pytest
import torch

import lstmkit.keras as lk
from lstmkit.keras import layers as L


def test_layers_that_do_not_fit_are_named_with_their_shapes():
    with pytest.raises(ValueError, match=r"(?s)Layer 'late_lstm' \(LSTM\): expects inputs of shape \(batch, timesteps, "
                                         r"features\).*got shape \(None, 8\).*return_sequences=True.*output of layer "
                                         r"'first_lstm' \(LSTM\), of shape \(None, 8\)"):
        lk.Sequential([lk.Input((5, 3)), L.LSTM(8, name="first_lstm"), L.LSTM(4, name="late_lstm")])
    inp = lk.Input((5,))
    with pytest.raises(ValueError, match=r"Layer 'rnn' \(GRU\).*\(None, 5\).*comes from layer 'input_layer"):
        L.GRU(3, name="rnn")(inp)
    with pytest.raises(ValueError, match=r"Layer 'conv' \(Conv1D\): an input of 4 steps is shorter than the kernel"):
        lk.Sequential([lk.Input((4, 2)), L.Conv1D(2, 7, name="conv")])


def test_a_built_layer_rejects_other_feature_sizes():
    dense = L.Dense(2, name="d")
    dense(torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"Layer 'd' \(Dense\): was built for 3 input features but got an input of "
                                         r"shape \(1, 4\)"):
        dense(torch.zeros(1, 4))
    lstm = L.LSTM(2, name="l")
    lstm(torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match=r"Layer 'l' \(LSTM\): was built for 3 input features.*\(1, 2, 5\)"):
        lstm(torch.zeros(1, 2, 5))
    model = lk.Sequential([lk.Input((6,)), L.Dense(1)], name="m")
    with pytest.raises(ValueError, match=r"Sequential model 'm' expects inputs of shape \(None, 6\), got \(2, 7\)"):
        model.predict(np.zeros((2, 7)), verbose=0)


def test_token_ids_outside_the_embedding_are_reported():
    emb = L.Embedding(100, 4, name="emb")
    with pytest.raises(ValueError, match=r"Layer 'emb' \(Embedding\): token ids must be in \[0, 100\).*got ids from 0 "
                                         r"to 100 .*num_words="):
        emb(torch.tensor([[0, 5, 100]]))
    with pytest.raises(ValueError, match="from -1 to 5"):
        emb(torch.tensor([[-1, 5]]))


def test_float_token_ids_that_are_not_integers_are_reported():
    emb = L.Embedding(100, 4, name="emb")
    with pytest.raises(ValueError, match=r"Layer 'emb' \(Embedding\): token ids must be integers, but the float input "
                                         r"of shape \(2, 3\) holds 2 NaN id\(s\), the first nan at index \(0, 1\)"):
        emb(torch.tensor([[1.0, float("nan"), 3.0], [4.0, 5.0, float("nan")]]))
    with pytest.raises(ValueError, match=r"holds 1 infinite id\(s\), the first inf at index \(0, 0\)"):
        emb(torch.tensor([[float("inf"), 2.0]]))
    with pytest.raises(ValueError, match=r"holds 1 id\(s\) that are not whole numbers, the first 2\.5 at index"):
        emb(torch.tensor([[1.0, 2.5]]))
    with pytest.raises(ValueError, match="got ids from 1 to 100000002004087734272"):  # not wrapped around by a cast
        emb(torch.tensor([[1.0, 1e20]]))
    model = lk.Sequential([lk.Input((3,), dtype="int32"), emb])  # NumPy floats through predict
    with pytest.raises(ValueError, match="holds 1 NaN id"):
        model.predict(np.array([[1, np.nan, 2]]), verbose=0)
    whole = model.predict(np.array([[1.0, 7.0, 99.0]]), verbose=0)  # whole-number floats are ids, as in Keras
    np.testing.assert_array_equal(whole, model.predict(np.array([[1, 7, 99]]), verbose=0))


@pytest.mark.parametrize("layer", [L.SimpleRNN, L.LSTM, L.GRU])
@pytest.mark.parametrize("arg", ["dropout", "recurrent_dropout"])
def test_a_dropout_rate_of_one_is_refused_when_the_layer_is_made(layer, arg):
    # Keras 3.15 accepts 1.0 (and clips 1.5 to it) and then drops every unit; lstmkit refuses it at once
    with pytest.raises(ValueError, match=rf"{layer.__name__}(Cell)?: {arg} must be in \[0, 1\).*got 1\.0"):
        layer(2, **{arg: 1.0})


@pytest.mark.parametrize("loss,y,units,activation,pattern", [
    ("categorical_crossentropy", np.array([0, 2, 1, 1]), 3, "softmax",
     r"categorical_crossentropy: the model outputs \(None, 3\) so labels must be one-hot.*got \(4,\).*"
     r"sparse_categorical_crossentropy"),
    ("sparse_categorical_crossentropy", np.eye(3)[[0, 2, 1, 1]], 3, "softmax",
     r"labels must have shape \(None,\), got \(4, 3\) \(they look one-hot: use categorical_crossentropy\)"),
    ("sparse_categorical_crossentropy", np.array([0, 2, 1, 3]), 3, "softmax", r"class ids in \[0, 3\).*from 0 to 3"),
    ("binary_crossentropy", np.array([0, 2, 1, 1]), 1, "sigmoid", r"binary_crossentropy needs labels in \[0, 1\]"),
    ("binary_crossentropy", np.ones((4, 3)), 1, "sigmoid", r"outputs \(None, 1\) so labels must have shape"),
    ("mse", np.ones((4, 2)), 3, None, r"mse: the model outputs \(None, 3\) so targets must have shape \(None, 3\)"),
])
def test_labels_that_do_not_match_the_loss(loss, y, units, activation, pattern):
    model = lk.Sequential([lk.Input((5,)), L.Dense(units, activation=activation)])
    model.compile(optimizer="sgd", loss=loss)
    with pytest.raises(ValueError, match=pattern):
        model.fit(np.zeros((4, 5)), y, verbose=0)


def test_fit_without_data():
    model = lk.Sequential([lk.Input((5,)), L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="fit got no data: x is None"):
        model.fit(verbose=0)
    with pytest.raises(ValueError, match=r"fit got no data: x has shape \(0, 5\)"):
        model.fit(np.zeros((0, 5)), np.zeros(0), verbose=0)
    with pytest.raises(ValueError, match="fit needs targets"):
        model.fit(np.zeros((3, 5)), verbose=0)
    with pytest.raises(ValueError, match="x has 3 samples but y has 2"):
        model.fit(np.zeros((3, 5)), np.zeros(2), verbose=0)
    with pytest.raises(ValueError, match="leaves no samples"):
        model.fit(np.zeros((1, 5)), np.zeros(1), validation_split=0.1, verbose=0)
    with pytest.raises(ValueError, match="pad them to one length"):
        model.fit(np.array([[1, 2], [3]], dtype=object), np.zeros(2), verbose=0)


def test_compile_and_options_are_checked():
    model = lk.Sequential([lk.Input((5,)), L.Dense(1)])
    with pytest.raises(ValueError, match=r"fit\(\) needs a compiled model"):
        model.fit(np.zeros((3, 5)), np.zeros(3), verbose=0)
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprob'"):
        model.compile(optimizer="rmsprob", loss="mse")
    with pytest.raises(ValueError, match="unknown loss 'msee'"):
        model.compile(optimizer="sgd", loss="msee")
    with pytest.raises(ValueError, match=r"not a torch\.optim optimizer"):
        model.compile(optimizer=torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1), loss="mse")
    with pytest.raises(ValueError, match="unknown activation 'rleu'"):
        L.Dense(3, activation="rleu")
    with pytest.raises(ValueError, match="merge_mode must be one of"):
        L.Bidirectional(L.LSTM(2), merge_mode="avg")
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\)"):
        L.LSTM(2, dropout=1.5)
    with pytest.raises(TypeError, match="unexpected keyword arguments"):
        L.Dense(2, kernel_initialiser="zeros")


def test_stateful_layer_with_another_batch_size():
    model = lk.Sequential([lk.Input(batch_shape=(4, 3, 2)), L.SimpleRNN(2, stateful=True, name="s")])
    model.predict(np.zeros((4, 3, 2)), batch_size=4, verbose=0)
    with pytest.raises(ValueError, match=r"Layer 's' \(SimpleRNN\): is stateful with batch size 4 but got a batch of "
                                         r"2 sequences"):
        model.predict(np.zeros((6, 3, 2)), batch_size=4, verbose=0)


def test_weights_of_the_wrong_shape_are_rejected():
    layer = L.GRU(3, name="g")
    layer(torch.zeros(1, 2, 4))
    with pytest.raises(ValueError, match=r"Layer 'g' \(GRU\): weight 2 must have shape \(2, 9\), got \(9,\)"):
        layer.set_weights([np.zeros((4, 9)), np.zeros((3, 9)), np.zeros(9)])
    with pytest.raises(ValueError, match="set_weights got 2 arrays but the layer has 3 weights"):
        layer.set_weights([np.zeros((4, 9)), np.zeros((3, 9))])
    with pytest.raises(ValueError, match=r"count_params\(\) needs the layer to be built"):
        L.Dense(2, name="u").count_params()
