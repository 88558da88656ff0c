"""The one table of comparison tolerances, per dtype (used with torch.testing.assert_close)."""

import torch

TOL = {
    torch.float64: {"atol": 1e-10, "rtol": 1e-9},
    # fp32 kernels compared with a float64 reference over up to a few hundred steps
    torch.float32: {"atol": 2e-5, "rtol": 2e-5},
    torch.bfloat16: {"atol": 2e-2, "rtol": 2e-2},
    torch.float16: {"atol": 5e-3, "rtol": 5e-3},
}
# Keras 3 (torch backend) computes in float32 with its own op order; the issue asks for 1e-5.
KERAS_TOL = {"atol": 1e-5, "rtol": 1e-5}


def assert_close(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype | None = None, msg: str = "") -> None:
    tol = TOL[dtype or actual.dtype]
    torch.testing.assert_close(actual, expected.to(actual.dtype), **tol, msg=lambda m: f"{msg}: {m}" if msg else m)
