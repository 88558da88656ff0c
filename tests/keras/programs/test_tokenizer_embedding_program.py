"""Deep Learning with Python, 1st edition, 6.1 ("using word embeddings" on raw IMDB text): Keras 2's
Tokenizer, texts_to_sequences, pad_sequences, then Embedding + Flatten + Dense (and 6.2's Embedding + LSTM),
fit with validation_split=0.2. Tokenizer is Keras 2's (lstmkit has it; Keras 3 does not), so the sequences come
from lstmkit and the models run on both Keras 3 and lstmkit.keras through `K`."""

import warnings

import numpy as np
import pytest

from tests.keras.programs.real_data import reviews

maxlen = 100
training_samples = 240
max_words = 2000


@pytest.fixture(scope="module")
def sequences():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the import names Keras 3's spelling
        from lstmkit.keras.preprocessing.text import Tokenizer
    from lstmkit.keras.preprocessing.sequence import pad_sequences

    pairs = reviews("train", 150)
    texts = [t for t, _ in pairs]
    labels = [y for _, y in pairs]
    tokenizer = Tokenizer(num_words=max_words)
    tokenizer.fit_on_texts(texts)
    sequences = tokenizer.texts_to_sequences(texts)
    word_index = tokenizer.word_index
    data = pad_sequences(sequences, maxlen=maxlen)
    labels = np.asarray(labels)
    indices = np.random.default_rng(0).permutation(data.shape[0])
    return texts, sequences, word_index, data[indices], labels[indices]


def test_the_tokenizer_gives_the_books_arrays(sequences):
    _texts, seqs, word_index, data, labels = sequences
    assert data.shape == (300, maxlen) and data.dtype == np.int32 and labels.shape == (300,)
    assert word_index["the"] == 1  # the commonest word ranks first
    assert len(word_index) > max_words  # the index keeps every word; num_words cuts when converting
    assert all(0 < i < max_words for s in seqs for i in s)
    long = next(i for i, s in enumerate(seqs) if len(s) > maxlen)
    short = next(i for i, s in enumerate(seqs) if len(s) < maxlen)
    from lstmkit.keras.preprocessing.sequence import pad_sequences

    rows = pad_sequences([seqs[long], seqs[short]], maxlen=maxlen)
    np.testing.assert_array_equal(rows[0], seqs[long][-maxlen:])  # truncating="pre" keeps the end
    np.testing.assert_array_equal(rows[1, maxlen - len(seqs[short]):], seqs[short])  # padding="pre"
    assert not rows[1, :maxlen - len(seqs[short])].any()


@pytest.mark.parametrize("head", ["flatten_dense", "lstm"])
def test_embedding_models_train_with_validation_split(K, sequences, head):
    _, _, _, data, labels = sequences
    x_train, y_train = data[:training_samples], labels[:training_samples]
    x_val, y_val = data[training_samples:], labels[training_samples:]
    K.utils.set_random_seed(1)
    model = K.models.Sequential()
    model.add(K.Input(shape=(maxlen,)))
    if head == "flatten_dense":
        model.add(K.layers.Embedding(max_words, 8))
        model.add(K.layers.Flatten())
        model.add(K.layers.Dense(32, activation="relu"))
    else:
        model.add(K.layers.Embedding(max_words, 16))
        model.add(K.layers.LSTM(8))
    model.add(K.layers.Dense(1, activation="sigmoid"))
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    history = model.fit(x_train, y_train, epochs=4, batch_size=32, validation_split=0.2, verbose=0)
    h = history.history
    assert sorted(h) == ["acc", "loss", "val_acc", "val_loss"] and len(h["loss"]) == 4
    assert h["loss"][-1] < h["loss"][0]
    assert h["acc"][-1] > 0.6  # it fits its 192 training reviews
    # validation_split holds out the last 20% of the arrays: their loss is val_loss of the last epoch
    held_out = model.evaluate(x_train[192:], y_train[192:], verbose=0)[0]
    assert held_out == pytest.approx(h["val_loss"][-1], rel=1e-5)
    preds = np.asarray(model.predict(x_val, verbose=0))
    assert preds.shape == (len(x_val), 1) and ((preds > 0) & (preds < 1)).all()
    assert model.count_params() == (max_words * 8 + (8 * maxlen) * 32 + 32 + 33 if head == "flatten_dense"
                                    else max_words * 16 + 4 * (8 * (16 + 8) + 8) + 9)
    assert y_val.shape == (60,)
