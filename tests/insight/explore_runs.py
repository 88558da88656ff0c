"""Tiny run folders for the explore page's tests: an IMDB-like lstmkit.keras model trained a few steps."""

import json

import numpy as np

from tests.insight.helpers import keras_facade

MAXLEN, NUM_WORDS = 12, 300
ENCODING = {"source": "indices", "num_words": NUM_WORDS, "maxlen": MAXLEN, "start_char": 1, "oov_char": 2,
            "index_from": 3}
TEXTS = ["This film was a great film, but the end was bad.", "I did not like it at all... Zzqxv!"]
SAMPLE = ["the best movie of the year", "a bad bad film with a poor story", "it was not good and not bad",
          "great acting, poor story, and the worst ending", "I loved every minute of it", "boring and too long",
          "a fine film", "not a good film at all"]


def imdb_like_run(folder, kind="LSTM", seed=0, **layer_kwargs):
    """Embedding(NUM_WORDS, 8) -> `kind`(6) -> Dense(1, sigmoid), fitted 4 steps on random ids, saved as
    `lstmkit run imdb` saves it (model.keras and encoding.json of Keras' word indices)."""
    layers, models = keras_facade()
    rng = np.random.default_rng(seed)
    model = models.Sequential([layers.Input(shape=(MAXLEN,), dtype="int32"), layers.Embedding(NUM_WORDS, 8),
                               getattr(layers, kind)(6, **layer_kwargs), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")
    x = rng.integers(0, NUM_WORDS, size=(64, MAXLEN))
    model.fit(x, (x[:, -1] > NUM_WORDS // 2).astype("float32"), epochs=1, batch_size=16, verbose=0)
    folder.mkdir(parents=True)
    model.save(str(folder / "model.keras"))
    (folder / "encoding.json").write_text(json.dumps(ENCODING))
    return folder
