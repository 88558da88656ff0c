"""The classic IMDB program of Deep Learning with Python, with only its imports changed, on a slice of the
real data (the full run is benchmarks/keras_imdb.py): it runs, learns, and reports what Keras reports."""

import os

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(not os.environ.get("LSTMKIT_DATA_DIR"), reason="needs LSTMKIT_DATA_DIR (imdb.npz)")


@pytest.fixture(scope="module")
def imdb_slice():
    from lstmkit.keras.datasets import imdb
    from lstmkit.keras.preprocessing.sequence import pad_sequences

    (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=10000)
    assert len(x_train) == len(x_test) == 25000
    assert len(x_train[0]) == 218 and x_train[0][0] == 1  # start_char, as the book shows
    x_train = pad_sequences(x_train[:640], maxlen=60)
    x_test = pad_sequences(x_test[:256], maxlen=60)
    return (x_train, y_train[:640]), (x_test, y_test[:256])


def test_the_classic_program_runs_and_learns(imdb_slice, tmp_path, capsys):
    from lstmkit.keras.layers import LSTM, Dense, Embedding
    from lstmkit.keras.models import Sequential
    from lstmkit.keras.utils import plot_history

    (x_train, y_train), (x_test, y_test) = imdb_slice
    model = Sequential()
    model.add(Embedding(10000, 32))
    model.add(LSTM(32))
    model.add(Dense(1, activation="sigmoid"))
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    before = model.evaluate(x_train, y_train, verbose=0)
    history = model.fit(x_train, y_train, epochs=4, batch_size=128, validation_split=0.2)
    after = model.evaluate(x_train, y_train, verbose=0)
    assert after[0] < before[0] and after[1] > 0.6  # trained on 512 reviews, 60 tokens each
    assert list(history.history) == ["acc", "loss", "val_acc", "val_loss"]
    _test_loss, test_acc = model.evaluate(x_test, y_test)
    assert 0.0 <= test_acc <= 1.0
    assert model.predict(x_test[:5]).shape == (5, 1)
    model.summary()
    out = capsys.readouterr().out
    assert "Epoch 4/4" in out and "4/4 ━━━━━━━━━━━━━━━━━━━━" in out
    assert "│ embedding" in out and "(None, 60, 32)" in out and "320,000" in out and "8,320" in out
    assert "Trainable params: 328,353 (1.25 MB)" in out
    assert plot_history(history, tmp_path / "imdb.png").exists()


def test_import_paths_are_keras_paths():
    import lstmkit.keras as keras
    from lstmkit.keras.preprocessing.sequence import pad_sequences
    from lstmkit.keras.utils import pad_sequences as pad2
    from lstmkit.keras.utils import timeseries_dataset_from_array, to_categorical

    assert pad_sequences is pad2
    for module in ("layers", "models", "datasets", "preprocessing", "utils", "optimizers", "losses", "metrics",
                   "callbacks"):
        assert hasattr(keras, module)
    assert keras.layers.LSTM and keras.models.Sequential and keras.Input and keras.Model
    assert callable(keras.datasets.imdb.load_data) and callable(keras.datasets.imdb.get_word_index)
    np.testing.assert_array_equal(to_categorical([0, 2], 3), [[1, 0, 0], [0, 0, 1]])
    assert callable(timeseries_dataset_from_array)
