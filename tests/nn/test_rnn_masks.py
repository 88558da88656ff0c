"""lstmkit.nn modules with mask= / lengths=: a padded batch gives each sequence what it gives alone,
through stacked bidirectional layers, with padding on either side."""

import pytest
import torch

import lstmkit.nn
from tests.tolerances import assert_close

F64 = torch.float64


@pytest.mark.parametrize("cls", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_stacked_bidirectional_padding(cls, side):
    layer = getattr(lstmkit.nn, cls)(3, 5, num_layers=2, bidirectional=True, batch_first=True, dtype=F64)
    lengths = [4, 1, 6]
    T = max(lengths)
    seqs = [torch.randn(n, 3, dtype=F64) for n in lengths]
    x = torch.full((3, T, 3), 9.0, dtype=F64)
    mask = torch.zeros(3, T, dtype=torch.bool)
    for b, s in enumerate(seqs):
        sl = slice(T - len(s), T) if side == "left" else slice(0, len(s))
        x[b, sl], mask[b, sl] = s, True
    kw = {"lengths": torch.tensor(lengths)} if side == "right" else {"mask": mask}
    out, state = layer(x, **kw)
    states = state if isinstance(state, tuple) else (state,)
    for b, s in enumerate(seqs):
        out_a, state_a = layer(s[None])
        states_a = state_a if isinstance(state_a, tuple) else (state_a,)
        assert_close(out[b, mask[b]], out_a[0], msg=f"seq {b} outputs")
        assert torch.all(out[b, ~mask[b]] == 0)  # padded positions give zeros, as pad_packed_sequence does
        for st, st_a in zip(states, states_a):
            assert_close(st[:, b], st_a[:, 0], msg=f"seq {b} final states")


def test_mask_and_packed_agree():
    layer = lstmkit.nn.LSTM(3, 4, batch_first=True, bidirectional=True, dtype=F64)
    x = torch.randn(3, 5, 3, dtype=F64)
    lengths = torch.tensor([5, 2, 3])
    out_m, (h_m, c_m) = layer(x, lengths=lengths)
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out_p, (h_p, c_p) = layer(packed)
    out_p, _ = torch.nn.utils.rnn.pad_packed_sequence(out_p, batch_first=True)
    assert_close(out_m, out_p)
    assert_close(h_m, h_p)
    assert_close(c_m, c_p)


def test_recurrent_dropout_of_one_is_refused_when_the_module_is_made():
    import lstmkit

    with pytest.raises(ValueError, match=r"recurrent_dropout must be in \[0, 1\)"):
        lstmkit.nn.LSTM(3, 4, recurrent_dropout=1.0)
    lstmkit.nn.LSTM(3, 4, num_layers=2, dropout=1.0)  # torch's inter-layer dropout takes 1 (zeroes the input)
