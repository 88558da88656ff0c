"""The variants (peephole, layer norm, zoneout) on the CPU backend's fused loops against the reference:
outputs and every gradient (x, weights, biases, h0/c0, peepholes, layer-norm gains and biases), float64
(tests/tolerances.py: 1e-10) and float32 against a float64 reference (its float32 row), each variant alone
and combined, padding on either side, reverse, dropout masks, one and two threads (B not divisible by
two), the compiled kernel and its pure-PyTorch twin (`_cpu/loops.py`); then through lstmkit.nn
(bidirectional, two layers, learned initial state) and the dispatch rules."""

import pytest
import torch

import lstmkit.nn as lnn
from lstmkit import ops
from lstmkit.ops import cpu
from lstmkit.ops.variants import VariantCall, zoneout_mask
from tests.ops.helpers import cpu_implementation
from tests.ops.test_variants import params
from tests.tolerances import assert_close

F64, F32 = torch.float64, torch.float32
B, T, I, H = 5, 7, 3, 4  # B odd: two threads split it 2 + 3

LSTM_VARIANTS = ["peephole", "layer_norm", "zoneout_train", "zoneout_eval", "peephole+layer_norm+zoneout_train",
                 "peephole+layer_norm+zoneout_eval+dropout"]
GRU_VARIANTS = ["layer_norm", "zoneout_train", "zoneout_eval", "layer_norm+zoneout_train+dropout"]
LAYOUTS = [("none", False), ("right", True), ("left", False)]  # (padding side, reverse)


def pad_mask(side):
    """(B, T) True at real steps: lengths 7, 5, 1, 0, 6 padded on the right or on the left."""
    lengths = torch.tensor([T, T - 2, 1, 0, T - 1])
    steps = torch.arange(T)[None, :]
    return steps < lengths[:, None] if side == "right" else steps >= (T - lengths)[:, None]


def inputs(kind, variants, side, dtype, seed=0):
    """Parameters, x, states and the call's keywords (float64 masters; `cast` gives them in dtype)."""
    g = torch.Generator().manual_seed(seed + 1)
    p = params(kind, I, H, variants, seed=seed)
    x = torch.randn(B, T, I, generator=g, dtype=F64)
    st = {"h0": torch.randn(B, H, generator=g, dtype=F64)}
    if kind == "lstm":
        st["c0"] = torch.randn(B, H, generator=g, dtype=F64)
    kw = {}
    if side != "none":
        kw["mask"] = pad_mask(side)
    like = torch.empty(0, dtype=F64)
    if "zoneout_train" in variants:
        kw["zoneout_h"] = zoneout_mask(B, T, H, 0.3, like=like, generator=g)
        if kind == "lstm":
            kw["zoneout_c"] = zoneout_mask(B, T, H, 0.5, like=like, generator=g)
    if "zoneout_eval" in variants:
        kw["zoneout_h"] = 0.3
        if kind == "lstm":
            kw["zoneout_c"] = 0.5
    if "dropout" in variants:
        kw["input_dropout_mask"] = (torch.rand(B, I, generator=g) > 0.3).to(F64) / 0.7
        kw["recurrent_dropout_mask"] = (torch.rand(B, H, generator=g) > 0.3).to(F64) / 0.7
        kw["zero_output_for_mask"] = True
    return p, x, st, kw


def cast(d, dtype):
    return {k: v.to(dtype) if isinstance(v, torch.Tensor) and v.is_floating_point() else v for k, v in d.items()}


