"""The reference recurrences: gradcheck, padding on either side, length-0 sequences, dropout masks."""

import pytest
import torch

from lstmkit import ops
from tests.tolerances import assert_close

F64 = torch.float64


def weights(kind, I, H, P=0, dtype=F64, bias=True):
    G = {"lstm": 4, "gru": 3, "simple_rnn": 1}[kind]
    Hr = P or H
    w = {
        "weight_ih": torch.randn(G * H, I, dtype=dtype) * 0.5,
        "weight_hh": torch.randn(G * H, Hr, dtype=dtype) * 0.5,
        "bias_ih": torch.randn(G * H, dtype=dtype) * 0.1 if bias else None,
        "bias_hh": torch.randn(G * H, dtype=dtype) * 0.1 if bias else None,
    }
    if P:
        w["weight_hr"] = torch.randn(P, H, dtype=dtype) * 0.5
    return w


def run(kind, x, w, **kw):
    fn = getattr(ops, kind)
    args = (x, w["weight_ih"], w["weight_hh"], w["bias_ih"], w["bias_hh"])
    if "weight_hr" in w:
        kw["weight_hr"] = w["weight_hr"]
    return fn(*args, backend="reference", **kw)


GRADCHECK = [
    ("lstm", {}),
    ("lstm", {"reverse": True, "recurrent_activation": "hard_sigmoid"}),
    ("lstm", {"P": 3}),
    ("gru", {"reset_after": True}),
    ("gru", {"reset_after": False, "reverse": True}),
    ("simple_rnn", {"activation": "tanh"}),
    ("simple_rnn", {"activation": "linear"}),
]


@pytest.mark.parametrize("kind,kw", GRADCHECK, ids=[f"{k}-{'-'.join(f'{a}={b}' for a, b in kw.items())}"
                                                     for k, kw in GRADCHECK])
