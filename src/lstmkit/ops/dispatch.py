"""The one place that validates arguments and picks a backend for a recurrence.

`backend="auto"` picks the fastest registered backend that can run on the input's device and falls
back quietly to "reference"; an explicitly named backend that cannot run raises a clear error.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from types import ModuleType

import torch

from lstmkit.ops import reference
from lstmkit.ops.activations import Activation
from lstmkit.ops.checks import check_dropout_mask, check_param, check_sequence, normalize_mask


@dataclass(frozen=True)
class Backend:
    name: str
    module: ModuleType
    available: Callable[[torch.Tensor], bool]  # can it run on this input (device, dtype)?
    auto_priority: int  # higher wins under backend="auto"; 0 = never picked automatically


_BACKENDS: dict[str, Backend] = {}


def register_backend(
    name: str, module: ModuleType, available: Callable[[torch.Tensor], bool], auto_priority: int = 0
) -> None:
    """Make a backend module (with `lstm`, `gru`, `simple_rnn` of the reference's signature) selectable."""
    _BACKENDS[name] = Backend(name, module, available, auto_priority)


register_backend("reference", reference, lambda x: True, auto_priority=1)

# When set, every recurrence runs on the reference and appends a record of its gates and states.
_TRACE: ContextVar[list[dict] | None] = ContextVar("lstmkit_trace", default=None)


@contextlib.contextmanager
def tracing() -> Iterator[list[dict]]:
    """Within this context every `lstm`/`gru`/`simple_rnn` call runs on the reference backend and
    appends to the yielded list a dict: `kind`, `reverse`, `mask`, and each step's gates and states
    as (B, T, size) tensors (LSTM i, f, g, o, c, h; GRU r, z, n, h; SimpleRNN h), detached.
    The outputs returned are the ones computed while recording, so the records agree exactly."""
    records: list[dict] = []
    token = _TRACE.set(records)
    try:
        yield records
    finally:
        _TRACE.reset(token)


def _call(kind: str, backend: str, x: torch.Tensor, args: tuple, kwargs: dict):  # type: ignore[no-untyped-def]
    impl = select_backend(backend, x).module
    records = _TRACE.get()
    if records is None:
        return getattr(impl, kind)(x, *args, **kwargs)
    rec: dict = {"kind": kind, "reverse": kwargs["reverse"], "mask": kwargs["mask"]}
    out = getattr(reference, kind)(x, *args, trace=rec, **kwargs)
    records.append(rec)
    return out


def backends() -> list[str]:
    """Names of the registered backends."""
    return sorted(_BACKENDS)


def select_backend(backend: str, x: torch.Tensor) -> Backend:
    if backend == "auto":
        usable = [b for b in _BACKENDS.values() if b.auto_priority > 0 and b.available(x)]
        return max(usable, key=lambda b: b.auto_priority)
    if backend not in _BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: expected 'auto' or one of {backends()}")
    chosen = _BACKENDS[backend]
    if not chosen.available(x):
        raise ValueError(
            f"backend {backend!r} cannot run on this input (device {x.device}, dtype {x.dtype}); "
            "use backend='auto' to fall back"
        )
    return chosen


def _weights(
    kind: str, gates: int, x: torch.Tensor, weight_ih: torch.Tensor, weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None, bias_hh: torch.Tensor | None, state_size: int | None = None,
) -> int:
    """Validate the weights of a recurrence with `gates` gate blocks; returns H."""
    _, _, I = x.shape
    if not isinstance(weight_ih, torch.Tensor) or weight_ih.dim() != 2:
        got = tuple(weight_ih.shape) if isinstance(weight_ih, torch.Tensor) else type(weight_ih).__name__
        raise ValueError(f"{kind}: weight_ih must be a matrix ({gates}*hidden, input), got {got}")
    if weight_ih.shape[0] % gates:
        raise ValueError(f"{kind}: weight_ih has {weight_ih.shape[0]} rows, not a multiple of {gates} gates")
    H = weight_ih.shape[0] // gates
    if weight_ih.shape[1] != I:
        raise ValueError(
            f"{kind}: input size mismatch: the input has {I} features but weight_ih expects {weight_ih.shape[1]}"
        )
    check_param(weight_ih, (gates * H, I), f"{kind}: weight_ih", x)
    check_param(weight_hh, (gates * H, state_size or H), f"{kind}: weight_hh", x)
    check_param(bias_ih, (gates * H,), f"{kind}: bias_ih", x, optional=True)
    check_param(bias_hh, (gates * H,), f"{kind}: bias_hh", x, optional=True)
    return H


def _state(s: torch.Tensor | None, B: int, size: int, name: str, x: torch.Tensor) -> torch.Tensor:
    if s is None:
        return x.new_zeros(B, size)
    check_param(s, (B, size), name, x)
    return s


def lstm(
    x: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
    *,
    weight_hr: torch.Tensor | None = None,
    h0: torch.Tensor | None = None,
    c0: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    lengths: torch.Tensor | list[int] | None = None,
    reverse: bool = False,
    activation: str | Activation = "tanh",
    recurrent_activation: str | Activation = "sigmoid",
    input_dropout_mask: torch.Tensor | None = None,
    recurrent_dropout_mask: torch.Tensor | None = None,
    zero_output_for_mask: bool = False,
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """LSTM over a batch-first sequence x (B, T, I); equations in `lstmkit.ops.reference.lstm`.

    Weights in PyTorch's layout, gates i, f, g, o: weight_ih (4H, I), weight_hh (4H, H or P),
    biases (4H,), weight_hr (P, H) for a projection. `lengths` (B,) or a boolean `mask` (B, T)
    marks the real steps (padding on either side). Returns (output (B, T, H or P), h_n, c_n).
    """
    B, T, _ = check_sequence(x)
    P = None
    if weight_hr is not None:
        if not isinstance(weight_hr, torch.Tensor) or weight_hr.dim() != 2:
            raise ValueError("lstm: weight_hr must be a matrix (proj_size, hidden)")
        P = weight_hr.shape[0]
    H = _weights("lstm", 4, x, weight_ih, weight_hh, bias_ih, bias_hh, state_size=P)
    if P is not None:
        check_param(weight_hr, (P, H), "lstm: weight_hr", x)
    Hr = P or H
    h0 = _state(h0, B, Hr, "lstm: h0", x)
    c0 = _state(c0, B, H, "lstm: c0", x)
    mask = normalize_mask(mask, lengths, B, T, x.device)
    check_dropout_mask(input_dropout_mask, B, x.shape[2], "lstm: input_dropout_mask", x)
    check_dropout_mask(recurrent_dropout_mask, B, Hr, "lstm: recurrent_dropout_mask", x)
    return _call(
        "lstm", backend, x, (weight_ih, weight_hh, bias_ih, bias_hh), dict(weight_hr=weight_hr, h0=h0, c0=c0, mask=mask,
        reverse=reverse, activation=activation, recurrent_activation=recurrent_activation,
        input_dropout_mask=input_dropout_mask, recurrent_dropout_mask=recurrent_dropout_mask,
        zero_output_for_mask=zero_output_for_mask),
    )


def gru(
    x: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
    *,
    h0: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    lengths: torch.Tensor | list[int] | None = None,
    reverse: bool = False,
    activation: str | Activation = "tanh",
    recurrent_activation: str | Activation = "sigmoid",
    reset_after: bool = True,
    input_dropout_mask: torch.Tensor | None = None,
    recurrent_dropout_mask: torch.Tensor | None = None,
    zero_output_for_mask: bool = False,
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """GRU over a batch-first sequence x (B, T, I); equations in `lstmkit.ops.reference.gru`.

    Weights in PyTorch's layout, gates r, z, n: weight_ih (3H, I), weight_hh (3H, H), biases (3H,).
    Returns (output (B, T, H), h_n (B, H)).
    """
    B, T, _ = check_sequence(x)
    H = _weights("gru", 3, x, weight_ih, weight_hh, bias_ih, bias_hh)
    h0 = _state(h0, B, H, "gru: h0", x)
    mask = normalize_mask(mask, lengths, B, T, x.device)
    check_dropout_mask(input_dropout_mask, B, x.shape[2], "gru: input_dropout_mask", x)
    check_dropout_mask(recurrent_dropout_mask, B, H, "gru: recurrent_dropout_mask", x)
    return _call(
        "gru", backend, x, (weight_ih, weight_hh, bias_ih, bias_hh), dict(h0=h0, mask=mask, reverse=reverse,
        activation=activation, recurrent_activation=recurrent_activation, reset_after=reset_after,
        input_dropout_mask=input_dropout_mask, recurrent_dropout_mask=recurrent_dropout_mask,
        zero_output_for_mask=zero_output_for_mask),
    )


def simple_rnn(
    x: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
    *,
    h0: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    lengths: torch.Tensor | list[int] | None = None,
    reverse: bool = False,
    activation: str | Activation = "tanh",
    input_dropout_mask: torch.Tensor | None = None,
    recurrent_dropout_mask: torch.Tensor | None = None,
    zero_output_for_mask: bool = False,
    backend: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Elman RNN over a batch-first sequence x (B, T, I); equation in `lstmkit.ops.reference.simple_rnn`.

    Weights in PyTorch's layout: weight_ih (H, I), weight_hh (H, H), biases (H,).
    Returns (output (B, T, H), h_n (B, H)).
    """
    B, T, _ = check_sequence(x)
    H = _weights("simple_rnn", 1, x, weight_ih, weight_hh, bias_ih, bias_hh)
    h0 = _state(h0, B, H, "simple_rnn: h0", x)
    mask = normalize_mask(mask, lengths, B, T, x.device)
    check_dropout_mask(input_dropout_mask, B, x.shape[2], "simple_rnn: input_dropout_mask", x)
    check_dropout_mask(recurrent_dropout_mask, B, H, "simple_rnn: recurrent_dropout_mask", x)
    return _call(
        "simple_rnn", backend, x, (weight_ih, weight_hh, bias_ih, bias_hh), dict(h0=h0, mask=mask, reverse=reverse,
        activation=activation, input_dropout_mask=input_dropout_mask,
        recurrent_dropout_mask=recurrent_dropout_mask, zero_output_for_mask=zero_output_for_mask),
    )
