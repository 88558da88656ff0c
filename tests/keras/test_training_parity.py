"""Training against Keras 3 itself: optimizer updates, losses, metrics, fit histories, callback order, summary.

The optimizers are checked on one tensor over steps with gradients from 1e-6 to 1 (so epsilon's place,
inside or outside the square root, shows), the losses and metrics on random data, and whole `fit` runs
(shuffle=False, so both see the same batches) must give Keras' history and Keras' final weights.
"""

import numpy as np
import pytest
import torch

import lstmkit.keras as lk
from lstmkit.keras import layers as L
from tests.keras.conftest import to_numpy
from tests.tolerances import KERAS_TOL

keras = pytest.importorskip("keras")
K = keras.layers

# A few float32 steps with different operation orders: values agree to ~1e-6 relative, so 1e-5 still
# catches a formula change (epsilon inside vs outside the root changes the step by 3x at g = 1e-4).
TRAJECTORY_TOL = {"atol": 1e-5, "rtol": 1e-5}
# Whole fits of several batches accumulate float32 differences through the updates.
FIT_TOL = {"atol": 1e-4, "rtol": 1e-4}

OPTIMIZERS = [
    ("rmsprop", {}), ("rmsprop", {"momentum": 0.9, "centered": True}), ("adam", {}), ("adam", {"amsgrad": True}),
    ("adamw", {}), ("sgd", {}), ("sgd", {"momentum": 0.9}), ("sgd", {"momentum": 0.9, "nesterov": True}),
    ("adagrad", {}), ("rmsprop", {"clipnorm": 0.5}), ("adam", {"clipvalue": 1e-3}),
    ("sgd", {"global_clipnorm": 0.1}), ("rmsprop", {"weight_decay": 0.01}),
]


@pytest.mark.parametrize("name,kw", OPTIMIZERS, ids=[f"{n}-{kw}" for n, kw in OPTIMIZERS])
def test_optimizer_steps_match_keras(name, kw):
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(4, 5)).astype("float32")
    scales = np.array([1e-6, 1e-4, 1e-2, 1.0, 3.0], dtype="float32")  # per column
    k_opt = keras.optimizers.get({"class_name": name, "config": kw}) if kw else keras.optimizers.get(name)
    ours = lk.optimizers.get({"class_name": type(lk.optimizers.get(name)).__name__, "config": kw}) if kw \
        else lk.optimizers.get(name)
    k_var = keras.Variable(w0.copy())
    p = torch.nn.Parameter(torch.from_numpy(w0.copy()))
    ours.build([p])
    for step in range(4):
        g = (rng.normal(size=w0.shape) * scales).astype("float32")
        k_opt.apply_gradients([(keras.ops.convert_to_tensor(g), k_var)])
        p.grad = torch.from_numpy(g)
        ours.apply()
        torch.testing.assert_close(p.detach(), torch.as_tensor(to_numpy(k_var.value)), **TRAJECTORY_TOL,
                                   msg=lambda m, s=step: f"step {s}: {m}")
    assert ours.iterations == 4


def test_optimizer_strings_take_keras_defaults():
    rms = lk.optimizers.get("rmsprop")
    assert (rms.learning_rate, rms.rho, rms.epsilon) == (1e-3, 0.9, 1e-7)  # KERAS_PARITY.md; torch: 1e-2, 0.99, 1e-8
    for name in ("rmsprop", "adam", "adamw", "sgd", "adagrad"):
        ours, theirs = lk.optimizers.get(name), keras.optimizers.get(name)
        assert ours.learning_rate == pytest.approx(float(to_numpy(theirs.learning_rate)))
        for attr in ("rho", "epsilon", "beta_1", "beta_2", "momentum", "initial_accumulator_value", "weight_decay"):
            if hasattr(theirs, attr) and getattr(theirs, attr) is not None:
                assert getattr(ours, attr) == pytest.approx(getattr(theirs, attr)), (name, attr)


LOSSES = [
    ("binary_crossentropy", (6, 1), "binary"), ("binary_crossentropy", (6, 3), "binary"),
    ("categorical_crossentropy", (6, 4), "onehot"), ("sparse_categorical_crossentropy", (6, 4), "sparse"),
    ("mse", (6, 2), "real"), ("mae", (6, 2), "real"), ("huber", (6, 2), "real"), ("mape", (6, 2), "real"),
    ("msle", (6, 2), "positive"), ("log_cosh", (6, 2), "real"), ("kl_divergence", (6, 4), "onehot"),
    ("poisson", (6, 2), "positive"), ("binary_crossentropy", (6, 5, 1), "binary"),
    ("sparse_categorical_crossentropy", (6, 5, 4), "sparse"),
]


