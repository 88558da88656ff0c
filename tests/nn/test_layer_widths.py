"""Per-layer widths (issue 19): `lstmkit.nn.LSTM/GRU/RNN(input_size, hidden_size=[H_0, ..., H_{L-1}], num_layers=L)`
against separate torch.nn modules stacked by hand with the weights copied; the states as lists of L*D tensors
(torch's order), hx in the same form, state_dict names, and the errors."""

import pytest
import torch

import lstmkit.nn as lnn

TOL = dict(rtol=1e-10, atol=1e-10)  # float64 against float64
MODES = {"LSTM": (lnn.LSTM, torch.nn.LSTM), "GRU": (lnn.GRU, torch.nn.GRU), "RNN": (lnn.RNN, torch.nn.RNN)}


def torch_stack(ours, widths, bidirectional, proj_size=0):
    """One torch module per layer, each with our layer's weights."""
    cls = MODES[type(ours).__name__][1]
    D = 2 if bidirectional else 1
    layers = []
    for k, H in enumerate(widths):
        in_size = ours.input_size if k == 0 else D * (proj_size or widths[k - 1])
        kw = {"proj_size": proj_size} if proj_size else {}
        t = cls(in_size, H, batch_first=True, bidirectional=bidirectional, dtype=torch.float64, **kw)
        with torch.no_grad():
            for name, p in t.named_parameters():
                p.copy_(getattr(ours, name.replace("_l0", f"_l{k}")))
        layers.append(t)
    return layers


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_matches_stacked_torch_modules(mode, bidirectional):
    widths, B, T, I = [7, 4, 5], 3, 6, 2
    D = 2 if bidirectional else 1
    ours = MODES[mode][0](I, widths, num_layers=3, batch_first=True, bidirectional=bidirectional,
                          dtype=torch.float64)
    assert ours.hidden_size == widths and "[7, 4, 5]" in repr(ours)
    G = {"LSTM": 4, "GRU": 3, "RNN": 1}[mode]
    assert ours.weight_ih_l1.shape == (G * 4, D * 7) and ours.weight_hh_l2.shape == (G * 5, 5)
    assert list(ours.state_dict())[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    layers = torch_stack(ours, widths, bidirectional)

    x = torch.randn(B, T, I, dtype=torch.float64)
    h0 = [torch.randn(B, widths[k // D], dtype=torch.float64) for k in range(3 * D)]
    c0 = [torch.randn(B, widths[k // D], dtype=torch.float64) for k in range(3 * D)]
    hx = (h0, c0) if mode == "LSTM" else h0
    out, state = ours(x, hx)

    y, hs, cs = x, [], []
    for k, layer in enumerate(layers):
        h_k = torch.stack(h0[k * D:(k + 1) * D])  # (D, B, H_k)
        if mode == "LSTM":
            y, (h, c) = layer(y, (h_k, torch.stack(c0[k * D:(k + 1) * D])))
            cs += list(c)
        else:
            y, h = layer(y, h_k)
        hs += list(h)
    torch.testing.assert_close(out, y, **TOL)
    h_n, c_n = state if mode == "LSTM" else (state, None)
    assert isinstance(h_n, list) and [tuple(h.shape) for h in h_n] == [(B, widths[k // D]) for k in range(3 * D)]
    for a, b in zip(h_n, hs, strict=True):
        torch.testing.assert_close(a, b, **TOL)
    if mode == "LSTM":
        for a, b in zip(c_n, cs, strict=True):
            torch.testing.assert_close(a, b, **TOL)
    torch.testing.assert_close(h_n[-1], hs[-1], **TOL)  # h_n[-1]: the top layer's last direction, as torch's


def test_lstm_projection_and_gru_projection_with_widths():
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    lstm = lnn.LSTM(3, [6, 5], num_layers=2, proj_size=2, batch_first=True, dtype=torch.float64)
    assert lstm.weight_ih_l1.shape == (20, 2) and lstm.weight_hr_l1.shape == (2, 5)
    out, (h, c) = lstm(x)
    y = x
    for layer in torch_stack(lstm, [6, 5], False, proj_size=2):
        y, _ = layer(y)
    torch.testing.assert_close(out, y, **TOL)
    assert [t.shape for t in h] == [(2, 2), (2, 2)] and [t.shape for t in c] == [(2, 6), (2, 5)]
    gru = lnn.GRU(3, [6, 5], num_layers=2, proj_size=2, batch_first=True)
    out, h = gru(x.float())
    assert out.shape == (2, 5, 2) and [t.shape for t in h] == [(2, 6), (2, 5)]  # the GRU's state stays H_k wide


def test_unbatched_resume_training_and_variants():
    lstm = lnn.LSTM(3, [5, 4], num_layers=2, layer_norm=True, peephole=True, learn_initial_state=True,
                    dtype=torch.float64)
    assert lstm.ln_ih_weight_l1.shape == (16,) and lstm.weight_ci_l1.shape == (4,) and lstm.h0_l0.shape == (5,)
    x = torch.randn(6, 3, dtype=torch.float64)  # unbatched (T, I)
    out, (h, c) = lstm(x)
    assert out.shape == (6, 4) and [t.shape for t in h] == [(5,), (4,)] and [t.shape for t in c] == [(5,), (4,)]
    first, state = lstm(x[:4])
    rest, (h2, c2) = lstm(x[4:], state)
    torch.testing.assert_close(torch.cat([first, rest]), out, **TOL)
    for a, b in zip(h2 + c2, h + c, strict=True):
        torch.testing.assert_close(a, b, **TOL)
    (out.sum() + sum(t.sum() for t in h)).backward()
    assert lstm.h0_l1.grad.abs().sum() > 0 and lstm.weight_ih_l1.grad.abs().sum() > 0


def test_per_layer_initialisation_is_torchs_per_width():
    torch.manual_seed(0)
    rnn = lnn.GRU(3, [100, 4], num_layers=2)
    assert rnn.weight_hh_l0.abs().max() <= 0.1 and rnn.weight_hh_l1.abs().max() > 0.1  # U(±1/√H_k)
    assert rnn.weight_hh_l1.abs().max() <= 0.5


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(hidden_size=[4, 3], num_layers=3), r"hidden_size lists 2 widths \[4, 3\] but num_layers is 3"),
    (dict(hidden_size=[4, 3]), "but num_layers is 1"),
    (dict(hidden_size=[], num_layers=1), "a list of one positive int per layer"),
    (dict(hidden_size=[4, 0], num_layers=2), "a list of one positive int per layer"),
    (dict(hidden_size=[4, 2.5], num_layers=2), "a list of one positive int per layer"),
    (dict(hidden_size=[4, 3], num_layers=2, proj_size=3), "proj_size has to be smaller than hidden_size"),
])
def test_bad_widths_are_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        lnn.LSTM(2, **kwargs)


def test_bad_states_are_clear_errors():
    lstm = lnn.LSTM(2, [4, 3], num_layers=2)
    x = torch.randn(5, 1, 2)
    with pytest.raises(ValueError, match=r"h_0 must be a list of num_layers \* num_directions = 2 tensors.*got a Tensor"):
        lstm(x, (torch.zeros(2, 1, 4), [torch.zeros(1, 4), torch.zeros(1, 3)]))
    with pytest.raises(ValueError, match=r"c_0 must be a list of .* = 2 tensors.*got 1 of them"):
        lstm(x, ([torch.zeros(1, 4), torch.zeros(1, 3)], [torch.zeros(1, 4)]))
    with pytest.raises(RuntimeError, match=r"Expected hidden size \(1, 3\), got \[1, 4\]: h_0\[1\] must be"):
        lstm(x, ([torch.zeros(1, 4), torch.zeros(1, 4)], [torch.zeros(1, 4), torch.zeros(1, 3)]))
    with pytest.raises(ValueError, match=r"expects hx as a tuple \(h_0, c_0\)"):
        lstm(x, [torch.zeros(1, 4), torch.zeros(1, 3), torch.zeros(1, 3)])
    with pytest.raises(RuntimeError, match=r"h_0\[0\] is 3-D"):
        lnn.GRU(2, [4, 3], num_layers=2)(x, [torch.zeros(1, 1, 4), torch.zeros(1, 3)])