def outputs_and_grads(kind, p, x, st, kw, backend, cotangents=None):
    """The outputs and the gradients of a random weighting of them (every output, every final state)."""
    leaves = {"x": x.clone().requires_grad_(), **{k: v.clone().requires_grad_() for k, v in {**p, **st}.items()}}
    extra = {k: v for k, v in leaves.items() if k not in ("x", "weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    fn = ops.lstm if kind == "lstm" else ops.gru
    out = fn(leaves["x"], leaves["weight_ih"], leaves["weight_hh"], leaves["bias_ih"], leaves["bias_hh"], **extra,
             **kw, backend=backend)
    if cotangents is None:
        g = torch.Generator().manual_seed(3)
        cotangents = [torch.randn(o.shape, generator=g, dtype=F64) for o in out]
    grads = torch.autograd.grad(out, list(leaves.values()), [c.to(o.dtype) for c, o in zip(cotangents, out)])
    return out, dict(zip(leaves, grads)), cotangents


def check_against_reference(kind, variants, side, reverse, dtype):
    p, x, st, kw = inputs(kind, variants, side, dtype)
    kw["reverse"] = reverse
    ref_out, ref_grads, cot = outputs_and_grads(kind, p, x, st, kw, "reference")
    out, grads, _ = outputs_and_grads(kind, cast(p, dtype), x.to(dtype), cast(st, dtype), cast(kw, dtype), "cpu", cot)
    for name, a, b in zip(("output", "h_n", "c_n"), out, ref_out):
        assert a.dtype == dtype
        assert_close(a, b, msg=name)
    assert set(grads) == set(ref_grads)
    for name in ref_grads:
        assert_close_scaled(grads[name], ref_grads[name], msg=f"d{name}")


def assert_close_scaled(a, b, msg):
    """float64 as the table says; float32 relative to the gradient's largest entry: LN's 1/σ gives gradients
    of 40 here (each a sum over T*B rows), and float32's rounding is relative to those, not absolute."""
    scale = 1.0 if a.dtype == F64 else max(1.0, b.abs().max().item())
    assert_close(a / scale, b / scale, msg=msg)


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("impl", ["compiled", "python"])
@pytest.mark.parametrize("dtype", [F64, F32], ids=["fp64", "fp32"])
@pytest.mark.parametrize("side,reverse", LAYOUTS, ids=[f"{s}-{'rev' if r else 'fwd'}" for s, r in LAYOUTS])
@pytest.mark.parametrize("variants", LSTM_VARIANTS)
def test_lstm_variants_match_the_reference(variants, side, reverse, dtype, impl):
    with cpu_implementation(impl):
        check_against_reference("lstm", variants, side, reverse, dtype)


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("impl", ["compiled", "python"])
@pytest.mark.parametrize("dtype", [F64, F32], ids=["fp64", "fp32"])
@pytest.mark.parametrize("side,reverse", LAYOUTS, ids=[f"{s}-{'rev' if r else 'fwd'}" for s, r in LAYOUTS])
@pytest.mark.parametrize("variants", GRU_VARIANTS)
def test_gru_variants_match_the_reference(variants, side, reverse, dtype, impl):
    with cpu_implementation(impl):
        check_against_reference("gru", variants, side, reverse, dtype)


@pytest.mark.parametrize("kind,variants", [("lstm", "peephole+layer_norm+zoneout_train+dropout"),
                                           ("gru", "layer_norm+zoneout_train+dropout")])
@pytest.mark.parametrize("threads", [1, 2])
def test_thread_splits_of_an_odd_batch_give_the_same_results(monkeypatch, kind, variants, threads):
    """Each thread runs the loop on its rows and sums the peepholes' and gains' gradients over them;
    B = 5 splits 2 + 3. The split is forced: at this size the backend would take one thread."""
    monkeypatch.setattr(cpu, "_threads", lambda B_, T_, GH, K: min(threads, B_))
    with cpu_implementation("compiled"):
        check_against_reference(kind, variants, "left", True, F64)


def test_the_forward_without_gradients_matches_the_reference():
    """No gradient asked: the loop keeps no buffers (its own path through the kernel)."""
    for kind, variants in (("lstm", "peephole+layer_norm+zoneout_eval"), ("gru", "layer_norm+zoneout_eval")):
        p, x, st, kw = inputs(kind, variants, "right", F64)
        fn = ops.lstm if kind == "lstm" else ops.gru
        args = (x, p.pop("weight_ih"), p.pop("weight_hh"), p.pop("bias_ih"), p.pop("bias_hh"))
        ref = fn(*args, **p, **st, **kw, backend="reference")
        for impl in ("compiled", "python"):
            with cpu_implementation(impl), torch.no_grad():
                got = fn(*args, **p, **st, **kw, backend="cpu")
            for a, b in zip(got, ref, strict=True):
                assert_close(a, b)


def test_second_order_gradients_recompute_through_the_reference():
    """backward(create_graph=True): the fused backward has no derivative, so the gradients are recomputed
    differentiably; a gradient of the gradient equals the reference's."""
    p, x, st, kw = inputs("lstm", "peephole+layer_norm+zoneout_train", "right", F64)
    results = []
    for backend in ("reference", "cpu"):
        w = {k: v.clone().requires_grad_() for k, v in p.items()}
        xx = x.clone().requires_grad_()
        extra = {k: v for k, v in w.items() if k not in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        y, _, cn = ops.lstm(xx, w["weight_ih"], w["weight_hh"], w["bias_ih"], w["bias_hh"], **extra, **st, **kw,
                             backend=backend)
        (gx,) = torch.autograd.grad((y ** 2).sum() + cn.sum(), xx, create_graph=True)
        results.append(torch.autograd.grad((gx ** 2).sum(), [w["weight_hh"], w["weight_ci"], w["ln_c_weight"]]))
    for a, b in zip(*results, strict=True):
        assert_close(a, b)


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
def test_nn_bidirectional_two_layers_with_every_variant_match_the_reference(kind):
    """Through lstmkit.nn: two layers, both directions, layer norm, peepholes (LSTM), zoneout in training
    (the same masks: the same generator seed), a learned initial state broadcast over the batch."""
    extra = {"peephole": True, "zoneout_c": 0.4} if kind == "LSTM" else {}
    m = getattr(lnn, kind)(I, H, num_layers=2, bidirectional=True, batch_first=True, layer_norm=True, zoneout_h=0.3,
                           learn_initial_state=True, dtype=F64, **extra)
    with torch.no_grad():
        for prm in m.parameters():  # gains away from 1, biases and initial states away from 0
            prm.add_(0.2 * torch.randn_like(prm))
    m.train()
    x = torch.randn(B, T, I, dtype=F64)
    lengths = torch.tensor([7, 5, 1, 6, 3])
    results = []
    for backend in ("reference", "cpu"):
        m.backend = backend
        m.zoneout_generator = torch.Generator().manual_seed(11)
        xx = x.clone().requires_grad_()
        y = m(xx, lengths=lengths)[0]
        gy = torch.randn(y.shape, generator=torch.Generator().manual_seed(5), dtype=F64)
        names, prms = zip(*m.named_parameters())
        grads = torch.autograd.grad(y, [xx, *prms], gy)
        results.append((y, dict(zip(("x", *names), grads))))
    (y_ref, g_ref), (y_cpu, g_cpu) = results
    assert any("h0_l1_reverse" == n for n in g_ref) and any("ln_hh_weight_l1" == n for n in g_ref)
    assert_close(y_cpu, y_ref)
    for name in g_ref:
        assert_close_scaled(g_cpu[name], g_ref[name], msg=f"d{name}")


def test_supports_lists_the_variants_and_auto_takes_the_cpu_kernel():
    assert cpu.BACKEND.variants == {"peephole", "layer_norm", "zoneout"}
    x = torch.randn(2, 3, 4)
    h = x.new_zeros(2, 5)
    call = VariantCall("lstm", x, torch.randn(20, 4), torch.randn(20, 5), None, None, h0=h, c0=h,
                       weight_ci=torch.zeros(5), weight_cf=torch.zeros(5), weight_co=torch.zeros(5),
                       ln_hh_weight=torch.ones(20), zoneout_h=0.1)
    assert cpu.BACKEND.supports(call) is None
    assert ops.select_backend("auto", call).name == "cpu"
    gru_nra = VariantCall("gru", x, torch.randn(15, 4), torch.randn(15, 5), None, None, h0=h, reset_after=False,
                          ln_ih_weight=torch.ones(15))
    assert "reset_after=True only" in cpu.BACKEND.supports(gru_nra)
    assert ops.select_backend("auto", gru_nra).name == "reference"
    projected = VariantCall("lstm", x, torch.randn(20, 4), torch.randn(20, 3), None, None, h0=x.new_zeros(2, 3), c0=h,
                            weight_hr=torch.randn(3, 5), zoneout_h=0.1)
    assert "projection" in cpu.BACKEND.supports(projected)
    assert ops.select_backend("auto", projected).name == "reference"
