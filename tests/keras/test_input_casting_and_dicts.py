"""Inputs and labels as the books' programs give them, on real Keras (torch backend) and lstmkit.keras:
one-hot text as np.bool_ and integer arrays reach Dense/LSTM as floats (Embedding keeps its ids), a dict of
inputs keyed by the Input names, loss and metrics per output name, labels for outputs of unknown length."""

from contextlib import nullcontext

import keras
import numpy as np
import pytest
import torch

import lstmkit.keras as lk
from tests.keras.conftest import to_numpy
from tests.tolerances import KERAS_TOL

rng = np.random.default_rng(0)
MAXLEN, CHARS = 6, 9  # the character-level text generator of Deep Learning with Python, made small


def one_hot_text(n=16):
    """x (n, MAXLEN, CHARS) and y (n, CHARS) as np.bool_, as the book builds them from sentences."""
    ids = rng.integers(0, CHARS, size=(n, MAXLEN + 1))
    x = np.zeros((n, MAXLEN, CHARS), dtype=np.bool_)
    y = np.zeros((n, CHARS), dtype=np.bool_)
    for i in range(n):
        x[i, np.arange(MAXLEN), ids[i, :MAXLEN]] = True
        y[i, ids[i, MAXLEN]] = True
    return x, y


def text_model(K):
    model = K.Sequential([K.Input((MAXLEN, CHARS)), K.layers.LSTM(8), K.layers.Dense(CHARS, activation="softmax")])
    model.compile(optimizer=K.optimizers.RMSprop(learning_rate=0.01), loss="categorical_crossentropy")
    return model


# ----- casting -------------------------------------------------------------------------------------------
def test_bool_one_hot_text_trains_and_predicts_as_its_float_copy(K):
    x, y = one_hot_text()
    model = text_model(K)
    pred = model.predict(x, verbose=0)
    assert pred.dtype == np.float32
    np.testing.assert_array_equal(pred, model.predict(x.astype("float32"), verbose=0))
    assert model.evaluate(x, y, verbose=0) == model.evaluate(x.astype("float32"), y.astype("float32"), verbose=0)
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_bool_text_gives_keras_loss_with_keras_weights():
    """The same weights on both libraries: the loss on boolean data is Keras' loss."""
    x, y = one_hot_text()
    theirs, ours = text_model(keras), text_model(lk)
    ours.set_weights(theirs.get_weights())
    torch.testing.assert_close(torch.tensor(ours.evaluate(x, y, verbose=0)),
                               torch.tensor(theirs.evaluate(x, y, verbose=0)), **KERAS_TOL)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), **KERAS_TOL)


@pytest.mark.parametrize("dtype", ["int32", "int64", "bool"])
@pytest.mark.parametrize("layer", ["Dense", "SimpleRNN", "GRU"])
def test_integer_and_bool_inputs_are_computed_as_float32(K, layer, dtype):
    x = rng.integers(0, 2, size=(3, 4, 5)).astype(dtype)
    made = getattr(K.layers, layer)(3)
    out = made(x)
    assert str(out.dtype) == "torch.float32"
    np.testing.assert_array_equal(to_numpy(out), to_numpy(made(x.astype("float32"))))


def test_embedding_keeps_integer_ids(K):
    embedding = K.layers.Embedding(10, 4)
    ids = np.array([[1, 9, 0]], dtype="int32")
    out = to_numpy(embedding(ids))
    np.testing.assert_array_equal(out[0], to_numpy(embedding.embeddings)[[1, 9, 0]])


def test_lstmkit_conv1d_takes_integer_and_bool_inputs():
    """Keras' torch backend fails here (conv1d of int32 with a float kernel); lstmkit casts as for Dense."""
    conv = lk.layers.Conv1D(2, 3)
    x = rng.integers(0, 3, size=(2, 6, 4))
    expected = conv(x.astype("float32")).detach().numpy()
    np.testing.assert_array_equal(conv(x.astype("int32")).detach().numpy(), expected)
    np.testing.assert_array_equal(conv(x > 0).detach().numpy(), conv((x > 0).astype("float32")).detach().numpy())


# ----- dict inputs, dict targets, per-output loss and metrics ----------------------------------------
ENC, DEC, OUT = 7, 5, 31


