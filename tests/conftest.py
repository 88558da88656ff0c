"""Shared test setup: Keras on its torch backend, TF32 off, the gpu marker, fixed seeds."""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")  # before any import of keras

import pytest
import torch

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture
def one_thread():
    """One torch thread for tiny shapes: on a shared 2-core machine two threads made a 16x32 matmul 100x
    slower (1 ms against 7 us) and the variants' gradchecks 0.4 s -> 33 s."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
