"""Second-order gradients on the CPU backend: backward(create_graph=True) gives gradients autograd can
differentiate again, exact against the reference (a gradient penalty's weight gradients, gradgradcheck).
The fused backward had no derivative of its own: dL/dx came back without a graph, and the penalty's
gradient vanished without a word (dW_hh off by 2.72 where its largest entry was 2.73)."""

import pytest
import torch

import lstmkit
from tests.ops.helpers import cpu_implementation

KINDS = ["lstm", "gru", "simple_rnn"]


def make(kind, B=3, T=5, I=4, H=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    G = {"lstm": 4, "gru": 3, "simple_rnn": 1}[kind]
    x = torch.randn(B, T, I, generator=g, dtype=torch.float64, requires_grad=True)
    w = [(torch.randn(*s, generator=g, dtype=torch.float64) * 0.5).requires_grad_()
         for s in ((G * H, I), (G * H, H), (G * H,), (G * H,))]
    mask = torch.ones(B, T, dtype=torch.bool)
    mask[0, :2] = False  # left padding
    mask[-1, T - 1 :] = False  # right padding
    return x, w, mask


def penalty_grads(kind, backend, x, w, mask):
    """loss = sum(y) + sum((dsum(y)/dx)^2): its weight gradients need d/dW of dL/dx."""
    fn = getattr(lstmkit.ops, kind)
    out = fn(x, *w, mask=mask, backend=backend)
    task = out[0].sum() + out[1].sum()
    (dx,) = torch.autograd.grad(task, x, create_graph=True)
    loss = task + (dx ** 2).sum()
    return torch.autograd.grad(loss, [x, *w])


@pytest.mark.parametrize("impl", ["compiled", "python"])
@pytest.mark.parametrize("kind", KINDS)
def test_a_gradient_penalty_matches_the_reference(kind, impl):
    x, w, mask = make(kind)
    expected = penalty_grads(kind, "reference", x, w, mask)
    with cpu_implementation(impl):
        got = penalty_grads(kind, "cpu", x, w, mask)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_gradgradcheck(kind):
    x, w, mask = make(kind, B=2, T=3, I=2, H=2)
    fn = getattr(lstmkit.ops, kind)

    def f(x, *w):
        out = fn(x, *w, mask=mask, backend="cpu")
        return out[0], out[1]

    assert torch.autograd.gradgradcheck(f, (x, *w), eps=1e-6, atol=1e-5)


def test_first_order_gradients_still_take_the_fused_backward(monkeypatch):
    """Without create_graph the kernel's backward runs (the recomputation is only for second order)."""
    from lstmkit.ops import cpu

    calls = []
    real = cpu._differentiable_gradients
    monkeypatch.setattr(cpu, "_differentiable_gradients", lambda *a: calls.append(1) or real(*a))
    x, w, mask = make("lstm")
    out = lstmkit.ops.lstm(x, *w, mask=mask, backend="cpu")
    out[0].sum().backward()
    assert calls == [] and x.grad is not None


def _penalty_with_options(kind, backend, x, w, mask, dm_x, dm_h, reset_after):
    fn = getattr(lstmkit.ops, kind)
    kw = {"reset_after": reset_after} if kind == "gru" else {}
    out = fn(x, *w, mask=mask, backend=backend, input_dropout_mask=dm_x, recurrent_dropout_mask=dm_h,
             zero_output_for_mask=True, **kw)
    task = sum((o * (k + 1)).sum() for k, o in enumerate(out))
    (dx,) = torch.autograd.grad(task, x, create_graph=True)
    return torch.autograd.grad(task + (dx ** 2).sum(), [x, *w])


@pytest.mark.parametrize("kind,reset_after", [("lstm", True), ("gru", True), ("gru", False), ("simple_rnn", True)],
                         ids=["lstm", "gru", "gru-reset_before", "simple_rnn"])
def test_a_gradient_penalty_on_the_triton_kernels_matches_the_reference(kind, reset_after, monkeypatch):
    """The Triton backend (under the interpreter, float32: its kernels have no float64) routes
    backward(create_graph=True) through the reference, dropout masks and padding included."""
    pytest.importorskip("triton")
    import lstmkit.ops.triton as triton_backend

    if torch.cuda.is_available() or triton_backend._loaded_interpreted is False:
        pytest.skip("the interpreter runs only where the kernels were not compiled in this process")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    x64, w64, mask = make(kind)
    x = x64.detach().float().requires_grad_()
    w = [t.detach().float().requires_grad_() for t in w64]
    g = torch.Generator().manual_seed(1)
    dm_x = (torch.rand(x.shape[0], x.shape[2], generator=g) > 0.3).float() / 0.7
    dm_h = (torch.rand(x.shape[0], 3, generator=g) > 0.3).float() / 0.7
    expected = _penalty_with_options(kind, "reference", x, w, mask, dm_x, dm_h, reset_after)
    got = _penalty_with_options(kind, "triton", x, w, mask, dm_x, dm_h, reset_after)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_triton_refuses_torch_func_by_name_and_auto_runs_the_reference():
    pytest.importorskip("triton")
    from torch.func import grad

    x, w, _ = make("lstm")
    with pytest.raises(Exception, match=r"torch\.func transforms"):
        grad(lambda x: lstmkit.ops.lstm(x, *w, backend="triton")[0].sum())(x.detach())
    g = grad(lambda x: lstmkit.ops.lstm(x, *w, backend="auto")[0].sum())(x.detach())
    expected = torch.autograd.grad(lstmkit.ops.lstm(x, *w, backend="reference")[0].sum(), x)[0]
    torch.testing.assert_close(g, expected, rtol=1e-12, atol=1e-12)
