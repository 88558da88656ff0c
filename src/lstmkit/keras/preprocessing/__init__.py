"""`lstmkit.keras.preprocessing`: `sequence.pad_sequences` and `text.Tokenizer` (Keras 2's import paths).

`text` is imported on first use (`from lstmkit.keras.preprocessing import text` or `.text`), because importing
it warns that it is Keras 2's API; `import lstmkit.keras` alone must not."""

import importlib
from typing import Any

from lstmkit.keras.preprocessing import sequence


def __getattr__(name: str) -> Any:
    if name == "text":
        return importlib.import_module("lstmkit.keras.preprocessing.text")
    raise AttributeError(f"module 'lstmkit.keras.preprocessing' has no attribute {name!r}")


__all__ = ["sequence", "text"]
