"""Keras 2 names that Keras 3 dropped, on lstmkit.keras, checked against Keras 2's documented behaviour:
fit_generator trains as fit over the same batches, lr= is learning_rate=, decay= is Keras 2's inverse-time
decay, K.get_value/set_value reach the optimizer's rate; each emits a DeprecationWarning naming the Keras 3
spelling. `fit` on a generator with steps_per_epoch (Keras 3 has it) runs on Keras too."""

import keras
import numpy as np
import pytest
import torch
from packaging.version import Version

import lstmkit.keras as lk
from lstmkit.keras import backend as K
from tests.keras.programs.book import generator
from tests.tolerances import KERAS_TOL

N, T, F, BATCH = 24, 5, 3, 6


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, T, F)).astype("float32")
    return x, (x.sum(axis=(1, 2)) > 0).astype("float32")


def batches(x, y, batch=BATCH, forever=True):
    """A Keras 2 style generator: the batches in order, again and again."""
    while True:
        for start in range(0, len(x), batch):
            yield x[start:start + batch], y[start:start + batch]
        if not forever:
            return


def pair(lib=lk, optimizer=None):
    """Two models with the same initial weights."""
    def make():
        m = lib.Sequential([lib.Input((T, F)), lib.layers.LSTM(4), lib.layers.Dense(1, activation="sigmoid")])
        m.compile(optimizer=optimizer() if optimizer else lib.optimizers.SGD(learning_rate=0.1),
                  loss="binary_crossentropy", metrics=["accuracy"])
        return m
    a, b = make(), make()
    b.set_weights(a.get_weights())
    return a, b


def assert_same_weights(a, b):
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)


# ----- __version__ -----------------------------------------------------------------------------------
def test_version_reads_as_keras_3_and_names_lstmkit():
    v = lk.__version__
    assert v.startswith("3") and int(v.split(".")[0]) == 3
    assert Version(v) >= Version("3.0") and Version(v).public == keras.__version__
    assert "lstmkit" in v


