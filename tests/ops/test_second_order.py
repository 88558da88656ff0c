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
