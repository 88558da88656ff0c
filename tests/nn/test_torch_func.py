"""torch.func over lstmkit.nn modules: grad, jacrev, jacfwd, vmap and their compositions give
torch.nn's numbers (float64, weights copied), on every CPU backend `auto` can pick.

The CPU backend's forward is the fused kernel under a vmap rule (shared weights: one call of batch
N*B; mapped weights: one call per model); its backward under a transform recomputes through the
reference, which every transform can differentiate and batch again.
"""

import pytest
import torch
from torch.func import functional_call, grad, jacfwd, jacrev, stack_module_state, vmap

import lstmkit.nn
from tests.tolerances import assert_close

F64 = torch.float64
KINDS = {
    "LSTM": (torch.nn.LSTM, lstmkit.nn.LSTM, {}),
    "GRU": (torch.nn.GRU, lstmkit.nn.GRU, {}),
    "RNN-relu": (torch.nn.RNN, lstmkit.nn.RNN, {"nonlinearity": "relu"}),
}
BACKENDS = ["cpu", "reference"]


def pair(kind, backend, I=3, H=4, **kw):
    torch_cls, ours_cls, extra = KINDS[kind]
    ref = torch_cls(I, H, dtype=F64, batch_first=True, **extra, **kw)
    ours = ours_cls(I, H, dtype=F64, batch_first=True, backend=backend, **extra, **kw)
    ours.load_state_dict(ref.state_dict())
    return ref, ours


def params(m):
    return {k: v.detach() for k, v in m.named_parameters()}


def out(m, p, x):
    return functional_call(m, p, (x,))[0]


def loss(m):
    def f(p, x):
        y = out(m, p, x)
        return (y.sin() * torch.arange(1, y.shape[-1] + 1, dtype=y.dtype)).sum()
    return f


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_grad_over_parameters_and_input(kind, backend, bidirectional):
    ref, ours = pair(kind, backend, num_layers=2, bidirectional=bidirectional)
    x = torch.randn(2, 5, 3, dtype=F64)
    g_ref = grad(loss(ref), argnums=(0, 1))(params(ref), x)
    g_ours = grad(loss(ours), argnums=(0, 1))(params(ours), x)
    assert_close(g_ours[1], g_ref[1], msg="d/dx")
    assert g_ours[0].keys() == g_ref[0].keys()
    for name in g_ref[0]:
        assert_close(g_ours[0][name], g_ref[0][name], msg=name)


@pytest.mark.parametrize("kind", list(KINDS))
def test_jacrev_and_jacfwd_of_the_output(kind, backend):
    ref, ours = pair(kind, backend)
    x = torch.randn(2, 4, 3, dtype=F64)
    j_ref = jacrev(lambda x: out(ref, params(ref), x))(x)
    assert j_ref.shape == (2, 4, 4, 2, 4, 3)
    assert_close(jacrev(lambda x: out(ours, params(ours), x))(x), j_ref, msg="jacrev")
    assert_close(jacfwd(lambda x: out(ours, params(ours), x))(x), j_ref, msg="jacfwd")


@pytest.mark.parametrize("kind", list(KINDS))
def test_hessian_of_a_loss(kind, backend):
    ref, ours = pair(kind, backend, H=3)
    x = torch.randn(1, 3, 3, dtype=F64)
    p_ref, p_ours = params(ref), params(ours)

    def of_x(m, p):
        return lambda x: loss(m)(p, x)
    h_ref = jacfwd(jacrev(of_x(ref, p_ref)))(x)
    assert_close(jacfwd(jacrev(of_x(ours, p_ours)))(x), h_ref, msg="jacfwd(jacrev)")
    assert_close(jacrev(jacrev(of_x(ours, p_ours)))(x), h_ref, msg="jacrev(jacrev)")


def per_sample_gradients(m, x):
    """What vmap(grad) must give, by a loop: torch.nn's own modules have no batching rule
    (aten::lstm/gru/rnn under vmap raise "Batching rule not implemented"), so torch.nn is run on one
    sample at a time."""
    rows = [grad(loss(m))(params(m), x[b:b + 1]) for b in range(x.shape[0])]
    return {name: torch.stack([r[name] for r in rows]) for name in rows[0]}


