"""The fused CPU scan of minGRU / minLSTM (`ops/_cpu/scan_kernels.cpp`) against the pure-torch scan and a
float64 loop over time written from the paper's equations (tests/ops/test_min_rnn.py's `loop`): outputs,
final states and every gradient (x, weights, bias, h0), with masks on either side, reverse, odd sizes,
any thread count, gradcheck in float64 through the kernel, and the fallback when the library cannot be built."""

import warnings

import pytest
import torch

from lstmkit.ops import min_rnn
from lstmkit.ops._cpu import build
from lstmkit.ops._cpu import scan as scan_kernel
from tests.ops.test_min_rnn import loop, make

KINDS = ["min_gru", "min_lstm"]
# float32 kernel against float64 (the loop); against the float32 torch scan, which is itself within "vs64"
# of the loop, twice that; float64 against the loop
TOL = {"vs64": {"rtol": 2e-5, "atol": 2e-6}, "vs_torch32": {"rtol": 4e-5, "atol": 4e-6},
       "fp64": {"rtol": 1e-10, "atol": 1e-12}}


@pytest.fixture(scope="module")
def kernel():
    k = scan_kernel.load()
    assert k is not None, "the scan kernel must build on the test machine"
    return k


@pytest.fixture
def torch_scan(monkeypatch):
    """Run min_rnn with the pure-torch scan (what happens when the library does not build)."""
    monkeypatch.setattr(min_rnn, "_kernel", lambda: None)


