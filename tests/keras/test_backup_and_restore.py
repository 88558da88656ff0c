"""BackupAndRestore: a fit interrupted in the middle of an epoch and started again ends with the weights
and logs of an uninterrupted fit, bit for bit, with shuffling, dropout, recurrent dropout and stateful
callbacks on; a damaged or mismatched backup is an error naming the file; the epochs count as Keras'."""

import numpy as np
import pytest
import torch

import lstmkit.keras as lk
from lstmkit.errors import FileFormatError
from lstmkit.keras import callbacks as C
from lstmkit.keras import layers as L
from lstmkit.runtime import set_seed


class Interrupt(Exception):
    pass


class StopMidEpoch(C.Callback):
    """Raises in the middle of epoch `epoch` (as Ctrl-C would), after `batch` batches of it."""

    def __init__(self, epoch, batch=2):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, -1

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == self.batch:
            raise Interrupt


def task(n=120, t=10, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 50, size=(n, t))
    return x, (x.mean(axis=1) > 25).astype("float32")


def model_and_callbacks(seed=0):
    """Built after set_seed, as a fresh process would: the init draws the same numbers each time."""
    set_seed(seed)
    model = lk.Sequential([lk.Input((10,), dtype="int32"), L.Embedding(50, 8),
                           L.LSTM(8, dropout=0.3, recurrent_dropout=0.3), L.Dropout(0.2),
                           L.Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    stateful = [C.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True),
                C.ReduceLROnPlateau(monitor="val_loss", patience=1, factor=0.5)]
    return model, stateful


def fit(model, callbacks, epochs=5):
    x, y = task()
    return model.fit(x, y, epochs=epochs, batch_size=16, validation_split=0.25, shuffle=True, verbose=0,
                     callbacks=callbacks)


def weights(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_resumed_fit_is_bit_identical_to_an_uninterrupted_one(tmp_path):
    model, stateful = model_and_callbacks()
    history = fit(model, stateful)
    expected_weights, expected_logs = weights(model), history.history
    expected_lr = model.optimizer.learning_rate

    model, stateful = model_and_callbacks()
    with pytest.raises(Interrupt):
        fit(model, [*stateful, C.BackupAndRestore(tmp_path / "backup"), StopMidEpoch(epoch=2)])
    assert (tmp_path / "backup" / "checkpoint.safetensors").is_file()

    model, stateful = model_and_callbacks()  # a new process: new model, new callbacks, same seed
    backup = C.BackupAndRestore(tmp_path / "backup")
    history = fit(model, [*stateful, backup])
    assert backup.restored_epoch == 2  # epochs 0 and 1 were done; 2 was cut short and runs again
    assert history.epoch == [2, 3, 4]  # as in Keras: the resumed fit's History has its own epochs
    logs = {k: backup.restored_history[k] + v for k, v in history.history.items()}
    assert logs == expected_logs  # every loss, accuracy and learning rate, exactly
    got = weights(model)
    assert got.keys() == expected_weights.keys()
    for name, value in expected_weights.items():
        assert torch.equal(got[name], value), name
    assert model.optimizer.learning_rate == expected_lr
    assert not (tmp_path / "backup").exists()  # deleted once training ended


def test_without_the_random_state_the_resume_would_differ(tmp_path):
    """The guard of the test above: dropout and shuffling really draw, so a resume that did not restore
    the generators (here: reseeded after the restore) would end elsewhere."""
    model, stateful = model_and_callbacks()
    fit(model, stateful)
    expected = weights(model)

    model, stateful = model_and_callbacks()
    with pytest.raises(Interrupt):
        fit(model, [*stateful, C.BackupAndRestore(tmp_path / "b"), StopMidEpoch(epoch=2)])
    model, stateful = model_and_callbacks()

    class Reseed(C.Callback):
        runs_last = True

        def on_train_begin(self, logs=None):
            torch.manual_seed(123)

    fit(model, [*stateful, C.BackupAndRestore(tmp_path / "b"), Reseed()])
    assert any(not torch.equal(weights(model)[k], v) for k, v in expected.items())


def test_timeseries_shuffling_is_restored(tmp_path):
    """A timeseries dataset keeps its own generator: it is in the backup too."""
    series = np.sin(np.arange(400) / 7.0).astype("float32")[:, None]

    def make():
        set_seed(0)
        data = lk.utils.timeseries_dataset_from_array(series[:-5], series[5:, 0], sequence_length=12,
                                                      batch_size=32, shuffle=True, seed=3)
        model = lk.Sequential([lk.Input((12, 1)), L.GRU(4, dropout=0.2), L.Dense(1)])
        model.compile(optimizer="adam", loss="mse")
        return model, data

    model, data = make()
    model.fit(data, epochs=4, verbose=0)
    expected = weights(model)
    model, data = make()
    with pytest.raises(Interrupt):
        model.fit(data, epochs=4, verbose=0, callbacks=[C.BackupAndRestore(tmp_path / "b"), StopMidEpoch(2, 1)])
    model, data = make()
    model.fit(data, epochs=4, verbose=0, callbacks=[C.BackupAndRestore(tmp_path / "b")])
    for name, value in expected.items():
        assert torch.equal(weights(model)[name], value), name


def test_a_damaged_backup_names_the_file(tmp_path):
    model, _ = model_and_callbacks()
    with pytest.raises(Interrupt):
        fit(model, [C.BackupAndRestore(tmp_path), StopMidEpoch(epoch=1)])
    path = tmp_path / "checkpoint.safetensors"
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data[: len(data) // 2]))  # a copy cut short
    model, _ = model_and_callbacks()
    with pytest.raises(FileFormatError, match=r"checkpoint\.safetensors: not a readable checkpoint"):
        fit(model, [C.BackupAndRestore(tmp_path)])


def test_double_checkpoint_falls_back_to_the_previous(tmp_path):
    model, _ = model_and_callbacks()
    with pytest.raises(Interrupt):
        fit(model, [C.BackupAndRestore(tmp_path, double_checkpoint=True), StopMidEpoch(epoch=2)])
    (tmp_path / "checkpoint.safetensors").write_bytes(b"garbage")
    model, _ = model_and_callbacks()
    backup = C.BackupAndRestore(tmp_path, double_checkpoint=True)
    with pytest.warns(UserWarning, match="previous backup"):
        history = fit(model, [backup])
    assert backup.restored_epoch == 1 and history.epoch == [1, 2, 3, 4]


def test_a_backup_of_other_callbacks_is_refused(tmp_path):
    model, stateful = model_and_callbacks()
    with pytest.raises(Interrupt):
        fit(model, [*stateful, C.BackupAndRestore(tmp_path), StopMidEpoch(epoch=1)])
    model, _ = model_and_callbacks()
    with pytest.raises(FileFormatError, match="give fit the same callbacks"):
        fit(model, [C.BackupAndRestore(tmp_path)])


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="save_freq='epoch'"):
        C.BackupAndRestore("b", save_freq=10)
    with pytest.raises(ValueError, match="backup_dir"):
        C.BackupAndRestore("")


def test_epoch_numbers_match_keras(tmp_path):
    """Real Keras resumes at the epoch after the last backed-up one and its History lists those epochs."""
    import keras

    x, y = task()

    class KerasStop(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise Interrupt

    def keras_model():
        m = keras.Sequential([keras.Input((10,)), keras.layers.Embedding(50, 4), keras.layers.LSTM(4),
                              keras.layers.Dense(1, activation="sigmoid")])
        m.compile(optimizer="rmsprop", loss="binary_crossentropy")
        return m

    with pytest.raises(Interrupt):
        keras_model().fit(x, y, epochs=4, verbose=0, callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path / "k")),
                                                                 KerasStop()])
    keras_epochs = keras_model().fit(x, y, epochs=4, verbose=0,
                                     callbacks=[keras.callbacks.BackupAndRestore(str(tmp_path / "k"))]).epoch

    class OurStop(C.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 2:
                raise Interrupt

    model, _ = model_and_callbacks()
    with pytest.raises(Interrupt):
        fit(model, [C.BackupAndRestore(tmp_path / "l"), OurStop()], epochs=4)
    model, _ = model_and_callbacks()
    ours = fit(model, [C.BackupAndRestore(tmp_path / "l")], epochs=4).epoch
    assert ours == keras_epochs == [2, 3]
