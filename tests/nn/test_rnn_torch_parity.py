"""lstmkit.nn.LSTM/GRU/RNN against torch.nn with weights copied through state_dict, in float64:
forward outputs, final states, and the gradients of the input, the initial states and every weight."""

import itertools

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import lstmkit.nn
from tests.tolerances import assert_close

F64 = torch.float64
KINDS = {
    "LSTM": (torch.nn.LSTM, lstmkit.nn.LSTM, {}),
    "GRU": (torch.nn.GRU, lstmkit.nn.GRU, {}),
    "RNN-tanh": (torch.nn.RNN, lstmkit.nn.RNN, {"nonlinearity": "tanh"}),
    "RNN-relu": (torch.nn.RNN, lstmkit.nn.RNN, {"nonlinearity": "relu"}),
}


def make_pair(kind, I, H, **kw):
    torch_cls, ours_cls, extra = KINDS[kind]
    ref = torch_cls(I, H, dtype=F64, **extra, **kw)
    ours = ours_cls(I, H, dtype=F64, **extra, **kw)
    ours.load_state_dict(ref.state_dict())  # same names and shapes, strict
    return ref, ours


def initial_state(kind, L, B, H, proj=0, unbatched=False):
    lead = (L,) if unbatched else (L, B)
    h0 = torch.randn(*lead, proj or H, dtype=F64, requires_grad=True)
    if kind == "LSTM":
        return h0, torch.randn(*lead, H, dtype=F64, requires_grad=True)
    return h0


def flat(state):
    return list(state) if isinstance(state, tuple) else [state]


def check_forward_backward(ref, ours, x, hx):
    out_r, st_r = ref(x, hx)
    x2 = x.detach().clone().requires_grad_(True)
    hx2 = tuple(h.detach().clone().requires_grad_(True) for h in hx) if isinstance(hx, tuple) else (
        hx.detach().clone().requires_grad_(True))
    out_o, st_o = ours(x2, hx2)
    assert_close(out_o, out_r, msg="output")
    for a, b in zip(flat(st_o), flat(st_r)):
        assert_close(a, b, msg="final state")
    # random upstream gradients on the output and on every final state
    g_out = torch.randn_like(out_r)
    g_st = [torch.randn_like(s) for s in flat(st_r)]
    torch.autograd.backward([out_r, *flat(st_r)], [g_out, *g_st])
    torch.autograd.backward([out_o, *flat(st_o)], [g_out, *g_st])
    assert_close(x2.grad, x.grad, msg="grad x")
    for a, b in zip(flat(hx2), flat(hx)):
        assert_close(a.grad, b.grad, msg="grad initial state")
    ref_params = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        assert p.grad is not None, name
        assert_close(p.grad, ref_params[name].grad, msg=f"grad {name}")


CASES = [
    # kind, num_layers, bidirectional, batch_first, proj
    *[(k, L, bi, bf, 0) for k in KINDS for L, bi, bf in itertools.product([1, 2, 3], [False, True], [False, True])
      if not (L == 3 and bf)],
    ("LSTM", 1, False, True, 5),
    ("LSTM", 2, True, False, 11),
]


@pytest.mark.parametrize(
    "kind,L,bi,bf,proj", CASES, ids=[f"{k}-L{L}-{'bi' if b else 'uni'}-{'bf' if f else 'tf'}-P{p}" for k, L, b, f, p in CASES]
)
def test_matches_torch(kind, L, bi, bf, proj):
    I, H, B, T = 6, 37, 3, 5
    kw = {"num_layers": L, "bidirectional": bi, "batch_first": bf}
    if proj:
        kw["proj_size"] = proj
    ref, ours = make_pair(kind, I, H, **kw)
    x = torch.randn(*((B, T) if bf else (T, B)), I, dtype=F64, requires_grad=True)
    hx = initial_state(kind, L * (2 if bi else 1), B, H, proj)
    check_forward_backward(ref, ours, x, hx)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("T", [1, 17])
def test_odd_sizes_and_no_bias(kind, T):
    ref, ours = make_pair(kind, 4, 37, bias=False, bidirectional=True)
    x = torch.randn(T, 3, 4, dtype=F64, requires_grad=True)
    check_forward_backward(ref, ours, x, initial_state(kind, 2, 3, 37))


