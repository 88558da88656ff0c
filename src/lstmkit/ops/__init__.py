"""The recurrences as functions over a whole sequence, with one dispatch over backends.

Backends, in the order `backend="auto"` tries them (`dispatch.BACKENDS`): "triton" (fused GPU
kernels, on CUDA when triton is installed), "cpu" (fused loops with their own backward, torch ops),
"reference" (the equations, everywhere).
"""

from lstmkit.ops import cpu as _cpu
from lstmkit.ops.activations import get_activation
from lstmkit.ops.call import Backend, RecurrenceCall
from lstmkit.ops.dispatch import (
    BACKENDS,
    backends,
    gru,
    lstm,
    register_backend,
    run,
    select_backend,
    simple_rnn,
    tracing,
)
from lstmkit.ops.dropout import dropout_mask
from lstmkit.ops.min_rnn import min_gru, min_lstm
from lstmkit.ops.slstm import slstm

__all__ = [
    "BACKENDS", "Backend", "RecurrenceCall", "backends", "cpu_kernel_info", "dropout_mask", "get_activation", "gru",
    "lstm", "min_gru", "min_lstm", "register_backend", "run", "select_backend", "simple_rnn", "slstm", "tracing",
]


def cpu_kernel_info() -> _cpu.build.BuildInfo:
    """Whether the CPU backend's compiled kernel is loaded (its path, compile time), or why not."""
    return _cpu.kernel_info()
