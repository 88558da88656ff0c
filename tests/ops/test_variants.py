"""The LSTM/GRU variants of lstmkit.ops (peephole, layer norm, zoneout) against implementations written
here from the papers' equations (float64, a Python loop over time), gradcheck, reductions to the plain
recurrences, and the backends' refusal of what their kernels lack."""

import pytest
import torch

from lstmkit import ops
from lstmkit.ops import cpu, dispatch, reference
from lstmkit.ops.variants import LN_EPS, VariantCall, zoneout_mask
from tests.tolerances import assert_close

F64 = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny shapes (tests/conftest.py)


# ----- the papers' equations, written out step by step --------------------------------------------
def sigmoid(v):
    return 1.0 / (1.0 + torch.exp(-v))


def paper_ln(v, gain, bias):
    """Ba, Kiros & Hinton 2016, eq. 4: statistics over the summed inputs of one layer at one step."""
    if gain is None:
        return v
    mu = v.sum(-1, keepdim=True) / v.shape[-1]
    var = ((v - mu) ** 2).sum(-1, keepdim=True) / v.shape[-1]
    return gain * (v - mu) / torch.sqrt(var + LN_EPS) + (0.0 if bias is None else bias)


def paper_lstm(x, p, *, h0, c0, mask=None, reverse=False, in_drop=None, rec_drop=None, zh=None, zc=None):
    """Gers & Schmidhuber 2000 (peepholes), Ba et al. 2016 (LN), Krueger et al. 2016 (zoneout), gate by gate."""
    T = x.shape[1]
    H = c0.shape[1]
    W = [p["weight_ih"][k * H:(k + 1) * H] for k in range(4)]  # W_i, W_f, W_g, W_o
    R = [p["weight_hh"][k * H:(k + 1) * H] for k in range(4)]
    b = [p["bias_ih"][k * H:(k + 1) * H] + p["bias_hh"][k * H:(k + 1) * H] for k in range(4)]
    h, c = h0, c0
    out = [None] * T
    for t in (reversed(range(T)) if reverse else range(T)):
        xt = x[:, t] if in_drop is None else x[:, t] * in_drop
        hin = h if rec_drop is None else h * rec_drop
        wx = torch.cat([xt @ Wk.T for Wk in W], 1)
        rh = torch.cat([hin @ Rk.T for Rk in R], 1)
        wx = paper_ln(wx, p.get("ln_ih_weight"), p.get("ln_ih_bias"))
        rh = paper_ln(rh, p.get("ln_hh_weight"), p.get("ln_hh_bias"))
        a = [wx[:, k * H:(k + 1) * H] + rh[:, k * H:(k + 1) * H] + b[k] for k in range(4)]
        pi, pf, po = (p.get(n, torch.zeros(H, dtype=x.dtype)) for n in ("weight_ci", "weight_cf", "weight_co"))
        i = sigmoid(a[0] + pi * c)
        f = sigmoid(a[1] + pf * c)
        g = torch.tanh(a[2])
        c_new = f * c + i * g
        o = sigmoid(a[3] + po * c_new)
        h_new = o * torch.tanh(paper_ln(c_new, p.get("ln_c_weight"), p.get("ln_c_bias")))
        if "weight_hr" in p:
            h_new = h_new @ p["weight_hr"].T
        if zh is not None:
            d = zh[:, t] if isinstance(zh, torch.Tensor) else zh
            h_new = d * h + (1 - d) * h_new
        if zc is not None:
            d = zc[:, t] if isinstance(zc, torch.Tensor) else zc
            c_new = d * c + (1 - d) * c_new
        if mask is not None:
            keep = mask[:, t, None]
            h_new, c_new = torch.where(keep, h_new, h), torch.where(keep, c_new, c)
            out[t] = torch.where(keep, h_new, torch.zeros_like(h_new))
        else:
            out[t] = h_new
        h, c = h_new, c_new
    return torch.stack(out, 1), h, c


