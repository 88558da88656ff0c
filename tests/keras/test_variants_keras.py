"""lstmkit.keras LSTM/GRU with the lstmkit extensions peephole=, layer_norm=, zoneout_h=/zoneout_c= and
learn_initial_state=: the papers' loops of tests/ops/test_variants.py on the layers' own weights (masks on
either side, go_backwards, Bidirectional, dropout and recurrent_dropout, zoneout masks from the layer's
generator), config round trips, and model.save/load_model with each option."""

import numpy as np
import pytest
import torch

from lstmkit import keras
from lstmkit.keras.layers.recurrent_variants import RecurrentVariants
from lstmkit.nn.convert import reorder_gru_gates
from lstmkit.ops.variants import zoneout_mask
from tests.ops.test_variants import pad_mask, paper_gru, paper_lstm
from tests.tolerances import TOL

F64 = torch.float64
LSTM_OPTIONS = [dict(peephole=True), dict(layer_norm=True), dict(zoneout_h=0.3, zoneout_c=0.2),
                dict(learn_initial_state=True),
                dict(peephole=True, layer_norm=True, zoneout_h=0.3, zoneout_c=0.2, learn_initial_state=True)]
GRU_OPTIONS = [dict(layer_norm=True), dict(zoneout_h=0.3), dict(learn_initial_state=True),
               dict(layer_norm=True, zoneout_h=0.3, learn_initial_state=True)]


def close(a, b):
    """float32 layers against the float64 loop on the same weights."""
    torch.testing.assert_close(torch.as_tensor(a).double(), torch.as_tensor(b).double(), **TOL[torch.float32])


def randomise(layer, seed=0):
    rng = np.random.default_rng(seed)
    layer.set_weights([(rng.standard_normal(w.shape) * 0.4 + (1.0 if "gamma" in w.name else 0.0)).astype("float32")
                       for w in layer.weights])


def torch_params(layer):
    """The layer's weights by the names paper_lstm/paper_gru read, in PyTorch's layout and gate order (float64)."""
    w = {v.name: torch.as_tensor(np.asarray(v.numpy()), dtype=F64) for v in layer.weights}
    gru = isinstance(layer, keras.layers.GRU)
    G = 3 if gru else 4

    def order(t, dim=0):
        return reorder_gru_gates(t, dim) if gru else t

    bias = w.get("bias", torch.zeros(2, G * layer.units, dtype=F64) if gru else torch.zeros(G * layer.units))
    p = {"weight_ih": order(w["kernel"], 1).T, "weight_hh": order(w["recurrent_kernel"], 1).T,
         "bias_ih": order(bias[0]) if gru else bias, "bias_hh": order(bias[1]) if gru else torch.zeros_like(bias)}
    names = {"input_gate_peephole": "weight_ci", "forget_gate_peephole": "weight_cf",
             "output_gate_peephole": "weight_co", "input_norm_gamma": "ln_ih_weight", "input_norm_beta": "ln_ih_bias",
             "recurrent_norm_gamma": "ln_hh_weight", "recurrent_norm_beta": "ln_hh_bias",
             "cell_norm_gamma": "ln_c_weight", "cell_norm_beta": "ln_c_bias"}
    for k, v in names.items():
        if k in w:
            p[v] = order(w[k]) if v.startswith("ln_") else w[k]
    return p, w.get("initial_h"), w.get("initial_c")


class DropoutSpy:
    """Records the dropout masks the cell draws, so the loop can use the same ones."""

    def __init__(self, cell):
        self.masks = []
        self._draw = cell.dropout_masks
        cell.dropout_masks = self

    def __call__(self, *args):
        masks = self._draw(*args)
        self.masks.append(masks)
        return masks


def expected(layer, x, mask, training, zoneout_seed=None, drop=(None, None)):
    """The loop of the papers' equations for one layer call (outputs in input order, then flipped as Keras)."""
    p, h0, c0 = torch_params(layer)
    B, T, _ = x.shape
    U = layer.units
    h0 = torch.zeros(B, U, dtype=F64) if h0 is None else h0.expand(B, U)
    zh, zc = layer.zoneout_h or None, getattr(layer, "zoneout_c", 0.0) or None
    if training and zoneout_seed is not None:
        g = torch.Generator().manual_seed(zoneout_seed)
        like = torch.empty(0, dtype=F64)
        zh = zoneout_mask(B, T, U, layer.zoneout_h, like=like, generator=g)
        zc = zoneout_mask(B, T, U, layer.zoneout_c, like=like, generator=g) if zc else None
    in_drop, rec_drop = (None if m is None else m.double() for m in drop)
    x = torch.as_tensor(x, dtype=F64)
    kw = dict(mask=mask, reverse=layer.go_backwards, in_drop=in_drop, rec_drop=rec_drop, zh=zh)
    if isinstance(layer, keras.layers.GRU):
        out, h = paper_gru(x, p, h0=h0, **kw)
        states = [h]
    else:
        c0 = torch.zeros(B, U, dtype=F64) if c0 is None else c0.expand(B, U)
        out, h, c = paper_lstm(x, p, h0=h0, c0=c0, zc=zc, **kw)
        states = [h, c]
    if mask is not None and not layer.zero_output_for_mask:
        # Keras carries the previous output forward at a masked step (zeros before the first)
        carried, prev = [], torch.zeros(B, U, dtype=F64)
        order = range(T - 1, -1, -1) if layer.go_backwards else range(T)
        rows = {}
        for t in order:
            prev = torch.where(mask[:, t, None], out[:, t], prev)
            rows[t] = prev
        carried = [rows[t] for t in range(T)]
        out = torch.stack(carried, 1)
    if layer.go_backwards:
        out = out.flip(1)
    return out, states