def seq2seq(K):
    """Keras' lstm_seq2seq.py example, made small: the output is (None, None, OUT)."""
    encoder_inputs = K.Input((None, ENC), name="encoder_inputs")
    _, h, c = K.layers.LSTM(8, return_state=True)(encoder_inputs)
    decoder_inputs = K.Input((None, DEC), name="decoder_inputs")
    seq = K.layers.LSTM(8, return_sequences=True)(decoder_inputs, initial_state=[h, c])
    outputs = K.layers.Dense(OUT, activation="softmax", name="decoder_dense")(seq)
    return K.Model([encoder_inputs, decoder_inputs], outputs)


def seq2seq_data(n=24, t_enc=9, t_dec=47):
    xa = rng.random((n, t_enc, ENC)).astype("float32")
    xb = rng.random((n, t_dec, DEC)).astype("float32")
    y = np.eye(OUT, dtype="float32")[rng.integers(0, OUT, size=(n, t_dec))]
    return xa, xb, y


def test_dict_inputs_by_input_name_equal_the_list(K):
    xa, xb, _ = seq2seq_data()
    model = seq2seq(K)
    by_list = model.predict([xa, xb], verbose=0)
    np.testing.assert_array_equal(model.predict({"decoder_inputs": xb, "encoder_inputs": xa}, verbose=0), by_list)
    called = model({"decoder_inputs": torch.from_numpy(xb), "encoder_inputs": torch.from_numpy(xa)})
    np.testing.assert_allclose(to_numpy(called), by_list, rtol=1e-6, atol=1e-7)


def test_fit_on_dict_inputs_equals_fit_on_the_list(K):
    xa, xb, y = seq2seq_data()
    a, b = seq2seq(K), seq2seq(K)
    b.set_weights(a.get_weights())
    for m in (a, b):
        m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="categorical_crossentropy")
    a.fit([xa, xb], y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    b.fit({"encoder_inputs": xa, "decoder_inputs": xb}, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)


def test_a_generator_of_dict_inputs_trains_as_the_arrays(K):
    xa, xb, y = seq2seq_data(24)
    a, b = seq2seq(K), seq2seq(K)
    b.set_weights(a.get_weights())
    for m in (a, b):
        m.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="categorical_crossentropy")

    def batches():
        while True:
            for i in range(0, 24, 8):
                yield {"decoder_inputs": xb[i:i + 8], "encoder_inputs": xa[i:i + 8]}, y[i:i + 8]

    a.fit([xa, xb], y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    b.fit(batches(), steps_per_epoch=3, epochs=2, shuffle=False, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)


def test_a_missing_input_name_is_an_error_naming_the_expected_keys(K):
    xa, _, y = seq2seq_data(8)
    model = seq2seq(K)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match=r'Missing data for input "decoder_inputs"\. .*keys \[\'encoder_inputs\'\]'
                                         r'.*Expected the following keys: \[\'encoder_inputs\', \'decoder_inputs\'\]'):
        model.fit({"encoder_inputs": xa}, y, verbose=0)


def test_extra_input_keys_are_ignored_as_keras_does(K):
    xa, xb, _ = seq2seq_data(8)
    model = seq2seq(K)
    expected = model.predict([xa, xb], verbose=0)
    # Keras drops them silently; lstmkit warns, naming them
    with pytest.warns(UserWarning, match=r"keys \['decoder_target'\].*ignored") if K is lk else nullcontext():
        got = model.predict({"encoder_inputs": xa, "decoder_inputs": xb, "decoder_target": xb}, verbose=0)
    np.testing.assert_array_equal(got, expected)


