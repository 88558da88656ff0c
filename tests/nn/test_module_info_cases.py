"""PyTorch's generic module tests (test/test_modules.py) over the recurrent entries of its module database
(torch/testing/_internal/common_modules.py: `module_inputs_torch_nn_RNN_GRU`, `_LSTM`, `_RNN_GRU_Cell`,
`_LSTMCell`): the same constructor arguments and inputs, unbatched (PyTorch's no-batch-dim samples) and
packed, run on torch.nn and on lstmkit.nn by the `tnn` fixture. Each test is named after the generic test
it restates: forward against the batched reference, factory kwargs and the device context, pickling,
non-contiguous inputs, gradcheck and gradgradcheck, train/eval, dtype conversion, state_dict transfer."""

import copy
import io
import itertools
import pickle

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import lstmkit.nn


@pytest.fixture(params=["torch.nn", "lstmkit.nn"])
def tnn(request):
    return torch.nn if request.param == "torch.nn" else lstmkit.nn


def rnn_gru_samples(kind):
    out = []
    options = itertools.product(("relu", "tanh"), (False, True), (False, True), (False, True)) if kind == "RNN" \
        else ((None, *rest) for rest in itertools.product((False, True), (False, True), (False, True)))
    for nl, bias, batch_first, bidir in options:
        base = {"input_size": 2, "num_layers": 2, "batch_first": batch_first, "bias": bias, "bidirectional": bidir}
        if nl:
            base["nonlinearity"] = nl
        tag = f"{nl + '-' if nl else ''}bias{int(bias)}-bf{int(batch_first)}-bi{int(bidir)}"
        out.append((kind, {**base, "hidden_size": 2}, [(3, 2)], f"{kind}-{tag}"))
        out.append((kind, {**base, "hidden_size": 3}, [(3, 2), (4 if bidir else 2, 3)], f"{kind}-{tag}-hx"))
    return out


def lstm_samples():
    out = []
    for bias, batch_first, bidir, proj in itertools.product((False, True), (False, True), (False, True), (0, 2)):
        kwargs = {"input_size": 2, "hidden_size": 3, "num_layers": 2, "proj_size": proj, "batch_first": batch_first,
                  "bias": bias, "bidirectional": bidir}
        tag = f"LSTM-bias{int(bias)}-bf{int(batch_first)}-bi{int(bidir)}-proj{proj}"
        n, h_out = 4 if bidir else 2, proj or 3
        out.append(("LSTM", kwargs, [(2, 2)], tag))
        out.append(("LSTM", kwargs, [(3, 2), ((n, h_out), (n, 3))], tag + "-hx"))
    return out


CELL_SAMPLES = [
    ("RNNCell", {"input_size": 5, "hidden_size": 10}, [(5,), (10,)], "RNNCell"),
    ("RNNCell", {"input_size": 5, "hidden_size": 10, "bias": True}, [(5,), (10,)], "RNNCell-bias"),
    ("RNNCell", {"input_size": 5, "hidden_size": 10, "bias": True, "nonlinearity": "relu"}, [(5,), (10,)],
     "RNNCell-relu"),
    ("GRUCell", {"input_size": 5, "hidden_size": 10}, [(5,), (10,)], "GRUCell"),
    ("GRUCell", {"input_size": 5, "hidden_size": 10, "bias": True}, [(5,), (10,)], "GRUCell-bias"),
    ("LSTMCell", {"input_size": 5, "hidden_size": 10}, [(5,), ((10,), (10,))], "LSTMCell"),
    ("LSTMCell", {"input_size": 5, "hidden_size": 10, "bias": True}, [(5,), ((10,), (10,))], "LSTMCell-bias"),
]
SAMPLES = rnn_gru_samples("RNN") + rnn_gru_samples("GRU") + lstm_samples() + CELL_SAMPLES
IDS = [s[-1] for s in SAMPLES]


def make_inputs(shapes, dtype=torch.float64, requires_grad=False, seed=0):
    g = torch.Generator().manual_seed(seed)

    def make(shape):
        if isinstance(shape[0], tuple):
            return tuple(make(s) for s in shape)
        return torch.empty(shape, dtype=dtype).uniform_(-9, 9, generator=g).div_(9).requires_grad_(requires_grad)

    return [make(s) for s in shapes]


def build(tnn, kind, kwargs, dtype=torch.float64, seed=0):
    torch.manual_seed(seed)
    return getattr(tnn, kind)(**kwargs, dtype=dtype)


