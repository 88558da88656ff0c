"""The projected GRU (issue 19): `lstmkit.nn.GRU(..., proj_size=P)` and `lstmkit.ops.gru(weight_hr=...)` against a
float64 loop written here from the equations (state h H wide; output and recurrence read y = W_hr h), gradcheck,
the parameters' names and shapes, the backends that refuse it, and the errors."""

import pytest
import torch

import lstmkit.nn as lnn
from lstmkit import ops
from lstmkit.ops.call import RecurrenceCall
from lstmkit.ops.dispatch import select_backend

TOL = dict(rtol=1e-10, atol=1e-10)  # float64 against float64


def projected_gru_loop(x, w_ih, w_hh, b_ih, b_hh, w_hr, h0, mask=None, reverse=False):
    """x (B, T, I), h0 (B, H); returns outputs (B, T, P) and h_T (B, H). Masked steps carry h and output zeros."""
    B, T, _ = x.shape
    H = h0.shape[1]
    h = h0
    outs = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        y_prev = h @ w_hr.T  # (B, P)
        gi = x[:, t] @ w_ih.T + b_ih
        gh = y_prev @ w_hh.T + b_hh
        r = torch.sigmoid(gi[:, :H] + gh[:, :H])
        z = torch.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
        n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
        h_new = (1 - z) * n + z * h
        if mask is not None:
            m = mask[:, t, None]
            h_new = torch.where(m, h_new, h)
            outs[t] = torch.where(m, h_new @ w_hr.T, torch.zeros(B, w_hr.shape[0], dtype=x.dtype))
        else:
            outs[t] = h_new @ w_hr.T
        h = h_new
    return torch.stack(outs, dim=1), h


def _weights(I, H, P, seed=0):
    g = torch.Generator().manual_seed(seed)
    def r(*shape):
        return (torch.rand(*shape, generator=g, dtype=torch.float64) - 0.5)
    return r(3 * H, I), r(3 * H, P), r(3 * H), r(3 * H), r(P, H)


@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("masked", [False, True], ids=["dense", "mask"])
def test_ops_gru_projection_matches_the_loop(reverse, masked):
    B, T, I, H, P = 3, 6, 4, 7, 3
    x = torch.randn(B, T, I, dtype=torch.float64)
    w = _weights(I, H, P)
    h0 = torch.randn(B, H, dtype=torch.float64)
    mask = torch.tensor([[True] * 6, [False, False, True, True, True, True], [True, True, True, False, False, False]])
    mask = mask if masked else None
    out, h_n = ops.gru(x, *w[:4], weight_hr=w[4], h0=h0, mask=mask, reverse=reverse, zero_output_for_mask=True)
    ref_out, ref_h = projected_gru_loop(x, *w, h0, mask, reverse)
    assert out.shape == (B, T, P) and h_n.shape == (B, H)
    torch.testing.assert_close(out, ref_out, **TOL)
    torch.testing.assert_close(h_n, ref_h, **TOL)


def test_ops_gru_projection_gradcheck():
    B, T, I, H, P = 2, 3, 3, 4, 2
    x = torch.randn(B, T, I, dtype=torch.float64, requires_grad=True)
    w = [t.requires_grad_() for t in _weights(I, H, P, seed=1)]
    h0 = torch.randn(B, H, dtype=torch.float64, requires_grad=True)

    def f(x, w_ih, w_hh, b_ih, b_hh, w_hr, h0):
        return ops.gru(x, w_ih, w_hh, b_ih, b_hh, weight_hr=w_hr, h0=h0)

    assert torch.autograd.gradcheck(f, (x, *w, h0))


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_module_two_layers_matches_the_loop_layer_by_layer(bidirectional):
    I, H, P, L, B, T = 5, 6, 3, 2, 3, 4
    gru = lnn.GRU(I, H, num_layers=L, batch_first=True, bidirectional=bidirectional, proj_size=P,
                  dtype=torch.float64)
    D = 2 if bidirectional else 1
    names = dict(gru.named_parameters())
    for k in range(L):
        for d in range(D):
            sfx = f"_l{k}" + ("_reverse" if d else "")
            assert names["weight_ih" + sfx].shape == (3 * H, I if k == 0 else D * P)
            assert names["weight_hh" + sfx].shape == (3 * H, P)
            assert names["weight_hr" + sfx].shape == (P, H)
    assert gru._flat_weights_names[:5] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0"]
    assert "proj_size=3" in repr(gru)

    x = torch.randn(B, T, I, dtype=torch.float64)
    h0 = torch.randn(L * D, B, H, dtype=torch.float64)
    out, h_n = gru(x, h0)
    assert out.shape == (B, T, D * P) and h_n.shape == (L * D, B, H)
    layer_in, hs = x, []
    for k in range(L):
        outs = []
        for d in range(D):
            sfx = f"_l{k}" + ("_reverse" if d else "")
            o, h = projected_gru_loop(layer_in, *(names[n + sfx] for n in ("weight_ih", "weight_hh", "bias_ih",
                                                                          "bias_hh", "weight_hr")),
                                      h0[k * D + d], reverse=bool(d))
            outs.append(o)
            hs.append(h)
        layer_in = torch.cat(outs, dim=2)
    torch.testing.assert_close(out, layer_in.detach(), **TOL)
    torch.testing.assert_close(h_n, torch.stack(hs).detach(), **TOL)
    # the last output is W_hr h_n: the state alone resumes the recurrence
    torch.testing.assert_close(out[:, -1, :P], h_n[-D] @ names[f"weight_hr_l{L - 1}"].T.detach(), **TOL)


