"""`lstmkit.keras.datasets`: `imdb` with Keras' `load_data` / `get_word_index` (from `lstmkit.data`)."""

from lstmkit.keras.datasets import imdb

__all__ = ["imdb"]
