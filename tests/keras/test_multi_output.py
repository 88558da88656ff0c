"""Models with several outputs train as in Keras 3 (torch backend): an LSTM with two Dense heads, compiled with
losses, loss_weights and metrics as lists or dicts by output name, fit on targets as a list or a dict; the
History keys and values, evaluate's order and train_on_batch / test_on_batch equal Keras' from the same weights."""

import keras
import numpy as np
import pytest

import lstmkit.keras as lk

from .conftest import to_numpy

RTOL, ATOL = 2e-5, 2e-6  # float32 over a few LSTM updates


def _build(K):
    inp = K.Input((5, 3), name="seq")
    h = K.layers.LSTM(4)(inp)
    price = K.layers.Dense(1, name="price")(h)
    kind = K.layers.Dense(3, activation="softmax", name="kind")(h)
    return K.Model(inp, [price, kind])


def _pair():
    """A Keras model and an lstmkit model with the same weights."""
    keras.utils.set_random_seed(0)
    theirs = _build(keras)
    ours = _build(lk)
    ours.set_weights([to_numpy(w) for w in theirs.get_weights()])
    return theirs, ours


def _data(n=24):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 5, 3)).astype("float32")
    return x, rng.normal(size=(n, 1)).astype("float32"), rng.integers(0, 3, size=(n,))


COMPILES = {
    "lists": dict(loss=["mse", "sparse_categorical_crossentropy"], loss_weights=[1.0, 0.5],
                  metrics=[["mae"], ["accuracy"]]),
    "dicts": dict(loss={"kind": "sparse_categorical_crossentropy", "price": "mse"},
                  loss_weights={"price": 2.0, "kind": 1.0}, metrics={"kind": ["accuracy"], "price": ["mae", "mse"]}),
    "flat-metrics-one-each": dict(loss=["mse", "sparse_categorical_crossentropy"], metrics=["mae", "accuracy"]),
    "no-metrics": dict(loss=["mse", "sparse_categorical_crossentropy"]),
    "weighted-metrics": dict(loss=["mse", "sparse_categorical_crossentropy"], metrics={"price": ["mae"]},
                             weighted_metrics={"price": ["mae"]}),
}


def _targets(kind, ya, yb):
    return {"kind": yb, "price": ya} if kind == "dict" else [ya, yb]


@pytest.mark.parametrize("targets", ["list", "dict"])
@pytest.mark.parametrize("case", list(COMPILES))
def test_fit_history_and_evaluate_equal_keras(case, targets):
    if case == "weighted-metrics" and targets == "dict":
        pytest.skip("Keras 3.15.1 itself fails on sample weights with dict targets (KeyError in compile_utils)")
    x, ya, yb = _data()
    sw = np.linspace(0.5, 1.5, len(x)).astype("float32") if case == "weighted-metrics" else None
    results = []
    for model in _pair():
        model.compile(optimizer="adam", **COMPILES[case])
        history = model.fit(x, _targets(targets, ya, yb), sample_weight=sw, epochs=2, batch_size=8, shuffle=False,
                            validation_split=0.25, verbose=0)
        ev = model.evaluate(x, _targets(targets, ya, yb), verbose=0)
        ev_dict = model.evaluate(x, _targets(targets, ya, yb), verbose=0, return_dict=True)
        results.append((history.history, ev, ev_dict, model.predict(x, verbose=0)))
    (k_hist, k_ev, k_dict, k_pred), (l_hist, l_ev, l_dict, l_pred) = results
    assert sorted(l_hist) == sorted(k_hist)
    for key in k_hist:
        np.testing.assert_allclose(l_hist[key], k_hist[key], rtol=RTOL, atol=ATOL, err_msg=key)
    assert list(l_dict) == list(k_dict)
    np.testing.assert_allclose(l_ev, k_ev, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose([l_dict[k] for k in k_dict], [k_dict[k] for k in k_dict], rtol=RTOL, atol=ATOL)
    for a, b in zip(l_pred, k_pred):
        np.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)


def test_evaluate_orders_loss_then_output_losses_then_metrics_by_name():
    x, ya, yb = _data()
    for model in _pair():
        model.compile(optimizer="adam", **COMPILES["dicts"])
        values = model.evaluate(x, [ya, yb], verbose=0)
        logs = model.evaluate(x, [ya, yb], verbose=0, return_dict=True)
        order = ["loss", "price_loss", "kind_loss", "kind_accuracy", "price_mae", "price_mse"]
        np.testing.assert_allclose(values, [logs[k] for k in order], rtol=1e-6)
        assert logs["loss"] == pytest.approx(2.0 * logs["price_loss"] + logs["kind_loss"], rel=1e-5)


