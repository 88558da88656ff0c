"""One conformance suite over every registered backend, and the backend contract itself.

Each backend runs the same cases (odd shapes, T=1, masks on either side with a length-0 row,
both directions, dropout masks, given or default initial states, with and without biases, every
named activation) and must give the reference's outputs and every gradient: float64 against the
reference where the backend runs float64 (its dtype is in `PROFILES` otherwise), random upstream
gradients on the outputs and the final states. The reference itself is checked by gradcheck.
A backend that does not support a case must refuse it when named, with its reason, and `auto`
must then give the reference's result.

`aten-cells`, a backend written in this file from torch's own cell functions, is registered for
these tests only: a new backend is one object and one `register_backend` line.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator

import pytest
import torch

from lstmkit import ops
from lstmkit.ops.activations import activation_name
from lstmkit.ops.call import RecurrenceCall
from tests.ops.helpers import use_triton_interpreter
from tests.tolerances import assert_close

F64 = torch.float64
GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}


# --------------------------------------------------------------------------- a backend from the test
class AtenCellsBackend:
    """LSTM, GRU (reset_after) and tanh/relu SimpleRNN from `torch.lstm_cell`, `torch.gru_cell`,
    `torch.rnn_tanh_cell` / `torch.rnn_relu_cell`, stepped in Python."""

    name = "aten-cells"
    auto_devices = frozenset({"cpu"})
    traceable = False

    def supports(self, call: RecurrenceCall) -> str | None:
        if call.weight_hr is not None:
            return "no projection in torch's cells"
        if call.kind == "gru" and not call.reset_after:
            return "torch.gru_cell applies the reset after the matmul"
        names = tuple(activation_name(a) for a in call.activations)
        wanted = {"lstm": [("tanh", "sigmoid")], "gru": [("tanh", "sigmoid")], "simple_rnn": [("tanh",), ("relu",)]}
        if names not in wanted[call.kind]:
            return f"torch's {call.kind} cell has fixed activations, not {names}"
        return None

    def run(self, call: RecurrenceCall) -> tuple[torch.Tensor, ...]:
        T = call.x.shape[1]
        x = call.x if call.input_dropout_mask is None else call.x * call.input_dropout_mask[:, None, :]
        h, c = call.h0, call.c0
        outs: list[torch.Tensor | None] = [None] * T
        for t in range(T - 1, -1, -1) if call.reverse else range(T):
            h_in = h if call.recurrent_dropout_mask is None else h * call.recurrent_dropout_mask
            w = (call.weight_ih, call.weight_hh, call.bias_ih, call.bias_hh)
            if call.kind == "lstm":
                # the recurrent dropout mask multiplies h in the matmul only: pass h_in, keep c
                h_new, c_new = torch.lstm_cell(x[:, t], (h_in, c), *w)
            elif call.kind == "gru":
                # z ⊙ h_prev uses the undropped state: h_new = cell(h_in) + z ⊙ (h - h_in)
                h_new = torch.gru_cell(x[:, t], h_in, *w)
                if call.recurrent_dropout_mask is not None:
                    H = h.shape[1]
                    gx = x[:, t] @ call.weight_ih[H : 2 * H].T
                    gh = h_in @ call.weight_hh[H : 2 * H].T
                    if call.bias_ih is not None:
                        gx, gh = gx + call.bias_ih[H : 2 * H], gh + call.bias_hh[H : 2 * H]
                    h_new = h_new + torch.sigmoid(gx + gh) * (h - h_in)
                c_new = None
            else:
                cell = torch.rnn_tanh_cell if activation_name(call.activation) == "tanh" else torch.rnn_relu_cell
                h_new, c_new = cell(x[:, t], h_in, *w), None
            m = None if call.mask is None else call.mask[:, t, None]
            h = h_new if m is None else torch.where(m, h_new, h)
            if c_new is not None:
                c = c_new if m is None else torch.where(m, c_new, c)
            outs[t] = h if m is None or not call.zero_output_for_mask else torch.where(m, h, torch.zeros_like(h))
        y = torch.stack(outs, dim=1)  # (B, T, H)
        return (y, h, c) if call.kind == "lstm" else (y, h)


# --------------------------------------------------------------------------- per-backend setup
@dataclasses.dataclass(frozen=True)
class Profile:
    dtype: torch.dtype  # the dtype the backend is checked in (against the float64 reference)
    context: Callable[[pytest.MonkeyPatch], contextlib.AbstractContextManager[None]]


@contextlib.contextmanager
def _nothing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    yield


@contextlib.contextmanager
def _triton_interpreter(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Triton on the CPU: its interpreter, tiny shapes, float32 (see test_triton.py)."""
    use_triton_interpreter(monkeypatch)
    yield