@pytest.mark.parametrize("kind", list(KINDS))
def test_unbatched_input(kind):
    ref, ours = make_pair(kind, 4, 9, num_layers=2, bidirectional=True)
    x = torch.randn(7, 4, dtype=F64, requires_grad=True)  # (T, I)
    check_forward_backward(ref, ours, x, initial_state(kind, 4, None, 9, unbatched=True))


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("enforce_sorted", [False, True])
def test_packed_sequence(kind, enforce_sorted):
    ref, ours = make_pair(kind, 4, 8, num_layers=2, bidirectional=True, batch_first=True)
    lengths = torch.tensor([6, 6, 4, 1]) if enforce_sorted else torch.tensor([3, 6, 1, 6])
    x = torch.randn(4, 6, 4, dtype=F64)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=enforce_sorted)
    data = packed.data.detach().clone().requires_grad_(True)
    packed_r = torch.nn.utils.rnn.PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
    data2 = data.detach().clone().requires_grad_(True)
    packed_o = torch.nn.utils.rnn.PackedSequence(data2, packed.batch_sizes, packed.sorted_indices,
                                                 packed.unsorted_indices)
    out_r, st_r = ref(packed_r)
    out_o, st_o = ours(packed_o)
    assert isinstance(out_o, torch.nn.utils.rnn.PackedSequence)
    assert torch.equal(out_o.batch_sizes, out_r.batch_sizes)
    assert_close(out_o.data, out_r.data, msg="packed output")
    for a, b in zip(flat(st_o), flat(st_r)):
        assert_close(a, b, msg="final state")
    g = torch.randn_like(out_r.data)
    g_st = [torch.randn_like(s) for s in flat(st_r)]
    torch.autograd.backward([out_r.data, *flat(st_r)], [g, *g_st])
    torch.autograd.backward([out_o.data, *flat(st_o)], [g, *g_st])
    assert_close(data2.grad, data.grad, msg="grad packed input")
    _, lens = pad_packed_sequence(out_o, batch_first=True)
    assert torch.equal(lens, lengths)


@pytest.mark.parametrize("kind", list(KINDS))
def test_state_dict_loads_into_torch(kind):
    torch_cls, ours_cls, extra = KINDS[kind]
    kw = {"num_layers": 2, "bidirectional": True, "proj_size": 3} if kind == "LSTM" else {"num_layers": 2}
    ours = ours_cls(5, 8, dtype=F64, **extra, **kw)
    ref = torch_cls(5, 8, dtype=F64, **extra, **kw)
    ref.load_state_dict(ours.state_dict())
    assert list(ref.state_dict()) == list(ours.state_dict())
    x = torch.randn(4, 2, 5, dtype=F64)
    assert_close(ours(x)[0], ref(x)[0])


def test_constructor_matches_torch_positionally():
    rnn = lstmkit.nn.RNN(3, 4, 2, "relu", False, True)  # torch.nn.RNN's positional order
    assert (rnn.num_layers, rnn.nonlinearity, rnn.bias, rnn.batch_first) == (2, "relu", False, True)
    gru = lstmkit.nn.GRU(3, 4, 1, True, False, 0.0, True)
    assert gru.bidirectional and "weight_hh_l0_reverse" in dict(gru.named_parameters())
    lstm = lstmkit.nn.LSTM(3, 4, 1, True, False, 0.0, False, 2)
    assert lstm.weight_hr_l0.shape == (2, 4)


@pytest.mark.parametrize("kind", list(KINDS))
def test_cells_match_torch(kind):
    torch_cls, ours_cls = {
        "LSTM": (torch.nn.LSTMCell, lstmkit.nn.LSTMCell), "GRU": (torch.nn.GRUCell, lstmkit.nn.GRUCell),
        "RNN-tanh": (torch.nn.RNNCell, lstmkit.nn.RNNCell), "RNN-relu": (torch.nn.RNNCell, lstmkit.nn.RNNCell),
    }[kind]
    extra = {"nonlinearity": "relu"} if kind == "RNN-relu" else {}
    ref, ours = torch_cls(5, 37, dtype=F64, **extra), ours_cls(5, 37, dtype=F64, **extra)
    ours.load_state_dict(ref.state_dict())
    for batched in (True, False):
        shape = (3, 5) if batched else (5,)
        x = torch.randn(*shape, dtype=F64, requires_grad=True)
        hshape = (3, 37) if batched else (37,)
        hx = (torch.randn(*hshape, dtype=F64), torch.randn(*hshape, dtype=F64)) if kind == "LSTM" else (
            torch.randn(*hshape, dtype=F64))
        a, b = ref(x, hx), ours(x, hx)
        for u, v in zip(flat(a), flat(b)):
            assert_close(v, u, msg=f"cell output batched={batched}")
        sum(s.sum() for s in flat(a)).backward()
        gx = x.grad.clone()
        x.grad = None
        sum(s.sum() for s in flat(b)).backward()
        assert_close(x.grad, gx, msg="cell grad x")
    # no state given: zeros, like torch
    x = torch.randn(2, 5, dtype=F64)
    for u, v in zip(flat(ref(x)), flat(ours(x))):
        assert_close(v, u)
