"""The compiled CPU kernel at sizes whose products pass 2^31, and when memory runs out.

The kernel's scratch was sized with 32-bit products (BLOCK * rows * I): an expanded batch of
2^17 + 1 rows of 1024 features on one thread asked for 16 * (2^17 + 1) * 1024 > 2^31 elements,
which aborted the process (std::length_error out of an extern "C" function); at 2^18 + 1 the
product wrapped and the loops wrote past their buffers. An expanded (stride-0) input keeps these
shapes cheap: every row is the same sequence, so each must equal the reference on one row.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch

import lstmkit
from tests.ops.helpers import skip_without_compiled_kernel


@pytest.fixture
def one_thread():
    """The rows of a thread are what the scratch scales with: one thread takes the whole batch."""
    skip_without_compiled_kernel()
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _weights(kind: str, I: int, H: int, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    G = {"lstm": 4, "gru": 3, "simple_rnn": 1}[kind]
    return tuple(torch.randn(*shape, generator=g, dtype=dtype) * 0.05
                 for shape in ((G * H, I), (G * H, H), (G * H,), (G * H,)))


@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn"])
def test_forward_with_scratch_past_2_31_elements(one_thread, kind):
    B, T, I, H = 2**17 + 1, 2, 1024, 2  # BLOCK * B * I = 2^31 + 2^14 elements of x scratch, one thread
    w = _weights(kind, I, H)
    row = torch.randn(1, T, I, generator=torch.Generator().manual_seed(1))
    fn = getattr(lstmkit.ops, kind)
    out = fn(row.expand(B, T, I), *w, backend="cpu")
    expected = fn(row, *w, backend="reference")
    for got, want in zip(out, expected, strict=True):
        assert got.shape[0] == B
        torch.testing.assert_close(got, want.expand_as(got), rtol=1e-5, atol=1e-6)


def test_backward_with_scratch_past_2_31_elements(one_thread):
    """float64: the weight gradients sum 2^17 rows, which float32 rounds by up to 1e-3."""
    B, T, I, H = 2**17 + 1, 1, 1024, 1
    w = [t.requires_grad_() for t in _weights("lstm", I, H, torch.float64)]
    row = torch.randn(1, T, I, generator=torch.Generator().manual_seed(2), dtype=torch.float64).requires_grad_()
    y, _, c = lstmkit.ops.lstm(row.expand(B, T, I), *w, backend="cpu")
    (y.sum() + c.sum()).backward()
    got = [row.grad, *(t.grad for t in w)]
    for t in (row, *w):
        t.grad = None
    y1, _, c1 = lstmkit.ops.lstm(row, *w, backend="reference")
    (y1.sum() * B + c1.sum() * B).backward()  # B identical rows: every gradient is B times one row's
    for a, b in zip(got, [row.grad, *(t.grad for t in w)], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-9)


def test_allocation_failure_is_memory_error_not_abort(tmp_path):
    """Address space capped just above what the process holds: the kernel's scratch (about 32 MB at
    this shape) cannot be had. The process must live and raise MemoryError, not abort."""
    skip_without_compiled_kernel()
    script = textwrap.dedent("""
        import resource, torch, lstmkit
        from lstmkit.ops._cpu import build
        torch.set_num_threads(1)
        assert build.load() is not None
        B, T, I, H = 64, 16, 2**15, 1
        x = torch.ones(1, T, I).expand(B, T, I)
        w = (torch.zeros(4 * H, I), torch.zeros(4 * H, H), torch.zeros(4 * H), torch.zeros(4 * H))
        lstmkit.ops.lstm(x[:1, :1, :8], torch.zeros(4, 8), *w[1:], backend="cpu")  # everything loaded
        with open("/proc/self/status") as f:
            vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
        resource.setrlimit(resource.RLIMIT_AS, (vm + (8 << 20), resource.RLIM_INFINITY))
        try:
            lstmkit.ops.lstm(x, *w, backend="cpu")
        except MemoryError as e:
            print("MemoryError:", e)
        else:
            print("no error")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("MemoryError: lstmkit's CPU kernel ran out of memory"), proc.stdout


def test_refuses_widths_past_the_blas_int(monkeypatch):
    """The BLAS takes 32-bit sizes: a width past them is refused by name (the limit lowered to test it)."""
    from lstmkit.ops import cpu

    monkeypatch.setattr(cpu, "_BLAS_LIMIT", 20)  # the gates of H = 8 are 32 wide
    x = torch.randn(2, 3, 8)
    w = _weights("lstm", 8, 8)
    with pytest.raises(ValueError, match=r"32-bit sizes.*is 32 \(at most 19\)"):
        lstmkit.ops.lstm(x, *w, backend="cpu")
    out = lstmkit.ops.lstm(x, *w, backend="auto")  # auto passes the CPU backend over, saying nothing
    torch.testing.assert_close(out[0], lstmkit.ops.lstm(x, *w, backend="reference")[0])