PROFILES = {"triton": Profile(torch.float32, _triton_interpreter)}
DEFAULT_PROFILE = Profile(F64, _nothing)


@pytest.fixture
def test_backend():
    backend = AtenCellsBackend()
    ops.register_backend(backend, before="reference")
    try:
        yield backend
    finally:
        ops.BACKENDS.unregister(backend.name)


BACKEND_NAMES = [*ops.backends(), AtenCellsBackend.name]


@pytest.fixture(params=BACKEND_NAMES)
def backend(request, monkeypatch):
    """A backend name, registered and set up to run on this machine's CPU."""
    name = request.param
    if name == AtenCellsBackend.name:
        request.getfixturevalue("test_backend")
    profile = PROFILES.get(name, DEFAULT_PROFILE)
    with profile.context(monkeypatch):
        yield name, profile.dtype


# --------------------------------------------------------------------------- the cases
@dataclasses.dataclass(frozen=True)
class Case:
    kind: str
    B: int = 3
    T: int = 5
    I: int = 4
    H: int = 7
    mask: str | None = None  # None, "left", "right", "holes"
    reverse: bool = False
    zero_output: bool = False
    dropout: bool = False
    states: bool = True  # give h0 (c0); else the default zeros
    bias: bool = True
    options: tuple[tuple[str, object], ...] = ()
    scale: float = 0.5  # of the weights: smaller keeps unbounded (linear, relu) recurrences in fp32's range

    @property
    def id(self) -> str:
        parts = [self.kind, f"B{self.B}-T{self.T}-I{self.I}-H{self.H}"]
        parts += [f"mask-{self.mask}"] if self.mask else []
        parts += ["rev"] if self.reverse else []
        parts += ["zero-out"] if self.zero_output else []
        parts += ["dropout"] if self.dropout else []
        parts += [] if self.states else ["no-h0"]
        parts += [] if self.bias else ["no-bias"]
        parts += [f"{k}={v}" for k, v in self.options]
        return "-".join(parts)


def _cases() -> list[Case]:
    cases = []
    for kind, extra in [("lstm", ()), ("gru", ()), ("gru", (("reset_after", False),)), ("simple_rnn", ())]:
        cases += [
            Case(kind, options=extra),
            Case(kind, B=1, T=1, I=2, H=3, options=extra),
            Case(kind, mask="left", reverse=True, options=extra),
            Case(kind, mask="right", zero_output=True, options=extra),
            Case(kind, mask="holes", reverse=True, zero_output=True, dropout=True, options=extra),
            Case(kind, B=2, T=3, I=3, H=5, states=False, bias=False, dropout=True, options=extra),
        ]
    cases += [
        Case("lstm", mask="left", options=(("activation", "relu"), ("recurrent_activation", "hard_sigmoid"))),
        Case("gru", options=(("activation", "linear"), ("recurrent_activation", "tanh")), scale=0.2),
        Case("simple_rnn", mask="right", options=(("activation", "relu"),)),
        Case("simple_rnn", options=(("activation", "hard_sigmoid"),)),
    ]
    return cases


CASES = _cases()


