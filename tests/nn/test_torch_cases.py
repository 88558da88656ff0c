"""Cases from PyTorch's own tests of its recurrent modules (test/test_nn.py), run against torch.nn
and lstmkit.nn by the `tnn` fixture: the same inputs, the same expected errors and numbers, so a
case that is wrong fails on torch too. Functions named after the PyTorch test they come from."""

import warnings

import pytest
import torch

import lstmkit.nn
from lstmkit.errors import ShapeError

MODES = ["RNN", "GRU", "LSTM"]


@pytest.fixture(params=["torch.nn", "lstmkit.nn"])
def tnn(request):
    return torch.nn if request.param == "torch.nn" else lstmkit.nn


def test_modules_are_torchs_classes():
    """Cells subclass torch's cells; layers torch.nn.RNNBase (Dynamo refuses instances of torch.nn.LSTM,
    GRU and RNN, and torch.compile(fullgraph=True) of lstmkit's layers is tested in tests/ops)."""
    for name in ["LSTMCell", "GRUCell", "RNNCell"]:
        m = getattr(lstmkit.nn, name)(3, 4)
        assert isinstance(m, getattr(torch.nn, name)) and isinstance(m, torch.nn.RNNCellBase)
    for name in MODES:
        m = getattr(lstmkit.nn, name)(3, 4)
        assert isinstance(m, torch.nn.RNNBase) and not isinstance(m, getattr(torch.nn, name))
    assert lstmkit.nn.LSTM(3, 4).mode == "LSTM" and lstmkit.nn.RNN(3, 4, nonlinearity="relu").mode == "RNN_RELU"


@pytest.mark.parametrize("mode", MODES)
def test_rnn_args_check(tnn, mode):
    input_size, hidden_size, num_layers, batch_size, seq_len, bad = 3, 5, 2, 4, 6, 7
    good_in, good_h = (seq_len, batch_size, input_size), (num_layers, batch_size, hidden_size)

    def with_(shape, dim, size):
        return tuple(size if i == dim else s for i, s in enumerate(shape))

    def inputs(in_shape, h_shape):
        x, h = torch.randn(in_shape), torch.randn(h_shape)
        if mode != "LSTM":
            return [(x, h)]
        if h_shape == good_h:
            return [(x, (h, h))]
        g = torch.randn(good_h)
        return [(x, (h, g)), (x, (g, h))]

    cases = [(with_(good_in, 1, bad), good_h), (good_in, with_(good_h, 1, bad)), (with_(good_in, 2, bad), good_h),
             (good_in, with_(good_h, 2, bad)), (good_in, with_(good_h, 0, bad))]
    model = getattr(tnn, mode)(input_size, hidden_size, num_layers)
    for in_shape, h_shape in cases:
        for x, h in inputs(in_shape, h_shape):
            with pytest.raises(RuntimeError):
                model(x, h)


@pytest.mark.parametrize("mode,hidden,expected", [
    ("LSTM", ((2, 4, 20), (2, 3, 20)), r"Expected hidden\[0\] size \(2, 3, 20\), got \[2, 4, 20\]"),
    ("LSTM", ((2, 3, 20), (2, 3, 21)), r"Expected hidden\[1\] size \(2, 3, 20\), got \[2, 3, 21\]"),
    ("GRU", (2, 4, 20), r"Expected hidden size \(2, 3, 20\), got \[2, 4, 20\]"),
    ("LSTM", ((3, 20), (2, 3, 20)), r"For batched 3-D input, hx and cx should also be 3-D but got \(2-D, 3-D\)"),
    ("RNN", (3, 20), r"For batched 3-D input, hx should also be 3-D but got 2-D tensor"),
])
def test_the_error_texts_are_torchs(tnn, mode, hidden, expected):
    model = getattr(tnn, mode)(10, 20, 2)
    h = tuple(torch.zeros(s) for s in hidden) if mode == "LSTM" else torch.zeros(hidden)
    with pytest.raises(RuntimeError, match=expected):
        model(torch.randn(5, 3, 10), h)
    with pytest.raises(RuntimeError, match=r"input.size\(-1\) must be equal to input_size. Expected 10, got 11"):
        model(torch.randn(5, 3, 11))


def test_lstmkit_shape_errors_are_value_errors_too():
    with pytest.raises(ShapeError) as info:
        lstmkit.nn.GRU(10, 20)(torch.randn(5, 3, 11))
    assert isinstance(info.value, ValueError) and isinstance(info.value, RuntimeError)
    assert "was made for 10 features" in str(info.value)  # lstmkit's explanation beside torch's phrase


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bidirectional", [False, True])
def test_error_RNN_seq_len_zero(tnn, mode, bidirectional):
    rnn = getattr(tnn, mode)(5, 6, bidirectional=bidirectional)
    with pytest.raises(RuntimeError, match="Expected sequence length to be larger than 0 in RNN"):
        rnn(torch.ones(0, 10, 5))


