"""torch.nn drop-ins: `LSTM`, `GRU`, `RNN` and their cells, `MinGRU`/`MinLSTM`, Keras weight conversion."""

from lstmkit.nn.cells import GRUCell, LSTMCell, RNNCell
from lstmkit.nn.convert import (
    gru_from_keras,
    gru_to_keras,
    lstm_from_keras,
    lstm_to_keras,
    simple_rnn_from_keras,
    simple_rnn_to_keras,
)
from lstmkit.nn.min_rnn import MinGRU, MinLSTM
from lstmkit.nn.quantize import quantize_dynamic, to_torch
from lstmkit.nn.rnn import GRU, LSTM, RNN, SimpleRNN
from lstmkit.nn.slstm import SLSTM

__all__ = [
    "GRU", "LSTM", "RNN", "SLSTM", "GRUCell", "LSTMCell", "MinGRU", "MinLSTM", "RNNCell", "SimpleRNN",
    "gru_from_keras", "gru_to_keras", "lstm_from_keras", "lstm_to_keras", "quantize_dynamic", "simple_rnn_from_keras",
    "simple_rnn_to_keras", "to_torch",
]