def make_inputs(case: Case, seed: int = 0) -> tuple[dict, dict, list[torch.Tensor]]:
    """float64 tensors, options, and upstream gradients for every output."""
    g = torch.Generator().manual_seed(seed)
    B, T, I, H, G = case.B, case.T, case.I, case.H, GATES[case.kind]

    def rnd(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=F64) * scale

    w = case.scale
    tensors = {"x": rnd(B, T, I), "weight_ih": rnd(G * H, I, scale=w), "weight_hh": rnd(G * H, H, scale=0.8 * w)}
    tensors["bias_ih"] = rnd(G * H, scale=0.3) if case.bias else None
    tensors["bias_hh"] = rnd(G * H, scale=0.3) if case.bias else None
    if case.states:
        tensors["h0"] = rnd(B, H)
        if case.kind == "lstm":
            tensors["c0"] = rnd(B, H)
    kw: dict = dict(case.options, reverse=case.reverse, zero_output_for_mask=case.zero_output)
    if case.mask is not None:
        lengths = torch.randint(0, T + 1, (B,), generator=g)
        lengths[0] = 0  # a sequence with no real step
        pos = torch.arange(T)
        kw["mask"] = {"right": pos[None, :] < lengths[:, None], "left": pos[None, :] >= (T - lengths)[:, None],
                      "holes": torch.rand(B, T, generator=g) > 0.4}[case.mask]
    if case.dropout:
        kw["input_dropout_mask"] = (torch.rand(B, I, generator=g) > 0.3).to(F64) / 0.7
        kw["recurrent_dropout_mask"] = (torch.rand(B, H, generator=g) > 0.3).to(F64) / 0.7
    n_out = 3 if case.kind == "lstm" else 2
    upstream = [rnd(B, T, H)] + [rnd(B, H) for _ in range(n_out - 1)]
    return tensors, kw, upstream


