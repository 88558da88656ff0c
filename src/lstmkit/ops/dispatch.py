"""The one place that validates arguments and picks a backend for a recurrence.

`lstm`, `gru` and `simple_rnn` validate their arguments once into a `RecurrenceCall`
(`lstmkit.ops.call`) and hand it to a backend from one ordered registry, `BACKENDS`:
`backend="auto"` takes the first backend, in registry order, that may run on the input's device
and `supports` the call; an explicitly named backend that does not support it raises a
`ValueError` naming the backend and its reason. No backend falls back on its own.

A new backend is one module with an object of the `Backend` protocol, plus one line below
(or `register_backend(obj, before=...)` from outside the package).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import torch
from torch.onnx._internal.exporter import _flags as _onnx_flags  # see _in_dynamo_onnx_export

from lstmkit.ops import cpu, reference
from lstmkit.ops import triton as triton_backend
from lstmkit.ops.activations import Activation
from lstmkit.ops.call import GATES, Backend, Kind, Outputs, RecurrenceCall
from lstmkit.ops.checks import check_dropout_mask, check_param, check_sequence, normalize_mask, quiet_under_jit_trace
from lstmkit.ops.variants import VariantCall, Zoneout, check_variants


class Registry:
    """Backends in the order `backend="auto"` tries them."""

    def __init__(self) -> None:
        self._backends: list[Backend] = []

    def register(self, backend: Backend, *, before: str | None = None) -> None:
        """Add `backend` at the end, or just before the backend named `before`."""
        for attr in ("name", "auto_devices", "traceable", "supports", "run"):
            if not hasattr(backend, attr):
                raise TypeError(f"a backend needs the attribute {attr!r} of lstmkit.ops.call.Backend; "
                                f"{type(backend).__name__} has none")
        if any(b.name == backend.name for b in self._backends):
            raise ValueError(f"a backend named {backend.name!r} is already registered")
        if before is None:
            self._backends.append(backend)
            return
        self._backends.insert(self._backends.index(self.get(before)), backend)

    def unregister(self, name: str) -> None:
        self._backends.remove(self.get(name))

    def names(self) -> list[str]:
        return [b.name for b in self._backends]

    def get(self, name: str) -> Backend:
        for b in self._backends:
            if b.name == name:
                return b
        raise ValueError(f"unknown backend {name!r}: expected 'auto' or one of {self.names()}")

    def select(self, name: str, call: RecurrenceCall) -> Backend:
        """The backend that runs `call` under `backend=name`."""
        if name != "auto":
            chosen = self.get(name)
            reason = _lacks_variant(chosen, call) or chosen.supports(call)
            if reason is not None:
                raise ValueError(f"backend {name!r} cannot run this {call.kind} call: {reason}; "
                                 "use backend='auto' to run it on a backend that can")
            return chosen
        device = call.x.device.type
        reasons = []
        for b in self._backends:
            if b.auto_devices is not None and device not in b.auto_devices:
                continue
            reason = _lacks_variant(b, call) or b.supports(call)
            if reason is None:
                return b
            reasons.append(f"{b.name}: {reason}")
        raise ValueError(f"no registered backend runs this {call.kind} call on {device}: " + "; ".join(reasons))


def _lacks_variant(backend: Backend, call: RecurrenceCall) -> str | None:
    """Why `backend` cannot run the variants of `call` (`lstmkit.ops.variants`), else None. A backend runs
    them only if it lists them in a `variants` attribute (the reference does), so a backend registered
    from outside that knows nothing of them is never handed a peephole, layer-norm or zoneout call."""
    if not isinstance(call, VariantCall):
        return None
    missing = [v for v in call.variants if v not in getattr(backend, "variants", ())]
    return f"it has no {' or '.join(missing)} (an LSTM/GRU variant of issue 19)" if missing else None


BACKENDS = Registry()
BACKENDS.register(triton_backend.BACKEND)  # CUDA; fp32, bf16, fp16
BACKENDS.register(cpu.BACKEND)  # CPU; float32, float64
BACKENDS.register(reference.BACKEND)  # everything


def register_backend(backend: Backend, *, before: str | None = None) -> None:
    """Make `backend` selectable by its name, and by "auto" in registry order (at the end, or before `before`)."""
    BACKENDS.register(backend, before=before)


def backends() -> list[str]:
    """Names of the registered backends, in the order `backend="auto"` tries them."""
    return BACKENDS.names()


def select_backend(backend: str, call: RecurrenceCall | torch.Tensor, kind: Kind = "lstm") -> Backend:
    """The backend that runs `call` under `backend=...`, or raises as the call would.

    Given an input tensor instead of a call: the backend for a `kind` call on it with default options."""
    if isinstance(call, torch.Tensor):
        x = call
        w_ih, w_hh = x.new_zeros(GATES[kind], x.shape[-1]), x.new_zeros(GATES[kind], 1)
        h0 = x.new_zeros(x.shape[0], 1)
        call = RecurrenceCall(kind, x, w_ih, w_hh, None, None, h0=h0, c0=h0 if kind == "lstm" else None)
    return BACKENDS.select(backend, call)


# When set, every recurrence runs on the reference and appends a record of its gates and states.
_TRACE: ContextVar[list[dict] | None] = ContextVar("lstmkit_trace", default=None)


@contextlib.contextmanager
def tracing() -> Iterator[list[dict]]:
    """Within this context every `lstm`/`gru`/`simple_rnn` call runs on the reference backend and
    appends to the yielded list a dict: `kind`, `reverse`, `mask`, and each step's gates and states
    as (B, T, size) tensors (LSTM i, f, g, o, c, h; GRU r, z, n, h; SimpleRNN h), detached.
    The outputs returned are the ones computed while recording, so the records agree exactly.
    Eager mode only: under `torch.compile` nothing is recorded."""
    records: list[dict] = []
    token = _TRACE.set(records)
    try:
        yield records
    finally:
        _TRACE.reset(token)


def _in_dynamo_onnx_export() -> bool:
    """Whether torch.onnx.export(dynamo=True) is capturing the model, with either of its strategies. Not
    `torch.onnx.is_in_onnx_export()` alone: Dynamo (torch.export with strict=True, the exporter's second try)
    folds that function to False, and would record lstmkit's op, which has no ONNX form; the flag it reads is not."""
    if torch.jit.is_tracing():  # the TorchScript exporter
        return False
    return torch.onnx.is_in_onnx_export() or bool(getattr(_onnx_flags, "_is_onnx_exporting", False))


def run(call: RecurrenceCall, backend: str = "auto") -> Outputs:
    """Run a validated call on the backend `backend` names (see the module docstring)."""
    # torch.compile cannot read a ContextVar, and records are an eager-mode tool
    records = None if torch.compiler.is_compiling() else _TRACE.get()
    if records is not None:
        rec: dict = {"kind": call.kind, "reverse": call.reverse, "mask": call.mask}
        out = reference.run(call, trace=rec)
        records.append(rec)
        return out
    chosen = BACKENDS.select(backend, call)
    if call.x.shape[0] == 0:
        # an empty batch: nothing to compute, whichever backend was chosen; the reference gives the
        # empty results and their (empty or zero) gradients without launching a kernel on no rows
        return reference.run(call)
    if _in_dynamo_onnx_export():
        # torch.onnx.export(dynamo=True): one ONNX LSTM/GRU/RNN node in place of lstmkit's op, or a clear refusal
        from lstmkit.export.dynamo import emit

        return emit(call)
    if torch.onnx.is_in_onnx_export():
        # torch.onnx's TorchScript exporter has no ONNX form for lstmkit's ops and would unroll the reference's
        # loop at the example's length; lstmkit.export writes ONNX's own LSTM/GRU/RNN operators instead
        raise RuntimeError(
            f"torch.onnx.export cannot export lstmkit's {call.kind} exactly (lstmkit::cpu_recurrence has no ONNX "
            "form there, and the reference's Python loop would fix the sequence length): use "
            "lstmkit.export.onnx(module, example_inputs, path) for lstmkit.nn modules, or model.export(path, "
            "format='onnx') for lstmkit.keras models")
    if torch.jit.is_tracing() and not chosen.traceable:
        raise RuntimeError(
            f"torch.jit.trace cannot record backend {chosen.name!r} correctly: it would fix the sequence length "
            f"of the example ({call.x.shape[1]} steps) and give wrong results at any other length. Trace on the "
            "CPU with backend='cpu' (float32/float64, named activations, no projection), or use torch.export or "
            "torch.compile, which keep the length dynamic")
    if torch.compiler.is_exporting() and chosen.name == reference.BACKEND.name and not isinstance(call.x.shape[1], int):
        # the reference's Python loop over time would specialise the symbolic length to the example's, and
        # torch.export would then end in "Constraints violated (T)", which names neither cause nor cure
        why_not_cpu = cpu.BACKEND.supports(call)
        raise RuntimeError(
            f"torch.export with a dynamic sequence length cannot export this {call.kind} call on backend "
            "'reference': its loop over time runs in Python and would fix the length of the example"
            + (f" (the CPU backend cannot run it: {why_not_cpu})" if why_not_cpu else "")
            + ". Export on the CPU backend (backend='auto' or 'cpu': float32/float64, named activations, no "
            "projection) or give the time axis a static size")
    return chosen.run(call)


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


def _zero_masked_steps(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """x with zeros at the masked steps. A masked step's input reaches no output, but a backend's
    weight gradient multiplies it by the step's zero gate gradient, and 0 * NaN is NaN: with zeros
    there, padding contributes exactly nothing whatever it holds, as in a packed sequence."""
    if mask is None:
        return x
    return x.masked_fill(~mask[:, :, None], 0.0)  # (B, T, I)


@quiet_under_jit_trace
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
    weight_ci: torch.Tensor | None = None,
    weight_cf: torch.Tensor | None = None,
    weight_co: torch.Tensor | None = None,
    ln_ih_weight: torch.Tensor | None = None,
    ln_ih_bias: torch.Tensor | None = None,
    ln_hh_weight: torch.Tensor | None = None,
    ln_hh_bias: torch.Tensor | None = None,
    ln_c_weight: torch.Tensor | None = None,
    ln_c_bias: torch.Tensor | None = None,
    zoneout_h: Zoneout = None,
    zoneout_c: Zoneout = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """LSTM over a batch-first sequence x (B, T, I); equations in `lstmkit.ops.reference.lstm`.

    Weights in PyTorch's layout, gates i, f, g, o: weight_ih (4H, I), weight_hh (4H, H or P),
    biases (4H,), weight_hr (P, H) for a projection. `lengths` (B,) or a boolean `mask` (B, T)
    marks the real steps (padding on either side). Returns (output (B, T, H or P), h_n, c_n).

    Variants (equations in `lstmkit.ops.reference.lstm`; fused on the CPU backend, else the reference):
    peepholes
    weight_ci, weight_cf, weight_co (H,) (all three or none); layer norm gains and biases ln_ih_* and
    ln_hh_* (4H,), ln_c_* (H,); zoneout_h, zoneout_c a rate in [0, 1) (eval: the expectation) or a
    0/1 mask (B, T, H or P) / (B, T, H) of the steps where a unit keeps its value (training).
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
    x = _zero_masked_steps(x, mask)
    check_dropout_mask(input_dropout_mask, B, x.shape[2], "lstm: input_dropout_mask", x)
    check_dropout_mask(recurrent_dropout_mask, B, Hr, "lstm: recurrent_dropout_mask", x)
    zoneout_h, zoneout_c = check_variants(
        "lstm", x, B, T, H, Hr, peephole=(weight_ci, weight_cf, weight_co), ln_ih=(ln_ih_weight, ln_ih_bias),
        ln_hh=(ln_hh_weight, ln_hh_bias), ln_c=(ln_c_weight, ln_c_bias), zoneout_h=zoneout_h, zoneout_c=zoneout_c)
    variants: dict[str, Any] = dict(
        weight_ci=weight_ci, weight_cf=weight_cf, weight_co=weight_co, ln_ih_weight=ln_ih_weight, ln_ih_bias=ln_ih_bias,
        ln_hh_weight=ln_hh_weight, ln_hh_bias=ln_hh_bias, ln_c_weight=ln_c_weight, ln_c_bias=ln_c_bias,
        zoneout_h=zoneout_h, zoneout_c=zoneout_c)
    make = VariantCall if any(v is not None for v in variants.values()) else RecurrenceCall
    call = make(
        "lstm", x, weight_ih, weight_hh, bias_ih, bias_hh, h0=h0, c0=c0, weight_hr=weight_hr, mask=mask,
        reverse=reverse, activation=activation, recurrent_activation=recurrent_activation,
        input_dropout_mask=input_dropout_mask, recurrent_dropout_mask=recurrent_dropout_mask,
        zero_output_for_mask=zero_output_for_mask, **(variants if make is VariantCall else {}))
    out = run(call, backend)
    return out[0], out[1], out[2]


@quiet_under_jit_trace
def gru(
    x: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None = None,
    bias_hh: torch.Tensor | None = None,
    *,
    h0: torch.Tensor | None = None,
    weight_hr: torch.Tensor | None = None,
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
    ln_ih_weight: torch.Tensor | None = None,
    ln_ih_bias: torch.Tensor | None = None,
    ln_hh_weight: torch.Tensor | None = None,
    ln_hh_bias: torch.Tensor | None = None,
    zoneout_h: Zoneout = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GRU over a batch-first sequence x (B, T, I); equations in `lstmkit.ops.reference.gru`.

    Weights in PyTorch's layout, gates r, z, n: weight_ih (3H, I), weight_hh (3H, H or P), biases (3H,),
    weight_hr (P, H) for a projection (reset_after=True; the state h0, h_n stays (B, H), the output and the
    recurrence read W_hr h: see `lstmkit.ops.reference.gru`). Returns (output (B, T, H or P), h_n (B, H)).

    Variants (equations in `lstmkit.ops.reference.gru`; fused on the CPU backend with reset_after=True, else
    the reference): layer norm
    gains and biases ln_ih_* and ln_hh_* (3H,) (ln_hh with reset_after=True only); zoneout_h a rate in
    [0, 1) (eval: the expectation) or a 0/1 mask (B, T, H) of the steps where a unit keeps its value.
    """
    B, T, _ = check_sequence(x)
    P = None
    if weight_hr is not None:
        if not isinstance(weight_hr, torch.Tensor) or weight_hr.dim() != 2:
            raise ValueError("gru: weight_hr must be a matrix (proj_size, hidden)")
        if not reset_after:
            raise ValueError("gru: a projection (weight_hr) needs reset_after=True: with reset_after=False the reset "
                             "gate (H wide) would multiply the projected state (proj_size wide) before the matmul")
        P = weight_hr.shape[0]
    H = _weights("gru", 3, x, weight_ih, weight_hh, bias_ih, bias_hh, state_size=P)
    if P is not None:
        check_param(weight_hr, (P, H), "gru: weight_hr", x)
    h0 = _state(h0, B, H, "gru: h0", x)
    mask = normalize_mask(mask, lengths, B, T, x.device)
    x = _zero_masked_steps(x, mask)
    check_dropout_mask(input_dropout_mask, B, x.shape[2], "gru: input_dropout_mask", x)
    check_dropout_mask(recurrent_dropout_mask, B, P or H, "gru: recurrent_dropout_mask", x)
    zoneout_h, _ = check_variants("gru", x, B, T, H, H, reset_after=reset_after, ln_ih=(ln_ih_weight, ln_ih_bias),
                                  ln_hh=(ln_hh_weight, ln_hh_bias), zoneout_h=zoneout_h)
    variants: dict[str, Any] = dict(ln_ih_weight=ln_ih_weight, ln_ih_bias=ln_ih_bias, ln_hh_weight=ln_hh_weight,
                                    ln_hh_bias=ln_hh_bias, zoneout_h=zoneout_h)
    make = VariantCall if any(v is not None for v in variants.values()) else RecurrenceCall
    call = make(
        "gru", x, weight_ih, weight_hh, bias_ih, bias_hh, h0=h0, weight_hr=weight_hr, mask=mask, reverse=reverse,
        activation=activation,
        recurrent_activation=recurrent_activation, reset_after=reset_after, input_dropout_mask=input_dropout_mask,
        recurrent_dropout_mask=recurrent_dropout_mask, zero_output_for_mask=zero_output_for_mask,
        **(variants if make is VariantCall else {}))
    out = run(call, backend)
    return out[0], out[1]


@quiet_under_jit_trace
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
    x = _zero_masked_steps(x, mask)
    check_dropout_mask(input_dropout_mask, B, x.shape[2], "simple_rnn: input_dropout_mask", x)
    check_dropout_mask(recurrent_dropout_mask, B, H, "simple_rnn: recurrent_dropout_mask", x)
    call = RecurrenceCall(
        "simple_rnn", x, weight_ih, weight_hh, bias_ih, bias_hh, h0=h0, mask=mask, reverse=reverse,
        activation=activation, input_dropout_mask=input_dropout_mask, recurrent_dropout_mask=recurrent_dropout_mask,
        zero_output_for_mask=zero_output_for_mask)
    out = run(call, backend)
    return out[0], out[1]
