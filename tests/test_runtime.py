"""lstmkit.runtime: seeding, the choice of device, and the machine's description."""

import platform
import random

import numpy as np
import pytest
import torch

from lstmkit import runtime


def test_set_seed_repeats_every_generator():
    draws = []
    for _ in range(2):
        runtime.set_seed(7)
        draws.append((random.random(), np.random.rand(), torch.rand(1).item()))
    assert draws[0] == draws[1]
    with pytest.raises(ValueError, match=r"seed must be an integer, got 1\.5"):
        runtime.set_seed(1.5)  # type: ignore[arg-type]


def test_resolve_device():
    assert runtime.resolve_device("cpu") == torch.device("cpu")
    assert runtime.resolve_device(None) == runtime.resolve_device("auto") == runtime.default_device()
    with pytest.raises(ValueError, match=r"device must be 'cpu', 'cuda' \(or 'cuda:N'\) or 'auto', got 'gpu'"):
        runtime.resolve_device("gpu")
    with pytest.raises(ValueError, match=r"device must be .* got 'meta'"):
        runtime.resolve_device("meta")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA device is available"):
            runtime.resolve_device("cuda:0")


def test_machine_info_names_the_processor_and_versions():
    info = runtime.machine_info()
    assert info["torch"] == torch.__version__ and info["processor"] and info["cpu_threads"] >= 1


def test_cpu_model_reads_cpuinfo_and_falls_back_without_it(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Example CPU @ 2.0GHz\n")
    assert runtime.cpu_model(info) == "Example CPU @ 2.0GHz"
    assert runtime.cpu_model(tmp_path / "missing") == platform.processor()
    info.write_text("processor\t: 0\n")  # no model name line (some ARM kernels)
    assert runtime.cpu_model(info) == platform.processor()
