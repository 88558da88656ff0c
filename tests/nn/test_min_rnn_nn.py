"""lstmkit.nn.MinGRU / MinLSTM: torch.nn.GRU's shapes and conventions (time-first, batch_first, unbatched,
PackedSequence, hx, stacked, bidirectional), the parameters the issue names, and the layer equal to
lstmkit.ops.min_gru / min_lstm chained by hand."""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import lstmkit.nn as lnn
from lstmkit import ops
from lstmkit.errors import ShapeError

CLASSES = [(lnn.MinGRU, ops.min_gru, 2), (lnn.MinLSTM, ops.min_lstm, 3)]


@pytest.mark.parametrize("cls, op, gates", CLASSES)
def test_parameters_and_shapes_are_torch_grus(cls, op, gates):
    m = cls(4, 5, num_layers=2, bidirectional=True)
    names = {n: tuple(p.shape) for n, p in m.named_parameters()}
    assert names == {"weight_ih_l0": (gates * 5, 4), "bias_ih_l0": (gates * 5,),
                     "weight_ih_l0_reverse": (gates * 5, 4), "bias_ih_l0_reverse": (gates * 5,),
                     "weight_ih_l1": (gates * 5, 10), "bias_ih_l1": (gates * 5,),
                     "weight_ih_l1_reverse": (gates * 5, 10), "bias_ih_l1_reverse": (gates * 5,)}
    out, h = m(torch.randn(7, 3, 4))
    assert out.shape == (7, 3, 10) and h.shape == (4, 3, 5)
    assert all(p.abs().max() <= 5 ** -0.5 for p in m.parameters())  # torch's GRU init U(-1/sqrt(H), 1/sqrt(H))


@pytest.mark.parametrize("cls, op, gates", CLASSES)
def test_a_stacked_bidirectional_layer_is_the_ops_chained(cls, op, gates):
    torch.manual_seed(0)
    m = cls(4, 5, num_layers=2, bidirectional=True, batch_first=True, mode="parallel").double()
    x, hx = torch.randn(3, 9, 4, dtype=torch.float64), torch.randn(4, 3, 5, dtype=torch.float64)
    lengths = torch.tensor([9, 4, 6])
    mask = torch.arange(9)[None] < lengths[:, None]
    out, h = m(x, hx, lengths=lengths)
    inp, states = x, []
    for layer in range(2):
        f, hf = op(inp, getattr(m, f"weight_ih_l{layer}"), getattr(m, f"bias_ih_l{layer}"), hx[2 * layer], mask=mask,
                   mode="parallel")
        r, hr = op(inp, getattr(m, f"weight_ih_l{layer}_reverse"), getattr(m, f"bias_ih_l{layer}_reverse"),
                   hx[2 * layer + 1], mask=mask, reverse=True, mode="parallel")
        inp, states = torch.cat([f, r], -1), [*states, hf, hr]
    torch.testing.assert_close(out, inp, rtol=0, atol=0)
    torch.testing.assert_close(h, torch.stack(states), rtol=0, atol=0)
    seq = cls(4, 5, num_layers=2, bidirectional=True, batch_first=True).double()  # auto: the one-pass scan on CPU
    seq.load_state_dict(m.state_dict())
    out_seq, h_seq = seq(x, hx, lengths=lengths)
    torch.testing.assert_close(out_seq, out, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(h_seq, h, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cls, op, gates", CLASSES)
def test_unbatched_packed_and_batch_first_agree(cls, op, gates):
    torch.manual_seed(0)
    m = cls(3, 4, num_layers=2)
    x = torch.randn(6, 2, 3)
    out, h = m(x)
    alone, h_alone = m(x[:, 1])  # unbatched (T, I)
    torch.testing.assert_close(alone, out[:, 1])
    torch.testing.assert_close(h_alone, h[:, 1])
    packed_out, packed_h = m(pack_padded_sequence(x, torch.tensor([6, 3]), enforce_sorted=False))
    padded, _ = pad_packed_sequence(packed_out)
    short, short_h = m(x[:3, 1])
    torch.testing.assert_close(padded[:3, 1], short)
    torch.testing.assert_close(packed_h[:, 1], short_h)
    bf = cls(3, 4, num_layers=2, batch_first=True)
    bf.load_state_dict(m.state_dict())
    torch.testing.assert_close(bf(x.transpose(0, 1))[0], out.transpose(0, 1))


def test_it_trains():
    torch.manual_seed(0)
    m, head = lnn.MinGRU(2, 8, batch_first=True), torch.nn.Linear(8, 1)
    opt = torch.optim.Adam([*m.parameters(), *head.parameters()], lr=0.05)
    x = torch.randn(32, 12, 2)
    y = x[:, :, 0].sum(1, keepdim=True)  # a running sum: what the carry track is for
    first = None
    for _ in range(40):
        loss = torch.nn.functional.mse_loss(head(m(x)[0][:, -1]), y)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.2 * first


def test_bad_input_is_named():
    m = lnn.MinLSTM(3, 4)
    with pytest.raises(ShapeError, match=r"input\.size\(-1\) must be equal to input_size\. Expected 3, got 5"):
        m(torch.randn(2, 2, 5))
    with pytest.raises(ShapeError, match=r"Expected hidden size \(1, 2, 4\), got \[1, 3, 4\]"):
        m(torch.randn(5, 2, 3), torch.randn(1, 3, 4))
    with pytest.raises(ValueError, match="mode must be one of"):
        lnn.MinGRU(3, 4, mode="fast")
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        lnn.MinGRU(3, 0)