def paper_gru(x, p, *, h0, mask=None, reverse=False, reset_after=True, in_drop=None, rec_drop=None, zh=None):
    """Cho et al. 2014 with LN of both projections (haste's LayerNormGRU) and zoneout on h."""
    T = x.shape[1]
    H = h0.shape[1]
    W = [p["weight_ih"][k * H:(k + 1) * H] for k in range(3)]  # W_r, W_z, W_n
    R = [p["weight_hh"][k * H:(k + 1) * H] for k in range(3)]
    bi = [p["bias_ih"][k * H:(k + 1) * H] for k in range(3)]
    bh = [p["bias_hh"][k * H:(k + 1) * H] for k in range(3)]
    h = h0
    out = [None] * T
    for t in (reversed(range(T)) if reverse else range(T)):
        xt = x[:, t] if in_drop is None else x[:, t] * in_drop
        hin = h if rec_drop is None else h * rec_drop
        wx = paper_ln(torch.cat([xt @ Wk.T for Wk in W], 1), p.get("ln_ih_weight"), p.get("ln_ih_bias"))
        wx = [wx[:, k * H:(k + 1) * H] + bi[k] for k in range(3)]
        if reset_after:
            rh = paper_ln(torch.cat([hin @ Rk.T for Rk in R], 1), p.get("ln_hh_weight"), p.get("ln_hh_bias"))
            rh = [rh[:, k * H:(k + 1) * H] + bh[k] for k in range(3)]
            r = sigmoid(wx[0] + rh[0])
            z = sigmoid(wx[1] + rh[1])
            n = torch.tanh(wx[2] + r * rh[2])
        else:
            r = sigmoid(wx[0] + hin @ R[0].T + bh[0])
            z = sigmoid(wx[1] + hin @ R[1].T + bh[1])
            n = torch.tanh(wx[2] + (r * hin) @ R[2].T + bh[2])
        h_new = (1 - z) * n + z * h
        if zh is not None:
            d = zh[:, t] if isinstance(zh, torch.Tensor) else zh
            h_new = d * h + (1 - d) * h_new
        if mask is not None:
            keep = mask[:, t, None]
            h_new = torch.where(keep, h_new, h)
            out[t] = torch.where(keep, h_new, torch.zeros_like(h_new))
        else:
            out[t] = h_new
        h = h_new
    return torch.stack(out, 1), h


# ----- parameters -----------------------------------------------------------------------------------
def params(kind, I, H, variants, P=0, seed=0):
    g = torch.Generator().manual_seed(seed)
    G = 4 if kind == "lstm" else 3
    Hr = P or H

    def rnd(*shape, s=0.5):
        return torch.randn(*shape, generator=g, dtype=F64) * s

    p = {"weight_ih": rnd(G * H, I), "weight_hh": rnd(G * H, Hr), "bias_ih": rnd(G * H, s=0.1),
         "bias_hh": rnd(G * H, s=0.1)}
    if P:
        p["weight_hr"] = rnd(P, H)
    if "peephole" in variants:
        p.update(weight_ci=rnd(H), weight_cf=rnd(H), weight_co=rnd(H))
    if "layer_norm" in variants:
        # gains and biases away from 1 and 0, so a swapped or dropped one shows
        p.update(ln_ih_weight=1 + rnd(G * H, s=0.3), ln_ih_bias=rnd(G * H, s=0.2),
                 ln_hh_weight=1 + rnd(G * H, s=0.3), ln_hh_bias=rnd(G * H, s=0.2))
        if kind == "lstm":
            p.update(ln_c_weight=1 + rnd(H, s=0.3), ln_c_bias=rnd(H, s=0.2))
    return p