@pytest.mark.parametrize("mode", MODES)
def test_RNN_input_size_zero(tnn, mode):
    """A batch of 0 (torch's "input size zero" is the batch dimension): empty output, backward works."""
    rnn = getattr(tnn, mode)(input_size=3, hidden_size=4)
    x = torch.zeros((5, 0, 3), requires_grad=True)
    outs = rnn(x)
    assert outs[0].shape == (5, 0, 4)
    outs[0].sum().backward()
    assert x.grad.shape == (5, 0, 3) and rnn.weight_hh_l0.grad is not None


def test_RNN_cell_forward_zero_hidden_size(tnn):
    x, hx = torch.randn(3, 10), torch.randn(3, 0)
    for cell in (tnn.RNNCell(10, 0, nonlinearity="relu"), tnn.RNNCell(10, 0, nonlinearity="tanh"),
                 tnn.GRUCell(10, 0)):
        assert cell(x, hx).shape == (3, 0)
    hy, cy = tnn.LSTMCell(10, 0)(x, (hx, hx))
    assert hy.shape == (3, 0) and cy.shape == (3, 0)


def test_RNN_cell_no_broadcasting(tnn):
    def check(cell_cls, x, hx):
        cell = cell_cls(10, 20)
        with pytest.raises(RuntimeError):
            cell(x, hx)

    def all_cells(bad_hx, good_hx, x):
        check(tnn.RNNCell, x, bad_hx)
        check(tnn.GRUCell, x, bad_hx)
        check(tnn.LSTMCell, x, (bad_hx, good_hx))
        check(tnn.LSTMCell, x, (good_hx, bad_hx))

    x, good_hx = torch.randn(3, 10), torch.randn(3, 20)
    all_cells(torch.randn(1, 20), good_hx, x)  # batch sizes differ
    all_cells(torch.randn(3, 1), good_hx, x)  # hidden sizes differ
    all_cells(good_hx, good_hx, torch.randn(3, 1))  # input sizes differ


@pytest.mark.parametrize("cls,kwargs,phrase", [
    ("LSTMCell", {"hx": (torch.randn(2, 4), torch.randn(2, 4))}, "Input batch size 3 doesn't match hidden0 batch size 2"),
    ("GRUCell", {"hx": torch.randn(3, 5)}, "hidden0 has inconsistent hidden_size: got 5, expected 4"),
])
def test_cell_error_texts_are_torchs(tnn, cls, kwargs, phrase):
    with pytest.raises(RuntimeError, match=phrase):
        getattr(tnn, cls)(2, 4)(torch.randn(3, 2), **kwargs)
    with pytest.raises(RuntimeError, match="input has inconsistent input_size: got 5 expected 2"):
        getattr(tnn, cls)(2, 4)(torch.randn(3, 5))
    with pytest.raises(ValueError, match=f"{cls}: Expected input to be 1D or 2D, got 3D instead"):
        getattr(tnn, cls)(2, 4)(torch.randn(3, 1, 2))


def test_projections_errors_on_gru_and_rnn(tnn):
    # lstmkit.nn.GRU has proj_size (the projected GRU, tests/nn/test_gru_proj.py); torch's GRU and both RNNs refuse it
    for mode in ["RNN", "GRU"] if tnn is torch.nn else ["RNN"]:
        with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM, not RNN or GRU"):
            getattr(tnn, mode)(3, 5, 2, proj_size=3)


def test_constructor_errors_are_torchs(tnn):
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        tnn.LSTM(3, 0)
    with pytest.raises(ValueError, match="num_layers must be greater than zero"):
        tnn.GRU(3, 4, 0)
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        tnn.LSTM(3, 4, proj_size=4)
    with pytest.raises(TypeError, match="hidden_size should be of type int, got: float"):
        tnn.RNN(3, 4.0)
    for p in (-0.1, 1.1):  # test_invalid_dropout_p
        with pytest.raises(ValueError, match="dropout should be a number in range"):
            tnn.LSTM(10, 10, dropout=p)
    with pytest.raises(ValueError, match="Unknown nonlinearity"):  # test_RNN_nonlinearity
        tnn.RNN(1, 10, nonlinearity="garbage")


def test_RNN_nonlinearity(tnn):
    assert tnn.RNN(1, 10).nonlinearity == "tanh"
    assert tnn.RNN(1, 10, nonlinearity="relu").nonlinearity == "relu"
    assert tnn.RNN(1, 10, 1, "relu").nonlinearity == "relu"  # test_RNN_nonlinearity_passed_as_arg


