"""Dynamic int8 quantisation: torch's quantize_dynamic passes over lstmkit's layers (it matches exact
classes), and says so by a warning; lstmkit.nn.quantize_dynamic quantises them as torch's own modules with
the same weights, so its result equals torch's on the torch.nn twin of the model."""

import warnings

import pytest
import torch
from torch import nn

import lstmkit.nn as lnn

X = torch.randn(3, 7, 4, generator=torch.Generator().manual_seed(0))


class Model(nn.Module):
    def __init__(self, rnn):
        super().__init__()
        self.rnn, self.head = rnn, nn.Linear(5 * (2 if rnn.bidirectional else 1), 2)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def twins(kind, **kwargs):
    torch.manual_seed(0)
    ours = Model(getattr(lnn, kind)(4, 5, batch_first=True, **kwargs)).eval()
    theirs = Model(getattr(nn, kind)(4, 5, batch_first=True, **kwargs)).eval()
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


@pytest.mark.parametrize("kind, kwargs", [("LSTM", {}), ("LSTM", {"num_layers": 2, "bidirectional": True}),
                                          ("GRU", {}), ("GRU", {"bidirectional": True})])
def test_lstmkit_quantize_dynamic_equals_torchs_on_the_torch_twin(kind, kwargs):
    ours, theirs = twins(kind, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # torch's own deprecation notes on quantised tensors
        q_ours = lnn.quantize_dynamic(ours, {lnn.LSTM, lnn.GRU, nn.Linear}, dtype=torch.qint8)
        q_theirs = torch.ao.quantization.quantize_dynamic(theirs, {nn.LSTM, nn.GRU, nn.Linear}, dtype=torch.qint8)
    assert type(q_ours.rnn) is getattr(torch.ao.nn.quantized.dynamic, kind)  # torch's DynamicQuantized{kind}
    assert type(q_ours.rnn) is type(q_theirs.rnn)
    torch.testing.assert_close(q_ours(X), q_theirs(X), rtol=0, atol=0)
    assert isinstance(ours.rnn, getattr(lnn, kind))  # not in place: the float model is untouched
    assert not torch.equal(q_ours(X), ours(X))  # int8 weights: close to float, not equal


def test_the_default_spec_quantises_cells_and_layers_as_torchs_default():
    torch.manual_seed(0)
    model = nn.Sequential(lnn.LSTMCell(4, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        q = lnn.quantize_dynamic(model)
    assert type(q[0]) is torch.ao.nn.quantized.dynamic.LSTMCell
    h, _ = q[0](X[:, 0])
    h_float, _ = model[0](X[:, 0])
    torch.testing.assert_close(h, h_float, atol=0.05, rtol=0)  # int8 weights of a 5-unit cell


def test_torchs_quantize_dynamic_warns_that_lstmkit_layers_stay_float():
    ours, _ = twins("LSTM")
    with pytest.warns(UserWarning, match=r"leaves lstmkit\.nn\.LSTM in floating point.*lstmkit\.nn\.quantize_dynamic"):
        q = torch.ao.quantization.quantize_dynamic(ours, {nn.LSTM, nn.Linear}, dtype=torch.qint8)
    assert isinstance(q.rnn, lnn.LSTM)  # what the warning says: still lstmkit's float layer


@pytest.mark.parametrize("make, reason", [
    (lambda: lnn.LSTM(4, 5, recurrent_dropout=0.1), r"recurrent_dropout=0\.1"),
    (lambda: lnn.GRU(4, 5, reset_after=False), r"reset_after=False"),
    (lambda: lnn.LSTM(4, 5, activation="relu"), r"activation='relu'"),
])
def test_what_torch_cannot_express_is_refused_by_name(make, reason):
    with pytest.raises(ValueError, match=reason + r".*cannot express"):
        lnn.quantize_dynamic(nn.Sequential(make()))


def test_to_torch_gives_the_same_numbers():
    for ours in (lnn.LSTM(4, 5, num_layers=2, proj_size=3), lnn.GRU(4, 5, bidirectional=True),
                 lnn.RNN(4, 5, nonlinearity="relu"), lnn.GRUCell(4, 5)):
        twin = lnn.to_torch(ours)
        assert type(twin) is getattr(nn, type(ours).__name__)
        x = X.transpose(0, 1) if isinstance(ours, nn.RNNBase) else X[:, 0]
        torch.testing.assert_close(twin(x), ours(x))
