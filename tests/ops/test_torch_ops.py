"""The CPU backend as torch ops: `torch.library.opcheck`, `torch.compile(fullgraph=True)`,
`torch.export` with a dynamic sequence length, and `torch.jit.trace`, each checked against eager
at lengths other than the one compiled, exported or traced with."""

from __future__ import annotations

import warnings

import pytest
import torch

import lstmkit.nn
from lstmkit import ops
from lstmkit.ops import cpu
from tests.ops.helpers import skip_without_compiled_kernel
from tests.tolerances import assert_close

F64 = torch.float64
GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}
MODULES = [lstmkit.nn.LSTM, lstmkit.nn.GRU, lstmkit.nn.RNN]


@pytest.fixture(params=["compiled", "python"])
def impl(request):
    if request.param == "compiled":
        skip_without_compiled_kernel()
    return request.param


def op_args(kind, impl, *, mask=True, dropout=False, reverse=False, reset_after=True, B=3, T=5, I=4, H=6):
    g = torch.Generator().manual_seed(0)
    G = GATES[kind]

    def r(*shape, grad=True):
        return torch.randn(*shape, generator=g, dtype=F64).requires_grad_(grad)

    return (r(B, T, I), r(G * H, I), r(G * H, H), r(G * H), r(G * H), r(B, H), r(B, H) if kind == "lstm" else None,
            torch.rand(B, T, generator=g) > 0.3 if mask else None,
            (torch.rand(B, I, generator=g) > 0.3).to(F64) if dropout else None,
            (torch.rand(B, H, generator=g) > 0.3).to(F64) if dropout else None,
            kind, reverse, "tanh", "sigmoid", False, kind == "gru" and reset_after, True, impl)


OPCHECK_CASES = [
    ("lstm", {}), ("lstm", {"dropout": True, "reverse": True}), ("gru", {}), ("gru", {"reset_after": False}),
    ("gru", {"dropout": True}), ("simple_rnn", {"mask": False}),
]


@pytest.mark.parametrize("kind,options", OPCHECK_CASES, ids=[f"{k}-{'-'.join(o) or 'plain'}" for k, o in OPCHECK_CASES])
def test_opcheck_forward_op(impl, kind, options):
    """Schema, autograd registration, fake tensor and AOT dispatch (eager against traced, values and gradients)."""
    torch.library.opcheck(cpu.recurrence_op, op_args(kind, impl, **options))


@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn"])
def test_opcheck_backward_op(impl, kind):
    args = op_args(kind, impl, dropout=True)
    with torch.no_grad():
        outs = cpu.recurrence_op(*args)
    x, w_ih, w_hh, _b_ih, _b_hh, h0, c0, mask, in_mask, rec_mask = args[:10]
    dY, dhN = torch.randn_like(outs[0]), torch.randn_like(outs[1])
    dcN = torch.randn_like(outs[2]) if kind == "lstm" else None
    back = (dY, dhN, dcN, *(t.detach() if t is not None else None for t in (x, w_ih, w_hh, h0, c0)), mask, in_mask,
            rec_mask, *outs[3:], *args[10:16], impl, True, True)
    torch.library.opcheck(cpu.recurrence_backward_op, back, test_utils=("test_schema", "test_faketensor"))


class Head(torch.nn.Module):
    """A recurrence and a linear read-out of its output sequence."""

    def __init__(self, rnn: torch.nn.Module, width: int) -> None:
        super().__init__()
        self.rnn = rnn
        self.out = torch.nn.Linear(width, 2, dtype=F64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.rnn(x)[0])


def model(cls) -> Head:
    torch.manual_seed(0)
    rnn = cls(3, 5, num_layers=2, bidirectional=True, batch_first=True, dtype=F64, backend="cpu")
    return Head(rnn, 10)


