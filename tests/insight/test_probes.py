"""Probes: the recorded gates and states are exactly what the forward pass computed, they satisfy the
equations, and each record is given to the layer (and stacked layer, direction, call) that made it."""

import pytest
import torch
from torch import nn

import lstmkit.nn
from lstmkit import ops
from lstmkit.insight import probe
from lstmkit.insight.probes import is_recurrent_layer
from tests.insight.helpers import keras_facade
from tests.tolerances import assert_close

CLASSES = {"lstm": lstmkit.nn.LSTM, "gru": lstmkit.nn.GRU, "simple_rnn": lstmkit.nn.RNN}


def _module(kind, I=4, H=5, **kw):
    return CLASSES[kind](I, H, batch_first=True, backend="reference", dtype=torch.float64, **kw)


@pytest.mark.parametrize("kind", list(CLASSES))
def test_probe_agrees_exactly_with_the_forward_pass(kind):
    rnn = _module(kind, num_layers=2, bidirectional=True)
    x = torch.randn(3, 7, 4, dtype=torch.float64)
    out, state = rnn(x)  # outside the probe: nothing is recorded
    result = probe(rnn, x)
    p_out, _ = result.output
    assert torch.equal(p_out, out)
    h_n = state[0] if kind == "lstm" else state
    assert len(result.traces) == 4
    for k, t in enumerate(result.traces):  # order layer0-fwd, layer0-rev, layer1-fwd, layer1-rev
        assert (t.layer, t.direction, t.kind) == (k // 2, "backward" if k % 2 else "forward", kind)
        last = 0 if t.direction == "backward" else -1  # a reversed recurrence ends at position 0
        assert torch.equal(t["h"][:, last], h_n[k])
        if kind == "lstm":
            assert torch.equal(t["c"][:, last], state[1][k])
    top = torch.cat([result.select(layer=1)["h"], result.select(layer=1, direction="backward")["h"]], dim=2)
    assert torch.equal(top, out)


def test_probe_records_every_gate_and_state_with_its_shape():
    x = torch.randn(2, 6, 4, dtype=torch.float64)
    for kind, names in (("lstm", "ifgoch"), ("gru", "rznh"), ("simple_rnn", "h")):
        t = probe(_module(kind), x).select()
        assert sorted(t.values) == sorted(names)
        assert all(v.shape == (2, 6, 5) and not v.requires_grad for v in t.values.values())


def _sig(v):
    return torch.sigmoid(v)


def test_lstm_gates_recompute_the_states_by_the_equations():
    rnn = _module("lstm")
    x = torch.randn(3, 8, 4, dtype=torch.float64)
    t = probe(rnn, x).select()
    W, R, b = rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0 + rnn.bias_hh_l0
    h_prev = c_prev = torch.zeros(3, 5, dtype=torch.float64)
    for s in range(8):
        pre = x[:, s] @ W.T + h_prev @ R.T + b
        i, f, g, o = pre.detach().chunk(4, dim=1)
        assert_close(t["i"][:, s], _sig(i))
        assert_close(t["f"][:, s], _sig(f))
        assert_close(t["g"][:, s], torch.tanh(g))
        assert_close(t["o"][:, s], _sig(o))
        c = t["f"][:, s] * c_prev + t["i"][:, s] * t["g"][:, s]
        assert_close(t["c"][:, s], c)
        assert_close(t["h"][:, s], t["o"][:, s] * torch.tanh(c))
        h_prev, c_prev = t["h"][:, s], t["c"][:, s]


def test_gru_and_simple_rnn_gates_recompute_the_states_by_the_equations():
    x = torch.randn(3, 8, 4, dtype=torch.float64)
    gru = _module("gru")
    t = probe(gru, x).select()
    W, R, bi, bh = (p.detach() for p in (gru.weight_ih_l0, gru.weight_hh_l0, gru.bias_ih_l0, gru.bias_hh_l0))
    h_prev = torch.zeros(3, 5, dtype=torch.float64)
    for s in range(8):
        xi, hh = (x[:, s] @ W.T + bi).chunk(3, 1), (h_prev @ R.T + bh).chunk(3, 1)
        assert_close(t["r"][:, s], _sig(xi[0] + hh[0]))
        assert_close(t["z"][:, s], _sig(xi[1] + hh[1]))
        assert_close(t["n"][:, s], torch.tanh(xi[2] + t["r"][:, s] * hh[2]))
        assert_close(t["h"][:, s], (1 - t["z"][:, s]) * t["n"][:, s] + t["z"][:, s] * h_prev)
        h_prev = t["h"][:, s]
    rnn = _module("simple_rnn")
    t = probe(rnn, x).select()
    h_prev = torch.zeros(3, 5, dtype=torch.float64)
    for s in range(8):
        h = torch.tanh(x[:, s] @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + h_prev @ rnn.weight_hh_l0.T + rnn.bias_hh_l0)
        assert_close(t["h"][:, s], h.detach())
        h_prev = t["h"][:, s]


def test_masked_steps_carry_the_state_and_the_probe_keeps_the_mask():
    rnn = _module("lstm")
    x = torch.randn(2, 6, 4, dtype=torch.float64)
    mask = torch.tensor([[True] * 6, [False, False, True, True, True, True]])  # row 1 padded on the left
    out, _ = rnn(x, mask=mask)
    result = probe(rnn, x, mask=mask)
    assert torch.equal(result.output[0], out)
    t = result.select()
    assert torch.equal(t.mask, mask)
    assert torch.equal(t["h"][1, :2], torch.zeros(2, 5, dtype=torch.float64))  # nothing happened yet
    assert torch.equal(t["h"][1, 2:], out[1, 2:])


class _Twice(nn.Module):
    """Two named recurrent layers, one of them called twice, and a custom module calling ops directly."""

    def __init__(self):
        super().__init__()
        self.encoder = _module("gru", I=4, H=5)
        self.decoder = _module("lstm", I=5, H=3)
        self.custom = _RawOps()

    def forward(self, x):
        a, _ = self.encoder(x)
        b, _ = self.encoder(x.flip(1))
        c, _ = self.decoder(a + b)
        return self.custom(c)


def reference_run(model, *args):
    """The model's output with every recurrence on the reference backend (what `ops.tracing` forces)."""
    with ops.tracing():
        return model(*args)


class _RawOps(nn.Module):
    def __init__(self):
        super().__init__()
        self.w_ih = nn.Parameter(torch.randn(3, 3, dtype=torch.float64))
        self.w_hh = nn.Parameter(torch.randn(3, 3, dtype=torch.float64))

    def forward(self, x):
        return ops.simple_rnn(x, self.w_ih, self.w_hh, reverse=True)[0]


def test_records_are_given_to_the_named_layer_and_call_that_made_them():
    model = _Twice()
    x = torch.randn(2, 5, 4, dtype=torch.float64)
    result = probe(model, x)
    got = [(t.name, t.call, t.layer, t.direction, t.kind) for t in result.traces]
    assert got == [("encoder", 0, 0, "forward", "gru"), ("encoder", 1, 0, "forward", "gru"),
                   ("decoder", 0, 0, "forward", "lstm"), ("custom", 0, 0, "backward", "simple_rnn")]
    assert result.names() == ["encoder", "decoder", "custom"]
    # a probe runs every recurrence on the reference: bit-equal to a reference run, close to the fast one
    assert torch.equal(result.output, reference_run(model, x))
    assert_close(result.output, model(x))
    second = result.select("encoder", call=1)
    assert torch.equal(second["h"], reference_run(model.encoder, x.flip(1))[0])
    assert is_recurrent_layer(model.encoder) and not is_recurrent_layer(model.custom)


def test_a_wrapper_around_a_recurrent_layer_does_not_take_its_records():
    class Wrapper(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = _module("lstm")

        def forward(self, x):
            return self.inner(x)[0]

    model = nn.Sequential(Wrapper())
    result = probe(model, torch.randn(1, 3, 4, dtype=torch.float64))
    assert [t.path for t in result.traces] == ["0.inner"]


def test_the_probe_leaves_no_hook_and_nothing_is_recorded_outside_it():
    model = _Twice()
    x = torch.randn(2, 5, 4, dtype=torch.float64)
    probe(model, x)
    for m in model.modules():
        assert not m._forward_hooks and not m._forward_pre_hooks
    with ops.tracing() as records:
        pass
    model(x)
    assert records == []


def test_probe_runs_without_grad_unless_asked():
    rnn = _module("gru")
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    assert not probe(rnn, x).output[0].requires_grad
    assert probe(rnn, x, grad=True).output[0].requires_grad


def test_select_names_what_was_recorded_when_asked_for_something_else():
    result = probe(_Twice(), torch.randn(2, 5, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"no trace for 'nope'.*encoder\[layer=0, forward, call=0\]"):
        result.select("nope")
    with pytest.raises(ValueError, match="no trace for 'decoder' layer=1"):
        result.select("decoder", layer=1)
    with pytest.raises(KeyError, match="not 'c'"):
        result.select("encoder")["c"]
    empty = probe(nn.Linear(2, 2), torch.randn(1, 2))
    with pytest.raises(ValueError, match="recorded no recurrence"):
        empty.select()


def test_probe_of_a_keras_facade_model():
    layers, models = keras_facade()
    model = models.Sequential([layers.Input(shape=(6,), dtype="int32"), layers.Embedding(20, 4),
                               layers.LSTM(5, return_sequences=True)])
    ids = torch.randint(1, 20, (2, 6))
    expected = torch.as_tensor(reference_run(model, ids))
    result = probe(model, ids)
    t = result.select()
    assert t.kind == "lstm" and t.name == model.layers[-1].name
    assert torch.equal(t["h"], expected)
    assert_close(t["h"], torch.as_tensor(model(ids)))