def make(kind, options, **kw):
    cls = keras.layers.LSTM if kind == "lstm" else keras.layers.GRU
    layer = cls(4, return_sequences=True, return_state=True, **options, **kw)
    layer.build((None, 6, 3))
    randomise(layer)
    return layer


CASES = [("lstm", o) for o in LSTM_OPTIONS] + [("gru", o) for o in GRU_OPTIONS]
IDS = [f"{k}-{'+'.join(o)}" for k, o in CASES]


@pytest.mark.parametrize("kind,options", CASES, ids=IDS)
@pytest.mark.parametrize("side,backwards", [("right", False), ("left", True)])
def test_inference_equals_the_papers_loop(kind, options, side, backwards):
    layer = make(kind, options, go_backwards=backwards)
    x = np.random.default_rng(1).standard_normal((4, 6, 3)).astype("float32")
    mask = pad_mask(4, 6, side)
    out, *states = layer(torch.as_tensor(x), mask=mask, training=False)
    want, want_states = expected(layer, x, mask, training=False)
    close(out, want)
    for s, w in zip(states, want_states):
        close(s, w)
    again, *_ = layer(torch.as_tensor(x), mask=mask, training=False)
    assert torch.equal(out, again)  # deterministic: zoneout's expectation


@pytest.mark.parametrize("kind,options", [CASES[4], CASES[-1]], ids=[IDS[4], IDS[-1]])
def test_training_with_dropout_recurrent_dropout_and_zoneout_masks(kind, options):
    layer = make(kind, options, dropout=0.3, recurrent_dropout=0.4, seed=3)
    spy = DropoutSpy(layer.cell)
    x = np.random.default_rng(2).standard_normal((3, 6, 3)).astype("float32")
    mask = pad_mask(3, 6, "left")
    layer.zoneout_generator = torch.Generator().manual_seed(9)
    out, *states = layer(torch.as_tensor(x), mask=mask, training=True)
    want, want_states = expected(layer, x, mask, training=True, zoneout_seed=9, drop=spy.masks[-1])
    assert all(m is not None for m in spy.masks[-1])
    close(out, want)
    for s, w in zip(states, want_states):
        close(s, w)


def test_bidirectional_runs_each_direction_with_its_own_variant_weights():
    options = LSTM_OPTIONS[-1]
    bi = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True, **options))
    bi.build((None, 6, 3))
    for layer in (bi.forward_layer, bi.backward_layer):
        randomise(layer, seed=int(layer.go_backwards))
        assert layer.peephole and layer.zoneout_c == 0.2
    x = np.random.default_rng(3).standard_normal((4, 6, 3)).astype("float32")
    mask = pad_mask(4, 6, "right")
    out = bi(torch.as_tensor(x), mask=mask, training=False)
    assert bi.forward_layer.zero_output_for_mask  # as Keras: zeros at the masked steps
    fwd, _ = expected(bi.forward_layer, x, mask, training=False)
    bwd, _ = expected(bi.backward_layer, x, mask, training=False)
    close(out, torch.cat([fwd, bwd.flip(1)], -1))
    assert len(bi.weights) == 2 * 14  # kernel, recurrent_kernel, bias + 11 variant weights, per direction


def test_learned_initial_state_trains_and_an_initial_state_passed_wins():
    layer = make("lstm", dict(learn_initial_state=True))
    x = torch.as_tensor(np.random.default_rng(4).standard_normal((2, 6, 3)).astype("float32"))
    out, _, _ = layer(x)
    out.square().sum().backward()
    h_init, c_init = (RecurrentVariants.tensor(layer, n) for n in ("initial_h", "initial_c"))
    assert all(t.grad is not None and t.grad.abs().sum() > 0 for t in (h_init, c_init))
    h_init.grad = c_init.grad = None
    h0, c0 = torch.randn(2, 4), torch.randn(2, 4)
    out2, _, _ = layer(x, initial_state=[h0, c0])
    out2.sum().backward()
    assert h_init.grad is None and c_init.grad is None  # not used: the initial_state passed wins
    plain = keras.layers.LSTM(4, return_sequences=True, return_state=True)
    plain.build((None, 6, 3))
    plain.set_weights(layer.get_weights()[-3:])  # the layer's own (variant) weights first, then the cell's
    close(out2.detach(), plain(x, initial_state=[h0, c0])[0].detach())