def call_ops(kind, x, p, **kw):
    extra = {k: v for k, v in p.items() if k not in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
    fn = ops.lstm if kind == "lstm" else ops.gru
    return fn(x, p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"], **extra, **kw)


def pad_mask(B, T, side):
    lengths = torch.tensor([T, T - 2, 1, 0][:B])
    steps = torch.arange(T)[None, :]
    if side == "right":
        return steps < lengths[:, None]
    return steps >= (T - lengths)[:, None]


LSTM_CASES = [
    ("peephole", "none", False, 0),
    ("layer_norm", "none", False, 0),
    ("zoneout_eval", "none", False, 0),
    ("zoneout_train", "none", False, 0),
    ("peephole+layer_norm+zoneout_train", "right", False, 0),
    ("peephole+layer_norm+zoneout_train", "left", True, 0),
    ("peephole+layer_norm+zoneout_eval", "left", False, 3),
    ("peephole+zoneout_train", "right", True, 3),
]


def zoneouts(name, B, T, Hr, H, g):
    if "zoneout_train" in name:
        return zoneout_mask(B, T, Hr, 0.3, like=torch.empty(0, dtype=F64), generator=g), \
            zoneout_mask(B, T, H, 0.6, like=torch.empty(0, dtype=F64), generator=g)
    if "zoneout_eval" in name:
        return 0.3, 0.6
    return None, None


@pytest.mark.parametrize("name,side,reverse,P", LSTM_CASES,
                         ids=[f"{n}-{s}-{'rev' if r else 'fwd'}-P{p}" for n, s, r, p in LSTM_CASES])
def test_lstm_variants_equal_the_papers_equations(name, side, reverse, P):
    B, T, I, H = 4, 6, 3, 5
    Hr = P or H
    g = torch.Generator().manual_seed(1)
    p = params("lstm", I, H, name, P=P)
    x = torch.randn(B, T, I, generator=g, dtype=F64)
    h0, c0 = torch.randn(B, Hr, generator=g, dtype=F64), torch.randn(B, H, generator=g, dtype=F64)
    mask = None if side == "none" else pad_mask(B, T, side)
    in_drop = (torch.rand(B, I, generator=g) > 0.3).to(F64) / 0.7
    rec_drop = (torch.rand(B, Hr, generator=g) > 0.3).to(F64) / 0.7
    zh, zc = zoneouts(name, B, T, Hr, H, g)
    got = call_ops("lstm", x, p, h0=h0, c0=c0, mask=mask, reverse=reverse, input_dropout_mask=in_drop,
                   recurrent_dropout_mask=rec_drop, zero_output_for_mask=True, zoneout_h=zh, zoneout_c=zc)
    want = paper_lstm(x, p, h0=h0, c0=c0, mask=mask, reverse=reverse, in_drop=in_drop, rec_drop=rec_drop,
                      zh=zh, zc=zc)
    for a, b, what in zip(got, want, ("output", "h_n", "c_n")):
        assert_close(a, b, msg=what)


GRU_CASES = [
    ("layer_norm", "none", False, True),
    ("zoneout_eval", "right", False, True),
    ("zoneout_train", "left", True, True),
    ("layer_norm+zoneout_train", "left", True, True),
    ("layer_norm+zoneout_eval", "right", False, True),
    ("zoneout_train", "right", False, False),
]


@pytest.mark.parametrize("name,side,reverse,reset_after", GRU_CASES,
                         ids=[f"{n}-{s}-{'rev' if r else 'fwd'}-ra{int(a)}" for n, s, r, a in GRU_CASES])
def test_gru_variants_equal_the_papers_equations(name, side, reverse, reset_after):
    B, T, I, H = 4, 6, 3, 5
    g = torch.Generator().manual_seed(2)
    p = params("gru", I, H, name)
    x = torch.randn(B, T, I, generator=g, dtype=F64)
    h0 = torch.randn(B, H, generator=g, dtype=F64)
    mask = None if side == "none" else pad_mask(B, T, side)
    in_drop = (torch.rand(B, I, generator=g) > 0.3).to(F64) / 0.7
    rec_drop = (torch.rand(B, H, generator=g) > 0.3).to(F64) / 0.7
    zh, _ = zoneouts(name, B, T, H, H, g)
    got = call_ops("gru", x, p, h0=h0, mask=mask, reverse=reverse, reset_after=reset_after,
                   input_dropout_mask=in_drop, recurrent_dropout_mask=rec_drop, zero_output_for_mask=True,
                   zoneout_h=zh)
    want = paper_gru(x, p, h0=h0, mask=mask, reverse=reverse, reset_after=reset_after, in_drop=in_drop,
                     rec_drop=rec_drop, zh=zh)
    for a, b, what in zip(got, want, ("output", "h_n")):
        assert_close(a, b, msg=what)


# ----- gradcheck ------------------------------------------------------------------------------------
GRADCHECK = [("lstm", "peephole", 0), ("lstm", "layer_norm", 0), ("lstm", "zoneout_train", 0),
             ("lstm", "zoneout_eval", 2), ("lstm", "peephole+layer_norm+zoneout_train", 2),
             ("gru", "layer_norm", 0), ("gru", "zoneout_train", 0), ("gru", "layer_norm+zoneout_eval", 0)]


@pytest.mark.parametrize("kind,name,P", GRADCHECK, ids=[f"{k}-{n}-P{p}" for k, n, p in GRADCHECK])
def test_gradcheck(kind, name, P):
    B, T, I, H = 2, 3, 2, 3
    Hr = P or H
    g = torch.Generator().manual_seed(3)
    p = params(kind, I, H, name, P=P)
    names = list(p)
    x = torch.randn(B, T, I, generator=g, dtype=F64)
    h0 = torch.randn(B, Hr, generator=g, dtype=F64)
    c0 = torch.randn(B, H, generator=g, dtype=F64)
    mask = pad_mask(B, T, "left")
    zh, zc = zoneouts(name, B, T, Hr, H, g)
    if kind == "gru":
        zc = None

    def f(x, h0, c0, *values):
        kw = {"h0": h0, "mask": mask, "zoneout_h": zh, "backend": "reference"}
        if kind == "lstm":
            kw.update(c0=c0, zoneout_c=zc)
        return call_ops(kind, x, dict(zip(names, values)), **kw)

    inputs = [t.requires_grad_() for t in (x, h0, c0, *p.values())]
    assert torch.autograd.gradcheck(f, inputs)


# ----- reductions to the plain recurrences ----------------------------------------------------------
def test_zero_peepholes_and_rate_zero_zoneout_are_the_plain_lstm():
    B, T, I, H = 3, 5, 4, 6
    p = params("lstm", I, H, "")
    x = torch.randn(B, T, I, dtype=F64)
    mask = pad_mask(B, T, "left")
    plain = call_ops("lstm", x, p, mask=mask, backend="reference")
    z = torch.zeros(H, dtype=F64)
    zero_mask = torch.zeros(B, T, H, dtype=F64)
    for kw in ({"zoneout_h": 0.0, "zoneout_c": 0.0}, {"zoneout_h": zero_mask, "zoneout_c": zero_mask}):
        got = call_ops("lstm", x, p, mask=mask, backend="reference", **kw)
        for a, b in zip(got, plain):
            assert torch.equal(a, b), kw
    # zero peepholes: equal to the last bit or two only, since σ of a fresh tensor and σ of a chunk view of
    # the gates take different vectorised paths in torch (1.4e-17 apart measured at float64)
    got = call_ops("lstm", x, p, mask=mask, weight_ci=z, weight_cf=z, weight_co=z)
    for a, b in zip(got, plain):
        assert_close(a, b)


def test_layer_norm_of_one_part_only_leaves_the_others_plain():
    """Each LN is its own: with only LN_c, the gates are the plain LSTM's (checked by the paper loop with
    no LN on the projections), so an LN applied where it was not asked would show."""
    B, T, I, H = 3, 5, 4, 6
    p = params("lstm", I, H, "")
    p.update(ln_c_weight=torch.rand(H, dtype=F64) + 0.5, ln_c_bias=torch.randn(H, dtype=F64))
    x = torch.randn(B, T, I, dtype=F64)
    h0, c0 = torch.zeros(B, H, dtype=F64), torch.zeros(B, H, dtype=F64)
    got = call_ops("lstm", x, p)
    want = paper_lstm(x, p, h0=h0, c0=c0)
    for a, b in zip(got, want):
        assert_close(a, b)


def test_full_zoneout_mask_keeps_the_initial_state():
    B, T, I, H = 2, 4, 3, 5
    p = params("gru", I, H, "layer_norm")
    h0 = torch.randn(B, H, dtype=F64)
    out, h = call_ops("gru", torch.randn(B, T, I, dtype=F64), p, h0=h0, zoneout_h=torch.ones(B, T, H, dtype=F64))
    assert torch.equal(h, h0)
    assert torch.equal(out, h0[:, None].expand(B, T, H))


def test_zoneout_mask_is_reproducible_and_binary():
    like = torch.empty(0, dtype=F64)
    a = zoneout_mask(4, 50, 8, 0.25, like=like, generator=torch.Generator().manual_seed(7))
    b = zoneout_mask(4, 50, 8, 0.25, like=like, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a, b) and a.dtype == F64 and a.shape == (4, 50, 8)
    assert set(a.unique().tolist()) == {0.0, 1.0}
    expected = (torch.rand(4, 50, 8, generator=torch.Generator().manual_seed(7)) < 0.25).to(F64)
    assert torch.equal(a, expected)  # d = 1 (keep the previous value) with probability p
    assert zoneout_mask(4, 5, 8, 0.0, like=like) is None
    with pytest.raises(ValueError, match=r"zoneout rate must be in \[0, 1\), got 1.0"):
        zoneout_mask(4, 5, 8, 1.0, like=like)


# ----- backends ---------------------------------------------------------------------------------------
VARIANT_KW = {
    "peephole": lambda H: {"weight_ci": torch.zeros(H), "weight_cf": torch.zeros(H), "weight_co": torch.zeros(H)},
    "layer_norm": lambda H: {"ln_c_weight": torch.ones(H)},
    "zoneout": lambda H: {"zoneout_h": 0.2},
}


@pytest.mark.parametrize("variant", sorted(VARIANT_KW))
def test_triton_refuses_a_variant_by_name_and_auto_takes_the_cpu_kernel(variant):
    B, T, I, H = 2, 3, 4, 5
    x = torch.randn(B, T, I)
    w_ih, w_hh = torch.randn(4 * H, I), torch.randn(4 * H, H)
    kw = VARIANT_KW[variant](H)
    with pytest.raises(ValueError, match=rf"backend 'triton' cannot run this lstm call: .*{variant}"):
        ops.lstm(x, w_ih, w_hh, backend="triton", **kw)
    call = VariantCall("lstm", x, w_ih, w_hh, None, None, h0=x.new_zeros(B, H), c0=x.new_zeros(B, H),
                       **{k: v for k, v in kw.items()})
    assert cpu.BACKEND.supports(call) is None  # the CPU kernel runs the variants (tests/ops/test_variants_cpu.py)
    assert ops.select_backend("auto", call).name == "cpu"
    out = ops.lstm(x, w_ih, w_hh, **kw)
    assert_close(out[0], ops.lstm(x, w_ih, w_hh, backend="reference", **kw)[0])


def test_the_gru_variants_with_reset_after_false_go_to_the_reference():
    B, T, I, H = 2, 3, 4, 5
    x = torch.randn(B, T, I)
    w_ih, w_hh = torch.randn(3 * H, I), torch.randn(3 * H, H)
    with pytest.raises(ValueError, match=r"backend 'cpu' cannot run this gru call: .*reset_after=True only"):
        ops.gru(x, w_ih, w_hh, reset_after=False, zoneout_h=0.2, backend="cpu")
    call = VariantCall("gru", x, w_ih, w_hh, None, None, h0=x.new_zeros(B, H), reset_after=False, zoneout_h=0.2)
    assert ops.select_backend("auto", call).name == "reference"


def test_a_backend_without_variants_is_never_given_one(monkeypatch):
    class Plain:
        name, auto_devices, traceable = "plain", None, False

        def supports(self, call):
            return None

        def run(self, call):  # pragma: no cover - must not be reached
            raise AssertionError("a variant call reached a backend that has no variants")

    registry = dispatch.Registry()
    registry.register(Plain())
    registry.register(reference.BACKEND)
    monkeypatch.setattr(dispatch, "BACKENDS", registry)
    x = torch.randn(2, 3, 4, dtype=F64)
    p = params("gru", 4, 5, "layer_norm")
    call_ops("gru", x, p)  # auto: skips "plain"
    with pytest.raises(ValueError, match="backend 'plain' cannot run this gru call: it has no layer_norm"):
        call_ops("gru", x, p, backend="plain")


def test_tracing_records_the_variants_gates():
    p = params("lstm", 3, 4, "peephole+layer_norm")
    x = torch.randn(2, 5, 3, dtype=F64)
    with ops.tracing() as records:
        out, _, _ = call_ops("lstm", x, p, zoneout_h=0.5)
    assert records[0]["h"].shape == (2, 5, 4)
    assert torch.equal(records[0]["h"], out)


# ----- bad input ----------------------------------------------------------------------------------------
BAD = [
    ("lstm", {"weight_ci": torch.zeros(5)}, "weight_ci, weight_cf, weight_co go together; got weight_ci alone"),
    ("lstm", {"weight_ci": torch.zeros(4), "weight_cf": torch.zeros(5), "weight_co": torch.zeros(5)},
     r"lstm: weight_ci must have shape \(5\), got \(4\)"),
    ("lstm", {"ln_ih_weight": torch.ones(5)}, r"lstm: ln_ih_weight must have shape \(20\), got \(5\)"),
    ("lstm", {"ln_c_bias": torch.ones(5)}, "ln_c_bias needs ln_c_weight"),
    ("lstm", {"zoneout_h": 1.0}, r"lstm: zoneout_h rate must be in \[0, 1\), got 1.0"),
    ("lstm", {"zoneout_c": "0.1"}, "zoneout_c must be a rate in"),
    ("lstm", {"zoneout_c": torch.zeros(2, 3, 4)}, r"zoneout_c \(a 0/1 mask per step\) must have shape \(2, 3, 5\)"),
    ("gru", {"ln_hh_weight": torch.ones(15), "reset_after": False}, "needs reset_after=True"),
    ("gru", {"zoneout_h": torch.zeros(2, 3, 5, dtype=F64)}, "has dtype torch.float64 but the input has"),
]


@pytest.mark.parametrize("kind,kw,message", BAD, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(BAD)])
def test_bad_variant_arguments_are_refused_clearly(kind, kw, message):
    G = 4 if kind == "lstm" else 3
    x = torch.randn(2, 3, 4)
    fn = ops.lstm if kind == "lstm" else ops.gru
    with pytest.raises(ValueError, match=message):
        fn(x, torch.randn(G * 5, 4), torch.randn(G * 5, 5), **kw)
