"""lstmkit.nn.SLSTM: torch.nn.LSTM's shapes and conventions (time-first, batch_first, unbatched,
PackedSequence, stacked, bidirectional) with a four-part state (h, c, n, m), the documented parameters,
and the layer equal to lstmkit.ops.slstm chained by hand."""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import lstmkit.nn as lnn
from lstmkit.errors import ShapeError
from lstmkit.ops import slstm


def test_parameters_and_shapes():
    m = lnn.SLSTM(4, 6, num_heads=3, num_layers=2, bidirectional=True)
    names = {n: tuple(p.shape) for n, p in m.named_parameters()}
    expected = {}
    for layer, width in ((0, 4), (1, 12)):
        for sfx in ("", "_reverse"):
            expected |= {f"weight_ih_l{layer}{sfx}": (24, width), f"weight_hh_l{layer}{sfx}": (3, 2, 8),
                         f"bias_l{layer}{sfx}": (24,)}
    assert names == expected
    out, (h, c, n, mm) = m(torch.randn(7, 5, 4))
    assert out.shape == (7, 5, 12) and all(s.shape == (4, 5, 6) for s in (h, c, n, mm))
    assert all(p.abs().max() <= 6 ** -0.5 for p in m.parameters())  # torch's LSTM init U(-1/sqrt(H), 1/sqrt(H))
    assert "num_heads=3" in repr(m) and "bidirectional=True" in repr(m)


def test_a_stacked_bidirectional_layer_is_the_op_chained(one_thread):
    m = lnn.SLSTM(4, 6, num_heads=2, num_layers=2, bidirectional=True, batch_first=True, forget_gate="exp").double()
    x = torch.randn(3, 9, 4, dtype=torch.float64)
    h0, c0, n0 = (torch.randn(4, 3, 6, dtype=torch.float64) for _ in range(3))
    hx = (h0, c0, n0.abs() + 0.5, torch.zeros(4, 3, 6, dtype=torch.float64))
    lengths = torch.tensor([9, 4, 6])
    mask = torch.arange(9)[None] < lengths[:, None]
    out, state = m(x, hx, lengths=lengths)
    inp, finals = x, []
    for layer in range(2):
        outs = []
        for d, sfx in enumerate(("", "_reverse")):
            o, f = slstm(inp, getattr(m, f"weight_ih_l{layer}{sfx}"), getattr(m, f"weight_hh_l{layer}{sfx}"),
                         getattr(m, f"bias_l{layer}{sfx}"), tuple(s[2 * layer + d] for s in hx), mask=mask,
                         reverse=bool(d), forget_gate="exp", backend="reference")
            outs.append(o)
            finals.append(f)
        inp = torch.cat(outs, -1)
    torch.testing.assert_close(out, inp, rtol=1e-12, atol=1e-12)
    for k in range(4):
        torch.testing.assert_close(state[k], torch.stack([f[k] for f in finals]), rtol=1e-12, atol=1e-12)


def test_layouts_unbatched_and_packed_agree(one_thread):
    m = lnn.SLSTM(3, 4, num_heads=2).double()
    x = torch.randn(6, 2, 3, dtype=torch.float64)  # (T, B, I)
    out, state = m(x)
    bf = lnn.SLSTM(3, 4, num_heads=2, batch_first=True).double()
    bf.load_state_dict(m.state_dict())
    out_bf, _ = bf(x.transpose(0, 1))
    torch.testing.assert_close(out_bf.transpose(0, 1), out)
    one, one_state = m(x[:, 1])  # unbatched (T, I)
    torch.testing.assert_close(one, out[:, 1])
    torch.testing.assert_close(one_state[2], state[2][:, 1])
    lengths = torch.tensor([6, 3])
    packed_out, packed_state = m(pack_padded_sequence(x, lengths, enforce_sorted=False))
    padded, _ = pad_packed_sequence(packed_out, batch_first=True)
    ref, ref_state = bf(x.transpose(0, 1), lengths=lengths)
    torch.testing.assert_close(padded, ref[:, :6] * (torch.arange(6)[None, :, None] < lengths[:, None, None]))
    for a, b in zip(packed_state, ref_state):
        torch.testing.assert_close(a, b)


def test_kernel_and_reference_backends_agree_and_it_learns(one_thread):
    torch.manual_seed(1)
    ref = lnn.SLSTM(3, 8, num_heads=2, backend="reference", batch_first=True)
    fast = lnn.SLSTM(3, 8, num_heads=2, backend="cpu", batch_first=True)
    fast.load_state_dict(ref.state_dict())
    x = torch.randn(4, 12, 3)
    y = x[:, 0, :1].sign()  # remember the sign of the first input across 12 steps
    head = torch.nn.Linear(8, 1)
    losses = []
    opt = torch.optim.Adam([*fast.parameters(), *head.parameters()], lr=0.05)
    for i in range(30):
        out_f, _ = fast(x)
        if i == 0:
            out_r, _ = ref(x)
            torch.testing.assert_close(out_f, out_r, rtol=2e-5, atol=2e-5)
            g_r = torch.autograd.grad(out_r.square().sum(), list(ref.parameters()))
            g_f = torch.autograd.grad(out_f.square().sum(), list(fast.parameters()), retain_graph=True)
            for a, b in zip(g_f, g_r):
                torch.testing.assert_close(a, b, rtol=2e-5, atol=2e-5)
        loss = torch.nn.functional.mse_loss(head(out_f[:, -1]), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="SLSTM: hidden_size must be a multiple of num_heads, got hidden_size=6 and "
                                         "num_heads=4"):
        lnn.SLSTM(3, 6, num_heads=4)
    with pytest.raises(ValueError, match="SLSTM: num_heads must be a positive integer, got 0"):
        lnn.SLSTM(3, 6, num_heads=0)
    with pytest.raises(ValueError, match=r"SLSTM: forget_gate must be one of \('sigmoid', 'exp'\), got 'relu'"):
        lnn.SLSTM(3, 6, forget_gate="relu")
    m = lnn.SLSTM(3, 6, num_heads=2)
    x = torch.randn(5, 2, 3)
    with pytest.raises(ValueError, match=r"hx must be a tuple \(h_0, c_0, n_0, m_0\) of four tensors, got tuple of 2"):
        m(x, (torch.zeros(1, 2, 6), torch.zeros(1, 2, 6)))
    with pytest.raises(ShapeError, match=r"SLSTM: n_0 must be \(1, 2, 6\) \(layers\*directions, batch, hidden\), "
                                         r"got \(1, 3, 6\)"):
        m(x, (torch.zeros(1, 2, 6), torch.zeros(1, 2, 6), torch.zeros(1, 3, 6), torch.zeros(1, 2, 6)))
    with pytest.raises(ShapeError, match=r"input.size\(-1\) must be equal to input_size\. Expected 3, got 4"):
        m(torch.randn(5, 2, 4))
