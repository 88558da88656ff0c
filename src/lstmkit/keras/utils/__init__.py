"""`lstmkit.keras.utils`: pad_sequences, to_categorical, timeseries_dataset_from_array (Keras' semantics,
from `lstmkit.data.sequence`), text_dataset_from_directory and get_file (Keras 3's file and dataset utilities
without TensorFlow), set_random_seed, plot_history (a PNG of the training curves), and PyDataset / Sequence
(datasets of batches by index that fit, evaluate and predict take)."""

from lstmkit.data.sequence import pad_sequences, timeseries_dataset_from_array, to_categorical
from lstmkit.keras.utils.get_file import get_file
from lstmkit.keras.utils.history import plot_history
from lstmkit.keras.utils.py_dataset import PyDataset, Sequence
from lstmkit.keras.utils.seed import set_random_seed
from lstmkit.keras.utils.text_dataset import text_dataset_from_directory

__all__ = ["PyDataset", "Sequence", "get_file", "pad_sequences", "plot_history", "set_random_seed",
           "text_dataset_from_directory", "timeseries_dataset_from_array", "to_categorical"]
