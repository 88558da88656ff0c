"""lstmkit: LSTM, GRU and SimpleRNN from their equations, on PyTorch tensors."""

from lstmkit import nn, ops

__version__ = "0.1.0"

__all__ = ["__version__", "nn", "ops"]
