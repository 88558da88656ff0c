"""The recurrences as functions over a whole sequence, with one dispatch over backends."""

from lstmkit.ops.activations import get_activation
from lstmkit.ops.dispatch import backends, gru, lstm, register_backend, select_backend, simple_rnn, tracing
from lstmkit.ops.dropout import dropout_mask

__all__ = [
    "backends", "dropout_mask", "get_activation", "gru", "lstm", "register_backend", "select_backend",
    "simple_rnn", "tracing",
]
from lstmkit.ops import triton as _triton  # noqa: F401  registers the "triton" backend when triton is installed
