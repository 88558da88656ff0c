"""Setting up the CPU backend's two implementations and Triton's interpreter for a test."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import torch

from lstmkit.ops import cpu
from lstmkit.ops._cpu import build


def skip_without_compiled_kernel() -> None:
    if build.load() is None:
        pytest.skip(f"no compiled kernel here: {build.info().reason}")


@contextlib.contextmanager
def cpu_implementation(name: str) -> Iterator[None]:
    """Run the CPU backend's loops as `name` ("compiled" or "python"); skips "compiled" without a kernel."""
    if name == "compiled":
        skip_without_compiled_kernel()
    with cpu.implementation(name):
        yield


def use_triton_interpreter(monkeypatch: pytest.MonkeyPatch, *, skip_with_cuda: bool = True) -> None:
    """Switch Triton's interpreter on for this test, or skip: without triton, once the kernels were
    loaded compiled in this process, and (by default) with CUDA present, where the gpu tests check them."""
    import lstmkit.ops.triton as triton_backend

    if not triton_backend._HAVE_TRITON:
        pytest.skip("triton is not installed")
    if triton_backend._loaded_interpreted is False or (skip_with_cuda and torch.cuda.is_available()):
        pytest.skip("the compiled kernels are checked by the gpu tests of test_triton.py")
    monkeypatch.setenv("TRITON_INTERPRET", "1")