def _targets(kind, shape, rng):
    if kind == "binary":
        return rng.integers(0, 2, shape).astype("float32")
    if kind == "onehot":
        return np.eye(shape[-1], dtype="float32")[rng.integers(0, shape[-1], shape[:-1])]
    if kind == "sparse":
        return rng.integers(0, shape[-1], shape[:-1])
    if kind == "positive":
        return rng.uniform(0.1, 3, shape).astype("float32")
    return rng.normal(size=shape).astype("float32")


@pytest.mark.parametrize("name,shape,kind", LOSSES, ids=[f"{n}-{s}" for n, s, _ in LOSSES])
@pytest.mark.parametrize("weighted", [False, True])
def test_losses_match_keras(name, shape, kind, weighted):
    rng = np.random.default_rng(1)
    y_pred = rng.uniform(0.001, 0.999, shape).astype("float32")
    if "categorical" in name or name == "kl_divergence":
        y_pred = y_pred / y_pred.sum(-1, keepdims=True)
    y_pred[0, ..., 0] = 1.0  # probabilities at the clip bound
    y_true = _targets(kind, shape, rng)
    sw = rng.uniform(0, 2, shape[0]).astype("float32") if weighted else None
    if sw is not None and len(shape) == 3:
        sw = sw[:, None]  # per-step losses (6, 5): Keras broadcasts a (6, 1) weight, not a (6,) one
    loss = lk.losses.get(name)
    ours = loss(torch.as_tensor(y_true), torch.from_numpy(y_pred), sample_weight=sw)
    theirs = getattr(keras.losses, type(loss).__name__)()(y_true, y_pred, sample_weight=sw)
    torch.testing.assert_close(ours, torch.as_tensor(to_numpy(theirs)), **KERAS_TOL)


def test_binary_crossentropy_on_flat_labels_matches_keras():
    y_true = np.array([0, 1, 1, 0], dtype="float32")  # (B,) against a (B, 1) output, the IMDB case
    y_pred = np.array([[0.2], [0.7], [1.0], [0.0]], dtype="float32")
    ours = lk.losses.get("binary_crossentropy")(torch.from_numpy(y_true), torch.from_numpy(y_pred))
    theirs = keras.losses.BinaryCrossentropy()(y_true, y_pred)
    torch.testing.assert_close(ours, torch.as_tensor(to_numpy(theirs)), **KERAS_TOL)


def _imdb_like(rng, n=40, t=6, vocab=20):
    x = rng.integers(1, vocab, (n, t))
    for i in range(n):  # left padding, as pad_sequences does
        x[i, : rng.integers(0, t - 1)] = 0
    y = (x.sum(1) % 2).astype("int64")
    return x, y


def _models(build):
    kmodel, model = build(keras, K), build(lk, L)
    model.set_weights(kmodel.get_weights())
    return kmodel, model


