"""Deep Learning with Python, 1st edition, 8.1, and keras-io's lstm_character_level_text_generation.py:
semi-redundant windows of characters one-hot encoded as np.bool_ arrays, an LSTM with a softmax over the
characters, RMSprop, then the sampling loop that reweights the predictions with a temperature and feeds each
sampled character back. Nietzsche's text is not in the data folder; the text is real IMDB reviews. Runs on
Keras 3 and lstmkit.keras through `K` (test_keras2_names.py compares this program's losses with Keras')."""

import random

import numpy as np
import pytest

from tests.keras.programs.real_data import reviews

maxlen = 30
step = 3


def sample(preds, temperature=1.0):
    preds = np.asarray(preds).astype("float64")
    preds = np.log(preds) / temperature
    exp_preds = np.exp(preds)
    preds = exp_preds / np.sum(exp_preds)
    probas = np.random.multinomial(1, preds, 1)
    return np.argmax(probas)


@pytest.fixture(scope="module")
def corpus():
    text = " ".join(t for t, _ in reviews("train", 4)).replace("<br />", " ").lower()[:2400]
    chars = sorted(list(set(text)))
    char_indices = dict((c, i) for i, c in enumerate(chars))
    sentences, next_chars = [], []
    for i in range(0, len(text) - maxlen, step):
        sentences.append(text[i: i + maxlen])
        next_chars.append(text[i + maxlen])
    x = np.zeros((len(sentences), maxlen, len(chars)), dtype=np.bool_)
    y = np.zeros((len(sentences), len(chars)), dtype=np.bool_)
    for i, sentence in enumerate(sentences):
        for t, char in enumerate(sentence):
            x[i, t, char_indices[char]] = 1
        y[i, char_indices[next_chars[i]]] = 1
    return text, chars, char_indices, x, y


def test_train_on_bool_windows_then_sample_with_temperatures(K, corpus):
    text, chars, char_indices, x, y = corpus
    K.utils.set_random_seed(0)
    model = K.Sequential([K.Input(shape=(maxlen, len(chars))), K.layers.LSTM(32),
                          K.layers.Dense(len(chars), activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer=K.optimizers.RMSprop(learning_rate=0.01))
    losses = [model.fit(x, y, batch_size=128, epochs=1, verbose=0).history["loss"][0] for _ in range(3)]
    assert losses[-1] < losses[0]
    # the first loss is about log(len(chars)): the untrained softmax is near uniform
    assert abs(losses[0] - np.log(len(chars))) < 1.0

    random.seed(0)
    np.random.seed(0)
    start_index = random.randint(0, len(text) - maxlen - 1)
    generated = {}
    for temperature in [0.2, 1.0]:
        sentence = text[start_index: start_index + maxlen]
        out = ""
        for _ in range(10):
            x_pred = np.zeros((1, maxlen, len(chars)))
            for t, char in enumerate(sentence):
                x_pred[0, t, char_indices[char]] = 1.0
            preds = np.asarray(model.predict(x_pred, verbose=0)[0])
            assert preds.shape == (len(chars),) and preds.min() > 0
            assert preds.sum() == pytest.approx(1.0, abs=1e-5)
            next_char = chars[sample(preds, temperature)]
            sentence = sentence[1:] + next_char
            out += next_char
        generated[temperature] = out
    assert all(len(g) == 10 and set(g) <= set(chars) for g in generated.values())
    # a float copy of the bool windows predicts the same
    as_bool = np.asarray(model.predict(x[:16], verbose=0))
    np.testing.assert_array_equal(np.asarray(model.predict(x[:16].astype("float32"), verbose=0)), as_bool)
