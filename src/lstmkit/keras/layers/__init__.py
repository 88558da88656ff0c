"""`lstmkit.keras.layers`: Keras' layer names, on lstmkit's recurrences."""

from lstmkit.keras.layers.conv import (
    AveragePooling1D,
    AveragePooling2D,
    Conv1D,
    Conv2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from lstmkit.keras.layers.conv_lstm import ConvLSTM1D, ConvLSTM2D
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
from lstmkit.keras.layers.lookup import IntegerLookup, StringLookup
from lstmkit.keras.layers.merging import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract
from lstmkit.keras.layers.min_rnn import MinGRU, MinLSTM
from lstmkit.keras.layers.normalization import BatchNormalization, LayerNormalization
from lstmkit.keras.layers.op_layer import OpLayer  # also gives KerasTensor its operators (x + 1, x[:, -1])
from lstmkit.keras.layers.recurrent import GRU, LSTM, RNN, SimpleRNN
from lstmkit.keras.layers.rnn_cells import DropoutRNNCell, GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from lstmkit.keras.layers.slstm import SLSTM
from lstmkit.keras.layers.text_vectorization import TextVectorization
from lstmkit.keras.layers.wrappers import Bidirectional, TimeDistributed

Convolution1D = Conv1D
MaxPool1D = MaxPooling1D
AvgPool1D = AveragePooling1D
GlobalMaxPool1D = GlobalMaxPooling1D
GlobalAvgPool1D = GlobalAveragePooling1D
Convolution2D = Conv2D
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D
GlobalAvgPool2D = GlobalAveragePooling2D

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "SLSTM",
    "Activation",
    "Add",
    "Average",
    "AveragePooling1D",
    "AveragePooling2D",
    "AvgPool1D",
    "AvgPool2D",
    "BatchNormalization",
    "Bidirectional",
    "Concatenate",
    "Conv1D",
    "Conv2D",
    "ConvLSTM1D",
    "ConvLSTM2D",
    "Convolution1D",
    "Convolution2D",
    "Dense",
    "Dropout",
    "DropoutRNNCell",
    "Embedding",
    "Flatten",
    "GRUCell",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "Input",
    "InputLayer",
    "IntegerLookup",
    "LSTMCell",
    "Lambda",
    "Layer",
    "LayerNormalization",
    "Masking",
    "MaxPool1D",
    "MaxPool2D",
    "MaxPooling1D",
    "MaxPooling2D",
    "Maximum",
    "MinGRU",
    "MinLSTM",
    "Minimum",
    "Multiply",
    "OpLayer",
    "RepeatVector",
    "Reshape",
    "SimpleRNN",
    "SimpleRNNCell",
    "SpatialDropout1D",
    "StackedRNNCells",
    "StringLookup",
    "Subtract",
    "TextVectorization",
    "TimeDistributed",
]
