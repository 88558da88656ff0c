"""Masked and padded steps contribute exactly zero gradient whatever they hold, NaN and inf included,
on every CPU backend (the Triton kernels under the interpreter too), as a packed sequence does."""

from __future__ import annotations

import pytest
import torch

from lstmkit import ops
from tests.ops.helpers import cpu_implementation, use_triton_interpreter

GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}


@pytest.fixture(params=["cpu-compiled", "cpu-python", "reference", "triton-interpreter"])
def backend(request, monkeypatch):
    name = request.param
    if name == "reference":
        yield "reference", torch.float64
    elif name.startswith("cpu"):
        with cpu_implementation(name.split("-")[1]):
            yield "cpu", torch.float64
    else:
        use_triton_interpreter(monkeypatch)
        yield "triton", torch.float32


@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn"])
@pytest.mark.parametrize("fill", ["nan", "inf"])
@pytest.mark.parametrize("side", ["right", "left"])
def test_padding_values_do_not_reach_any_gradient(backend, kind, fill, side):
    name, dtype = backend
    g = torch.Generator().manual_seed(0)
    B, T, I, H, G = 3, 5, 4, 6, GATES[kind]
    lengths = torch.tensor([5, 3, 1])
    pos = torch.arange(T)
    mask = pos[None] < lengths[:, None] if side == "right" else pos[None] >= (T - lengths)[:, None]
    clean = torch.randn(B, T, I, generator=g, dtype=dtype).masked_fill(~mask[..., None], 0.0)
    dirty = clean.masked_fill(~mask[..., None], float(fill))
    weights = [torch.randn(G * H, I, generator=g, dtype=dtype) * 0.4, torch.randn(G * H, H, generator=g, dtype=dtype)
               * 0.4, torch.randn(G * H, generator=g, dtype=dtype) * 0.1, torch.randn(G * H, generator=g, dtype=dtype) * 0.1]
    results = []
    for x in (clean, dirty):
        leaves = [x.clone().requires_grad_(), *(w.clone().requires_grad_() for w in weights)]
        outs = getattr(ops, kind)(*leaves, mask=mask, zero_output_for_mask=True, backend=name)
        loss = sum(o.square().sum() for o in outs)
        results.append(([o.detach() for o in outs], torch.autograd.grad(loss, leaves)))
    (out_clean, g_clean), (out_dirty, g_dirty) = results
    for a, b in zip(out_dirty, out_clean):
        assert torch.equal(a, b)
    for label, a, b in zip(["x", "weight_ih", "weight_hh", "bias_ih", "bias_hh"], g_dirty, g_clean):
        assert torch.isfinite(a).all(), f"{name}: d{label} is not finite"
        assert torch.equal(a, b), f"{name}: d{label} depends on what the padding holds"
    assert (g_dirty[0][~mask] == 0).all()  # no gradient flows into the padding itself
