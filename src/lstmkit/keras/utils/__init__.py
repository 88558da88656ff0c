"""`lstmkit.keras.utils`: pad_sequences, to_categorical, timeseries_dataset_from_array (Keras' semantics,
from `lstmkit.data.sequence`), set_random_seed, and plot_history (a PNG of the training curves)."""

from lstmkit.data.sequence import pad_sequences, timeseries_dataset_from_array, to_categorical
from lstmkit.keras.utils.history import plot_history
from lstmkit.keras.utils.seed import set_random_seed

__all__ = ["pad_sequences", "plot_history", "set_random_seed", "timeseries_dataset_from_array", "to_categorical"]
