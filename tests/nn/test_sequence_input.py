"""The input checks MinGRU, MinLSTM and SLSTM share (lstmkit.nn._sequence): each layer refuses what
torch.nn.GRU/LSTM refuse, with its own name in the message."""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import lstmkit
from lstmkit.errors import ShapeError

LAYERS = [lambda: lstmkit.nn.MinGRU(3, 4), lambda: lstmkit.nn.MinLSTM(3, 4), lambda: lstmkit.nn.SLSTM(3, 4)]
NAMES = ["MinGRU", "MinLSTM", "SLSTM"]


@pytest.mark.parametrize("make,name", zip(LAYERS, NAMES), ids=NAMES)
def test_bad_inputs_are_refused_by_name(make, name):
    m = make()
    with pytest.raises(ValueError, match=f"{name}: input must be a tensor or a PackedSequence, got list"):
        m([[1.0, 2.0, 3.0]])
    with pytest.raises(ShapeError, match=f"{name}: Expected input to be 2D or 3D, got 4D instead"):
        m(torch.zeros(2, 2, 2, 3))
    with pytest.raises(ShapeError, match="Expected 3, got 5"):
        m(torch.zeros(4, 2, 5))
    packed = pack_padded_sequence(torch.zeros(4, 2, 3), torch.tensor([4, 2]), enforce_sorted=False)
    with pytest.raises(ValueError, match="carries its own lengths"):
        m(packed, lengths=[4, 2])


@pytest.mark.parametrize("make", LAYERS, ids=NAMES)
def test_output_comes_back_in_the_inputs_form(make):
    torch.manual_seed(0)
    m = make()
    x = torch.randn(5, 2, 3)  # time first
    out, _ = m(x)
    assert out.shape == (5, 2, 4)
    torch.testing.assert_close(m(x[:, 0])[0], out[:, 0], rtol=1e-6, atol=1e-6)  # unbatched (T, I): (T, H)
    m.batch_first = True
    assert torch.equal(m(x.transpose(0, 1))[0], out.transpose(0, 1))  # the same batch, laid out otherwise
