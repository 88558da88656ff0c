"""`torch.onnx.export(module, args, dynamo=True)` on lstmkit's recurrences: ONNX's own LSTM/GRU/RNN operators.

Under the dynamo exporter (torch.export tracing with `torch.onnx.is_in_onnx_export()` set) `lstmkit.ops.dispatch`
hands each validated call of one layer and direction to `emit`, which records one ONNX recurrent node through
`torch.onnx.ops.symbolic_multi_out` in place of the `lstmkit::cpu_recurrence` op, which ONNX has no form for.
The node reads the time axis from its input, so the exported graph is right at every length and batch size that
`dynamic_shapes` leaves free. Gate orders and activations are `lstmkit.export.recurrence`'s (ORDER,
ONNX_ACTIVATIONS), the same as `lstmkit.export.onnx` writes; the weights are reordered by torch ops in the
graph, on the exported parameters.

Refused, with the reason and a pointer to `lstmkit.export.onnx`: masks and lengths (that exporter checks the
padding and writes `sequence_lens`), dropout masks (a module in training mode), projections
(`proj_size`), the variants (peephole, layer norm, zoneout), activations ONNX's operators do not compute.

Dimensions: B batch, T time, I input, H hidden, G gates, D directions (1 per node here).
"""

from __future__ import annotations

from typing import Any

import torch

from lstmkit.export.errors import ExportError
from lstmkit.export.recurrence import GATES, OP, ORDER, onnx_activation
from lstmkit.ops.call import Outputs, RecurrenceCall

_POINTER = ("export it with lstmkit.export.onnx(module, example_inputs, path), which writes ONNX's recurrent "
            "operators itself (with sequence_lens for right padding), or refuses with the reason")


def unsupported(call: RecurrenceCall) -> str | None:
    """Why the dynamo exporter's ONNX node cannot compute `call` exactly, else None."""
    if call.mask is not None:
        return "a mask or lengths (its padding side is known only at run time)"
    if call.input_dropout_mask is not None or call.recurrent_dropout_mask is not None:
        return "dropout masks (the module is in training mode; call module.eval() first)"
    if call.weight_hr is not None:
        return f"a projection (proj_size): ONNX's {OP[call.kind]} operator has none"
    variants = getattr(call, "variants", ())
    if variants:
        return f"the variant {' and '.join(variants)}: ONNX's {OP[call.kind]} operator has none"
    return None


def _reorder(call: RecurrenceCall, w: torch.Tensor) -> torch.Tensor:
    """PyTorch's gate blocks (first axis) in ONNX's order (`recurrence.ORDER`)."""
    H = call.hidden_size
    if call.kind == "simple_rnn":
        return w
    return torch.cat([w[j * H : (j + 1) * H] for j in ORDER[call.kind]], dim=0)  # (G*H, ...)


def _attributes(call: RecurrenceCall, where: str) -> dict[str, Any]:
    roles: list[tuple[str, Any]] = {
        "lstm": [("recurrent_activation", call.recurrent_activation), ("activation", call.activation),
                 ("activation", call.activation)],
        "gru": [("recurrent_activation", call.recurrent_activation), ("activation", call.activation)],
        "simple_rnn": [("activation", call.activation)]}[call.kind]
    names: list[str] = []
    alphas: list[float] = []
    betas: list[float] = []
    for role, fn in roles:
        name, ab = onnx_activation(fn, role, where)
        names.append(name)
        if ab is not None:  # onnxruntime takes alpha/beta in order, for the functions that have them only
            alphas.append(ab[0])
            betas.append(ab[1])
    attrs: dict[str, Any] = {"hidden_size": call.hidden_size, "activations": names,
                             "direction": "reverse" if call.reverse else "forward"}
    if alphas:
        attrs["activation_alpha"] = alphas
        attrs["activation_beta"] = betas
    if call.kind == "gru":
        attrs["linear_before_reset"] = 1 if call.reset_after else 0
    return attrs


def emit(call: RecurrenceCall) -> Outputs:
    """The outputs of `call` as one ONNX LSTM/GRU/RNN node of the exported graph (see the module docstring)."""
    where = f"lstmkit's {call.kind} under torch.onnx.export(dynamo=True)"
    reason = unsupported(call)
    if reason is not None:
        raise ExportError(f"{where}: ONNX's {OP[call.kind]} operator cannot compute this call exactly: it has "
                          f"{reason}; {_POINTER}")
    attrs = _attributes(call, where)
    B, T, _ = call.x.shape
    H, G = call.hidden_size, GATES[call.kind]
    x = call.x.transpose(0, 1)  # (T, B, I)
    W = _reorder(call, call.weight_ih)[None]  # (1, G*H, I)
    R = _reorder(call, call.weight_hh)[None]  # (1, G*H, H)
    zeros = call.x.new_zeros(G * H)
    b_ih = zeros if call.bias_ih is None else _reorder(call, call.bias_ih)
    b_hh = zeros if call.bias_hh is None else _reorder(call, call.bias_hh)
    bias = torch.cat([b_ih, b_hh])[None]  # (1, 2*G*H)
    inputs: list[torch.Tensor | None] = [x, W, R, bias, None, call.h0[None]]  # sequence_lens omitted; h0 (1, B, H)
    shapes: list[list[Any]] = [[T, 1, B, H], [1, B, H]]
    if call.kind == "lstm":
        assert call.c0 is not None  # dispatch gives zeros when the caller gave none
        inputs.append(call.c0[None])  # (1, B, H)
        shapes.append([1, B, H])
    outs = torch.onnx.ops.symbolic_multi_out(
        f"::{OP[call.kind]}", inputs, attrs, dtypes=[call.x.dtype] * len(shapes), shapes=shapes)
    Y = outs[0].squeeze(1).transpose(0, 1)  # (T, 1, B, H) -> (B, T, H)
    states = tuple(s.squeeze(0) for s in outs[1:])  # (B, H) each
    return (Y, *states)