@pytest.mark.parametrize("optimizer", ["rmsprop", "adam", "sgd"])
def test_fit_history_and_weights_match_keras(optimizer):
    """The IMDB program's shape in miniature: masked Embedding, LSTM, Dense(sigmoid); validation from the end."""
    rng = np.random.default_rng(2)
    x, y = _imdb_like(rng)

    def build(api, layers):
        model = api.Sequential([api.Input((6,), dtype="int32"), layers.Embedding(20, 4, mask_zero=True),
                                layers.LSTM(3), layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=["acc"])
        return model

    kmodel, model = _models(build)
    kh = kmodel.fit(x, y, epochs=3, batch_size=8, validation_split=0.25, shuffle=False, verbose=0)
    h = model.fit(x, y, epochs=3, batch_size=8, validation_split=0.25, shuffle=False, verbose=0)
    assert list(h.history) == list(kh.history) == ["acc", "loss", "val_acc", "val_loss"]
    for key in kh.history:
        torch.testing.assert_close(torch.tensor(h.history[key]), torch.tensor(kh.history[key]), **FIT_TOL,
                                   msg=lambda m, k=key: f"{k}: {m}")
    for ours, theirs in zip(model.get_weights(), kmodel.get_weights()):
        torch.testing.assert_close(torch.from_numpy(ours), torch.from_numpy(theirs), **FIT_TOL)
    torch.testing.assert_close(torch.tensor(model.evaluate(x, y, verbose=0)),
                               torch.tensor(kmodel.evaluate(x, y, verbose=0)), **FIT_TOL)
    torch.testing.assert_close(torch.from_numpy(model.predict(x, verbose=0)),
                               torch.from_numpy(kmodel.predict(x, verbose=0)), **FIT_TOL)


@pytest.mark.parametrize("loss,labels,metric", [
    ("sparse_categorical_crossentropy", "sparse", "accuracy"),
    ("categorical_crossentropy", "onehot", "accuracy"),
    ("sparse_categorical_crossentropy", "sparse", "acc"),
])
def test_classification_fit_with_sample_and_class_weights_matches_keras(loss, labels, metric):
    """(samples, timesteps, features) into 3 classes: GRU, Dropout at rate 0 off, softmax; weights and metrics."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(24, 5, 4)).astype("float32")
    ids = rng.integers(0, 3, 24)
    y = ids if labels == "sparse" else np.eye(3, dtype="float32")[ids]

    def build(api, layers):
        model = api.Sequential([api.Input((5, 4)), layers.GRU(6, return_sequences=True), layers.SimpleRNN(5),
                                layers.Dense(3, activation="softmax")])
        model.compile(optimizer="adam", loss=loss, metrics=[metric], weighted_metrics=[metric])
        return model

    kmodel, model = _models(build)
    class_weight = {0: 1.0, 1: 2.0, 2: 0.5}
    kh = kmodel.fit(x, y, epochs=2, batch_size=10, class_weight=class_weight, shuffle=False, verbose=0,
                    validation_data=(x[:7], y[:7]))
    h = model.fit(x, y, epochs=2, batch_size=10, class_weight=class_weight, shuffle=False, verbose=0,
                  validation_data=(x[:7], y[:7]))
    assert sorted(h.history) == sorted(kh.history)
    assert f"val_{metric}" in h.history and f"weighted_{metric}" in h.history
    for key in kh.history:
        torch.testing.assert_close(torch.tensor(h.history[key]), torch.tensor(kh.history[key]), **FIT_TOL,
                                   msg=lambda m, k=key: f"{k}: {m}")
    sw = rng.uniform(0, 2, 24).astype("float32")
    ours = model.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)
    theirs = kmodel.evaluate(x, y, sample_weight=sw, verbose=0, return_dict=True)
    assert set(ours) == set(theirs)
    for key in theirs:
        assert ours[key] == pytest.approx(theirs[key], rel=1e-4, abs=1e-5), key


def test_masked_sequence_loss_matches_keras():
    """A per-step output under a mask: the loss divides by the unmasked steps only."""
    rng = np.random.default_rng(4)
    x, _ = _imdb_like(rng, n=12)
    y = rng.integers(0, 3, (12, 6))

    def build(api, layers):
        model = api.Sequential([api.Input((6,), dtype="int32"), layers.Embedding(20, 4, mask_zero=True),
                                layers.Bidirectional(layers.LSTM(3, return_sequences=True)),
                                layers.TimeDistributed(layers.Dense(3, activation="softmax"))])
        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["acc"])
        return model

    kmodel, model = _models(build)
    ours, theirs = model.evaluate(x, y, verbose=0), kmodel.evaluate(x, y, verbose=0)
    torch.testing.assert_close(torch.tensor(ours), torch.tensor(theirs), **KERAS_TOL)


def _recorder(base):
    class Recorder(base):
        def __init__(self):
            super().__init__()
            self.calls = []

    hooks = [n for n in dir(base) if n.startswith("on_")]
    for hook in hooks:
        def make(name):
            def fn(self, *args, **kwargs):
                self.calls.append((name, *[a for a in args if isinstance(a, int)]))
                return getattr(base, name)(self, *args, **kwargs)
            return fn
        setattr(Recorder, hook, make(hook))
    return Recorder()


def test_callback_order_matches_keras():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(20, 3)).astype("float32"), rng.integers(0, 2, 20)

    def build(api, layers):
        model = api.Sequential([api.Input((3,)), layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="sgd", loss="binary_crossentropy")
        return model

    kmodel, model = _models(build)
    krec, rec = _recorder(keras.callbacks.Callback), _recorder(lk.callbacks.Callback)
    kmodel.fit(x, y, epochs=2, batch_size=8, validation_split=0.25, callbacks=[krec], verbose=0)
    model.fit(x, y, epochs=2, batch_size=8, validation_split=0.25, callbacks=[rec], verbose=0)
    assert rec.calls == krec.calls
    assert rec.calls[0] == ("on_train_begin",) and rec.calls[-1] == ("on_train_end",)
    for method, kwargs in (("evaluate", {"y": y}), ("predict", {})):
        krec.calls, rec.calls = [], []
        getattr(kmodel, method)(x, batch_size=8, callbacks=[krec], verbose=0, **kwargs)
        getattr(model, method)(x, batch_size=8, callbacks=[rec], verbose=0, **kwargs)
        assert rec.calls == krec.calls, method


@pytest.mark.parametrize("case", ["imdb", "imdb_after_fit", "functional"])
def test_summary_matches_keras_table(case):
    def build(api, layers):
        if case == "functional":
            inp = api.Input((5,), name="inp")
            merged = layers.Concatenate(name="c")([layers.Dense(3, name="a")(inp), layers.Dense(3, name="b")(inp)])
            return api.Model(inp, layers.Dense(1, name="o")(merged), name="f")
        return api.Sequential([api.Input((500,), dtype="int32"), layers.Embedding(10000, 32, name="embedding"),
                               layers.LSTM(32, name="lstm"), layers.Dense(1, activation="sigmoid", name="dense")],
                              name="imdb")
    kmodel, model = build(keras, K), build(lk, L)
    if case == "imdb":
        assert model.count_params() == kmodel.count_params() == 328_353
    if case == "imdb_after_fit":  # Keras then counts the optimizer's slots and its two scalars too
        x, y = np.ones((2, 500), "int32"), np.ones(2)
        for m in (kmodel, model):
            m.compile(optimizer="rmsprop", loss="binary_crossentropy")
            m.fit(x, y, verbose=0)
    k_text, text = [], []
    kmodel.summary(print_fn=k_text.append)
    model.summary(print_fn=text.append)
    assert "".join(text).strip() == "".join(k_text).strip()


@pytest.mark.parametrize("build_name", ["bilstm", "gru_stack", "conv", "functional"])
def test_parameter_counts_match_keras(build_name):
    def build(api, layers):
        if build_name == "bilstm":
            return api.Sequential([api.Input((50,)), layers.Embedding(1000, 16),
                                   layers.Bidirectional(layers.LSTM(8)), layers.Dense(1)])
        if build_name == "gru_stack":
            return api.Sequential([api.Input((7, 3)), layers.GRU(8, return_sequences=True),
                                   layers.GRU(4, reset_after=False), layers.BatchNormalization(), layers.Dense(2)])
        if build_name == "conv":
            return api.Sequential([api.Input((500,)), layers.Embedding(10000, 32), layers.Conv1D(32, 7, activation="relu"),
                                   layers.MaxPooling1D(5), layers.Conv1D(32, 7, activation="relu"),
                                   layers.GlobalMaxPooling1D(), layers.Dense(1)])
        inp = api.Input((9, 4))
        a = layers.LSTM(5, return_sequences=True)(inp)
        b = layers.GRU(5, return_sequences=True, go_backwards=True)(inp)
        merged = layers.Concatenate()([a, b])
        out = layers.Dense(2)(layers.LayerNormalization()(layers.SimpleRNN(3)(merged)))
        return api.Model(inp, out)

    kmodel, model = build(keras, K), build(lk, L)
    assert model.count_params() == kmodel.count_params()
    assert [w.shape for w in model.get_weights()] == [tuple(w.shape) for w in kmodel.get_weights()]
    x = np.random.default_rng(6).integers(1, 900, (2, 50)) if build_name == "bilstm" else None
    if build_name == "functional":
        x = np.random.default_rng(6).normal(size=(2, 9, 4)).astype("float32")
    if x is not None:
        model.set_weights(kmodel.get_weights())
        torch.testing.assert_close(torch.from_numpy(model.predict(x, verbose=0)),
                                   torch.from_numpy(kmodel.predict(x, verbose=0)), **KERAS_TOL)


def test_progress_output_formats(capsys):
    model = lk.Sequential([lk.Input((3,)), L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x, y = np.ones((10, 3), "float32"), np.zeros(10, "float32")
    model.fit(x, y, epochs=2, batch_size=4, verbose=2, validation_split=0.2)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert lines[1].startswith("2/2 - ") and "s/step - loss: " in lines[1] and " - val_mae: " in lines[1]
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    assert capsys.readouterr().out == ""
    model.fit(x, y, epochs=1, batch_size=4, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/1" in out and "3/3 ━━━━━━━━━━━━━━━━━━━━" in out and "/step - loss: " in out
