"""fit options and callbacks: small models learn, validation comes from the end, weights and epochs count,
EarlyStopping / ModelCheckpoint / ReduceLROnPlateau / CSVLogger / LambdaCallback behave as in Keras,
stateful layers keep and reset their states, the functional and subclassed APIs train."""

import csv

import numpy as np
import pytest
import torch

import lstmkit.keras as lk
from lstmkit.keras import callbacks as C
from lstmkit.keras import layers as L


def sequence_task(n=96, t=8, seed=0):
    """Is the sum of the sequence positive? Needs the whole sequence: a recurrent layer learns it quickly."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, t, 1)).astype("float32")
    return x, (x.sum(axis=(1, 2)) > 0).astype("float32")


def small_model(kind="LSTM", optimizer="adam", metrics=("acc",), **kw):
    model = lk.Sequential([lk.Input((8, 1)), getattr(L, kind)(8, **kw), L.Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizer, loss="binary_crossentropy", metrics=list(metrics))
    return model


@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
def test_small_recurrent_models_learn(kind):
    torch.manual_seed(0)
    x, y = sequence_task()
    model = small_model(kind, optimizer=lk.optimizers.Adam(learning_rate=0.02))
    before = model.evaluate(x, y, verbose=0)[0]
    history = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    after = model.evaluate(x, y, verbose=0)[0]
    assert after < 0.7 * before, (before, after)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.epoch == list(range(15)) and len(history.epoch_times) == 15


def test_history_keys_follow_the_metric_names():
    x, y = sequence_task(32)
    h = small_model(metrics=["accuracy"]).fit(x, y, epochs=1, validation_split=0.25, verbose=0)
    assert list(h.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    h = small_model(metrics=[]).fit(x, y, epochs=2, verbose=0)
    assert list(h.history) == ["loss"] and len(h.history["loss"]) == 2


def test_validation_split_takes_the_last_samples():
    """The validation loss of fit equals evaluate() on the last 25%, before any training step changes them."""
    x, y = sequence_task(40)
    model = small_model(optimizer=lk.optimizers.SGD(learning_rate=0.0))  # weights never move
    h = model.fit(x, y, epochs=1, batch_size=7, validation_split=0.25, verbose=0)
    assert h.history["val_loss"][0] == pytest.approx(model.evaluate(x[30:], y[30:], verbose=0)[0], rel=1e-6)
    assert h.history["loss"][0] == pytest.approx(model.evaluate(x[:30], y[:30], verbose=0)[0], rel=1e-5)


def test_shuffle_changes_the_batches_but_not_the_data():
    x, y = sequence_task(40)
    seen = []

    class Spy(C.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(batch)

    model = small_model(optimizer="sgd")
    torch.manual_seed(1)
    a = model.fit(x, y, epochs=1, batch_size=8, shuffle=True, verbose=0, callbacks=[Spy()])
    assert seen == [0, 1, 2, 3, 4] and a.history["loss"]


def test_sample_weight_zero_removes_samples_from_the_loss():
    x, y = sequence_task(16)
    model = small_model()
    sw = np.r_[np.ones(8), np.zeros(8)].astype("float32")
    weighted = model.evaluate(x, y, sample_weight=sw, batch_size=16, verbose=0, return_dict=True)["loss"]
    first_half = model.evaluate(x[:8], y[:8], batch_size=16, verbose=0, return_dict=True)["loss"]
    assert weighted == pytest.approx(first_half / 2, rel=1e-5)  # Keras divides by the batch size, not sum(w)


def test_class_weight_scales_each_class():
    x, y = sequence_task(16)
    model = small_model()
    plain = model.evaluate(x, y, batch_size=16, verbose=0)[0]
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    model.fit(x, y, epochs=1, batch_size=16, class_weight={0: 2.0, 1: 2.0}, verbose=0,
              callbacks=[C.LambdaCallback(on_train_batch_end=lambda b, logs: seen.append(logs["loss"]))])
    assert seen[0] == pytest.approx(2 * plain, rel=1e-5)


seen: list = []


def test_initial_epoch_and_validation_data():
    x, y = sequence_task(32)
    model = small_model()
    h = model.fit(x, y, epochs=4, initial_epoch=2, validation_data=(x[:8], y[:8]), verbose=0)
    assert h.epoch == [2, 3] and len(h.history["val_loss"]) == 2


def test_fit_accepts_lists_tensors_and_batch_iterables():
    x, y = sequence_task(24)
    model = small_model(optimizer="sgd")
    model.fit(x.tolist(), y.tolist(), epochs=1, verbose=0)
    model.fit(torch.from_numpy(x), torch.from_numpy(y), epochs=1, verbose=0)
    batches = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)),
                                          batch_size=8)
    h = model.fit(batches, epochs=2, verbose=0)
    assert len(h.history["loss"]) == 2
    assert model.predict(torch.from_numpy(x), verbose=0).shape == (24, 1)


def test_early_stopping_restores_the_best_weights():
    x, y = sequence_task(32)
    model = small_model(optimizer=lk.optimizers.SGD(learning_rate=0.0))  # no improvement after epoch 0
    stop = C.EarlyStopping(monitor="loss", patience=2, restore_best_weights=True)
    h = model.fit(x, y, epochs=20, verbose=0, callbacks=[stop], shuffle=False)
    assert h.epoch == [0, 1, 2] and stop.stopped_epoch == 2 and model.stop_training


def test_early_stopping_monitors_accuracy_upwards():
    x, y = sequence_task(48)
    model = small_model(optimizer=lk.optimizers.Adam(learning_rate=0.02))
    stop = C.EarlyStopping(monitor="val_acc", patience=50)
    model.fit(x, y, epochs=2, validation_split=0.25, verbose=0, callbacks=[stop])
    assert stop.monitor_op(1.0, 0.5) and stop.best == max(model.history.history["val_acc"])


def test_reduce_lr_on_plateau_lowers_the_learning_rate():
    x, y = sequence_task(16)
    model = small_model(optimizer=lk.optimizers.RMSprop(learning_rate=1e-9))  # too small to move the loss
    cb = C.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_lr=1e-10)
    h = model.fit(x, y, epochs=6, verbose=0, callbacks=[cb], shuffle=False)
    expected = [1e-9, 5e-10, 2.5e-10, 1.25e-10, 1e-10, 1e-10]  # halved after each flat epoch, floored at min_lr
    assert h.history["learning_rate"] == pytest.approx([1e-9, *expected[:-1]], rel=1e-6)
    assert model.optimizer.learning_rate == pytest.approx(1e-10)


def test_model_checkpoint_saves_the_best_model(tmp_path):
    x, y = sequence_task(32)
    model = small_model(optimizer=lk.optimizers.Adam(learning_rate=0.02))
    path = tmp_path / "best-{epoch:02d}.keras"
    model.fit(x, y, epochs=3, validation_split=0.25, verbose=0,
              callbacks=[C.ModelCheckpoint(str(path), monitor="val_loss", save_best_only=True)])
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert saved and saved[0] == "best-01.keras"
    weights_path = tmp_path / "w.weights.safetensors"
    model.fit(x, y, epochs=1, verbose=0, callbacks=[C.ModelCheckpoint(str(weights_path), save_weights_only=True)])
    fresh = small_model()
    fresh.load_weights(weights_path)
    np.testing.assert_array_equal(fresh.predict(x, verbose=0), model.predict(x, verbose=0))


def test_csv_logger_writes_one_row_per_epoch(tmp_path):
    x, y = sequence_task(16)
    path = tmp_path / "log.csv"
    small_model().fit(x, y, epochs=3, validation_split=0.25, verbose=0, callbacks=[C.CSVLogger(path)])
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["epoch", "acc", "loss", "val_acc", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"]
    small_model().fit(x, y, epochs=1, verbose=0, callbacks=[C.CSVLogger(path, append=True)])
    assert len(list(csv.reader(path.open()))) == 5


def test_lambda_and_terminate_on_nan():
    x, y = sequence_task(16)
    epochs = []
    model = small_model()
    model.fit(x, y, epochs=2, verbose=0, callbacks=[C.LambdaCallback(on_epoch_end=lambda e, logs: epochs.append(e))])
    assert epochs == [0, 1]
    x_bad = x.copy()
    x_bad[0, 0, 0] = np.nan
    model.compile(optimizer="sgd", loss="binary_crossentropy")
    h = model.fit(x_bad, y, epochs=3, batch_size=16, verbose=0, callbacks=[C.TerminateOnNaN()])
    assert len(h.epoch) == 1


def test_stateful_layer_keeps_state_between_batches_and_resets():
    layer = L.LSTM(4, stateful=True)
    x = torch.randn(2, 3, 5)
    first = layer(x)
    second = layer(x)
    assert not torch.allclose(first, second)  # the second call started from the first's final state
    layer.reset_state()
    torch.testing.assert_close(layer(x), first)
    with pytest.raises(ValueError, match=r"Layer 'lstm.*' \(LSTM\): is stateful with batch size 2 but got a batch of 3"):
        layer(torch.randn(3, 3, 5))


def test_stateful_model_trains_with_fixed_batches():
    x, y = sequence_task(32)
    model = lk.Sequential([lk.Input(batch_shape=(8, 8, 1)), L.GRU(4, stateful=True), L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    model.reset_states()
    with pytest.raises(ValueError, match="stateful"):
        model.fit(x[:30], y[:30], batch_size=8, epochs=1, verbose=0)


def test_functional_and_subclassed_models_train():
    x, y = sequence_task(32)
    inp = lk.Input((8, 1))
    seq, h, _c = L.LSTM(6, return_sequences=True, return_state=True)(inp)
    merged = L.Concatenate()([L.GlobalAveragePooling1D()(seq), h])
    out = L.Dense(1, activation="sigmoid")(merged)
    model = lk.Model(inp, out)
    assert isinstance(model, lk.Model) and type(model).__name__ == "Functional"
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["acc"])
    h1 = model.fit(x, y, epochs=3, verbose=0)
    assert h1.history["loss"][-1] < h1.history["loss"][0]

    class Classifier(lk.Model):
        def __init__(self):
            super().__init__()
            self.rnn = L.GRU(6)
            self.out = L.Dense(1, activation="sigmoid")

        def call(self, inputs):
            return self.out(self.rnn(inputs))

    sub = Classifier()
    sub.compile(optimizer="adam", loss="binary_crossentropy")
    h2 = sub.fit(x, y, epochs=3, verbose=0)
    assert h2.history["loss"][-1] < h2.history["loss"][0]
    assert sub.count_params() == 3 * (6 * 7 + 12) + 7


def test_regularizers_and_constraints_act_in_training():
    x, y = sequence_task(16)
    model = lk.Sequential([lk.Input((8, 1)), L.LSTM(4, kernel_regularizer="l2", recurrent_constraint="non_neg"),
                           L.Dense(1, kernel_constraint=lk.constraints.MaxNorm(0.5))])
    model.compile(optimizer="sgd", loss="mse")
    base = model.evaluate(x, y, verbose=0)
    penalty = float(sum(p.detach() for p in model.losses))
    assert penalty == pytest.approx(0.01 * float((model.layers[0].get_weights()[0] ** 2).sum()), rel=1e-5)
    h = model.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    assert h.history["loss"][0] == pytest.approx(base + penalty, rel=1e-5)  # the training loss carries the penalty
    assert (model.layers[0].get_weights()[1] >= 0).all()
    assert np.linalg.norm(model.layers[1].get_weights()[0], axis=0).max() <= 0.5 + 1e-6


def test_input_shape_on_the_first_layer_builds_the_model_at_once():
    model = lk.Sequential([L.LSTM(5, input_shape=(8, 1)), L.Dense(1)])
    assert model.built and model.layers[0].output_shape == (None, 5) and model.count_params() == 4 * (5 * 6 + 5) + 6
    x, y = sequence_task(16)
    model.compile(optimizer="sgd", loss="mse")

    def generator():
        for i in range(0, 16, 8):
            yield x[i:i + 8], y[i:i + 8]

    assert len(model.fit(generator(), epochs=1, verbose=0).history["loss"]) == 1  # built: no peeking needed
    unbuilt = lk.Sequential([L.LSTM(5), L.Dense(1)])
    unbuilt.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="fit on a generator needs a built model"):
        unbuilt.fit(generator(), epochs=1, verbose=0)


def test_timeseries_datasets_feed_fit_and_evaluate():
    """The temperature-forecasting program's shape: windows from timeseries_dataset_from_array, GRU, mae."""
    series = np.sin(np.arange(400) / 8.0)[:, None].astype("float32")
    make = lk.utils.timeseries_dataset_from_array
    train = make(series[:-12], series[12:, 0], sequence_length=12, batch_size=32, end_index=300)
    val = make(series[:-12], series[12:, 0], sequence_length=12, batch_size=32, start_index=300)
    model = lk.Sequential([lk.Input((12, 1)), L.GRU(8), L.Dense(1)])
    model.compile(optimizer=lk.optimizers.RMSprop(learning_rate=0.01), loss="mse", metrics=["mae"])
    h = model.fit(train, epochs=4, validation_data=val, verbose=0)
    assert list(h.history) == ["loss", "mae", "val_loss", "val_mae"]
    assert h.history["loss"][-1] < h.history["loss"][0]
    assert model.evaluate(val, verbose=0)[1] == pytest.approx(h.history["val_mae"][-1], rel=1e-5)


def test_validation_freq_counts_epochs_from_zero_with_initial_epoch():
    """Keras validates after the epochs whose 1-based number is a multiple of validation_freq, whatever
    initial_epoch is: from epoch 1 with freq 2, after epochs 1 and 3 (0-based), i.e. 2 of 3 epochs."""
    import keras

    x, y = sequence_task(n=32)
    seen = {}
    for name, lib, layers in (("keras", keras, keras.layers), ("lstmkit", lk, L)):
        validated = []
        model = lib.Sequential([lib.Input((8, 1)), layers.SimpleRNN(2), layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        cb = (keras.callbacks.LambdaCallback if name == "keras" else C.LambdaCallback)(
            on_epoch_end=lambda epoch, logs, out=validated: out.append((epoch, "val_loss" in logs)))
        model.fit(x, y, epochs=4, initial_epoch=1, validation_data=(x, y), validation_freq=2, verbose=0,
                  callbacks=[cb])
        seen[name] = validated
    assert seen["lstmkit"] == seen["keras"] == [(1, True), (2, False), (3, True)]
