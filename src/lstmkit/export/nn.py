"""ONNX export of a recurrent module: lstmkit.nn's LSTM, GRU and RNN (and torch.nn's, same parameters).

The graph's inputs and outputs mirror the module's call:
  input    (T, B, I), or (B, T, I) with batch_first; float32
  h0, c0   (L*D, B, H): only when the example passes hx (c0 for the LSTM)
  lengths  (B,) int64: only when the example passes `lengths=` or a PackedSequence; right padding, the
           graph takes the padded batch in place of a PackedSequence
  output   like input with D*H features (zero past each row's length); h_n (and c_n) (L*D, B, H)
Layer k is one ONNX node (both directions in one bidirectional node); layers chain through a reshape
of Y (T, D, B, H) to (T, B, D*H). Dimensions: L layers, D directions, T time, B batch, I input, H hidden.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.utils.rnn import PackedSequence, pad_packed_sequence

from lstmkit.export.errors import ExportError
from lstmkit.export.graph import DEFAULT_OPSET, Graph, check_opset, elem_type, write_whole
from lstmkit.export.recurrence import DirectionWeights, Kind, Recurrence, emit, merge_directions

_KINDS: dict[str, Kind] = {"LSTM": "lstm", "GRU": "gru", "RNN_TANH": "simple_rnn", "RNN_RELU": "simple_rnn"}


def _split_example(example_inputs: Any) -> tuple[Any, Any, dict[str, Any]]:
    """(input, hx, keywords) from a tensor, a PackedSequence, or a tuple (input[, hx][, {keywords}])."""
    if isinstance(example_inputs, (torch.Tensor, PackedSequence)):
        return example_inputs, None, {}
    if not isinstance(example_inputs, (tuple, list)) or not example_inputs:
        raise ExportError(f"example_inputs must be a tensor or a tuple (input, [hx], [{{'lengths': ...}}]) as the "
                          f"module is called, got {type(example_inputs).__name__}")
    items = list(example_inputs)
    keywords = items.pop() if isinstance(items[-1], dict) else {}
    if len(items) > 2:
        raise ExportError(f"example_inputs holds {len(items)} positional values; a recurrent module takes "
                          "(input, hx)")
    return items[0], items[1] if len(items) == 2 else None, dict(keywords)


def _check_module(module: Any) -> tuple[Kind, str]:
    where = f"{type(module).__name__}"
    if not isinstance(module, torch.nn.RNNBase) or getattr(module, "mode", None) not in _KINDS:
        raise ExportError(f"lstmkit.export.onnx exports an LSTM, GRU or RNN module (lstmkit.nn or torch.nn), got "
                          f"{type(module).__name__}; for a Keras model use model.export(path, format='onnx')")
    if module.proj_size:
        raise ExportError(f"{where} with proj_size={module.proj_size}: ONNX's LSTM operator has no output "
                          "projection, so it cannot be exported exactly")
    # lstmkit.nn's variants (lstmkit.nn.variants): no ONNX recurrent operator computes them as lstmkit does
    for variant in ("peephole", "layer_norm", "zoneout_h", "zoneout_c", "learn_initial_state"):
        value = getattr(module, variant, None)
        if value:
            raise ExportError(f"{where} with {variant}={value!r}: ONNX's {module.mode} operator has no such "
                              "variant, so it cannot be exported exactly")
    dtypes = {p.dtype for p in module.parameters()}
    if dtypes != {torch.float32}:
        raise ExportError(f"{where} has parameters of dtype {sorted(map(str, dtypes))}; ONNX export writes float32 "
                          "(onnxruntime's recurrent operators run float32 only): call module.float() first")
    if module.training and (module.dropout or getattr(module, "recurrent_dropout", 0.0)):
        raise ExportError(f"{where} is in training mode with dropout={module.dropout}, recurrent_dropout="
                          f"{getattr(module, 'recurrent_dropout', 0.0)}: an inference graph has no dropout; call "
                          "module.eval() first")
    return _KINDS[module.mode], where


def onnx(
    module: torch.nn.Module,
    example_inputs: Any,
    path: str | os.PathLike,
    *,
    dynamic_batch: bool = True,
    dynamic_time: bool = True,
    opset: int = DEFAULT_OPSET,
) -> Path:
    """Write `module` as an ONNX model to `path` (whole or not at all) and return the path.

    `example_inputs` is how the module is called: `x`, `(x,)`, `(x, hx)`, `(x, {"lengths": lengths})`,
    or a PackedSequence. It fixes the dtype and the sizes that are not dynamic: with `dynamic_batch`
    and `dynamic_time` the graph takes any batch size and sequence length. A configuration ONNX's
    operators cannot compute exactly (proj_size, activations given as callables, a mask) raises
    `lstmkit.export.ExportError` naming the reason.
    """
    kind, where = _check_module(module)
    rnn: Any = module  # an RNNBase: its sizes are ints (torch types them as Module attributes)
    opset = check_opset(opset)
    x, hx, keywords = _split_example(example_inputs)
    if "mask" in keywords:
        raise ExportError(f"{where}: mask= cannot be exported: a mask may mark padding on the left or in the middle, "
                          "which ONNX's sequence_lens cannot express; pass lengths= (right padding) instead")
    unknown = set(keywords) - {"lengths"}
    if unknown:
        raise ExportError(f"{where}: unknown keyword(s) {sorted(unknown)} in example_inputs; expected 'lengths'")
    has_lengths = "lengths" in keywords
    if isinstance(x, PackedSequence):
        if has_lengths:
            raise ExportError(f"{where}: a PackedSequence carries its own lengths; do not pass lengths= too")
        x, _ = pad_packed_sequence(x, batch_first=rnn.batch_first)
        has_lengths = True
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ExportError(f"{where}: the example input must be a batched 3-D tensor ((T, B, I), or (B, T, I) with "
                          f"batch_first), got {got}")
    if x.dtype != torch.float32:
        raise ExportError(f"{where}: the example input has dtype {x.dtype}; ONNX export takes float32")
    if x.shape[-1] != rnn.input_size:
        raise ExportError(f"{where}: the example input has {x.shape[-1]} features, the module takes "
                          f"{rnn.input_size}")

    L, H = rnn.num_layers, rnn.hidden_size
    D = 2 if rnn.bidirectional else 1
    b_axis, t_axis = (0, 1) if rnn.batch_first else (1, 0)
    B_dim: int | str = "batch" if dynamic_batch else int(x.shape[b_axis])
    T_dim: int | str = "time" if dynamic_time else int(x.shape[t_axis])
    io_shape = [B_dim, T_dim] if rnn.batch_first else [T_dim, B_dim]

    g = Graph(opset)
    f32 = elem_type(g.onnx, np.float32)
    xin = g.add_input("input", f32, [*io_shape, rnn.input_size])
    seq = ""
    if has_lengths:
        lengths = g.add_input("lengths", elem_type(g.onnx, np.int64), [B_dim])
        seq = g.op("Cast", [lengths], "sequence_lens", to=elem_type(g.onnx, np.int32))  # (B,)
    h0_all = c0_all = ""
    if hx is not None:
        if kind == "lstm":
            if not (isinstance(hx, (tuple, list)) and len(hx) == 2):
                raise ExportError(f"{where}: the example hx of an LSTM must be a tuple (h_0, c_0)")
            h0_all = g.add_input("h0", f32, [L * D, B_dim, H])
            c0_all = g.add_input("c0", f32, [L * D, B_dim, H])
        else:
            if not isinstance(hx, torch.Tensor):
                raise ExportError(f"{where}: the example hx of a {rnn.mode} must be a tensor")
            h0_all = g.add_input("h0", f32, [L * D, B_dim, H])

    layer_in = xin if not rnn.batch_first else g.op("Transpose", [xin], "time_major", perm=[1, 0, 2])  # (T, B, I)
    h_n, c_n = [], []
    for layer in range(L):
        dirs = []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d else "")
            dirs.append(DirectionWeights.of(*(getattr(rnn, n + sfx, None)
                                              for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))))
        if kind == "simple_rnn":  # torch's nonlinearity; lstmkit's RNN has no other activation
            act, rec_act = ("relu" if rnn.mode == "RNN_RELU" else "tanh"), "sigmoid"
        else:  # torch.nn's modules have no activation attributes: theirs are the defaults
            act, rec_act = getattr(rnn, "activation", "tanh"), getattr(rnn, "recurrent_activation", "sigmoid")
        rec = Recurrence(kind, H, tuple(dirs), False, act, rec_act, bool(getattr(rnn, "reset_after", True)),
                         f"{where} layer {layer}")
        h0 = c0 = ""
        if h0_all:
            sl = g.ints([layer * D], "start"), g.ints([(layer + 1) * D], "end"), g.ints([0], "axis0")
            h0 = g.op("Slice", [h0_all, *sl], f"h0_l{layer}")  # (D, B, H)
            c0 = g.op("Slice", [c0_all, *sl], f"c0_l{layer}") if c0_all else ""
        y, y_h, y_c = emit(g, rec, layer_in, sequence_lens=seq, h0=h0, c0=c0)
        layer_in = merge_directions(g, y, D, H, f"l{layer}")  # (T, B, D*H)
        h_n.append(y_h)
        if y_c is not None:
            c_n.append(y_c)
    out = layer_in if not rnn.batch_first else g.op("Transpose", [layer_in], "batch_major", perm=[1, 0, 2])
    g.add_output(out, "output", f32, [*io_shape, D * H])
    state_shape: list[int | str | None] = [L * D, B_dim, H]
    g.add_output(h_n[0] if L == 1 else g.op("Concat", h_n, "h_n", axis=0), "h_n", f32, state_shape)
    if c_n:
        g.add_output(c_n[0] if L == 1 else g.op("Concat", c_n, "c_n", axis=0), "c_n", f32, state_shape)
    model = g.model(type(rnn).__name__, f"{rnn!r} exported by lstmkit.export.onnx")
    return write_whole(model.SerializeToString(), path)
