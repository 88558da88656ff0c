"""An empty batch (B = 0) gives empty results and gradients, as torch.nn and Keras do."""

import pytest
import torch

import lstmkit.nn
from lstmkit import ops

GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}


@pytest.mark.parametrize("backend", ["cpu", "reference", "auto"])
@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn"])
def test_empty_batch_through_ops(kind, backend):
    T, I, H, G = 5, 3, 4, GATES[kind]
    x = torch.zeros(0, T, I, dtype=torch.float64, requires_grad=True)
    w_ih = torch.randn(G * H, I, dtype=torch.float64, requires_grad=True)
    w_hh = torch.randn(G * H, H, dtype=torch.float64, requires_grad=True)
    outs = getattr(ops, kind)(x, w_ih, w_hh, backend=backend)
    assert outs[0].shape == (0, T, H) and all(o.shape == (0, H) for o in outs[1:])
    dx, dw_ih, dw_hh = torch.autograd.grad(sum(o.sum() for o in outs), [x, w_ih, w_hh], allow_unused=True)
    assert dx is None or dx.shape == (0, T, I)
    for g, w in [(dw_ih, w_ih), (dw_hh, w_hh)]:
        assert g is None or (g.shape == w.shape and not g.any())


def test_an_explicit_backend_still_refuses_what_it_lacks_on_an_empty_batch():
    x = torch.zeros(0, 5, 3, dtype=torch.float16)
    with pytest.raises(ValueError, match="backend 'cpu' cannot run this lstm call"):
        ops.lstm(x, torch.zeros(16, 3, dtype=torch.float16), torch.zeros(16, 4, dtype=torch.float16), backend="cpu")


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN"])
def test_nn_modules_match_torch_on_an_empty_batch(cls):
    torch.manual_seed(0)
    ours = getattr(lstmkit.nn, cls)(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    theirs = getattr(torch.nn, cls)(3, 4, num_layers=2, bidirectional=True, batch_first=True)
    x = torch.zeros(0, 5, 3)
    (y1, s1), (y2, s2) = ours(x), theirs(x)
    assert y1.shape == y2.shape == (0, 5, 8)
    for a, b in zip(s1 if isinstance(s1, tuple) else (s1,), s2 if isinstance(s2, tuple) else (s2,)):
        assert a.shape == b.shape == (4, 0, 4)
