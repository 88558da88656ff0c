"""Deep Learning with Python, 2nd edition, chapter 11 (parts 1 and 2): aclImdb folders, 20% of the training
files moved to a validation folder, text_dataset_from_directory, TextVectorization adapted on
`train_ds.map(lambda x, y: x)`, then a multi_hot bag-of-words Dense model and an int-sequence
Embedding + Bidirectional LSTM model. On lstmkit.keras only: Keras 3's TextVectorization and text datasets
need TensorFlow (tf.data, tf.strings)."""

import os
import pathlib
import random
import shutil

import numpy as np
import pytest

from lstmkit import keras
from lstmkit.keras import layers
from tests.keras.programs.real_data import write_aclimdb

batch_size = 32
max_tokens = 2000


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    base_dir = write_aclimdb(tmp_path_factory.mktemp("imdb"), {"train": 100, "test": 40})
    val_dir = base_dir / "val"
    train_dir = base_dir / "train"
    for category in ("neg", "pos"):
        os.makedirs(val_dir / category)
        files = sorted(os.listdir(train_dir / category))
        random.Random(1337).shuffle(files)
        num_val_samples = int(0.2 * len(files))
        val_files = files[-num_val_samples:]
        for fname in val_files:
            shutil.move(train_dir / category / fname, val_dir / category / fname)
    train_ds = keras.utils.text_dataset_from_directory(str(train_dir), batch_size=batch_size, verbose=False)
    val_ds = keras.utils.text_dataset_from_directory(str(val_dir), batch_size=batch_size, verbose=False)
    test_ds = keras.utils.text_dataset_from_directory(str(base_dir / "test"), batch_size=batch_size,
                                                      verbose=False)
    return pathlib.Path(base_dir), train_ds, val_ds, test_ds


def test_the_folders_read_as_the_book_shows(datasets):
    _, train_ds, val_ds, test_ds = datasets
    for inputs, targets in train_ds.take(1):
        assert inputs.shape == (batch_size,) and targets.shape == (batch_size,)
        assert isinstance(inputs.numpy()[0], (str, bytes))
        assert set(targets.numpy().tolist()) <= {0, 1}
    counts = [sum(len(y) for _, y in ds) for ds in (train_ds, val_ds, test_ds)]
    assert counts == [160, 40, 80]


def test_bag_of_words_multi_hot_model(datasets):
    _, train_ds, val_ds, test_ds = datasets
    text_vectorization = layers.TextVectorization(max_tokens=max_tokens, output_mode="multi_hot")
    text_only_train_ds = train_ds.map(lambda x, y: x)
    text_vectorization.adapt(text_only_train_ds)
    binary_1gram_train_ds = train_ds.map(lambda x, y: (text_vectorization(x), y))
    binary_1gram_val_ds = val_ds.map(lambda x, y: (text_vectorization(x), y))
    binary_1gram_test_ds = test_ds.map(lambda x, y: (text_vectorization(x), y))
    for inputs, targets in binary_1gram_train_ds.take(1):
        x = np.asarray(inputs.numpy())
        assert x.shape == (batch_size, max_tokens) and targets.shape == (batch_size,)
        assert set(np.unique(x)) <= {0.0, 1.0} and x.sum(axis=1).min() > 10
    vocabulary = text_vectorization.get_vocabulary()
    assert len(vocabulary) == max_tokens and vocabulary[:2] == ["[UNK]", "the"]

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(max_tokens,))
    x = layers.Dense(16, activation="relu")(inputs)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(binary_1gram_train_ds.cache(), validation_data=binary_1gram_val_ds.cache(), epochs=5,
                        verbose=0).history
    assert history["loss"][-1] < history["loss"][0] and history["accuracy"][-1] > 0.8
    test_loss, test_acc = model.evaluate(binary_1gram_test_ds, verbose=0)
    assert 0 <= test_acc <= 1 and np.isfinite(test_loss)
    probabilities = np.asarray(model.predict(binary_1gram_test_ds, verbose=0))
    assert probabilities.shape == (80, 1) and ((probabilities > 0) & (probabilities < 1)).all()


def test_int_sequences_embedding_bidirectional_lstm(datasets):
    _, train_ds, val_ds, _ = datasets
    max_length = 120
    text_vectorization = layers.TextVectorization(max_tokens=max_tokens, output_mode="int",
                                                  output_sequence_length=max_length)
    text_vectorization.adapt(train_ds.map(lambda x, y: x))
    int_train_ds = train_ds.map(lambda x, y: (text_vectorization(x), y), num_parallel_calls=4)
    int_val_ds = val_ds.map(lambda x, y: (text_vectorization(x), y), num_parallel_calls=4)
    for inputs, _ in int_train_ds.take(1):
        ids = np.asarray(inputs.numpy())
        assert ids.shape == (batch_size, max_length) and np.issubdtype(ids.dtype, np.integer)
        assert ids.min() >= 0 and ids.max() < max_tokens and (ids == 1).any()  # 1 is [UNK] past 2,000 words

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(None,), dtype="int64")
    embedded = layers.Embedding(input_dim=max_tokens, output_dim=16, mask_zero=True)(inputs)
    x = layers.Bidirectional(layers.LSTM(8))(embedded)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(int_train_ds, validation_data=int_val_ds, epochs=3, verbose=0).history
    assert sorted(history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert history["loss"][-1] < history["loss"][0]
    assert model.count_params() == max_tokens * 16 + 2 * 4 * (8 * (16 + 8) + 8) + 17
