"""`keras.preprocessing.sequence`: pad_sequences and timeseries_dataset_from_array (from `lstmkit.data.sequence`)."""

from lstmkit.data.sequence import pad_sequences, timeseries_dataset_from_array

__all__ = ["pad_sequences", "timeseries_dataset_from_array"]
