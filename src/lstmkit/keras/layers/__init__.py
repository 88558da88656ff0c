"""`lstmkit.keras.layers`: Keras' layer names, on lstmkit's recurrences."""

from lstmkit.keras.layers.conv import (
    AveragePooling1D,
    Conv1D,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    MaxPooling1D,
)
from lstmkit.keras.layers.core import (
    Activation,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Input,
    InputLayer,
    Lambda,
    Masking,
    RepeatVector,
    Reshape,
    SpatialDropout1D,
)
from lstmkit.keras.layers.layer import Layer
from lstmkit.keras.layers.merging import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract
from lstmkit.keras.layers.normalization import BatchNormalization, LayerNormalization
from lstmkit.keras.layers.recurrent import GRU, LSTM, RNN, SimpleRNN
from lstmkit.keras.layers.rnn_cells import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from lstmkit.keras.layers.wrappers import Bidirectional, TimeDistributed

Convolution1D = Conv1D
MaxPool1D = MaxPooling1D
AvgPool1D = AveragePooling1D
GlobalMaxPool1D = GlobalMaxPooling1D
GlobalAvgPool1D = GlobalAveragePooling1D

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Activation",
    "Add",
    "Average",
    "AveragePooling1D",
    "AvgPool1D",
    "BatchNormalization",
    "Bidirectional",
    "Concatenate",
    "Conv1D",
    "Convolution1D",
    "Dense",
    "Dropout",
    "Embedding",
    "Flatten",
    "GRUCell",
    "GlobalAveragePooling1D",
    "GlobalAvgPool1D",
    "GlobalMaxPool1D",
    "GlobalMaxPooling1D",
    "Input",
    "InputLayer",
    "LSTMCell",
    "Lambda",
    "Layer",
    "LayerNormalization",
    "Masking",
    "MaxPool1D",
    "MaxPooling1D",
    "Maximum",
    "Minimum",
    "Multiply",
    "RepeatVector",
    "Reshape",
    "SimpleRNN",
    "SimpleRNNCell",
    "SpatialDropout1D",
    "StackedRNNCells",
    "Subtract",
    "TimeDistributed",
]