# ----- generators ------------------------------------------------------------------------------------
@pytest.mark.parametrize("lib", [keras, lk], ids=["keras", "lstmkit"])
def test_fit_on_a_generator_with_steps_per_epoch_equals_fit_on_the_arrays(lib):
    x, y = data()
    a, b = pair(lib)
    a.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    b.fit(batches(x, y), steps_per_epoch=N // BATCH, epochs=2, shuffle=False, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)


def test_fit_generator_equals_fit_over_the_same_batches():
    x, y = data()
    a, b = pair()
    ha = a.fit(x, y, batch_size=BATCH, epochs=3, shuffle=False, verbose=0)
    with pytest.warns(DeprecationWarning, match=r"fit_generator.*model\.fit\(generator, steps_per_epoch"):
        hb = b.fit_generator(batches(x, y), steps_per_epoch=N // BATCH, epochs=3, verbose=0, max_queue_size=4,
                             workers=2, use_multiprocessing=False)
    assert_same_weights(a, b)
    assert hb.history["loss"] == ha.history["loss"] and hb.history["accuracy"] == ha.history["accuracy"]


def test_fit_generator_validates_on_a_generator_or_a_tuple():
    x, y = data()
    vx, vy = data(seed=1)
    model = pair()[0]
    with pytest.warns(DeprecationWarning):
        h = model.fit_generator(batches(x, y), steps_per_epoch=N // BATCH, epochs=2, verbose=0,
                                validation_data=batches(vx, vy), validation_steps=N // BATCH)
    loss, acc = model.evaluate(vx, vy, batch_size=BATCH, verbose=0)
    assert h.history["val_loss"][-1] == pytest.approx(loss, rel=1e-6)
    assert h.history["val_accuracy"][-1] == pytest.approx(acc, rel=1e-6)
    with pytest.warns(DeprecationWarning):
        h = model.fit_generator(batches(x, y), steps_per_epoch=N // BATCH, epochs=1, verbose=0,
                                validation_data=(vx, vy))
    assert h.history["val_loss"][-1] == pytest.approx(model.evaluate(vx, vy, verbose=0)[0], rel=1e-6)


def test_fit_generator_with_class_weight_equals_fit_with_class_weight():
    x, y = data()
    a, b = pair()
    unweighted = pair()[0]
    unweighted.set_weights(a.get_weights())
    weights = {0: 0.25, 1: 2.0}
    a.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, class_weight=weights, verbose=0)
    with pytest.warns(DeprecationWarning):
        b.fit_generator(batches(x, y), steps_per_epoch=N // BATCH, epochs=2, class_weight=weights, verbose=0)
    assert_same_weights(a, b)
    with pytest.warns(DeprecationWarning):
        unweighted.fit_generator(batches(x, y), steps_per_epoch=N // BATCH, epochs=2, verbose=0)
    assert any(not np.array_equal(wb, wu) for wb, wu in zip(b.get_weights(), unweighted.get_weights()))


def test_evaluate_and_predict_generator_equal_evaluate_and_predict():
    x, y = data()
    model = pair()[0]
    with pytest.warns(DeprecationWarning, match="evaluate_generator"):
        got = model.evaluate_generator(batches(x, y), steps=N // BATCH)
    assert got == pytest.approx(model.evaluate(x, y, batch_size=BATCH, verbose=0), rel=1e-6)
    with pytest.warns(DeprecationWarning, match="predict_generator"):
        pred = model.predict_generator((xb for xb, _ in batches(x, y)), steps=N // BATCH)
    np.testing.assert_array_equal(pred, model.predict(x, batch_size=BATCH, verbose=0))


class Batches:
    """A Keras 2 `keras.utils.Sequence`: __len__, __getitem__ and on_epoch_end, no __iter__."""

    def __init__(self, x, y):
        self.x, self.y, self.epochs_ended = x, y, 0

    def __len__(self):
        return len(self.x) // BATCH

    def __getitem__(self, i):
        return self.x[i * BATCH:(i + 1) * BATCH], self.y[i * BATCH:(i + 1) * BATCH]

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_fit_generator_reads_a_sequence_and_calls_on_epoch_end():
    x, y = data()
    a, b = pair()
    a.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    seq = Batches(x, y)
    with pytest.warns(DeprecationWarning):
        b.fit_generator(seq, epochs=2, shuffle=False, verbose=0)  # no steps_per_epoch: a Sequence has a length
    assert_same_weights(a, b)
    assert seq.epochs_ended == 2


def test_fit_generator_refuses_what_keras_2_refused():
    x, y = data()
    model = pair()[0]
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="`steps_per_epoch=None` is only valid"):
        model.fit_generator(batches(x, y), epochs=1)
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="`validation_steps=None`"):
        model.fit_generator(batches(x, y), steps_per_epoch=2, validation_data=batches(x, y))
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match=r"must be a generator.*got ndarray"):
        model.fit_generator(x, steps_per_epoch=2)


# ----- optimizers --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["SGD", "RMSprop", "Adam", "AdamW", "Adagrad"])
def test_every_optimizer_takes_lr_as_learning_rate(name):
    cls = getattr(lk.optimizers, name)
    with pytest.warns(DeprecationWarning, match="lr= .*write learning_rate="):
        opt = cls(lr=0.05)
    assert opt.learning_rate == 0.05
    assert opt.get_config() == cls(learning_rate=0.05).get_config()


def test_lr_trains_as_learning_rate():
    x, y = data()
    with pytest.warns(DeprecationWarning):
        a = pair(optimizer=lambda: lk.optimizers.RMSprop(lr=0.01))[0]
    c = pair(optimizer=lambda: lk.optimizers.RMSprop(learning_rate=0.01))[0]
    c.set_weights(a.get_weights())
    a.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    c.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    assert_same_weights(a, c)


def one_weight(opt, grads):
    """A parameter of 0 moved by the optimizer through these gradients."""
    p = torch.zeros(1, requires_grad=True)
    opt.build([p])
    for g in grads:
        p.grad = torch.full((1,), float(g))
        opt.apply()
    return float(p.detach())


def test_decay_is_keras_2s_inverse_time_decay():
    """Keras 2: lr_t = lr / (1 + decay * iterations), iterations counted before the update."""
    with pytest.warns(DeprecationWarning, match="decay= .*InverseTimeDecay"):
        opt = lk.optimizers.SGD(learning_rate=0.1, decay=0.5)
    assert one_weight(opt, [1.0, 1.0, 1.0]) == pytest.approx(-0.1 * (1 + 1 / 1.5 + 1 / 2.0), rel=1e-6)
    assert opt.learning_rate == 0.1  # Keras 2's `lr` stayed the initial rate
    assert one_weight(lk.optimizers.SGD(learning_rate=0.1), [1.0, 1.0, 1.0]) == pytest.approx(-0.3, rel=1e-6)
    with pytest.raises(ValueError, match="decay must be a non-negative number"):
        lk.optimizers.SGD(decay=-1.0)


def test_epsilon_none_is_keras_2s_backend_epsilon():
    with pytest.warns(DeprecationWarning, match="epsilon=None"):
        opt = lk.optimizers.Adam(epsilon=None)
    assert opt.epsilon == 1e-7


def test_optimizer_lr_attribute_reads_and_sets_the_learning_rate():
    opt = lk.optimizers.SGD(learning_rate=0.1)
    with pytest.warns(DeprecationWarning, match=r"optimizer\.lr .*optimizer\.learning_rate"):
        assert opt.lr == 0.1
    with pytest.warns(DeprecationWarning):
        opt.lr = 0.02
    assert opt.learning_rate == 0.02
    assert one_weight(opt, [1.0]) == pytest.approx(-0.02, rel=1e-6)
    opt.learning_rate.assign(0.5)  # Keras 3's variable method
    assert opt.learning_rate == 0.5


def test_set_value_and_get_value_of_the_optimizers_learning_rate():
    """The Keras 2 idiom of the books' schedules: K.set_value(model.optimizer.lr, new_lr)."""
    model = pair()[0]
    with pytest.warns(DeprecationWarning):
        K.set_value(model.optimizer.lr, 0.003)
    assert model.optimizer.learning_rate == 0.003
    with pytest.warns(DeprecationWarning, match="get_value"):
        got = K.get_value(model.optimizer.learning_rate)
    assert isinstance(got, np.float32) and got == np.float32(0.003)
    with pytest.warns(DeprecationWarning), pytest.raises(TypeError, match="learning_rate"):
        K.set_value(0.01, 0.5)  # a bare number has nothing to set


def test_a_schedule_cannot_be_set_through_assign():
    opt = lk.optimizers.SGD(learning_rate=lambda step: 0.1 / (1 + step))
    with pytest.raises(TypeError, match="learning-rate schedule"):
        opt.learning_rate.assign(0.5)


# ----- backend: Keras 2's functions ---------------------------------------------------------------
def test_int_shape_count_params_get_value_and_set_value_of_variables():
    inp = lk.Input((None, 7))
    with pytest.warns(DeprecationWarning, match=r"int_shape.*x\.shape"):
        assert K.int_shape(inp) == (None, None, 7)
    with pytest.warns(DeprecationWarning):
        assert K.int_shape(np.zeros((2, 3))) == (2, 3)
    dense = lk.layers.Dense(3)
    dense.build((None, 4))
    with pytest.warns(DeprecationWarning, match="count_params"):
        assert K.count_params(dense.kernel) == 12
    with pytest.warns(DeprecationWarning):
        np.testing.assert_array_equal(K.get_value(dense.kernel), dense.get_weights()[0])
    with pytest.warns(DeprecationWarning):
        K.set_value(dense.kernel, np.ones((4, 3), "float32"))
    np.testing.assert_array_equal(dense(np.ones((1, 4), "float32")).detach().numpy(), np.full((1, 3), 4.0))
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="symbolic"):
        K.get_value(inp)


def test_keras_2_tensor_functions_equal_numpy_with_keras_2_defaults():
    x = np.arange(6, dtype="float32").reshape(2, 3) - 2.5
    t = torch.from_numpy(x)
    with pytest.warns(DeprecationWarning):
        cases = [(K.mean(t, axis=1), x.mean(axis=1)), (K.sum(t), x.sum()), (K.square(t), x ** 2),
                 (K.sqrt(K.abs(t)), np.sqrt(np.abs(x))), (K.clip(t, -1.0, 1.0), np.clip(x, -1, 1)),
                 (K.max(t, axis=0), x.max(axis=0)), (K.exp(t), np.exp(x)),
                 (K.concatenate([t, t]), np.concatenate([x, x], axis=-1)),  # Keras 2 joins on the last axis
                 (K.argmax(t), x.argmax(axis=-1))]  # Keras 2's default axis is the last
    for got, expected in cases:
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-6)
    with pytest.warns(DeprecationWarning, match=r"K?keras\.backend\.mean\(\).*keras\.ops\.mean"):
        K.mean(t)


