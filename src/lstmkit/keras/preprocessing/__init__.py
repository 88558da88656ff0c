"""`lstmkit.keras.preprocessing`: `sequence.pad_sequences` and `text.Tokenizer` (Keras 2's import paths), and
Keras 3's `timeseries_dataset_from_array` and `text_dataset_from_directory` (also in `keras.utils`; keras-io's
weather forecasting example calls `keras.preprocessing.timeseries_dataset_from_array`).

`text` is imported on first use (`from lstmkit.keras.preprocessing import text` or `.text`), because importing
it warns that it is Keras 2's API; `import lstmkit.keras` alone must not."""

import importlib
from typing import Any

from lstmkit.data.sequence import timeseries_dataset_from_array
from lstmkit.keras.preprocessing import sequence
from lstmkit.keras.utils.text_dataset import text_dataset_from_directory


def __getattr__(name: str) -> Any:
    if name == "text":
        return importlib.import_module("lstmkit.keras.preprocessing.text")
    raise AttributeError(f"module 'lstmkit.keras.preprocessing' has no attribute {name!r}")


__all__ = ["sequence", "text", "text_dataset_from_directory", "timeseries_dataset_from_array"]