def test_loss_and_metrics_per_output_name(K):
    xa, xb, y = seq2seq_data(16)
    model = seq2seq(K)
    model.compile(optimizer="rmsprop", loss={"decoder_dense": "categorical_crossentropy"},
                  metrics={"decoder_dense": ["accuracy"]})
    history = model.fit([xa, xb], y, batch_size=8, epochs=1, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss"]


@pytest.mark.parametrize("structure", ["list", "dict"])
def test_a_model_with_its_one_output_in_a_list_or_dict_trains(K, structure):
    """outputs=[o] or {"decoder_dense": o}: fit, evaluate and predict as Keras (a dict of outputs takes and
    gives dicts keyed by its keys, a one-element list gives the bare array)."""
    xa, xb, y = seq2seq_data(16)
    bare = seq2seq(K)
    out = bare.outputs[0]
    model = K.Model(bare.inputs, [out] if structure == "list" else {"decoder_dense": out})
    model.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="categorical_crossentropy")
    bare.compile(optimizer=K.optimizers.SGD(learning_rate=0.1), loss="categorical_crossentropy")
    targets = [y] if structure == "list" else {"decoder_dense": y}
    assert model.evaluate([xa, xb], targets, verbose=0) == pytest.approx(bare.evaluate([xa, xb], y, verbose=0),
                                                                          rel=1e-6)
    pred = model.predict([xa, xb], verbose=0)
    if structure == "dict":
        assert list(pred) == ["decoder_dense"]
        pred = pred["decoder_dense"]
    np.testing.assert_array_equal(pred, bare.predict([xa, xb], verbose=0))
    history = model.fit([xa, xb], y if structure == "list" else targets, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_lstmkit_sequential_loss_and_metrics_keyed_by_its_last_layer():
    """Keras 2 took them keyed by the last layer's name; Keras 3.15's Sequential fails on a dict (TypeError)."""
    K = lk
    x = rng.random((8, 3)).astype("float32")
    y = rng.random((8, 2)).astype("float32")
    model = K.Sequential([K.Input((3,)), K.layers.Dense(2, name="scores")])
    model.compile(optimizer="sgd", loss={"scores": "mse"}, metrics={"scores": ["mae"]})
    loss, mae = model.evaluate(x, y, verbose=0)
    pred = model.predict(x, verbose=0)
    assert loss == pytest.approx(float(((pred - y) ** 2).mean()), rel=1e-5)
    assert mae == pytest.approx(float(np.abs(pred - y).mean()), rel=1e-5)


def test_lstmkit_dict_targets_by_output_layer_name():
    """Keras 2 took targets keyed by the output layer's name for any model; Keras 3 only for dict outputs."""
    xa, xb, y = seq2seq_data(16)
    model = seq2seq(lk)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    assert model.evaluate([xa, xb], {"decoder_dense": y}, verbose=0) == model.evaluate([xa, xb], y, verbose=0)
    with pytest.raises(ValueError, match=r"keys \['dense'\]; expected the output names \['decoder_dense'\]"):
        model.fit([xa, xb], {"dense": y}, verbose=0)
    with pytest.raises(ValueError, match=r"compile\(\): loss has keys \['dense'\].*expected the keys \['decoder_dense'\]"):
        model.compile(optimizer="rmsprop", loss={"dense": "categorical_crossentropy"})


# ----- labels for outputs of unknown length --------------------------------------------------------------
def test_labels_fill_the_none_sizes_of_the_output(K):
    """Labels (240, 47, 31) for an output (None, None, 31): the book's seq2seq targets."""
    xa, xb, y = seq2seq_data(240)
    assert y.shape == (240, 47, 31)
    model = seq2seq(K)
    assert tuple(model.output.shape) == (None, None, 31)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["categorical_accuracy"])
    history = model.fit([xa, xb], y, batch_size=120, epochs=1, validation_split=0.5, verbose=0)
    assert np.isfinite(history.history["val_loss"][0])


def test_lstmkit_sparse_labels_fill_the_none_sizes_of_the_output():
    """Class ids (240, 47) for an output (None, None, 31) give the loss of their one-hot labels."""
    xa, xb, y = seq2seq_data(240)
    model = seq2seq(lk)
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    sparse = model.evaluate([xa, xb], y.argmax(-1), verbose=0)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    assert sparse == pytest.approx(model.evaluate([xa, xb], y, verbose=0), rel=1e-6)


def test_labels_that_do_not_fit_the_known_sizes_are_refused(K):
    xa, xb, y = seq2seq_data(8)
    model = seq2seq(K)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    with pytest.raises(ValueError):
        model.fit([xa, xb], y[..., :30], verbose=0)


def test_lstmkit_names_the_output_and_labels_shapes():
    xa, xb, y = seq2seq_data(8)
    model = seq2seq(lk)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match=r"outputs \(None, 47, 31\) .*got \(8, 47, 30\)"):
        model.fit([xa, xb], y[..., :30], verbose=0)