def flat(out):
    """The tensors of an output: (output, h) or (output, (h, c)), a cell's h or (h, c)."""
    if isinstance(out, torch.Tensor):
        return [out]
    return [t for item in out for t in flat(item)]


def unsqueeze_batch(x, dim):
    return tuple(unsqueeze_batch(t, dim) for t in x) if isinstance(x, tuple) else x.unsqueeze(dim)


@pytest.mark.parametrize("kind, kwargs, shapes, _", SAMPLES, ids=IDS)
def test_forward(tnn, kind, kwargs, shapes, _):
    """No-batch-dim reference: the unbatched call equals the batched call on a batch of one, squeezed
    (`no_batch_dim_reference_rnn_gru`, `_lstm`, `_fn`)."""
    m = build(tnn, kind, kwargs)
    inputs = make_inputs(shapes)
    out = flat(m(*inputs))
    is_cell = "Cell" in kind
    x_dim = 0 if is_cell or kwargs["batch_first"] else 1
    batched = [unsqueeze_batch(inputs[0], x_dim)] + [unsqueeze_batch(h, 0 if is_cell else 1) for h in inputs[1:]]
    ref = flat(m(*batched))
    assert len(out) == len(ref)
    for o, r, i in zip(out, ref, range(len(out))):
        squeeze_dim = x_dim if i == 0 else (0 if is_cell else 1)
        torch.testing.assert_close(o, r.squeeze(squeeze_dim), rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind, kwargs, shapes, _", SAMPLES, ids=IDS)
def test_lstmkit_equals_torch(kind, kwargs, shapes, _):
    ours, theirs = build(lstmkit.nn, kind, kwargs), build(torch.nn, kind, kwargs, seed=1)
    theirs.load_state_dict(ours.state_dict())
    inputs = make_inputs(shapes)
    for a, b in zip(flat(ours(*inputs)), flat(theirs(*inputs))):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["RNN", "GRU"])
@pytest.mark.parametrize("lengths", [[5, 3], [5, 3, 3, 2, 2]], ids=["B2", "B5"])
def test_forward_packed(tnn, kind, lengths):
    """`with_packed_sequence` samples: (5, B, 2) inputs packed with lengths; each sequence alone gives its rows."""
    m = build(tnn, kind, {"input_size": 2, "hidden_size": 2, "num_layers": 2})
    x = make_inputs([(5, len(lengths), 2)])[0]
    out, h = m(pack_padded_sequence(x, torch.tensor(lengths)))
    padded, _ = torch.nn.utils.rnn.pad_packed_sequence(out)
    for b, n in enumerate(lengths):
        alone, h_alone = m(x[:n, b])
        torch.testing.assert_close(padded[:n, b], alone, rtol=0, atol=1e-12)
        torch.testing.assert_close(h[:, b], h_alone, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind, kwargs, shapes, _", SAMPLES[::5], ids=IDS[::5])
def test_factory_kwargs(tnn, kind, kwargs, shapes, _):
    m = getattr(tnn, kind)(**kwargs, device="meta", dtype=torch.float64)
    assert all(p.device.type == "meta" and p.dtype == torch.float64 for p in m.parameters())
    with torch.device("meta"):  # test_device_ctx_init
        m = getattr(tnn, kind)(**kwargs)
    assert all(p.device.type == "meta" for p in m.parameters())
    assert len(list(m.parameters())) > 0


@pytest.mark.parametrize("kind, kwargs, shapes, _", SAMPLES[::3], ids=IDS[::3])
def test_pickle(tnn, kind, kwargs, shapes, _):
    m = build(tnn, kind, kwargs)
    inputs = make_inputs(shapes)
    copied = pickle.loads(pickle.dumps(m))
    for a, b in zip(flat(m(*inputs)), flat(copied(*inputs))):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    buffer = io.BytesIO()
    torch.save(m.state_dict(), buffer)
    buffer.seek(0)
    fresh = build(tnn, kind, kwargs, seed=3)
    fresh.load_state_dict(torch.load(buffer))
    for a, b in zip(flat(m(*inputs)), flat(fresh(*inputs))):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert repr(copied) == repr(m)


def non_contiguous(t):
    if isinstance(t, tuple):
        return tuple(non_contiguous(x) for x in t)
    wide = torch.stack([t.detach(), torch.full_like(t, float("nan"))], dim=-1)  # (..., 2): every other value
    out = wide[..., 0].requires_grad_(t.requires_grad)
    assert not out.is_contiguous() or out.numel() <= 1
    return out


@pytest.mark.parametrize("kind, kwargs, shapes, _", SAMPLES[::2], ids=IDS[::2])
def test_non_contiguous_tensors(tnn, kind, kwargs, shapes, _):
    m = build(tnn, kind, kwargs)
    inputs = make_inputs(shapes, requires_grad=True)
    strided = [non_contiguous(t) for t in inputs]
    outs, outs_strided = flat(m(*inputs)), flat(m(*strided))
    for a, b in zip(outs, outs_strided):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    leaves = flat(inputs)
    grads = torch.autograd.grad(sum(o.sum() for o in outs), leaves + list(m.parameters()))
    grads_strided = torch.autograd.grad(sum(o.sum() for o in outs_strided), flat(strided) + list(m.parameters()))
    for a, b in zip(grads, grads_strided):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-14)