@pytest.mark.parametrize("kind", list(KINDS))
def test_vmap_over_sequences_and_per_sample_gradients(kind, backend):
    ref, ours = pair(kind, backend)
    x = torch.randn(6, 5, 3, dtype=F64)
    with pytest.raises(RuntimeError, match="Batching rule not implemented"):  # why the loop below
        vmap(lambda xi: out(ref, params(ref), xi))(x)
    # vmap of unbatched calls: each sample is a (T, I) sequence
    expected = torch.stack([ref(xi)[0].detach() for xi in x])
    assert_close(vmap(lambda xi: out(ours, params(ours), xi))(x), expected, msg="vmap forward")
    # vmap of batched calls, with the mapped dimension inside: each item is a batch of 2
    xs = x.view(2, 3, 5, 3).transpose(0, 1)  # 3 items, each a batch of 2 sequences (2, 5, 3)
    h0 = torch.randn(1, 3, 2, 4, dtype=F64)  # mapped along dim 1, as (1, B, H) states
    args = (h0, torch.randn_like(h0)) if kind == "LSTM" else h0
    y, h = vmap(lambda xi, hi: functional_call(ours, params(ours), (xi, hi)), in_dims=(1, 1))(
        xs.transpose(0, 1), args)
    for n in range(3):
        hn = (args[0][:, n], args[1][:, n]) if kind == "LSTM" else args[:, n]
        y_n, h_n = ref(xs[n], hn)
        assert_close(y[n], y_n.detach(), msg=f"vmap item {n} output")
        assert_close(h[0][n] if kind == "LSTM" else h[n], (h_n[0] if kind == "LSTM" else h_n).detach(),
                     msg=f"vmap item {n} state")
    # per-sample gradients, the torch.func recipe: vmap(grad) over a batch of one each
    per_ref = per_sample_gradients(ref, x)
    per_ours = vmap(grad(loss(ours)), in_dims=(None, 0))(params(ours), x.unsqueeze(1))
    for name in per_ref:
        assert per_ours[name].shape == (6, *params(ref)[name].shape)
        assert_close(per_ours[name], per_ref[name], msg=name)


@pytest.mark.parametrize("kind", list(KINDS))
def test_vmap_over_an_ensemble_of_models(kind, backend):
    pairs = [pair(kind, backend) for _ in range(3)]
    x = torch.randn(2, 5, 3, dtype=F64)
    stacked, _ = stack_module_state([o for _, o in pairs])
    ours0 = pairs[0][1]
    y = vmap(lambda p: out(ours0, p, x))(stacked)
    assert y.shape == (3, 2, 5, 4)
    for k, (r, _) in enumerate(pairs):  # each slice is that model alone
        assert_close(y[k], r(x)[0].detach(), msg=f"model {k}")
    g = vmap(grad(loss(ours0)), in_dims=(0, None))(stacked, x)
    for k, (r, _) in enumerate(pairs):
        g_k = grad(loss(r))(params(r), x)
        for name in g_k:
            assert_close(g[name][k], g_k[name], msg=f"model {k} {name}")


@pytest.mark.parametrize("kind", list(KINDS))
def test_batched_gradients_of_autograd_grad(kind, backend):
    """torch.autograd.grad(is_grads_batched=True) vmaps the backward: the batched-gradient case that
    failed with "Cannot access data pointer of Tensor that doesn't have storage"."""
    ref, ours = pair(kind, backend)
    x = torch.randn(2, 4, 3, dtype=F64)
    v = torch.randn(5, 2, 4, 4, dtype=F64)
    results = []
    for m in (ref, ours):
        xr = x.clone().requires_grad_(True)
        y, _ = m(xr)
        results.append(torch.autograd.grad(y, (xr, m.weight_hh_l0), v, is_grads_batched=True))
    for a, b, name in zip(results[1], results[0], ("x", "weight_hh_l0")):
        assert a.shape[0] == 5
        assert_close(a, b, msg=name)


def test_masks_and_cells_under_grad(backend):
    """lstmkit's own extras compose too: lengths= on a layer (no torch.nn peer: checked against
    the same sequences cut to their lengths) and the cells."""
    _, ours = pair("LSTM", backend)
    x = torch.randn(3, 5, 3, dtype=F64)
    lengths = torch.tensor([5, 2, 4])

    def masked(p, x):
        return functional_call(ours, p, (x,), {"lengths": lengths})[1][0].sum()
    g = grad(masked, argnums=1)(params(ours), x)
    for b, n in enumerate(lengths.tolist()):
        g_cut = grad(lambda p, xb: functional_call(ours, p, (xb,))[1][0].sum(), argnums=1)(params(ours), x[b:b + 1, :n])
        assert_close(g[b, :n], g_cut[0], msg=f"sequence {b}")
        assert torch.equal(g[b, n:], torch.zeros_like(g[b, n:]))
    ref_cell = torch.nn.LSTMCell(3, 4, dtype=F64)
    cell = lstmkit.nn.LSTMCell(3, 4, dtype=F64, backend=backend)
    cell.load_state_dict(ref_cell.state_dict())
    xs = torch.randn(4, 3, dtype=F64)
    jr = jacrev(lambda x: functional_call(ref_cell, params(ref_cell), (x,))[0])(xs)
    assert_close(jacrev(lambda x: functional_call(cell, params(cell), (x,))[0])(xs), jr, msg="cell jacrev")
    assert_close(vmap(lambda x: functional_call(cell, params(cell), (x,))[0])(xs),
                 ref_cell(xs)[0].detach(), msg="cell vmap")