def run_case(kind: str, backend: str, dtype: torch.dtype, tensors: dict, kw: dict, upstream: list[torch.Tensor]):
    """Outputs, and the gradients of sum(output * upstream) for every tensor given, in `dtype`."""
    leaves = {k: v.detach().to(dtype).requires_grad_() for k, v in tensors.items() if v is not None}
    kw = {k: v.to(dtype) if isinstance(v, torch.Tensor) and v.is_floating_point() else v for k, v in kw.items()}
    pos = [leaves.get(k) for k in ("x", "weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    states = {k: leaves[k] for k in ("h0", "c0") if k in leaves}
    outs = getattr(ops, kind)(*pos, **states, **kw, backend=backend)
    loss = sum((o.to(F64) * u).sum() for o, u in zip(outs, upstream))
    names = list(leaves)
    grads = torch.autograd.grad(loss, [leaves[n] for n in names])
    return [o.detach() for o in outs], dict(zip(names, grads))


def _call_of(kind: str, dtype: torch.dtype, tensors: dict, kw: dict) -> RecurrenceCall:
    """The RecurrenceCall dispatch builds for these inputs (to ask a backend whether it supports it)."""
    captured = []

    class Spy:
        name, auto_devices, traceable = "spy", frozenset(), False

        def supports(self, call: RecurrenceCall) -> str | None:
            captured.append(call)
            return "spy"

        def run(self, call: RecurrenceCall) -> tuple[torch.Tensor, ...]:
            raise AssertionError("never run")

    ops.register_backend(Spy())
    try:
        with pytest.raises(ValueError, match="backend 'spy' cannot run"):
            run_case(kind, "spy", dtype, tensors, kw, [])
    finally:
        ops.BACKENDS.unregister("spy")
    return captured[0]


# --------------------------------------------------------------------------- the suite
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_backend_matches_the_reference(backend, case):
    name, dtype = backend
    tensors, kw, upstream = make_inputs(case)
    if dtype != F64:  # compare with the reference on the inputs as the backend sees them
        tensors = {k: None if v is None else v.to(dtype).to(F64) for k, v in tensors.items()}
        kw = {k: v.to(dtype).to(F64) if isinstance(v, torch.Tensor) and v.is_floating_point() else v
              for k, v in kw.items()}
    reason = ops.BACKENDS.get(name).supports(_call_of(case.kind, dtype, tensors, kw))
    ref_out, ref_grads = run_case(case.kind, "reference", F64, tensors, kw, upstream)
    if reason is not None:
        with pytest.raises(ValueError, match=f"backend '{name}' cannot run this {case.kind} call: "):
            run_case(case.kind, name, dtype, tensors, kw, upstream)
        auto_out, _ = run_case(case.kind, "auto", dtype, tensors, kw, upstream)
        for a, r in zip(auto_out, ref_out):
            assert_close(a, r, dtype=dtype)
        return
    if name == "reference":
        _gradcheck_reference(case, tensors, kw)
        return
    out, grads = run_case(case.kind, name, dtype, tensors, kw, upstream)
    assert len(out) == len(ref_out)
    for label, o, r in zip(["output", "h_n", "c_n"], out, ref_out):
        assert o.dtype == dtype and o.shape == r.shape, f"{name} {label}: {o.dtype} {tuple(o.shape)}"
        assert_close(o, r, dtype=dtype, msg=f"{name} {case.id} {label}")
    assert set(grads) == set(ref_grads)
    for label, gr in grads.items():
        assert_close(gr, ref_grads[label], dtype=dtype, msg=f"{name} {case.id} d{label}")


def _gradcheck_reference(case: Case, tensors: dict, kw: dict) -> None:
    names = [k for k, v in tensors.items() if v is not None]
    leaves = [tensors[k].detach().clone().requires_grad_() for k in names]

    def f(*args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        given = dict(zip(names, args))
        pos = [given.get(k) for k in ("x", "weight_ih", "weight_hh", "bias_ih", "bias_hh")]
        states = {k: given[k] for k in ("h0", "c0") if k in given}
        return getattr(ops, case.kind)(*pos, **states, **kw, backend="reference")

    assert torch.autograd.gradcheck(f, leaves)


# Calls each backend must run (a refusal of one is a regression), beside those it may refuse.
MUST_SUPPORT = {
    "reference": lambda case: True,
    "cpu": lambda case: True,
    "aten-cells": lambda case: case.kind != "gru" or dict(case.options).get("reset_after", True),
}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_backends_support_what_they_implement(backend, case):
    name, dtype = backend
    tensors, kw, _ = make_inputs(case)
    reason = ops.BACKENDS.get(name).supports(_call_of(case.kind, dtype, tensors, kw))
    must = MUST_SUPPORT.get(name, lambda case: True)
    activations = {activation_name(v) for k, v in case.options if "activation" in k}
    if name == "aten-cells" and activations - {"tanh", "sigmoid"} - ({"relu"} if case.kind == "simple_rnn" else set()):
        must = lambda case: False  # noqa: E731  fixed activations in torch's cells
    if must(case):
        assert reason is None, f"{name} refuses {case.id}: {reason}"


# --------------------------------------------------------------------------- refusals, by backend
def _lstm_inputs(dtype: torch.dtype = F64, device: str = "cpu", **kw) -> tuple[list, dict]:
    B, T, I, H = 2, 3, 4, 5
    pos = [torch.randn(B, T, I, dtype=dtype, device=device), torch.randn(4 * H, I, dtype=dtype, device=device),
           torch.randn(4 * H, H, dtype=dtype, device=device), None, None]
    return pos, kw


def _softsign(v: torch.Tensor) -> torch.Tensor:
    return v / (1 + v.abs())


REFUSALS = {
    "cpu": [
        ("float16", dict(dtype=torch.float16), "it runs float32 and float64 only, and the input is torch.float16"),
        ("meta device", dict(device="meta"), "it runs on the CPU only, and the input is on meta"),
        ("projection", dict(weight_hr=True), "the LSTM projection"),
        ("callable activation", dict(activation=_softsign), "activation _softsign is a callable"),
        ("dropout mask requiring grad", dict(grad_mask=True), "a dropout mask that requires grad"),
    ],
    "triton": [
        ("float64", dict(), "it runs float32, bfloat16 and float16 only"),
        ("meta device", dict(dtype=torch.float32, device="meta", interpret=True), "it runs on CUDA devices"),
        ("projection", dict(dtype=torch.float32, weight_hr=True, interpret=True), "the LSTM projection"),
        ("callable activation", dict(dtype=torch.float32, activation=_softsign, interpret=True),
         "activation _softsign is a callable"),
        ("dropout mask requiring grad", dict(dtype=torch.float32, grad_mask=True, interpret=True),
         "a dropout mask that requires grad"),
    ],
}


@pytest.mark.parametrize("backend_name,what,options,reason",
                         [(b, *r) for b, rs in REFUSALS.items() for r in rs],
                         ids=[f"{b}-{r[0]}" for b, rs in REFUSALS.items() for r in rs])
def test_named_backend_refuses_what_it_lacks_with_its_reason(monkeypatch, backend_name, what, options, reason):
    options = dict(options)
    dtype, device = options.pop("dtype", F64), options.pop("device", "cpu")
    if options.pop("interpret", False):
        use_triton_interpreter(monkeypatch, skip_with_cuda=False)
    pos, kw = _lstm_inputs(dtype, device)
    H = 5
    if options.pop("weight_hr", False):
        kw["weight_hr"] = torch.randn(2, H, dtype=dtype, device=device)
        pos[2] = pos[2][:, :2].contiguous()
    if options.pop("grad_mask", False):
        kw["recurrent_dropout_mask"] = torch.ones(2, H, dtype=dtype, device=device, requires_grad=True)
    kw.update(options)
    if backend_name not in ops.backends():
        pytest.skip(f"backend {backend_name!r} is not registered here")
    with pytest.raises(ValueError, match=f"backend '{backend_name}' cannot run this lstm call: .*{reason}"):
        ops.lstm(*pos, **kw, backend=backend_name)


def test_the_reference_runs_what_the_others_refuse():
    pos, kw = _lstm_inputs(torch.float16)
    kw["weight_hr"] = torch.randn(2, 5, dtype=torch.float16)
    pos[2] = pos[2][:, :2].contiguous()
    kw["activation"] = _softsign
    out, h, c = ops.lstm(*pos, **kw, backend="reference")
    assert out.shape == (2, 3, 2) and h.shape == (2, 2) and c.shape == (2, 5)
    assert ops.select_backend("auto", pos[0]).name == "reference"


# --------------------------------------------------------------------------- the registry
def test_auto_takes_the_first_registered_backend_that_supports_the_call(test_backend):
    x = torch.randn(2, 3, 4, dtype=F64)
    assert ops.backends()[-2:] == ["aten-cells", "reference"]
    assert ops.select_backend("auto", x).name == "cpu"  # "cpu" comes first
    ops.BACKENDS.unregister("aten-cells")
    ops.register_backend(test_backend, before="cpu")
    assert ops.backends().index("aten-cells") == ops.backends().index("cpu") - 1
    assert ops.select_backend("auto", x).name == "aten-cells"
    assert ops.select_backend("auto", x, kind="gru").name == "aten-cells"
    # what it refuses goes on down the registry
    pos = [x, torch.randn(12, 4, dtype=F64), torch.randn(12, 4, dtype=F64)]
    ref = ops.gru(*pos, reset_after=False, backend="reference")
    with pytest.raises(ValueError, match=r"backend 'aten-cells' cannot run this gru call: torch\.gru_cell"):
        ops.gru(*pos, reset_after=False, backend="aten-cells")
    got = ops.gru(*pos, reset_after=False, backend="auto")
    for a, b in zip(got, ref):
        assert_close(a, b)


def test_registry_refuses_a_second_backend_of_the_same_name_and_an_incomplete_one(test_backend):
    with pytest.raises(ValueError, match="a backend named 'aten-cells' is already registered"):
        ops.register_backend(AtenCellsBackend())

    class NoRun:
        name, auto_devices, traceable = "norun", None, False

        def supports(self, call: RecurrenceCall) -> str | None:
            return None

    with pytest.raises(TypeError, match="a backend needs the attribute 'run'"):
        ops.register_backend(NoRun())  # type: ignore[arg-type]
    assert "norun" not in ops.backends()


def test_unknown_backend_names_the_registered_ones():
    x = torch.randn(2, 3, 4)
    with pytest.raises(ValueError, match=r"unknown backend 'fast': expected 'auto' or one of \['triton', 'cpu'"):
        ops.lstm(x, torch.randn(8, 4), torch.randn(8, 2), backend="fast")