@pytest.mark.parametrize("cls", MODULES, ids=lambda c: c.__name__)
def test_compile_fullgraph_matches_eager_with_gradients(cls):
    torch._dynamo.reset()
    m = model(cls)
    compiled = torch.compile(m, fullgraph=True)  # fails on any graph break
    for T in (4, 7):
        x = torch.randn(2, T, 3, dtype=F64, requires_grad=True)
        want = m(x)
        got = compiled(x)
        assert_close(got, want)
        g_want = torch.autograd.grad(want.square().sum(), [x, *m.parameters()])
        g_got = torch.autograd.grad(got.square().sum(), [x, *m.parameters()])
        for a, b in zip(g_got, g_want):
            assert_close(a, b)


def test_compile_with_a_dynamic_length_compiles_once():
    from torch._dynamo.testing import CompileCounter

    torch._dynamo.reset()
    counter = CompileCounter()
    m = model(lstmkit.nn.LSTM)
    compiled = torch.compile(m, fullgraph=True, dynamic=True, backend=counter)
    for T in (4, 6, 11):  # not 2 or 3: dynamo gives sizes of equal value one symbol, and B=2, I=3 are fixed
        x = torch.randn(2, T, 3, dtype=F64)
        assert_close(compiled(x), m(x))
    assert counter.frame_count == 1
    assert counter.op_count > 0


@pytest.mark.parametrize("cls", MODULES, ids=lambda c: c.__name__)
def test_export_with_a_dynamic_length_matches_eager_at_other_lengths(cls):
    m = model(cls).eval()
    T = torch.export.Dim("T", min=2, max=4096)
    program = torch.export.export(m, (torch.randn(2, 5, 3, dtype=F64),), dynamic_shapes={"x": {1: T}})
    ops_called = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    assert "lstmkit.cpu_recurrence.default" in ops_called  # one op per layer and direction, not a loop
    exported = program.module()
    for length in (3, 17):
        x = torch.randn(2, length, 3, dtype=F64)
        assert_close(exported(x), m(x))


def test_jit_trace_of_the_cpu_backend_is_right_at_every_length():
    m = model(lstmkit.nn.LSTM)
    with warnings.catch_warnings():
        warnings.simplefilter("error", torch.jit.TracerWarning)  # the recurrence traces without a warning
        traced = torch.jit.trace(m, (torch.randn(2, 5, 3, dtype=F64),))
    for length in (2, 9):
        x = torch.randn(2, length, 3, dtype=F64, requires_grad=True)
        got, want = traced(x), m(x)
        assert_close(got, want)
        assert_close(torch.autograd.grad(got.sum(), x)[0], torch.autograd.grad(want.sum(), x)[0])


@pytest.mark.parametrize("backend", ["reference", "auto"])
def test_jit_trace_of_a_python_loop_raises_instead_of_fixing_the_length(backend):
    torch.manual_seed(0)
    # the projection runs on the reference only, also under "auto"
    rnn = lstmkit.nn.LSTM(3, 5, proj_size=2, batch_first=True, dtype=F64, backend=backend)
    with pytest.raises(RuntimeError, match=r"torch.jit.trace cannot record backend 'reference' correctly: it would "
                                           r"fix the sequence length of the example \(5 steps\)"):
        torch.jit.trace(rnn, (torch.randn(2, 5, 3, dtype=F64),))


def test_the_implementation_choice_holds_for_forward_and_backward():
    """The backward op runs the implementation the forward ran, even outside its context."""
    skip_without_compiled_kernel()
    x = torch.randn(2, 4, 3, dtype=torch.float32, requires_grad=True)
    w_ih, w_hh = torch.randn(8, 3, requires_grad=True), torch.randn(8, 2, requires_grad=True)
    with cpu.implementation("python"):
        out, _ = ops.simple_rnn(x, w_ih[:2].detach().requires_grad_(), w_hh[:2, :].detach().requires_grad_(),
                                backend="cpu")
    node = out.grad_fn
    assert node is not None
    grads = {}
    for name in ("python", "compiled"):
        with cpu.implementation(name):
            grads[name] = torch.autograd.grad(out.sum() * 1e-38, x, retain_graph=True)[0]
    # the PyTorch loops keep subnormals and the compiled kernel flushes them: equal grads mean one implementation
    assert torch.equal(grads["python"], grads["compiled"])
    assert int(((grads["python"] != 0) & (grads["python"].abs() < torch.finfo(torch.float32).tiny)).sum()) > 0
