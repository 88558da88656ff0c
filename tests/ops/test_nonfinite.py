"""NaN and inf travel through every activation of every CPU backend as they do in torch.

A NaN or an inf is placed in one sequence at a chosen step; every backend must give the reference's
outputs and final states, NaN where it has NaN, inf where it has inf (`equal_nan`), and the other
sequences untouched. The reference is torch's own functions step by step, and is anchored to
torch.nn.RNN for the SimpleRNN's tanh and relu.
"""

from __future__ import annotations

import pytest
import torch

from lstmkit import ops
from tests.ops.helpers import cpu_implementation
from tests.tolerances import TOL

GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}
# kind, activation, recurrent activation
CASES = [
    ("simple_rnn", "tanh", None), ("simple_rnn", "relu", None), ("simple_rnn", "hard_sigmoid", None),
    ("simple_rnn", "linear", None), ("lstm", "tanh", "sigmoid"), ("lstm", "relu", "hard_sigmoid"),
    ("gru", "tanh", "sigmoid"), ("gru", "relu", "hard_sigmoid"),
]
VALUES = {"nan": float("nan"), "inf": float("inf"), "-inf": float("-inf")}


@pytest.fixture(params=["compiled", "python", "reference"])
def backend(request):
    if request.param == "reference":
        yield "reference"
        return
    with cpu_implementation(request.param):
        yield "cpu"


def run(kind, backend, x, w, activation, recurrent_activation):
    kw = {"activation": activation}
    if recurrent_activation is not None:
        kw["recurrent_activation"] = recurrent_activation
    return getattr(ops, kind)(x, *w, backend=backend, **kw)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["fp32", "fp64"])
@pytest.mark.parametrize("value", list(VALUES), ids=list(VALUES))
@pytest.mark.parametrize("kind,act,rec_act", CASES, ids=[f"{k}-{a}-{r or ''}".rstrip("-") for k, a, r in CASES])
def test_nan_and_inf_propagate_as_in_torch(backend, kind, act, rec_act, value, dtype):
    g = torch.Generator().manual_seed(0)
    B, T, I, H = 3, 6, 4, 5
    G = GATES[kind]
    x = torch.randn(B, T, I, generator=g, dtype=dtype)
    x[1, 2, 0] = VALUES[value]  # sequence 1, step 2, one feature
    w = (torch.randn(G * H, I, generator=g, dtype=dtype) * 0.4, torch.randn(G * H, H, generator=g, dtype=dtype) * 0.4,
         torch.randn(G * H, generator=g, dtype=dtype) * 0.1, torch.randn(G * H, generator=g, dtype=dtype) * 0.1)
    got = run(kind, backend, x, w, act, rec_act)
    want = run(kind, "reference", x, w, act, rec_act)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, equal_nan=True, **TOL[dtype])
    out = want[0]
    assert torch.isfinite(out[[0, 2]]).all()  # the other sequences are untouched
    if value == "nan":
        assert torch.isnan(out[1, 2:]).all()  # NaN in, NaN out from that step on


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("value", list(VALUES), ids=list(VALUES))
def test_the_reference_agrees_with_torch_nn(nonlinearity, value):
    torch.manual_seed(0)
    theirs = torch.nn.RNN(4, 5, nonlinearity=nonlinearity, batch_first=True, dtype=torch.float64)
    x = torch.randn(3, 6, 4, dtype=torch.float64)
    x[1, 2, 0] = VALUES[value]
    want, h_want = theirs(x)
    w = (theirs.weight_ih_l0, theirs.weight_hh_l0, theirs.bias_ih_l0, theirs.bias_hh_l0)
    got, h_got = ops.simple_rnn(x, *w, activation=nonlinearity, backend="reference")
    torch.testing.assert_close(got, want, equal_nan=True, **TOL[torch.float64])
    torch.testing.assert_close(h_got, h_want[0], equal_nan=True, **TOL[torch.float64])


def test_a_relu_rnn_that_overflows_gives_inf_and_nan_not_finite_numbers(backend):
    """Each step multiplies the state by 1e30: float32 overflows to inf, then inf - inf gives NaN."""
    x = torch.ones(1, 6, 1)
    w_ih, w_hh = torch.full((1, 1), 1e30), torch.full((1, 1), 1e30)
    out, _ = ops.simple_rnn(x, w_ih, w_hh, activation="relu", backend=backend)
    want, _ = ops.simple_rnn(x, w_ih, w_hh, activation="relu", backend="reference")
    assert not torch.isfinite(want).all()
    torch.testing.assert_close(out, want, equal_nan=True)