def test_graph_functions_are_refused_with_the_alternative():
    with pytest.raises(NotImplementedError, match=r"keras\.Model\(model\.input, layer\.output\)"):
        K.function([lk.Input((3,))], [lk.Input((3,))])
    with pytest.raises(NotImplementedError, match=r"torch\.autograd\.grad"):
        K.gradients(None, None)


# ----- ModelCheckpoint with HDF5 weight names ----------------------------------------------------
@pytest.mark.parametrize("lib", [keras, lk], ids=["keras", "lstmkit"])
def test_model_checkpoint_passes_weights_h5_names_to_save_weights(lib, tmp_path, monkeypatch):
    x, y = data()
    model = pair(lib)[0]
    saved = []
    monkeypatch.setattr(model, "save_weights", lambda path, *a, **kw: saved.append(str(path)))
    pattern = str(tmp_path / "w-{epoch:02d}.weights.h5")
    model.fit(x, y, epochs=2, verbose=0,
              callbacks=[lib.callbacks.ModelCheckpoint(pattern, save_weights_only=True)])
    assert saved == [str(tmp_path / "w-01.weights.h5"), str(tmp_path / "w-02.weights.h5")]


def test_model_checkpoint_takes_keras_2s_h5_weight_names_with_a_warning(tmp_path, monkeypatch):
    x, y = data()
    model = pair()[0]
    saved = []
    monkeypatch.setattr(model, "save_weights", lambda path, *a, **kw: saved.append(str(path)))
    with pytest.warns(DeprecationWarning, match=r"'\.h5' is Keras 2's; Keras 3 names it '\.weights\.h5'"):
        checkpoint = lk.callbacks.ModelCheckpoint(str(tmp_path / "best.h5"), save_weights_only=True)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[checkpoint])
    assert saved == [str(tmp_path / "best.h5")]
    with pytest.raises(ValueError, match=r"'\.weights\.h5' or '\.weights\.safetensors', got '.*w\.txt'"):
        lk.callbacks.ModelCheckpoint(str(tmp_path / "w.txt"), save_weights_only=True)


