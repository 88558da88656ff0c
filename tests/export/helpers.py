"""Running an exported ONNX file in onnxruntime, and the lengths and batch sizes every test checks."""

from __future__ import annotations

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")

# the example is exported at T=5, B=2; each model is checked at three other lengths and two other batch sizes
LENGTHS = (1, 4, 11)
BATCHES = (1, 3)
ONNX_TOL = {"atol": 1e-5, "rtol": 1e-5}  # float32, what issue 17 asks for


def session(path):
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def run(sess, feeds: dict) -> list[np.ndarray]:
    return sess.run(None, {k: np.asarray(v) for k, v in feeds.items()})


def assert_all_close(got: list[np.ndarray], want: list[np.ndarray], where: str) -> None:
    assert len(got) == len(want), where
    for i, (a, b) in enumerate(zip(got, want)):
        np.testing.assert_allclose(a, b, **ONNX_TOL, err_msg=f"{where}: output {i}")
