"""The sLSTM (xLSTM, Beck et al. 2024): the reference against a float64 loop written here from the paper's
equations (with a dense block-diagonal R built unit by unit, so the head layout is checked too), the
stabiliser against the unstabilised exponentials, gradcheck, and the CPU kernel against the reference
for outputs, final states and every gradient, with padding on either side, reverse and threads."""

import warnings

import pytest
import torch

from lstmkit.errors import ShapeError
from lstmkit.ops import _cpu
from lstmkit.ops import slstm as slstm_fn
from lstmkit.ops.slstm import SOURCE, kernel_info
from tests.tolerances import assert_close

slstm_mod = __import__("lstmkit.ops.slstm", fromlist=["_MIN_PARALLEL_WORK"])


def dense_recurrent(R):
    """The (4H, H) matrix of R h: rows g*H + k*DH + j, columns k*DH + a hold R[k, a, g*DH + j]."""
    NH, DH, _ = R.shape
    H = NH * DH
    Rd = R.new_zeros(4 * H, H)
    for g in range(4):
        for k in range(NH):
            Rd[g * H + k * DH:g * H + (k + 1) * DH, k * DH:(k + 1) * DH] = R[k, :, g * DH:(g + 1) * DH].T
    return Rd


def paper_loop(x, W, R, b, state, mask=None, reverse=False, forget="sigmoid"):
    """Sec. 2.2: m_t = max(log f_t + m_{t-1}, log i_t) (log i_t where n_{t-1} = 0, as NX-AI's kernel),
    i' = exp(log i - m_t), f' = exp(log f + m_{t-1} - m_t) (at most 1), c, n, h; padded steps keep all."""
    T = x.shape[1]
    Rd = dense_recurrent(R)
    H = Rd.shape[1]
    h, c, n, m = state
    out = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        pre = x[:, t] @ W.T + b + h @ Rd.T
        log_i, f_raw, z_raw, o_raw = (pre[:, g * H:(g + 1) * H] for g in range(4))
        log_f = torch.log(torch.sigmoid(f_raw)) if forget == "sigmoid" else f_raw
        m_new = torch.where(n == 0, log_i, torch.maximum(log_f + m, log_i))
        i_s = torch.exp(log_i - m_new)
        f_s = torch.minimum(torch.exp(log_f + m - m_new), torch.ones_like(m))
        c_new = f_s * c + i_s * torch.tanh(z_raw)
        n_new = f_s * n + i_s
        h_new = torch.sigmoid(o_raw) * c_new / n_new
        new = (h_new, c_new, n_new, m_new)
        if mask is not None:
            keep = mask[:, t, None]
            new = tuple(torch.where(keep, a, p) for a, p in zip(new, (h, c, n, m)))
        out[t] = new[0] if mask is None else new[0] * mask[:, t, None]
        h, c, n, m = new
    return torch.stack(out, 1), (h, c, n, m)