def inputs_and_params(m, inputs):
    names = [n for n, _ in m.named_parameters()]
    leaves = flat(inputs)

    def fn(*values):
        xs, ps = values[:len(leaves)], values[len(leaves):]
        it = iter(xs)
        rebuilt = [tuple(next(it) for _ in t) if isinstance(t, tuple) else next(it) for t in inputs]
        return tuple(flat(torch.func.functional_call(m, dict(zip(names, ps)), tuple(rebuilt))))

    params = [p.detach().clone().requires_grad_(True) for p in m.parameters()]
    return fn, tuple(leaves + params)


GRAD = SAMPLES[::6]  # every sixth sample: each module kind, each option on and off (the suite's time budget)
GRADGRAD = [s for s in SAMPLES if s[-1] in ("RNN-tanh-bias1-bf1-bi1", "GRU-bias1-bf0-bi1", "LSTM-bias1-bf1-bi1-proj2",
                                             "GRUCell-bias", "LSTMCell-bias")]


@pytest.mark.parametrize("kind, kwargs, shapes, _", GRAD, ids=[s[-1] for s in GRAD])
def test_grad(tnn, kind, kwargs, shapes, _):
    m = build(tnn, kind, kwargs)
    fn, args = inputs_and_params(m, make_inputs(shapes, requires_grad=True))
    assert torch.autograd.gradcheck(fn, args, eps=1e-6, atol=1e-7, fast_mode=True)


@pytest.mark.parametrize("kind, kwargs, shapes, _", GRADGRAD, ids=[s[-1] for s in GRADGRAD])
def test_gradgrad(tnn, kind, kwargs, shapes, _):
    m = build(tnn, kind, kwargs)
    fn, args = inputs_and_params(m, make_inputs(shapes, requires_grad=True))
    assert torch.autograd.gradgradcheck(fn, args, eps=1e-6, atol=1e-6, fast_mode=True)


@pytest.mark.parametrize("kind, kwargs, shapes, _", SAMPLES[::4], ids=IDS[::4])
def test_if_train_and_eval_modes_differ(tnn, kind, kwargs, shapes, _):
    """Without dropout (the samples have none) train and eval give the same numbers."""
    m = build(tnn, kind, kwargs)
    inputs = make_inputs(shapes)
    train = flat(m.train()(*inputs))
    evaluated = flat(m.eval()(*inputs))
    for a, b in zip(train, evaluated):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("kind, kwargs, shapes, _", SAMPLES[::3], ids=IDS[::3])
def test_to_dtype_and_copy(tnn, kind, kwargs, shapes, _):
    """`.float()`, `.double()` and deepcopy keep the module whole: the flat weights follow the parameters."""
    m = build(tnn, kind, kwargs).float()
    assert all(p.dtype == torch.float32 for p in m.parameters())
    if isinstance(m, torch.nn.RNNBase):
        assert all(w is p for w, p in zip(m._flat_weights, m.parameters()))
    inputs = make_inputs(shapes)
    to32 = [tuple(t.float() for t in x) if isinstance(x, tuple) else x.float() for x in inputs]
    out32 = flat(m(*to32))
    m64 = copy.deepcopy(m).double()
    out64 = flat(m64(*inputs))
    for a, b in zip(out32, out64):
        assert a.dtype == torch.float32 and b.dtype == torch.float64
        torch.testing.assert_close(a.double(), b, rtol=1e-5, atol=1e-6)
    if isinstance(m64, torch.nn.RNNBase):
        assert all(w is p for w, p in zip(m64._flat_weights, m64.parameters()))
