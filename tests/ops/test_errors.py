"""Bad input gets a ValueError naming what was expected and what came."""

import pytest
import torch

import lstmkit.nn
from lstmkit import ops


def lstm_w(I=3, H=4):
    return torch.randn(4 * H, I), torch.randn(4 * H, H), torch.randn(4 * H), torch.randn(4 * H)


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: ops.lstm(torch.randn(5, 3), *lstm_w()), r"rank 3 .* got shape \(5, 3\)"),
        (lambda: ops.lstm(torch.randn(2, 5, 7), *lstm_w()), "input has 7 features but weight_ih expects 3"),
        (lambda: ops.lstm(torch.randn(2, 0, 3), *lstm_w()), r"has no time step: shape \(2, 0, 3\)"),
        (lambda: ops.lstm(torch.randint(0, 3, (2, 5, 3)), *lstm_w()), "floating-point"),
        (lambda: ops.lstm(torch.randn(2, 5, 3, dtype=torch.float64), *lstm_w()), "dtype torch.float32 but the input"),
        (lambda: ops.lstm(torch.randn(2, 5, 3), *lstm_w(), h0=torch.randn(3, 4)), r"h0 must have shape \(2, 4\), got \(3, 4\)"),
        (lambda: ops.lstm(torch.randn(2, 5, 3), *lstm_w(), c0=torch.randn(4)), r"c0 must have shape \(2, 4\)"),
        (lambda: ops.lstm(torch.randn(2, 5, 3), *lstm_w(), lengths=torch.tensor([6, 1])), "<= the sequence length 5, got 6"),
        (lambda: ops.lstm(torch.randn(2, 5, 3), *lstm_w(), lengths=torch.tensor([-1, 1])), ">= 0, got -1"),
        (lambda: ops.lstm(torch.randn(2, 5, 3), *lstm_w(), lengths=torch.tensor([1, 1, 1])), r"shape \(2,\)"),
        (lambda: ops.lstm(torch.randn(2, 5, 3), *lstm_w(), mask=torch.ones(2, 4, dtype=torch.bool)),
         r"mask must have shape \(2, 5\) .* got \(2, 4\)"),
        (lambda: ops.lstm(torch.randn(2, 5, 3), *lstm_w(), mask=torch.ones(2, 5, dtype=torch.bool), lengths=[1, 2]),
         "either mask or lengths"),
        (lambda: ops.lstm(torch.randn(2, 5, 3), *lstm_w(), backend="nope"), "unknown backend 'nope'"),
        (lambda: ops.lstm(torch.randn(2, 5, 3), *lstm_w(), activation="swishy"), "unknown activation 'swishy'"),
        (lambda: ops.lstm(torch.randn(2, 5, 3), *lstm_w()[:1], torch.randn(16, 5)), r"weight_hh must have shape \(16, 4\)"),
        (lambda: ops.gru(torch.randn(2, 5, 3), torch.randn(10, 3), torch.randn(10, 3)), "not a multiple of 3 gates"),
        (lambda: ops.simple_rnn(torch.randn(2, 5, 3), torch.randn(4, 3), torch.randn(4, 4),
                                input_dropout_mask=torch.ones(2, 4)), r"input_dropout_mask must have shape \(2, 3\)"),
        (lambda: ops.lstm(torch.randn(2, 5, 3), *lstm_w(), h0=torch.randn(2, 4, device="meta")),
         "on device meta but the input is on cpu"),
        (lambda: lstmkit.nn.LSTM(3, 4)(torch.randn(5, 2, 6)), r"Expected 3, got 6: LSTM was made for 3 features"),
        (lambda: lstmkit.nn.LSTM(3, 4)(torch.randn(5, 2, 3, 1)), r"got 4D instead.*shape \(5, 2, 3, 1\)"),
        (lambda: lstmkit.nn.LSTM(3, 4, num_layers=2)(torch.randn(5, 2, 3), (torch.zeros(1, 2, 4), torch.zeros(1, 2, 4))),
         r"h_0 must be \(layers\*directions, batch, size\) = \(2, 2, 4\)"),
        (lambda: lstmkit.nn.GRU(3, 4)(torch.randn(5, 2, 3), (torch.zeros(1, 2, 4),)), "expects hx as a tensor"),
        (lambda: lstmkit.nn.LSTM(3, 4, proj_size=4), "proj_size has to be smaller than hidden_size"),
        (lambda: lstmkit.nn.RNN(3, 4, nonlinearity="sigmoid"), "Unknown nonlinearity 'sigmoid'. Select from 'tanh' or 'relu'"),
        (lambda: lstmkit.nn.LSTM(3, 0), "hidden_size must be greater than zero"),
        (lambda: lstmkit.nn.LSTMCell(3, 4)(torch.randn(2, 3, 3)), r"shape \(B, I\) or \(I,\)"),
    ],
)
def test_bad_input_raises_clear_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()
