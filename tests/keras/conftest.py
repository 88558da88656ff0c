"""Keras on its torch backend (set before keras is imported) and one torch thread: the shapes here are
tiny, and on a shared 2-core machine two threads made a 16x32 matmul 100x slower (1 ms against 7 us)."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every Keras test on one torch thread (the `one_thread` fixture of tests/conftest.py)."""


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def to_numpy(t):
    """A Keras (torch backend) or lstmkit output as a NumPy array."""
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().numpy()
    return np.asarray(t)


@pytest.fixture(params=["keras", "lstmkit"])
def K(request):
    """Keras 3 itself (torch backend) or lstmkit.keras: a test run on both fails on Keras too when it is wrong."""
    if request.param == "keras":
        import keras

        return keras
    import lstmkit.keras

    return lstmkit.keras


def keras_with_tensorflow():
    """Keras, once TensorFlow (which its text layers need) can be imported; else the test is skipped. Keras comes
    first: it imports torch._dynamo, hence Triton, and Triton loaded after TensorFlow aborts the process (both
    register LLVM's options: "Option 'bitcode-mdindex-threshold' registered more than once")."""
    import keras

    pytest.importorskip("tensorflow", reason="Keras' TextVectorization needs TensorFlow")
    return keras