def test_module_resumes_from_its_state_and_gradcheck():
    gru = lnn.GRU(3, 5, proj_size=2, batch_first=True, dtype=torch.float64)
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    whole, h_whole = gru(x)
    first, h_first = gru(x[:, :4])
    rest, h_rest = gru(x[:, 4:], h_first)
    torch.testing.assert_close(torch.cat([first, rest], dim=1), whole, **TOL)
    torch.testing.assert_close(h_rest, h_whole, **TOL)

    params = list(gru.parameters())

    def f(x, *ps):
        with torch.nn.utils.stateless._reparametrize_module(gru, dict(zip(dict(gru.named_parameters()), ps))):
            return gru(x)

    xs = x[:, :3].clone().requires_grad_()
    assert torch.autograd.gradcheck(f, (xs, *[p.detach().clone().requires_grad_() for p in params]))


def test_module_trains_the_projection_and_works_with_variants():
    gru = lnn.GRU(4, 6, proj_size=2, layer_norm=True, learn_initial_state=True, zoneout_h=0.2)
    assert gru.h0_l0.shape == (6,)  # the state stays H wide
    out, h = gru(torch.randn(5, 3, 4))
    (out.sum() + h.sum()).backward()
    assert gru.weight_hr_l0.grad is not None and gru.weight_hr_l0.grad.abs().sum() > 0
    assert gru.h0_l0.grad.abs().sum() > 0 and out.shape == (5, 3, 2)
    gru.eval()
    out, h = gru(torch.randn(5, 4))  # unbatched
    assert out.shape == (5, 2) and h.shape == (1, 6)


def test_fused_backends_refuse_the_projection_and_auto_takes_the_reference():
    x = torch.randn(2, 3, 4)
    w = [t.float() for t in _weights(4, 5, 2)]
    with pytest.raises(ValueError, match="backend 'cpu' cannot run this gru call: the GRU projection"):
        ops.gru(x, *w[:4], weight_hr=w[4], backend="cpu")
    # what the Triton backend asks too (it refuses a CPU tensor earlier, for another reason)
    call = RecurrenceCall("gru", x, *w[:4], h0=torch.zeros(2, 5), weight_hr=w[4])
    assert call.beyond_fused_kernels() == "the GRU projection (weight_hr, proj_size) is not implemented in its kernels"
    assert select_backend("auto", call).name == "reference"
    out, _ = ops.gru(x, *w[:4], weight_hr=w[4])  # auto
    ref, _ = ops.gru(x, *w[:4], weight_hr=w[4], backend="reference")
    torch.testing.assert_close(out, ref, rtol=0, atol=0)


def test_bad_projections_are_clear_errors():
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        lnn.GRU(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="proj_size should be a positive integer or zero"):
        lnn.GRU(3, 4, proj_size=-1)
    with pytest.raises(ValueError, match="needs reset_after=True"):
        lnn.GRU(3, 4, proj_size=2, reset_after=False)
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM, not RNN or GRU"):
        lnn.RNN(3, 4, proj_size=2)
    gru = lnn.GRU(3, 4, proj_size=2)
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 2, 4\), got \[1, 2, 2\]"):
        gru(torch.randn(5, 2, 3), torch.zeros(1, 2, 2))  # h0 is H wide, not P
    x, w = torch.randn(2, 3, 4), [t.float() for t in _weights(4, 5, 2)]
    with pytest.raises(ValueError, match=r"gru: a projection .* needs reset_after=True"):
        ops.gru(x, *w[:4], weight_hr=w[4], reset_after=False)
    with pytest.raises(ValueError, match="weight_hh"):
        ops.gru(x, w[0], torch.zeros(15, 5), *w[2:4], weight_hr=w[4])  # (3H, H): the recurrence reads P