def test_train_and_test_on_batch_equal_keras():
    x, ya, yb = _data(16)
    out = []
    for model in _pair():
        model.compile(optimizer="rmsprop", **COMPILES["lists"])
        first = model.train_on_batch(x, [ya, yb])
        second = model.train_on_batch(x, {"price": ya, "kind": yb}, return_dict=True)
        test = model.test_on_batch(x, [ya, yb])
        out.append((first, second, test))
    (k1, k2, kt), (l1, l2, lt) = out
    np.testing.assert_allclose(l1, k1, rtol=RTOL, atol=ATOL)
    assert list(l2) == list(k2)
    np.testing.assert_allclose([l2[k] for k in k2], [k2[k] for k in k2], rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(lt, kt, rtol=RTOL, atol=ATOL)


def test_one_loss_for_every_output():
    x, ya, _ = _data()
    out = []
    for model in _pair():
        model.compile(optimizer="sgd", loss="mse")
        history = model.fit(x, [ya, np.repeat(ya, 3, axis=1)], epochs=1, batch_size=8, shuffle=False, verbose=0)
        out.append(history.history)
    assert sorted(out[1]) == sorted(out[0]) == ["kind_loss", "loss", "price_loss"]
    for key in out[0]:
        np.testing.assert_allclose(out[1][key], out[0][key], rtol=RTOL, atol=ATOL)


def test_refusals_name_what_was_expected(K):
    """Keras refuses at the first fit, lstmkit already in compile."""
    x, ya, yb = _data()
    model = _build(K)
    with pytest.raises(ValueError, match=r"Expected keys \['price', 'kind'\] in loss dict"):
        model.compile(optimizer="adam", loss={"kind": "sparse_categorical_crossentropy"})
        model.fit(x, [ya, yb], verbose=0)
    with pytest.raises(ValueError, match=r"(?i)metrics"):
        model.compile(optimizer="adam", loss=["mse", "mse"], metrics=["mae"])
        model.fit(x, [ya, yb], verbose=0)


def test_lstmkit_refuses_wrong_targets_with_the_output_names():
    x, ya, yb = _data()
    _, model = _pair()
    model.compile(optimizer="adam", loss=["mse", "sparse_categorical_crossentropy"])
    with pytest.raises(ValueError, match=r"the model has 2 outputs \['price', 'kind'\].*got a list of 1"):
        model.fit(x, [ya], verbose=0)
    with pytest.raises(ValueError, match=r"keys \['kind'\]; expected the output names \['price', 'kind'\]"):
        model.fit(x, {"kind": yb}, verbose=0)
    with pytest.raises(ValueError, match="class_weight is not supported for a model with several outputs"):
        model.fit(x, [ya, yb], class_weight={0: 1.0, 1: 2.0, 2: 1.0}, verbose=0)
    with pytest.raises(ValueError, match=r"output 'price'.*targets must have shape \(None, 1\)"):
        model.fit(x, [np.zeros((24, 2), "float32"), yb], verbose=0)


@pytest.mark.parametrize("fmt", ["keras", "lstmkit-zip"])
def test_a_compiled_model_with_several_outputs_saves_and_loads(tmp_path, fmt):
    from lstmkit.keras.models.saving import save_lstmkit_zip

    x, ya, yb = _data()
    _, model = _pair()
    model.compile(optimizer="adam", **COMPILES["dicts"])
    model.fit(x, [ya, yb], epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path) if fmt == "keras" else save_lstmkit_zip(model, path)
    want = model.evaluate(x, [ya, yb], verbose=0, return_dict=True)
    loaded = [lk.models.load_model(path)] + ([keras.saving.load_model(path)] if fmt == "keras" else [])
    for back in loaded:
        got = back.evaluate(x, [ya, yb], verbose=0, return_dict=True)
        assert sorted(got) == sorted(want)
        np.testing.assert_allclose([got[k] for k in want], [want[k] for k in want], rtol=1e-5, atol=1e-6)
    back = loaded[0]
    model.fit(x, [ya, yb], epochs=1, batch_size=8, shuffle=False, verbose=0)
    back.fit(x, [ya, yb], epochs=1, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(model.get_weights(), back.get_weights()):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-5, atol=1e-6)