# ----- a Keras 2 program from the book, with only its imports changed ----------------------------------
def temperatures():
    """Melbourne's daily minimum temperatures (real data), normalised, with the day of the year beside."""
    import csv
    import os

    with open(os.path.join(os.environ["LSTMKIT_DATA_DIR"], "daily-min-temperatures.csv")) as f:
        rows = list(csv.reader(f))[1:]
    temp = np.array([float(r[1]) for r in rows])
    day = np.arange(len(temp)) % 365 / 365.0
    data = np.stack([day, temp], axis=1)
    return (data - data[:2000].mean(axis=0)) / data[:2000].std(axis=0)


def run_book_program(lib, initial_weights=None):
    from_keras_2 = lib is lk  # Keras 3 has no fit_generator: its program is written with fit
    float_data = temperatures()
    lookback, step, delay, batch_size = 30, 3, 1, 32
    train_gen = generator(float_data, lookback, delay, 0, 2000, batch_size=batch_size, step=step)
    val_gen = generator(float_data, lookback, delay, 2001, 2500, step=step, batch_size=batch_size)
    fresh_val_gen = generator(float_data, lookback, delay, 2001, 2500, step=step, batch_size=batch_size)
    model = lib.Sequential()
    model.add(lib.Input((None, float_data.shape[-1])))
    model.add(lib.layers.GRU(8))
    model.add(lib.layers.Dense(1))
    if initial_weights is not None:
        model.set_weights(initial_weights)
    initial_weights = model.get_weights()
    if from_keras_2:
        with pytest.warns(DeprecationWarning):
            model.compile(optimizer=lib.optimizers.RMSprop(lr=0.001), loss="mae")
        with pytest.warns(DeprecationWarning, match="fit_generator"):
            history = model.fit_generator(train_gen, steps_per_epoch=6, epochs=2, validation_data=val_gen,
                                          validation_steps=3, verbose=0)
    else:
        model.compile(optimizer=lib.optimizers.RMSprop(learning_rate=0.001), loss="mae")
        history = model.fit(train_gen, steps_per_epoch=6, epochs=2, validation_data=val_gen, validation_steps=3,
                            verbose=0, shuffle=False)
    return initial_weights, history.history, model, fresh_val_gen


