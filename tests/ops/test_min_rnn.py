"""minGRU / minLSTM (Feng et al. 2024) against a float64 loop written here from the paper's equations
(no log space, no chunks): outputs, final states and every gradient, for the parallel scan and the
sequential mode, across chunk boundaries, with padding on either side and in reverse."""

import pytest
import torch

from lstmkit import ops
from lstmkit.errors import ShapeError
from lstmkit.ops import min_rnn


def g(v):
    return torch.where(v >= 0, v + 0.5, torch.sigmoid(v))


def loop(kind, x, w, b, h0, mask=None, reverse=False):
    """h_t = (1 - z) h + z g(k_h) (minGRU); h_t = f/(f+i) h + i/(f+i) g(k_h) (minLSTM); padded steps keep h."""
    T, H = x.shape[1], h0.shape[1]
    steps = range(T - 1, -1, -1) if reverse else range(T)
    h, out = h0, [None] * T
    for t in steps:
        k = x[:, t] @ w.T + (b if b is not None else 0)
        if kind == "min_gru":
            z = torch.sigmoid(k[:, :H])
            new = (1 - z) * h + z * g(k[:, H:])
        else:
            f, i = torch.sigmoid(k[:, :H]), torch.sigmoid(k[:, H:2 * H])
            new = f / (f + i) * h + i / (f + i) * g(k[:, 2 * H:])
        if mask is not None:
            new = torch.where(mask[:, t, None], new, h)
            out[t] = new * mask[:, t, None]
        else:
            out[t] = new
        h = new
    return torch.stack(out, 1), h


def make(kind, B=3, T=70, I=4, H=5, dtype=torch.float64, seed=0, bias=True):
    gen = torch.Generator().manual_seed(seed)
    G = 2 if kind == "min_gru" else 3
    x = torch.randn(B, T, I, generator=gen, dtype=dtype)
    w = torch.randn(G * H, I, generator=gen, dtype=dtype) * 0.7
    b = torch.randn(G * H, generator=gen, dtype=dtype) if bias else None
    h0 = torch.randn(B, H, generator=gen, dtype=dtype)  # either sign: only b_t must be positive
    return [t.requires_grad_(True) if t is not None else None for t in (x, w, b, h0)]


def padding(B, T, side):
    lengths = torch.tensor([T, max(1, T - 5), max(1, T // 2)])[:B]
    steps = torch.arange(T)[None]
    return steps < lengths[:, None] if side == "right" else steps >= (T - lengths)[:, None]


KINDS = ["min_gru", "min_lstm"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", ["parallel", "sequential"])
@pytest.mark.parametrize("T", [1, 64, 65, 130])
@pytest.mark.parametrize("case", ["plain", "right", "left", "reverse-right", "no-bias"])
def test_matches_the_papers_equations_with_every_gradient(kind, mode, T, case):
    x, w, b, h0 = make(kind, T=T, bias=case != "no-bias")
    mask = padding(3, T, case.split("-")[-1]) if case.split("-")[-1] in ("right", "left") else None
    reverse = case.startswith("reverse")
    out, h_n = min_rnn.min_rnn(kind, x, w, b, h0, mask=mask, reverse=reverse, mode=mode)
    ref_out, ref_h = loop(kind, x, w, b, h0, mask, reverse)
    torch.testing.assert_close(out, ref_out, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(h_n, ref_h, rtol=1e-10, atol=1e-12)
    gen = torch.Generator().manual_seed(1)
    g_out, g_h = torch.randn(out.shape, generator=gen, dtype=out.dtype), torch.randn(h_n.shape, generator=gen,
                                                                                      dtype=out.dtype)
    leaves = [t for t in (x, w, b, h0) if t is not None]
    grads = torch.autograd.grad((out * g_out).sum() + (h_n * g_h).sum(), leaves)
    ref_grads = torch.autograd.grad((ref_out * g_out).sum() + (ref_h * g_h).sum(), leaves)
    for got, expected in zip(grads, ref_grads):
        assert torch.isfinite(got).all()
        torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mode", ["parallel", "sequential"])
def test_gradcheck(kind, mode, monkeypatch):
    monkeypatch.setattr(min_rnn, "CHUNK", 8)  # 19 steps in chunks of 8: two carries and a padded tail
    x, w, b, h0 = make(kind, B=2, T=19, I=2, H=2)
    mask = padding(2, 19, "left")
    assert torch.autograd.gradcheck(lambda *a: ops.__dict__[kind](*a, mask=mask, mode=mode), (x, w, b, h0))


@pytest.mark.parametrize("kind", KINDS)
def test_float32_parallel_stays_accurate_over_a_long_sequence(kind):
    """The chunked scan keeps float32 near its precision at 4096 steps (one unchunked log-space scan
    would lose about three digits there)."""
    x, w, b, h0 = make(kind, B=2, T=4096, I=3, H=4)
    ref_out, _ = loop(kind, x.detach(), w.detach(), b.detach(), h0.detach())
    out, _ = ops.__dict__[kind](x.detach().float(), w.detach().float(), b.detach().float(), h0.detach().float(),
                                mode="parallel")
    assert ((out.double() - ref_out).abs() / (ref_out.abs() + 1e-2)).max() < 2e-5


def test_bad_input_is_named():
    x, w, b, h0 = (t.detach() for t in make("min_gru", T=5))
    with pytest.raises(ShapeError, match=r"min_gru: weight_ih must be \(2\*H, 4\)"):
        ops.min_gru(x, w[:, :3], b)
    with pytest.raises(ShapeError, match=r"min_lstm: weight_ih must be \(3\*H, 4\)"):
        ops.min_lstm(x, w, b)  # a (10, 4) weight is not 3 blocks
    with pytest.raises(ShapeError, match=r"h0 must be \(3, 5\)"):
        ops.min_gru(x, w, b, h0[:2])
    with pytest.raises(ValueError, match=r"mode must be one of \('auto', 'parallel', 'sequential'\), got 'fast'"):
        ops.min_gru(x, w, b, mode="fast")
    with pytest.raises(ShapeError, match="Expected sequence length to be larger than 0"):
        ops.min_gru(x[:, :0], w, b)
    with pytest.raises(ValueError, match=r"mask must be a \(3, 5\) bool tensor"):
        ops.min_gru(x, w, b, mask=torch.ones(3, 5))
