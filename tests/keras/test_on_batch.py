"""train_on_batch / test_on_batch / predict_on_batch: return values shaped as Keras 3's (a float, a list in
evaluate's order, a dict with return_dict=True, NumPy predictions), with arrays on Keras and lstmkit, and with
raw text through a TextVectorization inside the model (which Keras 3 on torch cannot run: it refuses NumPy
string arrays, "Invalid dtype: str..."), where lstmkit's results equal those of the same model fed the
vectorized text."""

import keras
import numpy as np
import pytest

import lstmkit.keras as lk

from .conftest import to_numpy

TEXTS = np.array(["the cat sat on the mat", "a dog ran far away", "the dog sat", "cats and dogs play",
                  "a cat ran", "the mat"])
LABELS = np.array([1, 0, 1, 0, 1, 0])


def _dense(K, metrics=None):
    model = K.Sequential([K.Input((3,)), K.layers.Dense(2, activation="softmax")])
    model.set_weights([np.linspace(-1, 1, 6, dtype="float32").reshape(3, 2), np.zeros((2,), "float32")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=metrics)
    return model


def _arrays():
    rng = np.random.default_rng(0)
    return rng.normal(size=(8, 3)).astype("float32"), rng.integers(0, 2, size=(8,))


@pytest.mark.parametrize("metrics", [None, ["accuracy"]])
def test_return_values_are_shaped_as_keras(metrics):
    x, y = _arrays()
    results = []
    for K in (keras, lk):
        model = _dense(K, metrics)
        results.append((model.train_on_batch(x, y), model.train_on_batch(x, y, return_dict=True),
                        model.test_on_batch(x, y), model.test_on_batch(x, y, return_dict=True),
                        model.predict_on_batch(x)))
    (k_tr, k_trd, k_te, k_ted, k_p), (l_tr, l_trd, l_te, l_ted, l_p) = results
    for ours, theirs in ((l_tr, k_tr), (l_te, k_te)):
        if metrics is None:
            assert isinstance(ours, float) and isinstance(theirs, float)
        else:
            assert isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs) == 2
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    for ours, theirs in ((l_trd, k_trd), (l_ted, k_ted)):
        assert sorted(ours) == sorted(theirs)
        np.testing.assert_allclose([ours[k] for k in theirs], [float(theirs[k]) for k in theirs], rtol=1e-6)
    assert isinstance(l_p, np.ndarray) and isinstance(k_p, np.ndarray)
    assert l_p.dtype == k_p.dtype == np.float32
    np.testing.assert_allclose(l_p, k_p, rtol=1e-6, atol=1e-7)


def _text_models():
    """A model from raw text (TextVectorization inside) and the same model from its token ids."""
    lk.utils.set_random_seed(1)
    vectorize = lk.layers.TextVectorization(max_tokens=30, output_sequence_length=6)
    vectorize.adapt(TEXTS)
    embed, lstm, head = lk.layers.Embedding(30, 4), lk.layers.LSTM(3), lk.layers.Dense(1, activation="sigmoid")
    text_in = lk.Input(shape=(1,), dtype="string")
    from_text = lk.Model(text_in, head(lstm(embed(vectorize(text_in)))))
    ids_in = lk.Input(shape=(6,), dtype="int64")
    ids_model = lk.Sequential([ids_in, lk.layers.Embedding(30, 4), lk.layers.LSTM(3),
                               lk.layers.Dense(1, activation="sigmoid")])
    ids_model.set_weights(from_text.get_weights())
    for m in (from_text, ids_model):
        m.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return from_text, ids_model, to_numpy(vectorize(TEXTS[:, None]))


def test_raw_text_through_a_text_vectorization_in_the_model():
    from_text, ids_model, ids = _text_models()
    texts = TEXTS[:, None]
    for step in range(3):
        a = from_text.train_on_batch(texts, LABELS)
        b = ids_model.train_on_batch(ids, LABELS)
        assert isinstance(a, list) and len(a) == 2
        np.testing.assert_allclose(a, b, rtol=1e-6, err_msg=f"step {step}")
    a = from_text.test_on_batch(texts, LABELS, return_dict=True)
    b = ids_model.test_on_batch(ids, LABELS, return_dict=True)
    assert sorted(a) == ["accuracy", "loss"]
    np.testing.assert_allclose([a[k] for k in b], [b[k] for k in b], rtol=1e-6)
    p, q = from_text.predict_on_batch(texts), ids_model.predict_on_batch(ids)
    assert isinstance(p, np.ndarray) and p.shape == (6, 1) and p.dtype == np.float32
    np.testing.assert_allclose(p, q, rtol=1e-6)
    for a, b in zip(from_text.get_weights(), ids_model.get_weights()):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-6, atol=1e-7)


def test_predict_on_batch_of_several_outputs_is_a_list_of_arrays(K):
    inp = K.Input((3,))
    model = K.Model(inp, [K.layers.Dense(1)(inp), K.layers.Dense(2)(inp)])
    out = model.predict_on_batch(np.zeros((5, 3), "float32"))
    assert isinstance(out, list) and [o.shape for o in out] == [(5, 1), (5, 2)]
    assert all(isinstance(o, np.ndarray) for o in out)