@pytest.mark.parametrize("kind,options", CASES, ids=IDS)
def test_config_round_trip(kind, options):
    layer = make(kind, options)
    config = layer.get_config()
    for k, v in options.items():
        assert config[k] == v
    again = type(layer).from_config(config)
    assert again.get_config() == config
    assert all(getattr(again, k) == v for k, v in options.items())


def test_a_plain_layers_config_and_weights_stay_keras():
    for cls in (keras.layers.LSTM, keras.layers.GRU):
        layer = cls(4)
        layer.build((None, 6, 3))
        config = layer.get_config()
        assert not {"peephole", "layer_norm", "zoneout_h", "zoneout_c", "learn_initial_state"} & set(config)
        assert [w.name for w in layer.weights] == ["kernel", "recurrent_kernel", "bias"]
    layer = keras.layers.GRU(4, layer_norm=True, learn_initial_state=True)
    layer.build((None, 6, 3))
    assert [(w.name, tuple(w.shape)) for w in layer.weights] == [
        ("input_norm_gamma", (12,)), ("input_norm_beta", (12,)), ("recurrent_norm_gamma", (12,)),
        ("recurrent_norm_beta", (12,)), ("initial_h", (4,)), ("kernel", (3, 12)), ("recurrent_kernel", (4, 12)),
        ("bias", (2, 12))]


@pytest.mark.parametrize("kind,options", CASES, ids=IDS)
def test_model_save_and_load(kind, options, tmp_path):
    cls = keras.layers.LSTM if kind == "lstm" else keras.layers.GRU
    model = keras.Sequential([keras.Input((6, 3)), keras.layers.Masking(), cls(4, **options), keras.layers.Dense(1)])
    randomise(model.layers[1])
    x = np.random.default_rng(5).standard_normal((3, 6, 3)).astype("float32")
    x[1, :2] = 0.0  # masked steps on the left
    model.save(tmp_path / "m.keras")
    loaded = keras.load_model(tmp_path / "m.keras")
    layer = loaded.layers[1]
    assert all(getattr(layer, k) == v for k, v in options.items())
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))


def test_fit_trains_the_variant_weights():
    model = keras.Sequential([keras.Input((6, 3)), keras.layers.LSTM(4, **LSTM_OPTIONS[-1]), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    before = [w.copy() for w in model.layers[0].get_weights()]
    rng = np.random.default_rng(6)
    model.fit(rng.standard_normal((8, 6, 3)).astype("float32"), rng.standard_normal((8, 1)).astype("float32"),
              epochs=1, batch_size=8, verbose=0)
    after = model.layers[0].get_weights()
    assert len(after) == 14
    assert all(not np.array_equal(a, b) for a, b in zip(before, after))


@pytest.mark.parametrize("make_layer,message", [
    (lambda: keras.layers.GRU(4, peephole=True), "GRU has no cell state: peephole is an LSTM option"),
    (lambda: keras.layers.GRU(4, zoneout_c=0.1), "GRU has no cell state: zoneout_c is an LSTM option"),
    (lambda: keras.layers.GRU(4, layer_norm=True, reset_after=False), "needs reset_after=True"),
    (lambda: keras.layers.LSTM(4, zoneout_h=1.5), r"zoneout_h must be a rate in \[0, 1\), got 1.5"),
    (lambda: keras.layers.LSTM(4, peephole="yes"), "peephole must be True or False, got 'yes'"),
])
def test_bad_options_are_refused(make_layer, message):
    with pytest.raises(ValueError, match=message):
        make_layer()


def test_an_explicit_triton_backend_refuses_a_variant_and_the_cpu_backend_runs_it():
    layer = keras.layers.LSTM(4, layer_norm=True, backend="triton")
    with pytest.raises(ValueError, match="backend 'triton' cannot run this lstm call: it has no layer_norm"):
        layer(torch.randn(2, 6, 3))
    x = torch.randn(2, 6, 3)
    fused = keras.layers.LSTM(4, layer_norm=True, peephole=True, backend="cpu")
    plain = keras.layers.LSTM(4, layer_norm=True, peephole=True, backend="reference")
    fused.build((2, 6, 3))
    plain.build((2, 6, 3))
    plain.set_weights(fused.get_weights())
    close(fused(x), plain(x))