def test_gradcheck(kind, kw):
    kw = dict(kw)
    P = kw.pop("P", 0)
    B, T, I, H = 3, 4, 2, 5
    w = {k: v.requires_grad_(True) for k, v in weights(kind, I, H, P).items() if v is not None}
    x = torch.randn(B, T, I, dtype=F64, requires_grad=True)
    h0 = torch.randn(B, P or H, dtype=F64, requires_grad=True)
    extra = [torch.randn(B, H, dtype=F64, requires_grad=True)] if kind == "lstm" else []
    mask = torch.tensor([[1, 1, 1, 1], [0, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    in_mask = (torch.rand(B, I, dtype=F64) > 0.3).to(F64) / 0.7
    rec_mask = (torch.rand(B, P or H, dtype=F64) > 0.3).to(F64) / 0.7
    names = list(w)

    def f(x, h0, *rest):
        ww = dict(zip(names, rest[len(extra):]))
        states = {"h0": h0}
        if extra:
            states["c0"] = rest[0]
        return run(kind, x, ww, mask=mask, input_dropout_mask=in_mask, recurrent_dropout_mask=rec_mask, **states, **kw)

    assert torch.autograd.gradcheck(f, (x, h0, *extra, *w.values()))


def _alone_and_padded(kind, side, reverse, zero_output):
    """Each sequence of a padded batch must give what it gives when run alone."""
    I, H = 3, 6
    w = weights(kind, I, H)
    lengths = [5, 2, 7, 1]
    T = max(lengths)
    seqs = [torch.randn(n, I, dtype=F64) for n in lengths]
    x = torch.zeros(len(seqs), T, I, dtype=F64)
    mask = torch.zeros(len(seqs), T, dtype=torch.bool)
    for b, s in enumerate(seqs):
        sl = slice(T - len(s), T) if side == "left" else slice(0, len(s))
        x[b, sl], mask[b, sl] = s, True
    x[~mask] = 7.0  # padding values must not leak into anything
    h0 = torch.randn(len(seqs), H, dtype=F64)
    states = {"h0": h0, **({"c0": torch.randn(len(seqs), H, dtype=F64)} if kind == "lstm" else {})}
    out, *final = run(kind, x, w, mask=mask, reverse=reverse, zero_output_for_mask=zero_output, **states)
    for b, s in enumerate(seqs):
        alone_states = {k: v[b : b + 1] for k, v in states.items()}
        out_a, *final_a = run(kind, s[None], w, reverse=reverse, **alone_states)
        valid = mask[b]
        assert_close(out[b, valid], out_a[0], msg=f"{kind} {side} seq {b} outputs")
        for f, fa in zip(final, final_a):
            assert_close(f[b], fa[0], msg=f"{kind} {side} seq {b} final state")
        if zero_output:
            assert torch.all(out[b, ~valid] == 0)
    return out, mask


@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn"])
@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("reverse", [False, True])
def test_padding_either_side_matches_running_alone(kind, side, reverse):
    _alone_and_padded(kind, side, reverse, zero_output=False)
    _alone_and_padded(kind, side, reverse, zero_output=True)


def test_masked_steps_carry_previous_output_forward():
    w = weights("gru", 2, 4)
    x = torch.randn(1, 5, 2, dtype=F64)
    mask = torch.tensor([[True, True, False, False, True]])
    out, _ = run("gru", x, w, mask=mask)
    assert torch.equal(out[0, 2], out[0, 1]) and torch.equal(out[0, 3], out[0, 1])
    assert not torch.equal(out[0, 4], out[0, 1])


@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn"])
def test_length_zero_sequence_keeps_initial_state(kind):
    w = weights(kind, 3, 4)
    x = torch.randn(2, 5, 3, dtype=F64)
    states = {"h0": torch.randn(2, 4, dtype=F64), **({"c0": torch.randn(2, 4, dtype=F64)} if kind == "lstm" else {})}
    _, *final = run(kind, x, w, lengths=torch.tensor([0, 5]), **states)
    for f, s in zip(final, states.values()):
        assert torch.equal(f[0], s[0])
        assert not torch.equal(f[1], s[1])


def test_lengths_equal_right_padded_mask():
    w = weights("lstm", 3, 4)
    x = torch.randn(3, 6, 3, dtype=F64)
    lengths = torch.tensor([6, 2, 4])
    mask = torch.arange(6)[None] < lengths[:, None]
    a = run("lstm", x, w, lengths=lengths)
    b = run("lstm", x, w, mask=mask)
    for u, v in zip(a, b):
        assert torch.equal(u, v)


def test_linear_activation_and_callable():
    """A callable activation is used as given; `linear` is the identity."""
    w = weights("simple_rnn", 3, 4)
    x = torch.randn(2, 3, 3, dtype=F64)
    a, _ = run("simple_rnn", x, w, activation="linear")
    b, _ = run("simple_rnn", x, w, activation=lambda t: t)
    assert torch.equal(a, b)
    c, _ = run("simple_rnn", x, w, activation=torch.sin)
    h = torch.zeros(2, 4, dtype=F64)
    for t in range(3):
        h = torch.sin(x[:, t] @ w["weight_ih"].T + w["bias_ih"] + h @ w["weight_hh"].T + w["bias_hh"])
        assert_close(c[:, t], h)


def test_hard_sigmoid_is_keras3():
    t = torch.linspace(-5, 5, 101, dtype=F64)
    expected = torch.clamp((t + 3) / 6, 0, 1)
    assert_close(ops.get_activation("hard_sigmoid")(t), expected)


# --- dropout: one mask per sequence, reused at every step (Gal & Ghahramani 2016) -------------------


def test_input_dropout_mask_constant_over_time_and_different_between_sequences():
    """With h_t = x_t ⊙ m (identity input weights, no recurrence, linear), the output is the mask itself."""
    B, T, H = 64, 9, 32
    eye = torch.eye(H, dtype=F64)
    m = ops.dropout_mask(B, H, 0.5, like=torch.zeros(1, dtype=F64))
    out, _ = ops.simple_rnn(torch.ones(B, T, H, dtype=F64), eye, torch.zeros(H, H, dtype=F64),
                            activation="linear", input_dropout_mask=m)
    assert torch.equal(out, m[:, None, :].expand(B, T, H))  # the same mask at every step
    assert set(m.unique().tolist()) == {0.0, 2.0}  # inverted dropout scale 1 / (1 - p)
    assert len({tuple(r.tolist()) for r in m}) == B  # every sequence has its own mask


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_module_recurrent_dropout_constant_over_time_and_off_in_eval(cls, monkeypatch):
    """nn module with recurrent_dropout: one (B, H) mask per batch, handed to the recurrence, none in eval."""
    import lstmkit.nn

    B, T, H = 16, 6, 8
    layer = getattr(lstmkit.nn, cls)(H, H, batch_first=True, recurrent_dropout=0.5, dtype=F64)
    kind = {"RNN": "simple_rnn", "LSTM": "lstm", "GRU": "gru"}[cls]
    orig, seen = getattr(ops, kind), []

    def spy(x, *args, **kw):
        seen.append(kw.get("recurrent_dropout_mask"))
        return orig(x, *args, **kw)

    monkeypatch.setattr(ops, kind, spy)
    x = torch.randn(B, T, H, dtype=F64)
    layer.train()
    a1, _ = layer(x)
    a2, _ = layer(x)
    layer.eval()
    e1, _ = layer(x)
    e2, _ = layer(x)
    m1, m2, m3, m4 = seen
    assert m1.shape == (B, H) and m3 is None and m4 is None  # drawn per sequence; none in eval
    assert not torch.equal(m1, m2)  # a fresh mask per batch
    assert not torch.equal(a1, a2) and torch.equal(e1, e2)


def test_dropout_mask_rejects_bad_rate():
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        ops.dropout_mask(2, 3, 1.0, like=torch.zeros(1))
    assert ops.dropout_mask(2, 3, 0.0, like=torch.zeros(1)) is None


@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn"])
def test_tracing_records_agree_with_the_forward_pass(kind):
    w = weights(kind, 3, 5)
    x = torch.randn(2, 6, 3, dtype=F64)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [0, 1, 1, 1, 1, 1]], dtype=torch.bool)
    plain = run(kind, x, w, mask=mask, reverse=True)
    with ops.tracing() as records:
        traced = run(kind, x, w, mask=mask, reverse=True)
    for a, b in zip(plain, traced):
        assert torch.equal(a, b)
    (rec,) = records
    assert rec["kind"] == kind and rec["reverse"] is True
    assert torch.equal(rec["h"], traced[0])  # the recorded h is the output, step by step
    assert torch.equal(rec["h"][:, 0], traced[1]) if kind != "lstm" else torch.equal(rec["c"][:, 0], traced[2])
    gates = {"lstm": "ifgoc", "gru": "rzn", "simple_rnn": ""}[kind]
    for g in gates:
        assert rec[g].shape == (2, 6, 5)
    if kind == "lstm":  # the recorded gates reproduce the recorded states: c_t = f c_{t-1} + i g, h_t = o tanh(c_t)
        t = 2  # a step that is real for both sequences
        c_next = rec["f"][:, t] * rec["c"][:, t + 1] + rec["i"][:, t] * rec["g"][:, t]
        assert_close(c_next, rec["c"][:, t])
        assert_close(rec["o"][:, t] * torch.tanh(rec["c"][:, t]), rec["h"][:, t])
    with ops.tracing() as records2:
        pass
    assert records2 == []
    run(kind, x, w)
    assert len(records) == 1  # nothing is recorded outside the context
