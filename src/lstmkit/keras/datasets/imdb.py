"""`keras.datasets.imdb`: `load_data(path, num_words, skip_top, maxlen, seed, start_char, oov_char, index_from)`
and `get_word_index()`, with Keras' exact semantics; implemented in `lstmkit.data.imdb`."""

from lstmkit.data.imdb import get_word_index, load_data

__all__ = ["get_word_index", "load_data"]