def make(B=3, T=9, I=4, H=6, NH=2, dtype=torch.float64, seed=0, state=True):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, I, generator=gen, dtype=dtype)
    W = torch.randn(4 * H, I, generator=gen, dtype=dtype) * 0.6
    R = torch.randn(NH, H // NH, 4 * H // NH, generator=gen, dtype=dtype) * 0.6
    b = torch.randn(4 * H, generator=gen, dtype=dtype) * 0.5
    if state:  # n > 0 where a state is carried in; m of either sign
        st = [torch.randn(B, H, generator=gen, dtype=dtype), torch.randn(B, H, generator=gen, dtype=dtype),
              torch.rand(B, H, generator=gen, dtype=dtype) + 0.5, torch.randn(B, H, generator=gen, dtype=dtype)]
    else:
        st = [torch.zeros(B, H, dtype=dtype) for _ in range(4)]
    return [t.requires_grad_(True) for t in (x, W, R, b, *st)]


def padding(B, T, side):
    lengths = torch.tensor([T, max(1, T - 3), max(1, T // 2)])[:B]
    steps = torch.arange(T)[None]
    return steps < lengths[:, None] if side == "right" else steps >= (T - lengths)[:, None]


def outputs_and_grads(fn, inputs, seed=1):
    """The outputs, final states and the gradients of every input under random upstream gradients on all."""
    out, final = fn(*inputs)
    gen = torch.Generator().manual_seed(seed)
    results = (out, *final)
    loss = sum((r * torch.randn(r.shape, generator=gen, dtype=torch.float64).to(r.dtype)).sum() for r in results)
    grads = torch.autograd.grad(loss, inputs)
    return results, grads


NAMES = ["out", "h_n", "c_n", "n_n", "m_n"]
GRAD_NAMES = ["x", "weight_ih", "weight_hh", "bias", "h0", "c0", "n0", "m0"]


def compare(actual, expected, dtype):
    (res_a, grads_a), (res_e, grads_e) = actual, expected
    for name, a, e in zip(NAMES, res_a, res_e):
        assert_close(a, e, dtype, msg=name)
    for name, a, e in zip(GRAD_NAMES, grads_a, grads_e):
        assert_close(a, e, dtype, msg=f"d{name}")


def call(backend, mask=None, reverse=False, forget="sigmoid"):
    def fn(x, W, R, b, h0, c0, n0, m0):
        return slstm_fn(x, W, R, b, (h0, c0, n0, m0), mask=mask, reverse=reverse, forget_gate=forget, backend=backend)
    return fn


def paper(mask=None, reverse=False, forget="sigmoid"):
    def fn(x, W, R, b, h0, c0, n0, m0):
        return paper_loop(x, W, R, b, (h0, c0, n0, m0), mask, reverse, forget)
    return fn


@pytest.mark.parametrize("forget", ["sigmoid", "exp"])
@pytest.mark.parametrize("pad", [None, "left", "right"])
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
def test_reference_is_the_papers_loop(forget, pad, reverse, one_thread):
    inputs = make(state=pad != "left")  # left padding: the first real step meets the zero state
    mask = None if pad is None else padding(3, 9, pad)
    compare(outputs_and_grads(call("reference", mask, reverse, forget), inputs),
            outputs_and_grads(paper(mask, reverse, forget), inputs), torch.float64)


def test_the_stabiliser_only_rescales_c_and_n():
    """Without m: C_t = f C + i z, N_t = f N + i with the raw exponentials; h = o C / N, c = C e^{-m}."""
    x, W, R, b, *_ = (t.detach() for t in make(T=12))
    out, _ = slstm_fn(x, W, R, b, backend="reference", forget_gate="exp")
    Rd = dense_recurrent(R)
    H = Rd.shape[1]
    h = C = N = torch.zeros(3, H, dtype=torch.float64)
    for t in range(12):
        pre = x[:, t] @ W.T + b + h @ Rd.T
        i, f, z, o = (pre[:, g * H:(g + 1) * H] for g in range(4))
        C = torch.exp(f) * C + torch.exp(i) * torch.tanh(z)
        N = torch.exp(f) * N + torch.exp(i)
        h = torch.sigmoid(o) * C / N
        assert_close(out[:, t], h, msg=f"h at step {t}")
    _, (_, c_n, n_n, m_n) = slstm_fn(x, W, R, b, backend="reference", forget_gate="exp")
    assert_close(c_n, C * torch.exp(-m_n))
    assert_close(n_n, N * torch.exp(-m_n))
    assert (n_n >= 1 - 1e-12).all()  # the largest of the stabilised gates is exactly 1 at each step


def test_head_layout_is_block_diagonal():
    """Head 0's h reaches only head 0's gates: a change in head 1's recurrent block leaves head 0 alone."""
    x, W, R, b, *_ = (t.detach() for t in make(T=1, H=6, NH=2))
    h0 = torch.randn(3, 6, dtype=torch.float64)
    state = (h0, torch.zeros_like(h0), torch.ones_like(h0), torch.zeros_like(h0))
    out, _ = slstm_fn(x, W, R, b, state, backend="reference")
    R2 = R.clone()
    R2[1] += 1.0
    out2, _ = slstm_fn(x, W, R2, b, state, backend="reference")
    assert torch.equal(out[..., :3], out2[..., :3])
    assert not torch.allclose(out[..., 3:], out2[..., 3:])


@pytest.mark.parametrize("backend, forget", [("reference", "sigmoid"), ("cpu", "sigmoid"), ("cpu", "exp")])
def test_gradcheck(backend, forget, one_thread):
    inputs = make(B=2, T=3, I=2, H=4, NH=2)
    mask = padding(2, 3, "left")

    def fn(*args):
        out, final = call(backend, mask, False, forget)(*args)
        return (out, *final)

    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-7)


SHAPES = [(3, 1, 5, 21, 3), (3, 17, 5, 21, 3), (2, 40, 7, 16, 1), (5, 23, 3, 12, 4)]


@pytest.mark.parametrize("B, T, I, H, NH", SHAPES, ids=[f"B{b}-T{t}-I{i}-H{h}-NH{n}" for b, t, i, h, n in SHAPES])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["fp32", "fp64"])
def test_kernel_matches_the_reference(B, T, I, H, NH, dtype, one_thread):
    inputs = make(B, T, I, H, NH)
    expected = outputs_and_grads(call("reference"), inputs)
    compare(outputs_and_grads(call("cpu"), [t.detach().to(dtype).requires_grad_() for t in inputs]), expected, dtype)


@pytest.mark.parametrize("forget", ["sigmoid", "exp"])
@pytest.mark.parametrize("pad", ["left", "right"])
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
def test_kernel_masks_and_reverse(forget, pad, reverse, one_thread):
    inputs = make(B=3, T=11, H=8, NH=2, state=pad == "right")
    mask = padding(3, 11, pad)
    expected = outputs_and_grads(call("reference", mask, reverse, forget), inputs)
    actual = outputs_and_grads(call("cpu", mask, reverse, forget),
                               [t.detach().float().requires_grad_() for t in inputs])
    compare(actual, expected, torch.float32)
    assert (actual[0][0][~mask] == 0).all()  # padded steps output zeros


def test_kernel_threads_split_the_batch(monkeypatch):
    inputs = make(B=7, T=13, H=8, NH=2)
    mask = padding(3, 13, "left").repeat(3, 1)[:7]
    threads = torch.get_num_threads()
    try:
        monkeypatch.setattr(slstm_mod, "_MIN_PARALLEL_WORK", 0)
        torch.set_num_threads(1)
        one = outputs_and_grads(call("cpu", mask), inputs)
        torch.set_num_threads(2)
        assert slstm_mod._threads(7, 13, 8) == 2
        two = outputs_and_grads(call("cpu", mask), inputs)
    finally:
        torch.set_num_threads(threads)
    compare(two, one, torch.float64)


def test_only_final_state_gradients_and_no_grad(one_thread):
    """Upstream gradients on one state alone (None for the rest) and a forward under no_grad."""
    x, W, R, b, *st = make(T=6)
    for k in range(4):
        ref = torch.autograd.grad(slstm_fn(x, W, R, b, tuple(st), backend="reference")[1][k].sum(), [x, R, *st])
        got = torch.autograd.grad(slstm_fn(x, W, R, b, tuple(st), backend="cpu")[1][k].sum(), [x, R, *st])
        for a, e in zip(got, ref):
            assert_close(a, e, msg=f"state {'hcnm'[k]}")
    with torch.no_grad():
        out, _ = slstm_fn(x, W, R, b, backend="cpu")
    assert_close(out, slstm_fn(x, W, R, b, backend="reference")[0].detach())


def test_auto_uses_the_kernel_on_the_cpu():
    assert kernel_info().loaded, kernel_info().reason
    x, W, R, b, *_ = make(T=3)
    assert "_KernelLoopBackward" in _walk(slstm_fn(x, W, R, b)[0].grad_fn)
    assert "_KernelLoopBackward" not in _walk(slstm_fn(x, W, R, b, backend="reference")[0].grad_fn)


def _walk(fn, seen=None):
    seen = set() if seen is None else seen
    if fn is None or fn in seen:
        return seen
    seen.add(fn)
    for nxt, _ in fn.next_functions:
        _walk(nxt, seen)
    return {type(f).__name__ for f in seen}


def test_a_library_that_does_not_build_falls_back_with_one_warning(tmp_path, monkeypatch):
    broken = tmp_path / "slstm_kernels.cpp"
    broken.write_text(SOURCE.read_text().replace("namespace {", "namespace { this is not C++", 1))
    monkeypatch.setenv("LSTMKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(slstm_mod, "SOURCE", broken)
    monkeypatch.setattr(_cpu.build, "_FLAG_SETS", [[]])  # one failed compile, not one per flag set
    x, W, R, b, *_ = (t.detach() for t in make(T=3))
    with pytest.warns(RuntimeWarning, match="slstm_kernels.cpp is unavailable"):
        out, _ = slstm_fn(x, W, R, b)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again, _ = slstm_fn(x, W, R, b)
    expected, _ = slstm_fn(x, W, R, b, backend="reference")
    assert torch.equal(out, expected) and torch.equal(again, expected)
    with pytest.raises(RuntimeError, match="backend='cpu' asked for, but the kernel is unavailable"):
        slstm_fn(x, W, R, b, backend="cpu")
    _cpu.build._STATE.pop(broken, None)


def test_bad_input_is_named():
    x, W, R, b, *st = (t.detach() for t in make())
    with pytest.raises(ValueError, match=r"forget_gate must be one of \('sigmoid', 'exp'\), got 'tanh'"):
        slstm_fn(x, W, R, b, forget_gate="tanh")
    with pytest.raises(ValueError, match=r"backend must be one of \('auto', 'reference', 'cpu'\), got 'gpu'"):
        slstm_fn(x, W, R, b, backend="gpu")
    with pytest.raises(ShapeError, match=r"x must be \(batch, time, features\), got shape \(9, 4\)"):
        slstm_fn(x[0], W, R, b)
    with pytest.raises(ShapeError, match=r"weight_ih must be \(4\*H, 4\) for inputs of 4 features, got \(24, 3\)"):
        slstm_fn(x, W[:, :3], R, b)
    with pytest.raises(ShapeError, match=r"weight_hh must be \(heads, 6 // heads, 4 \* \(6 // heads\)\)"):
        slstm_fn(x, W, R[:, :, :8], b)
    with pytest.raises(ShapeError, match=r"bias must be \(24,\), got \(12,\)"):
        slstm_fn(x, W, R, b[:12])
    with pytest.raises(ValueError, match="state must be a tuple \\(h, c, n, m\\) of four tensors, got tuple of 2"):
        slstm_fn(x, W, R, b, tuple(st[:2]))
    with pytest.raises(ShapeError, match=r"state n must be \(3, 6\) \(batch, hidden\), got \(2, 6\)"):
        slstm_fn(x, W, R, b, (st[0], st[1], st[2][:2], st[3]))
    with pytest.raises(ValueError, match=r"mask must be a \(3, 9\) bool tensor, got \(3, 9\) torch.int64"):
        slstm_fn(x, W, R, b, mask=torch.ones(3, 9, dtype=torch.long))
    with pytest.raises(ValueError, match=r"backend='cpu' runs float32 and float64 on the CPU, got torch\.bfloat16"):
        slstm_fn(x.bfloat16(), W.bfloat16(), R.bfloat16(), b.bfloat16(), backend="cpu")