def mask_for(case, B, T):
    steps = torch.arange(T)[None]
    lengths = torch.tensor([T, max(1, T - 5), max(1, T // 2), 1, max(1, T - 2)])[:B]
    if case.endswith("right"):
        return steps < lengths[:, None]
    if case.endswith("left"):
        return steps >= (T - lengths)[:, None]
    if case.endswith("holes"):  # masked steps anywhere, a row with none real
        m = torch.rand(B, T, generator=torch.Generator().manual_seed(3)) > 0.4
        m[-1] = False
        return m
    return None


def run(kind, x, w, b, h0, mask, reverse, mode="sequential"):
    out, h_n = min_rnn.min_rnn(kind, x, w, b, h0, mask=mask, reverse=reverse, mode=mode)
    gen = torch.Generator().manual_seed(1)
    g_out = torch.randn(out.shape, generator=gen, dtype=torch.float64).to(out.dtype)
    g_h = torch.randn(h_n.shape, generator=gen, dtype=torch.float64).to(out.dtype)
    leaves = [t for t in (x, w, b, h0) if t is not None]
    grads = torch.autograd.grad((out * g_out).sum() + (h_n * g_h).sum(), leaves)
    return [out, h_n, *grads]


def uses_kernel(kind, x, w, b, h0, **kw):
    out, _ = min_rnn.min_rnn(kind, x, w, b, h0, **kw)
    return type(out.grad_fn).__name__ == "_FusedScanBackward"


SHAPES = [(3, 17, 4, 37), (1, 1, 3, 5), (5, 65, 6, 16), (2, 9, 3, 130)]
CASES = ["plain", "right", "left", "holes", "reverse", "reverse-right", "reverse-left", "no-bias"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "B{}-T{}-I{}-H{}".format(*s))
@pytest.mark.parametrize("case", CASES)
def test_float32_kernel_matches_the_float64_loop_and_the_torch_scan(kind, shape, case, kernel, monkeypatch,
                                                                    one_thread):
    B, T, I, H = shape
    x64, w64, b64, h064 = make(kind, B=B, T=T, I=I, H=H, bias=case != "no-bias")
    mask = mask_for(case, B, T)
    reverse = case.startswith("reverse")
    leaves32 = [t.detach().float().requires_grad_(True) if t is not None else None for t in (x64, w64, b64, h064)]
    assert uses_kernel(kind, *leaves32, mask=mask, reverse=reverse, mode="sequential")
    got = run(kind, *leaves32, mask, reverse)
    ref_out, ref_h = loop(kind, x64, w64, b64, h064, mask, reverse)
    gen = torch.Generator().manual_seed(1)
    g_out = torch.randn(ref_out.shape, generator=gen, dtype=torch.float64).float().double()
    g_h = torch.randn(ref_h.shape, generator=gen, dtype=torch.float64).float().double()
    leaves64 = [t for t in (x64, w64, b64, h064) if t is not None]
    ref = [ref_out, ref_h, *torch.autograd.grad((ref_out * g_out).sum() + (ref_h * g_h).sum(), leaves64)]
    for a, e in zip(got, ref):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a.double(), e.detach(), **TOL["vs64"])
    monkeypatch.setattr(min_rnn, "_kernel", lambda: None)
    assert not uses_kernel(kind, *leaves32, mask=mask, reverse=reverse, mode="sequential")
    for a, e in zip(got, run(kind, *leaves32, mask, reverse)):
        torch.testing.assert_close(a, e, **TOL["vs_torch32"])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", ["plain", "holes", "reverse-left"])
def test_float64_kernel_matches_the_loop_with_only_one_output_used(kind, case, kernel, one_thread):
    """The gradient of h_n alone and of the outputs alone: the kernel's two None-gradient paths."""
    B, T = 5, 23
    x, w, b, h0 = make(kind, B=B, T=T, I=3, H=7)
    mask, reverse = mask_for(case, B, T), case.startswith("reverse")
    out, h_n = min_rnn.min_rnn(kind, x, w, b, h0, mask=mask, reverse=reverse, mode="auto")
    assert type(out.grad_fn).__name__ == "_FusedScanBackward"
    ref_out, ref_h = loop(kind, x, w, b, h0, mask, reverse)
    for used, ref_used in ((h_n, ref_h), (out, ref_out)):
        weights = torch.linspace(-1, 1, used.numel(), dtype=used.dtype).view(used.shape)
        got = torch.autograd.grad((used * weights).sum(), (x, w, b, h0), retain_graph=True)
        ref = torch.autograd.grad((ref_used * weights).sum(), (x, w, b, h0), retain_graph=True)
        for a, e in zip(got, ref):
            torch.testing.assert_close(a, e, **TOL["fp64"])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("B,H", [(1, 37), (2, 130), (7, 16)])
def test_every_thread_count_gives_the_same_bits(kind, B, H, kernel):
    """Rows and blocks of units are independent, so the split over threads changes nothing (B = 1 and
    B = 2 are cut into blocks of units, B = 7 into rows)."""
    T, G = 19, 2 if kind == "min_gru" else 3
    gen = torch.Generator().manual_seed(5)
    k = torch.randn(B, T, G * H, generator=gen)
    h0 = torch.randn(B, H, generator=gen)
    mask = (torch.rand(B, T, generator=gen) > 0.3).to(torch.uint8)
    d_out, d_hn = torch.randn(B, T, H, generator=gen), torch.randn(B, H, generator=gen)
    results = []
    for threads in (1, 2, 3, 8):
        out, states, h_n = kernel.forward(kind, k, h0, mask, True, threads)
        dk, dh0 = kernel.backward(kind, k, h0, mask, states, True, d_out, d_hn, threads)
        results.append((out, states, h_n, dk, dh0))
    for other in results[1:]:
        for a, e in zip(results[0], other):
            assert torch.equal(a, e)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case", ["plain", "holes", "reverse-right"])
def test_gradcheck_through_the_kernel(kind, case, kernel, one_thread):
    B, T = 3, 6
    x, w, b, h0 = make(kind, B=B, T=T, I=3, H=4)
    mask, reverse = mask_for(case, B, T), case.startswith("reverse")
    assert uses_kernel(kind, x, w, b, h0, mask=mask, reverse=reverse)

    def f(x, w, b, h0):
        return min_rnn.min_rnn(kind, x, w, b, h0, mask=mask, reverse=reverse, mode="sequential")

    assert torch.autograd.gradcheck(f, (x, w, b, h0))


@pytest.mark.parametrize("kind", KINDS)
def test_the_kernel_matches_the_torch_scan_in_float64(kind, kernel, monkeypatch, one_thread):
    x, w, b, h0 = make(kind, B=4, T=40, I=5, H=9)
    mask = mask_for("holes", 4, 40)
    got = run(kind, x, w, b, h0, mask, True)
    monkeypatch.setattr(min_rnn, "_kernel", lambda: None)
    for a, e in zip(got, run(kind, x, w, b, h0, mask, True)):
        torch.testing.assert_close(a, e, **TOL["fp64"])


def test_the_layer_with_time_first_outputs_feeds_non_contiguous_gradients(kernel, monkeypatch, one_thread):
    """lstmkit.nn.MinGRU without batch_first transposes the kernel's outputs, so their gradient arrives
    strided; bidirectional runs the reverse scan inside the kernel."""
    from lstmkit.nn import MinGRU

    torch.manual_seed(0)
    layer = MinGRU(6, 11, num_layers=2, bidirectional=True)
    x = torch.randn(13, 4, 6, requires_grad=True)

    def step():
        out, h_n = layer(x, lengths=[13, 9, 4, 1])
        loss = (out * torch.linspace(-1, 1, out.numel()).view(out.shape)).sum() + (h_n ** 2).sum()
        return [out, h_n, *torch.autograd.grad(loss, [x, *layer.parameters()])]

    got = step()
    monkeypatch.setattr(min_rnn, "_kernel", lambda: None)
    for a, e in zip(got, step()):
        torch.testing.assert_close(a, e, **TOL["vs_torch32"])


def test_other_dtypes_and_the_parallel_mode_keep_the_torch_scan(kernel):
    x, w, b, h0 = make("min_gru", B=2, T=5, I=3, H=4)
    assert uses_kernel("min_gru", x, w, b, h0, mode="auto")
    assert not uses_kernel("min_gru", x, w, b, h0, mode="parallel")
    half = [t.detach().bfloat16().requires_grad_(True) for t in (x, w, b, h0)]
    assert not uses_kernel("min_gru", *half, mode="sequential")


def test_a_library_that_does_not_build_warns_once_and_the_torch_scan_runs(tmp_path, monkeypatch):
    broken = tmp_path / "scan_kernels.cpp"
    broken.write_text("#define LK_ABI_VERSION 1\nthis is not C++\n")
    monkeypatch.setenv("LSTMKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(scan_kernel, "SOURCE", broken)
    monkeypatch.setattr(build, "_STATE", {})
    x, w, b, h0 = make("min_lstm", B=2, T=7, I=3, H=4)
    with pytest.warns(RuntimeWarning, match=r"scan_kernels\.cpp is unavailable .*compiler failed"):
        out, h_n = min_rnn.min_rnn("min_lstm", x, w, b, h0, mode="sequential")
    assert type(out.grad_fn).__name__ != "_FusedScanBackward"
    ref_out, ref_h = loop("min_lstm", x, w, b, h0)
    torch.testing.assert_close(out, ref_out, **TOL["fp64"])
    torch.testing.assert_close(h_n, ref_h, **TOL["fp64"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        min_rnn.min_rnn("min_lstm", x, w, b, h0, mode="sequential")


def test_the_kernel_refuses_buffers_it_cannot_read(kernel):
    k = torch.randn(2, 5, 8)
    with pytest.raises(ValueError, match=r"needs h0 as a contiguous CPU torch.float32 tensor of shape \(2, 4\), "
                                         r"got \(2, 3\)"):
        kernel.forward("min_gru", k, torch.zeros(2, 3), None, False, 1)
    with pytest.raises(ValueError, match=r"needs k .*\(not contiguous\)"):
        kernel.forward("min_gru", torch.randn(2, 8, 5).transpose(1, 2), torch.zeros(2, 4), None, False, 1)
