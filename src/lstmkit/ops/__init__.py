"""The recurrences as functions over a whole sequence, with one dispatch over backends.

Backends: "reference" (the equations, everywhere), "cpu" (fused loops with their own backward,
chosen by backend="auto" on CPU), "triton" (fused GPU kernels, chosen on CUDA when triton is installed).
"""

from lstmkit.ops import cpu as _cpu  # registers the "cpu" backend
from lstmkit.ops import triton as _triton  # noqa: F401  registers the "triton" backend when triton is installed
from lstmkit.ops.activations import get_activation
from lstmkit.ops.dispatch import backends, gru, lstm, register_backend, select_backend, simple_rnn, tracing
from lstmkit.ops.dropout import dropout_mask

__all__ = [
    "backends", "cpu_kernel_info", "dropout_mask", "get_activation", "gru", "lstm", "register_backend",
    "select_backend", "simple_rnn", "tracing",
]


def cpu_kernel_info():  # type: ignore[no-untyped-def]
    """Whether the CPU backend's compiled kernel is loaded (its path, compile time), or why not."""
    return _cpu.kernel_info()