def test_the_books_fit_generator_program_trains_as_keras_3s_fit():
    """The same weights to start: the Keras 2 program on lstmkit gives Keras 3's training losses and first
    validation loss. Each later validation takes the next `validation_steps` batches of the generator, as
    Keras 2 documents (Keras 3.15.1 draws one new batch per later epoch, so its later val_loss differs)."""
    initial, theirs, _, _ = run_book_program(keras)
    _, ours, model, val_gen = run_book_program(lk, initial_weights=initial)
    assert sorted(ours) == ["loss", "val_loss"] and len(ours["loss"]) == 2
    torch.testing.assert_close(torch.tensor(ours["loss"]), torch.tensor(theirs["loss"]), **KERAS_TOL)
    torch.testing.assert_close(torch.tensor(ours["val_loss"][0]), torch.tensor(theirs["val_loss"][0]), **KERAS_TOL)
    for _ in range(3):  # the batches of the first validation
        next(val_gen)
    assert ours["val_loss"][1] == pytest.approx(model.evaluate(val_gen, steps=3, verbose=0), rel=1e-6)


def test_predict_classes_and_predict_proba_are_keras_2s():
    x, _ = data()
    binary = pair()[0]
    with pytest.warns(DeprecationWarning, match=r'\(model\.predict\(x\) > 0\.5\)\.astype\("int32"\)'):
        classes = binary.predict_classes(x)
    proba = binary.predict(x, verbose=0)
    np.testing.assert_array_equal(classes, (proba > 0.5).astype("int32"))
    assert classes.dtype == np.int32
    several = lk.Sequential([lk.Input((T, F)), lk.layers.LSTM(4), lk.layers.Dense(3, activation="softmax")])
    with pytest.warns(DeprecationWarning, match=r"np\.argmax\(model\.predict\(x\), axis=-1\)"):
        np.testing.assert_array_equal(several.predict_classes(x), several.predict(x, verbose=0).argmax(-1))
    with pytest.warns(DeprecationWarning, match="predict_proba"):
        np.testing.assert_array_equal(binary.predict_proba(x), proba)
    linear = lk.Sequential([lk.Input((T, F)), lk.layers.LSTM(4), lk.layers.Dense(1)])
    linear.set_weights([w * 50 for w in linear.get_weights()])
    with pytest.warns(DeprecationWarning), pytest.warns(UserWarning, match=r"outside \[0, 1\]"):
        linear.predict_proba(x)


