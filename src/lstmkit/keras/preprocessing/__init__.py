"""`lstmkit.keras.preprocessing`: `sequence.pad_sequences` (Keras 2's import path)."""

from lstmkit.keras.preprocessing import sequence

__all__ = ["sequence"]
