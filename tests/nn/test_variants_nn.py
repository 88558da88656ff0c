"""lstmkit.nn.LSTM/GRU with peephole=, layer_norm=, zoneout_h=/zoneout_c= and learn_initial_state=: the
parameters' names, the modules against the papers' loops of tests/ops/test_variants.py layer by layer
(two layers, both directions, padding on either side, dropout), zoneout's masks and expectation, the
learned initial state, and torch's semantics kept for plain models."""

import pytest
import torch
from torch import nn

import lstmkit.nn as lnn
from lstmkit import ops
from lstmkit.ops.variants import zoneout_mask
from tests.ops.test_variants import pad_mask, paper_gru, paper_lstm
from tests.tolerances import assert_close

F64 = torch.float64


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny shapes (tests/conftest.py)
ALL_LSTM = dict(peephole=True, layer_norm=True, zoneout_h=0.3, zoneout_c=0.4, learn_initial_state=True)
ALL_GRU = dict(layer_norm=True, zoneout_h=0.3, learn_initial_state=True)


def randomise(m, seed=0):
    """Every parameter random (LN gains near 1), so a parameter read in the wrong place shows."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in m.named_parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * (0.3 if name.startswith("ln_") else 0.5))
            if name.startswith("ln_") and "_weight_" in name:
                p.add_(1.0)
    return m


def module_loop(m, x, mask=None, masks=None, hx=None, drop_seed=None):
    """The module's forward written out: each layer and direction by the papers' loop (batch-first x)."""
    is_lstm = isinstance(m, lnn.LSTM)
    B = x.shape[0]
    D = 2 if m.bidirectional else 1
    layer_input, hs, cs = x, [], []
    for layer in range(m.num_layers):
        outs = []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            p = {n[: -len(sfx)]: t for n, t in m.named_parameters() if n.endswith(sfx)}
            k = layer * D + d
            if hx is not None:
                h0, c0 = (hx[0][k], hx[1][k]) if is_lstm else (hx[k], None)
            elif m.learn_initial_state:
                h0, c0 = p["h0"].expand(B, -1), p["c0"].expand(B, -1) if is_lstm else None
            else:
                h0 = x.new_zeros(B, m.proj_size or m.hidden_size)
                c0 = x.new_zeros(B, m.hidden_size)
            zh = masks[k][0] if masks else (m.zoneout_h or None)
            rec = m.recurrent_dropout if m.training else 0.0  # drawn from torch's generator, per layer and direction
            rec_drop = ops.dropout_mask(B, m.proj_size or m.hidden_size, rec, like=x) if rec else None
            if is_lstm:
                zc = masks[k][1] if masks else (m.zoneout_c or None)
                out, h, c = paper_lstm(layer_input, p, h0=h0, c0=c0, mask=mask, reverse=bool(d), zh=zh, zc=zc,
                                       rec_drop=rec_drop)
                cs.append(c)
            else:
                out, h = paper_gru(layer_input, p, h0=h0, mask=mask, reverse=bool(d), zh=zh, rec_drop=rec_drop)
            outs.append(out)
            hs.append(h)
        layer_input = torch.cat(outs, 2)
        if m.dropout and m.training and layer < m.num_layers - 1:
            layer_input = nn.functional.dropout(layer_input, m.dropout, training=True)
    return layer_input, torch.stack(hs), (torch.stack(cs) if is_lstm else None)


def draw_masks(m, B, T, seed):
    """The zoneout masks the module draws from `zoneout_generator`: layer by layer, forward direction
    first, h's before c's (lstmkit.nn.variants)."""
    g = torch.Generator().manual_seed(seed)
    like = torch.empty(0, dtype=F64)
    Hr = m.proj_size or m.hidden_size
    masks = []
    for _ in range(m.num_layers * (2 if m.bidirectional else 1)):
        zh = zoneout_mask(B, T, Hr, m.zoneout_h, like=like, generator=g)
        zc = zoneout_mask(B, T, m.hidden_size, m.zoneout_c, like=like, generator=g) if m.zoneout_c else None
        masks.append((zh, zc))
    return masks


def test_parameter_names_sit_next_to_torchs():
    m = lnn.LSTM(3, 4, num_layers=2, bidirectional=True, **ALL_LSTM)
    names = dict(m.named_parameters())
    for sfx in ("_l0", "_l0_reverse", "_l1", "_l1_reverse"):
        for n, shape in (("weight_ci", 4), ("weight_cf", 4), ("weight_co", 4), ("ln_ih_weight", 16),
                         ("ln_ih_bias", 16), ("ln_hh_weight", 16), ("ln_hh_bias", 16), ("ln_c_weight", 4),
                         ("ln_c_bias", 4), ("h0", 4), ("c0", 4)):
            assert names[n + sfx].shape == (shape,), n + sfx
    torch_names = [n for n, _ in nn.LSTM(3, 4, num_layers=2, bidirectional=True).named_parameters()]
    assert list(names)[: len(torch_names)] == torch_names  # torch's first, in torch's order
    assert len(names) == len(torch_names) + 4 * 11
    g = lnn.GRU(3, 4, **ALL_GRU)
    assert {n: tuple(p.shape) for n, p in g.named_parameters() if not n.startswith(("weight_", "bias_"))} == {
        "ln_ih_weight_l0": (12,), "ln_ih_bias_l0": (12,), "ln_hh_weight_l0": (12,), "ln_hh_bias_l0": (12,),
        "h0_l0": (4,)}
    assert lnn.LSTM(3, 4, proj_size=2, learn_initial_state=True).h0_l0.shape == (2,)


def test_initialisation_and_reset_parameters():
    m = lnn.LSTM(3, 4, **ALL_LSTM)
    randomise(m)
    m.reset_parameters()
    assert torch.equal(m.ln_ih_weight_l0, torch.ones(16)) and torch.equal(m.ln_c_bias_l0, torch.zeros(4))
    assert torch.equal(m.h0_l0, torch.zeros(4)) and torch.equal(m.c0_l0, torch.zeros(4))
    assert m.weight_ci_l0.abs().max() <= 0.5 and m.weight_ci_l0.abs().max() > 0  # U(-1/√H, 1/√H), H = 4


def test_plain_models_keep_torchs_flat_weights_and_state_dict():
    for make, twin in ((lnn.LSTM, nn.LSTM), (lnn.GRU, nn.GRU)):
        m = make(3, 4, num_layers=2, bidirectional=True)
        t = twin(3, 4, num_layers=2, bidirectional=True)
        assert m._flat_weights_names == t._flat_weights_names
        assert list(m.state_dict()) == list(t.state_dict())
        t.load_state_dict(m.state_dict())
    v = lnn.LSTM(3, 4, **ALL_LSTM)
    assert v._flat_weights_names == nn.LSTM(3, 4)._flat_weights_names
    assert len(v._flat_weights) == 4


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("side", ["right", "left"])
def test_eval_equals_the_papers_loop_two_layers_both_directions(kind, side):
    B, T, I, H = 4, 5, 3, 4
    m = (lnn.LSTM(I, H, num_layers=2, bidirectional=True, batch_first=True, dropout=0.5, dtype=F64, **ALL_LSTM)
         if kind == "lstm" else
         lnn.GRU(I, H, num_layers=2, bidirectional=True, batch_first=True, dropout=0.5, dtype=F64, **ALL_GRU))
    randomise(m).eval()
    x = torch.randn(B, T, I, dtype=F64)
    mask = pad_mask(B, T, side)
    out, state = m(x, mask=mask)
    want_out, want_h, want_c = module_loop(m, x, mask=mask)
    assert_close(out, want_out, msg="output")
    assert_close(state[0] if kind == "lstm" else state, want_h, msg="h_n")
    if kind == "lstm":
        assert_close(state[1], want_c, msg="c_n")
    again, _ = m(x, mask=mask)
    assert torch.equal(out, again)  # eval is deterministic: the expectation, no masks drawn


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_training_zoneout_masks_recurrent_dropout_and_dropout_as_the_loop(kind):
    B, T, I, H = 3, 6, 2, 4
    common = dict(num_layers=2, bidirectional=True, batch_first=True, dropout=0.3, recurrent_dropout=0.25, dtype=F64)
    m = lnn.LSTM(I, H, **common, **ALL_LSTM) if kind == "lstm" else lnn.GRU(I, H, **common, **ALL_GRU)
    randomise(m).train()
    x = torch.randn(B, T, I, dtype=F64)
    lengths = torch.tensor([6, 3, 1])
    mask = torch.arange(T)[None] < lengths[:, None]
    m.zoneout_generator = torch.Generator().manual_seed(11)
    torch.manual_seed(5)  # recurrent dropout and the dropout between layers
    out, state = m(x, lengths=lengths)
    torch.manual_seed(5)
    want_out, want_h, want_c = module_loop(m, x, mask=mask, masks=draw_masks(m, B, T, 11))
    assert_close(out, want_out)
    assert_close(state[0] if kind == "lstm" else state, want_h)
    if kind == "lstm":
        assert_close(state[1], want_c)
    # another draw gives other masks: the masks are per call, not fixed
    assert not torch.equal(m(x, lengths=lengths)[0], out)


def test_training_with_rate_zero_is_the_plain_model():
    B, T, I, H = 3, 5, 2, 4
    plain = randomise(lnn.LSTM(I, H, batch_first=True, dtype=F64)).train()
    zero = lnn.LSTM(I, H, batch_first=True, dtype=F64, zoneout_h=0.0, zoneout_c=0.0).train()
    zero.load_state_dict(plain.state_dict())
    x = torch.randn(B, T, I, dtype=F64)
    assert torch.equal(zero(x)[0], plain(x)[0])


def test_zero_peepholes_equal_the_plain_lstm():
    plain = randomise(lnn.LSTM(3, 4, num_layers=2, dtype=F64))
    peep = lnn.LSTM(3, 4, num_layers=2, dtype=F64, peephole=True)
    peep.load_state_dict(plain.state_dict(), strict=False)
    with torch.no_grad():
        for n, p in peep.named_parameters():
            if n.startswith("weight_c"):
                p.zero_()
    x = torch.randn(5, 2, 3, dtype=F64)
    for a, b in zip(peep(x)[1], plain(x)[1]):
        assert_close(a, b)


def test_learned_initial_state_gets_gradients_and_hx_at_call_wins():
    m = randomise(lnn.LSTM(3, 4, bidirectional=True, batch_first=True, dtype=F64, learn_initial_state=True))
    x = torch.randn(2, 5, 3, dtype=F64)
    out, (h, c) = m(x)
    want = module_loop(m, x)
    assert_close(out, want[0])
    assert_close(h, want[1])
    assert_close(c, want[2])
    out.square().sum().backward()
    for n in ("h0_l0", "c0_l0", "h0_l0_reverse", "c0_l0_reverse"):
        grad = getattr(m, n).grad
        assert grad is not None and grad.abs().sum() > 0, n
    m.zero_grad(set_to_none=True)
    hx = (torch.randn(2, 2, 4, dtype=F64), torch.randn(2, 2, 4, dtype=F64))
    out2, _ = m(x, hx)
    assert_close(out2, module_loop(m, x, hx=hx)[0])
    out2.sum().backward()
    assert m.h0_l0.grad is None and m.c0_l0.grad is None  # not used: the hx passed wins
    unbatched, _ = m(x[0])
    assert_close(unbatched, out[0])


def test_learned_initial_state_gradcheck():
    m = randomise(lnn.GRU(2, 3, batch_first=True, dtype=F64, learn_initial_state=True, layer_norm=True)).eval()
    x = torch.randn(2, 3, 2, dtype=F64)

    def f(h0):
        with torch.no_grad():
            m.h0_l0.copy_(h0.detach())
        return torch.func.functional_call(m, {"h0_l0": h0}, (x,))[0]

    assert torch.autograd.gradcheck(f, (torch.randn(3, dtype=F64, requires_grad=True),))


def test_explicit_triton_backend_refuses_a_variant_and_the_cpu_backend_runs_it():
    m = lnn.LSTM(3, 4, backend="triton", layer_norm=True)
    with pytest.raises(ValueError, match="backend 'triton' cannot run this lstm call: it has no layer_norm"):
        m(torch.randn(5, 2, 3))
    x = torch.randn(5, 2, 3)
    m = lnn.LSTM(3, 4, backend="cpu", layer_norm=True, peephole=True)
    out = m(x)[0]
    m.backend = "reference"
    assert_close(out, m(x)[0])


@pytest.mark.parametrize("make,message", [
    (lambda: lnn.GRU(3, 4, peephole=True), "GRU has no cell state: peephole= is an LSTM option"),
    (lambda: lnn.GRU(3, 4, zoneout_c=0.1), "GRU has no cell state: zoneout_c= is an LSTM option"),
    (lambda: lnn.GRU(3, 4, layer_norm=True, reset_after=False), "needs reset_after=True"),
    (lambda: lnn.LSTM(3, 4, zoneout_h=1.0), r"zoneout_h must be a rate in \[0, 1\), got 1.0"),
    (lambda: lnn.LSTM(3, 4, zoneout_c=-0.1), r"zoneout_c must be a rate in \[0, 1\), got -0.1"),
    (lambda: lnn.LSTM(3, 4, layer_norm=1), "layer_norm must be True or False, got 1"),
])
def test_bad_options_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_repr_names_the_options():
    assert repr(lnn.LSTM(3, 4, peephole=True, zoneout_c=0.25)) == "LSTM(3, 4, peephole=True, zoneout_c=0.25)"
    assert repr(lnn.GRU(3, 4)) == "GRU(3, 4)"


def test_packed_input_and_dtype_moves_carry_the_variants():
    m = randomise(lnn.LSTM(3, 4, bidirectional=True, batch_first=True, **ALL_LSTM)).double().eval()
    assert m.weight_ci_l0.dtype == F64 and m.h0_l0_reverse.dtype == F64
    x = torch.randn(3, 5, 3, dtype=F64)
    lengths = torch.tensor([5, 2, 4])
    packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out_p, (h_p, c_p) = m(packed)
    out, (h, c) = m(x, lengths=lengths)
    padded, _ = nn.utils.rnn.pad_packed_sequence(out_p, batch_first=True, total_length=5)
    assert_close(padded, out)
    assert_close(h_p, h)
    assert_close(c_p, c)