def test_reprs_are_torchs(tnn):
    assert repr(tnn.RNNCell(3, 4, nonlinearity="relu")) == "RNNCell(3, 4, nonlinearity=relu)"
    assert repr(tnn.LSTM(3, 4, 2, batch_first=True, proj_size=2)) == \
        "LSTM(3, 4, proj_size=2, num_layers=2, batch_first=True)"
    assert repr(tnn.GRUCell(3, 4, bias=False)) == "GRUCell(3, 4, bias=False)"


@pytest.mark.parametrize("mode", MODES)
def test_rnn_initial_hidden_state(tnn, mode):
    rnn = getattr(tnn, mode)(30, 20, 2)
    x = torch.randn(10, 32, 30)
    hidden = torch.zeros(2, 32, 20)
    out1, h1 = rnn(x, (hidden, hidden) if mode == "LSTM" else hidden)
    out2, h2 = rnn(x)
    torch.testing.assert_close(out1, out2, rtol=0, atol=0)
    for a, b in zip(h1 if mode == "LSTM" else [h1], h2 if mode == "LSTM" else [h2]):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("mode", MODES)
def test_rnn_retain_variables(tnn, mode):
    rnn = getattr(tnn, mode)(10, 20, num_layers=2).double()
    x = torch.randn(5, 6, 10, dtype=torch.double, requires_grad=True)
    out = rnn(x)
    out[0].sum().backward(retain_graph=True)
    grads = [x.grad.clone()] + [p.grad.clone() for p in rnn.parameters()]
    for _ in range(4):
        rnn.zero_grad()
        x.grad.zero_()
        out[0].sum().backward(retain_graph=True)
        for a, b in zip([x.grad] + [p.grad for p in rnn.parameters()], grads):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_rnn_weight_norm(tnn):
    def check(layer, name, num_params):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # weight_norm is deprecated in favour of parametrize
            layer = torch.nn.utils.weight_norm(layer, name=name)
        assert sum(isinstance(p, torch.nn.Parameter) for p in layer._flat_weights) == num_params - 1
        y = layer(torch.randn(2, 3, 32))[0]  # the recomputed weight is the one used
        y.sum().backward()
        assert getattr(layer, name + "_g").grad is not None
        layer = torch.nn.utils.remove_weight_norm(layer, name=name)
        assert sum(isinstance(p, torch.nn.Parameter) for p in layer._flat_weights) == num_params

    check(tnn.LSTM(32, 32), "weight_ih_l0", 4)
    check(tnn.LSTM(32, 32, proj_size=16), "weight_hr_l0", 5)


def test_flat_weights_and_all_weights_are_torchs():
    ref = torch.nn.LSTM(3, 4, 2, bidirectional=True, proj_size=2)
    ours = lstmkit.nn.LSTM(3, 4, 2, bidirectional=True, proj_size=2)
    assert ours._flat_weights_names == ref._flat_weights_names
    assert [tuple(w.shape) for w in ours._flat_weights] == [tuple(w.shape) for w in ref._flat_weights]
    assert [[tuple(w.shape) for w in ws] for ws in ours.all_weights] == \
        [[tuple(w.shape) for w in ws] for ws in ref.all_weights]
    assert all(a is b for a, b in zip(ours._flat_weights, ours.parameters()))


def test_weight_gradients_are_contiguous():
    for cls in (lstmkit.nn.LSTM, lstmkit.nn.GRU, lstmkit.nn.RNN):
        for backend in ("cpu", "reference"):
            m = cls(3, 4, num_layers=2, bidirectional=True, backend=backend)
            y, _ = m(torch.randn(5, 2, 3))
            grads = torch.autograd.grad(y.sum(), list(m.parameters()))
            assert all(g.is_contiguous() for g in grads), (cls, backend)


def test_jit_script_is_a_clear_error_pointing_to_torch_export():
    with pytest.raises(RuntimeError, match=r"torch\.export"):
        torch.jit.script(lstmkit.nn.LSTM(3, 4))


@pytest.mark.parametrize("mode", MODES)
def test_jit_trace_is_right_at_other_lengths(mode):
    m = getattr(lstmkit.nn, mode)(3, 4, backend="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(m, torch.randn(5, 2, 3))
    for T in (1, 9):
        x = torch.randn(T, 2, 3)
        torch.testing.assert_close(traced(x)[0], m(x)[0])
    with pytest.raises(RuntimeError, match="fix the sequence length"):
        torch.jit.trace(getattr(lstmkit.nn, mode)(3, 4, backend="reference"), torch.randn(5, 2, 3))