def text_generation_program(lib, text, initial_weights=None):
    """Deep Learning with Python (1st edition, 8.1), small: one-hot np.bool_ windows of characters, an LSTM,
    RMSprop(lr=0.01) on Keras 2 (learning_rate= on Keras 3), then sampling with a temperature."""
    maxlen, step = 20, 3
    sentences, next_chars = [], []
    for i in range(0, len(text) - maxlen, step):
        sentences.append(text[i: i + maxlen])
        next_chars.append(text[i + maxlen])
    chars = sorted(list(set(text)))
    char_indices = dict((char, chars.index(char)) for char in chars)
    x = np.zeros((len(sentences), maxlen, len(chars)), dtype=np.bool_)
    y = np.zeros((len(sentences), len(chars)), dtype=np.bool_)
    for i, sentence in enumerate(sentences):
        for t, char in enumerate(sentence):
            x[i, t, char_indices[char]] = 1
        y[i, char_indices[next_chars[i]]] = 1
    model = lib.models.Sequential()
    model.add(lib.Input((maxlen, len(chars))))
    model.add(lib.layers.LSTM(16))
    model.add(lib.layers.Dense(len(chars), activation="softmax"))
    if initial_weights is not None:
        model.set_weights(initial_weights)
    initial_weights = model.get_weights()
    if lib is lk:
        with pytest.warns(DeprecationWarning, match="lr="):
            optimizer = lib.optimizers.RMSprop(lr=0.01)
    else:
        optimizer = lib.optimizers.RMSprop(learning_rate=0.01)
    model.compile(loss="categorical_crossentropy", optimizer=optimizer)
    history = model.fit(x, y, batch_size=128, epochs=2, shuffle=False, verbose=0)
    seed = text[:maxlen]
    x_pred = np.zeros((1, maxlen, len(chars)))
    for t, char in enumerate(seed):
        x_pred[0, t, char_indices[char]] = 1.0
    preds = model.predict(x_pred, verbose=0)[0]
    return initial_weights, history.history["loss"], preds


def test_the_books_text_generation_program_on_bool_data_gives_keras_losses():
    import gzip
    import os

    with gzip.open(os.path.join(os.environ["LSTMKIT_DATA_DIR"], "imdb_reviews.csv.gz"), "rt",
                   encoding="utf-8") as f:
        text = f.read(3000).lower()  # real text: the header and the first reviews
    initial, theirs, their_preds = text_generation_program(keras, text)
    _, ours, our_preds = text_generation_program(lk, text, initial_weights=initial)
    torch.testing.assert_close(torch.tensor(ours), torch.tensor(theirs), **KERAS_TOL)
    np.testing.assert_allclose(our_preds, their_preds, **KERAS_TOL)
    assert our_preds.sum() == pytest.approx(1.0, rel=1e-5)


def test_model_checkpoint_weights_h5_files_load_into_keras(tmp_path):
    """The file ModelCheckpoint writes through save_weights is Keras' own weights file."""
    x, y = data()
    model = pair()[0]
    path = tmp_path / "best.weights.h5"
    model.fit(x, y, epochs=1, verbose=0, callbacks=[lk.callbacks.ModelCheckpoint(str(path), save_weights_only=True)])
    theirs = keras.Sequential([keras.Input((T, F)), keras.layers.LSTM(4), keras.layers.Dense(1, activation="sigmoid")])
    theirs.load_weights(str(path))
    for ours_w, their_w in zip(model.get_weights(), theirs.get_weights(), strict=True):
        np.testing.assert_array_equal(ours_w, their_w)
