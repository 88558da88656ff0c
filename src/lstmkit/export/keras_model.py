"""ONNX export of lstmkit.keras models (`model.export(path, format="onnx")`): a chain of layers, each written
as the ONNX ops that compute it exactly, or refused with an `ExportError` naming the layer and the reason.

Layers: InputLayer; Embedding -> Gather (mask_zero: mask = ids != 0); Masking -> the same test and product
as Keras; Dropout / SpatialDropout1D -> nothing (identity at inference); Dense / Activation -> MatMul, Add
and the activation; SimpleRNN / LSTM / GRU / Bidirectional of one of them -> one ONNX RNN / LSTM / GRU node
(`lstmkit.export.recurrence`). Anything else is refused.

Masks: ONNX's recurrent operators take `sequence_lens`, right padding. The graph computes each row's
length from the mask and, per row, whether the mask is right padding or left padding; a left-padded row
is turned into a right-padded one before the node (reversed whole, then its first `length` steps
reversed back: ReverseSequence twice) and its outputs turned back after it. A row whose mask is neither
(a hole in the middle) makes onnxruntime stop with an error naming this (a Gather out of range in a node
named for it): never a silently different result. Keras' semantics kept: at a masked step the output
carries the last real one forward (zeros before the first real step, or always with zero_output_for_mask),
the state too.

Dimensions: B batch, T time, F features, U units, D directions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lstmkit.export.errors import ExportError
from lstmkit.export.graph import DEFAULT_OPSET, Graph, check_opset, elem_type, write_whole
from lstmkit.export.recurrence import DirectionWeights, Recurrence, emit

MASK_ERROR_NODE = ("lstmkit: a mask that is neither right nor left padding (a masked step between real ones) "
                   "is not computed by this graph; this Gather is out of range on purpose")


def _np(t: Any) -> np.ndarray | None:
    return None if t is None else t.detach().cpu().numpy().astype(np.float32)


def _describe(layer: Any) -> str:
    return f"layer '{layer.name}' ({type(layer).__name__})"


def _chain(model: Any) -> tuple[list[Any], Any, str | None]:
    """The model's layers in order, its input's batch shape and its dtype name. (Told apart by what they
    hold, not by class: lstmkit.keras.models imports this module, so this one does not import it.)"""
    if hasattr(model, "_stack"):  # Sequential
        if not model.built or model.input_shape is None:
            raise ExportError(f"Sequential model '{model.name}' is not built: give it an Input(shape) or call it "
                              "on data once before exporting")
        dtype = model._input_layer.dtype if model._input_layer is not None else None
        return list(model.layers), tuple(model.input_shape), dtype
    if hasattr(model, "_nodes") and hasattr(model, "_output_tensors"):  # Functional
        if len(model.inputs) != 1 or len(model._output_tensors) != 1:
            raise ExportError(f"functional model '{model.name}' has {len(model.inputs)} inputs and "
                              f"{len(model._output_tensors)} outputs; ONNX export takes a chain of layers from one "
                              "input to one output")
        layers, previous = [], model.inputs[0]
        for node in model._nodes:
            if node.kwargs or len(node.parents) != 1 or node.parents[0] is not previous:
                raise ExportError(f"functional model '{model.name}': {_describe(node.layer)} is not fed by the layer "
                                  "before it alone; ONNX export takes a chain of layers from one input to one output")
            layers.append(node.layer)
            previous = node.outputs
        if previous is not model._output_tensors[0]:
            raise ExportError(f"functional model '{model.name}': its output is not the last layer's")
        return layers, tuple(model.inputs[0].shape), model.inputs[0].dtype
    raise ExportError(f"model '{model.name}' ({type(model).__name__}) is a subclassed model: its call is Python "
                      "code, which ONNX export cannot read; build it as a Sequential or functional model")


# Keras activations as ONNX ops with their attributes; hard_sigmoid is relu6(x + 3) / 6 in Keras 3
_DENSE_ACTIVATIONS: dict[str, tuple[str, dict[str, Any]] | None] = {
    "linear": None, "relu": ("Relu", {}), "sigmoid": ("Sigmoid", {}), "tanh": ("Tanh", {}),
    "softmax": ("Softmax", {"axis": -1}), "hard_sigmoid": ("HardSigmoid", {"alpha": 1.0 / 6.0, "beta": 0.5}),
    "elu": ("Elu", {"alpha": 1.0}), "softplus": ("Softplus", {}), "softsign": ("Softsign", {}),
    "exponential": ("Exp", {}),
}


def _activation(g: Graph, x: str, fn: Any, layer: Any) -> str:
    from lstmkit.keras import activations

    name = next((n for n, known in activations.ACTIVATIONS.items() if fn is known), None)
    if fn is None:
        name = "linear"
    if name not in _DENSE_ACTIVATIONS:
        shown = name or getattr(fn, "__name__", repr(fn))
        raise ExportError(f"{_describe(layer)}: its activation {shown} has no exact ONNX counterpart here "
                          f"(exported: {', '.join(sorted(_DENSE_ACTIVATIONS))})")
    spec = _DENSE_ACTIVATIONS[name]
    if spec is None:
        return x
    return g.op(spec[0], [x], layer.name, **spec[1])


class _Builder:
    """Walks the layers, holding the current value (batch first), its rank and the current mask."""

    def __init__(self, g: Graph, x: str, rank: int, ids_dtype: Any) -> None:
        self.g = g
        self.x = x
        self.ids = x  # the model's input, ids when the first layer is an Embedding
        self.ids_dtype = ids_dtype
        self.rank = rank  # 2: (B, T) ids or (B, F); 3: (B, T, F)
        self.mask: str | None = None  # (B, T) bool

    # ----- the simple layers
    def embedding(self, layer: Any) -> None:
        g = self.g
        if self.rank != 2:
            raise ExportError(f"{_describe(layer)}: exported for (batch, time) ids only")
        ids, id_type = self.x, self.ids_dtype
        # Keras refuses ids outside [0, input_dim); ONNX's Gather takes -input_dim..-1 too, so negative ids
        # are sent out of range here and onnxruntime stops, as lstmkit.keras raises
        negative = g.op("Less", [ids, g.const(0, "zero", id_type)], layer.name)
        ids = g.op("Where", [negative, g.const(layer.input_dim, "out_of_range", id_type), ids], layer.name)
        self.x = g.op("Gather", [g.const(_np(layer.embeddings), f"{layer.name}_embeddings"), ids], layer.name,
                      axis=0)  # (B, T, E)
        self.rank = 3
        if layer.mask_zero:
            self.mask = g.op("Not", [g.op("Equal", [self.ids, g.const(0, "zero", id_type)], layer.name)],
                             layer.name)  # (B, T)

    def masking(self, layer: Any) -> None:
        g = self.g
        differs = g.op("Not", [g.op("Equal", [self.x, g.const(layer.mask_value, "mask_value")], layer.name)],
                       layer.name)  # (B, T, F)
        keep = g.reduce("ReduceMax", g.op("Cast", [differs], layer.name, to=elem_type(g.onnx, np.float32)), [-1],
                        layer.name, keepdims=1)  # (B, T, 1)
        self.x = g.op("Mul", [self.x, keep], layer.name)
        self.mask = g.op("Cast", [g.op("Squeeze", [keep, g.ints([-1], "axis")], layer.name)], layer.name,
                         to=elem_type(g.onnx, np.bool_))  # (B, T)

    def dense(self, layer: Any) -> None:
        g = self.g
        y = g.op("MatMul", [self.x, g.const(_np(layer.kernel), f"{layer.name}_kernel")], layer.name)
        if layer.bias is not None:
            y = g.op("Add", [y, g.const(_np(layer.bias), f"{layer.name}_bias")], layer.name)
        self.x = _activation(g, y, layer.activation, layer)

    # ----- recurrent layers
    def recurrent(self, layer: Any, rnn_layers: list[Any], merge_mode: str | None) -> None:
        """`rnn_layers`: one layer, or a Bidirectional's forward and backward layers."""
        from lstmkit.keras.layers.recurrent import _FUSED

        g = self.g
        where = _describe(layer)
        for sub in rnn_layers:
            if type(sub.cell) not in _FUSED:
                raise ExportError(f"{where}: its cell {type(sub.cell).__name__} is not SimpleRNNCell, LSTMCell or "
                                  "GRUCell; only those map onto ONNX's recurrent operators")
            if sub.stateful:
                raise ExportError(f"{where} is stateful: its state lives between calls, which an ONNX graph "
                                  "cannot keep")
            if sub.return_state:
                raise ExportError(f"{where} returns its states (return_state=True); export a chain that returns "
                                  "one tensor")
        if self.rank != 3:
            raise ExportError(f"{where}: expects (batch, time, features) inputs")
        first = rnn_layers[0]
        cells = [sub.cell for sub in rnn_layers]
        if len(rnn_layers) == 2:
            fwd, bwd = rnn_layers
            if fwd.go_backwards or not bwd.go_backwards or type(fwd.cell) is not type(bwd.cell):
                raise ExportError(f"{where}: exported with a forward layer and its go_backwards copy of one kind")
            keys = [(c.units, c.activation_arg, getattr(c, "recurrent_activation_arg", None),
                     getattr(c, "reset_after", True)) for c in cells]
            if keys[0] != keys[1]:
                raise ExportError(f"{where}: its forward and backward layers differ in units or activations")
        elif first.go_backwards and first.return_sequences and self.mask is not None:
            raise ExportError(f"{where}: go_backwards=True with return_sequences=True on a masked input is not "
                              "exported; use Bidirectional, return_sequences=False, or no mask")
        cell = cells[0]
        dirs = tuple(DirectionWeights.of(*c.torch_weights()) for c in cells)
        rec = Recurrence(cell.kind, cell.units, dirs, first.go_backwards if len(dirs) == 1 else False,
                         cell.activation_arg, getattr(cell, "recurrent_activation_arg", "sigmoid"),
                         bool(getattr(cell, "reset_after", True)), where)
        D = len(dirs)
        x_tb = g.op("Transpose", [self.x], layer.name, perm=[1, 0, 2])  # (T, B, F)
        if self.mask is None:
            y, y_h, _ = emit(g, rec, x_tb)
        else:
            carry = not (first.zero_output_for_mask or D == 2)
            y, y_h = self._masked(rec, x_tb, carry, layer.name)
        if first.return_sequences:
            outs = [g.op("Gather", [y, g.const(d, "dir", np.int64)], layer.name, axis=1)
                    for d in range(D)]  # D x (T, B, U)
        else:
            outs = [g.op("Gather", [y_h, g.const(d, "dir", np.int64)], layer.name, axis=0)
                    for d in range(D)]  # D x (B, U)
            self.mask = None
        if D == 1 and first.go_backwards and first.return_sequences:  # Keras: in processing order, last step first
            out = g.op("Slice", [outs[0], g.ints([-1], "start"), g.ints([-(2**63)], "end"), g.ints([0], "axis"),
                                 g.ints([-1], "step")], layer.name)  # (T, B, U) reversed in time
        elif D == 1:
            out = outs[0]
        elif merge_mode == "concat":
            out = g.op("Concat", outs, layer.name, axis=-1)
        elif merge_mode == "sum":
            out = g.op("Add", outs, layer.name)
        elif merge_mode == "mul":
            out = g.op("Mul", outs, layer.name)
        elif merge_mode == "ave":
            out = g.op("Mul", [g.op("Add", outs, layer.name), g.const(0.5, "half")], layer.name)
        else:
            raise ExportError(f"{where}: merge_mode={merge_mode!r} returns two tensors; export a merged one")
        self.x = g.op("Transpose", [out], layer.name, perm=[1, 0, 2]) if first.return_sequences else out
        self.rank = 3 if first.return_sequences else 2

    def _masked(self, rec: Recurrence, x_tb: str, carry: bool, hint: str) -> tuple[str, str]:
        """The node on a masked input: (Y (T, D, B, U), Y_h (D, B, U)) as Keras computes them."""
        g = self.g
        i64 = elem_type(g.onnx, np.int64)
        mask = self.mask
        assert mask is not None
        mask_i = g.op("Cast", [mask], hint, to=i64)  # (B, T)
        lengths = g.reduce("ReduceSum", mask_i, [1], hint, keepdims=0)  # (B,)
        T = g.op("Gather", [g.op("Shape", [x_tb], hint), g.ints([0], "axis")], hint, axis=0)  # (1,)
        B = g.op("Gather", [g.op("Shape", [x_tb], hint), g.ints([1], "axis")], hint, axis=0)  # (1,)
        T_scalar = g.op("Squeeze", [T, g.ints([0], "axis")], hint)
        steps = g.op("Unsqueeze", [g.op("Range", [g.const(0, "zero", np.int64), T_scalar, g.const(1, "one", np.int64)],
                                        hint), g.ints([0], "axis")], hint)  # (1, T)
        len_col = g.op("Unsqueeze", [lengths, g.ints([1], "axis")], hint)  # (B, 1)
        right = g.op("Less", [steps, len_col], hint)  # (B, T) the mask of right padding
        left = g.op("GreaterOrEqual", [steps, g.op("Sub", [T, len_col], hint)], hint)  # (B, T) of left padding

        def rows(pattern: str) -> str:  # (B,) 1 where the row's mask is this pattern
            same = g.op("Cast", [g.op("Equal", [mask, pattern], hint)], hint, to=i64)
            return g.reduce("ReduceMin", same, [1], hint, keepdims=0)

        is_right, is_left = rows(right), rows(left)
        all_ok = g.reduce("ReduceMin", g.op("Max", [is_right, is_left], hint), [0], hint, keepdims=0)
        bad = g.op("Sub", [g.const(1, "one", np.int64), all_ok], hint)  # 0, or 1: out of range below
        zero = g.named_op("Gather", [g.const([0.0], "zero_vec"), bad], f"{hint}: {MASK_ERROR_NODE}", axis=0)  # () 0.0
        use_left = g.op("Cast", [g.op("Sub", [is_left, g.op("Mul", [is_left, is_right], hint)], hint)], hint,
                        to=elem_type(g.onnx, np.bool_))  # (B,) left padding and not right padding too
        full = g.op("Expand", [T, B], hint)  # (B,) T for every row

        def to_right(v: str, batch_axis: int) -> str:  # left padding -> right padding (and back: from_right)
            whole = g.op("ReverseSequence", [v, full], hint, time_axis=0, batch_axis=batch_axis)
            return g.op("ReverseSequence", [whole, lengths], hint, time_axis=0, batch_axis=batch_axis)

        def from_right(v: str, batch_axis: int) -> str:
            first = g.op("ReverseSequence", [v, lengths], hint, time_axis=0, batch_axis=batch_axis)
            return g.op("ReverseSequence", [first, full], hint, time_axis=0, batch_axis=batch_axis)

        x_in = g.op("Add", [x_tb, zero], hint)  # the check's output must reach the result, or it is pruned
        left_b1 = g.op("Unsqueeze", [use_left, g.ints([0, 2], "axes")], hint)  # (1, B, 1)
        x_in = g.op("Where", [left_b1, to_right(x_in, 1), x_in], hint)  # (T, B, F), every row right padded
        seq = g.op("Cast", [lengths], hint, to=elem_type(g.onnx, np.int32))
        y, y_h, _ = emit(g, rec, x_in, sequence_lens=seq)  # (T, D, B, U), (D, B, U)
        y_tb = g.op("Transpose", [y], hint, perm=[0, 2, 1, 3])  # (T, B, D, U): ReverseSequence's batch axis is 0 or 1
        if carry:  # past a right-padded row's length its output is its last real one
            right_t = g.op("Unsqueeze", [g.op("Transpose", [right], hint, perm=[1, 0]), g.ints([2, 3], "axes")],
                           hint)  # (T, B, 1, 1)
            last = g.op("Unsqueeze", [g.op("Transpose", [y_h], hint, perm=[1, 0, 2]), g.ints([0], "axis")],
                        hint)  # (1, B, D, U)
            y_right = g.op("Where", [right_t, y_tb, last], hint)
        else:
            y_right = y_tb  # zeros past the length, as ONNX gives them
        left_4 = g.op("Unsqueeze", [use_left, g.ints([0, 2, 3], "axes")], hint)  # (1, B, 1, 1)
        y_tb = g.op("Where", [left_4, from_right(y_tb, 1), y_right], hint)  # zeros before a left row's steps
        y = g.op("Transpose", [y_tb], hint, perm=[0, 2, 1, 3])  # (T, D, B, U)
        return y, y_h


def export_model(model: Any, filepath: str | os.PathLike, *, input_signature: Any = None,
                 opset: int = DEFAULT_OPSET, dynamic_batch: bool = True, dynamic_time: bool = True) -> Path:
    """Write a Sequential or chain-shaped functional lstmkit.keras model as ONNX; returns the path.

    The graph's input `inputs` is (batch, time) integer ids (int64; int32 with an int32 Input or
    `input_signature`) when the first layer is an Embedding, else (batch, time, features) float32; its output
    `output` is the model's. Exported in inference mode (dropout is identity)."""
    from lstmkit.keras.layers import (
        RNN,
        Activation,
        Bidirectional,
        Dense,
        Dropout,
        Embedding,
        InputLayer,
        Masking,
        SpatialDropout1D,
    )

    opset = check_opset(opset)
    layers, shape, dtype = _chain(model)
    layers = [layer for layer in layers if not isinstance(layer, InputLayer)]
    if not layers:
        raise ExportError(f"model '{model.name}' has no layers to export")
    if input_signature is not None:
        spec = input_signature[0] if isinstance(input_signature, (list, tuple)) else input_signature
        shape = tuple(getattr(spec, "shape", shape))
        dtype = str(getattr(spec, "dtype", dtype)).replace("torch.", "")
    takes_ids = isinstance(layers[0], Embedding)
    np_dtype: Any
    if takes_ids:
        np_dtype = np.int32 if dtype == "int32" else np.int64
    else:
        np_dtype = np.float32
        if dtype not in (None, "float32"):
            raise ExportError(f"model '{model.name}': its input has dtype {dtype}; ONNX export takes float32 (or "
                              "integer ids into an Embedding)")
    dims: list[int | str] = ["batch" if dynamic_batch or shape[0] is None else int(shape[0])]
    for k, s in enumerate(shape[1:]):
        if k == 0 and dynamic_time:
            dims.append("time")
        elif s is None:
            raise ExportError(f"model '{model.name}': input axis {k + 1} has no size; give it one or keep "
                              "dynamic_time=True for the time axis")
        else:
            dims.append(int(s))
    g = Graph(opset)
    x = g.add_input("inputs", elem_type(g.onnx, np_dtype), dims)
    b = _Builder(g, x, len(dims), np_dtype)
    for layer in layers:
        policy = getattr(layer, "_dtype_policy", None)
        compute = getattr(policy, "torch_compute_dtype", None)
        if compute is not None and compute != torch.float32:
            raise ExportError(f"{_describe(layer)} computes in {compute} (a mixed-precision policy); the ONNX graph "
                              "computes in float32, so it would not be exact: export a float32 model")
        if isinstance(layer, Embedding) and layer is layers[0]:
            b.embedding(layer)
        elif isinstance(layer, Masking):
            b.masking(layer)
        elif isinstance(layer, (Dropout, SpatialDropout1D)):
            continue
        elif isinstance(layer, Dense):
            b.dense(layer)
        elif isinstance(layer, Activation):
            b.x = _activation(g, b.x, layer.activation, layer)
        elif isinstance(layer, RNN):  # SimpleRNN, LSTM, GRU, or RNN(cell): the cell is checked
            b.recurrent(layer, [layer], None)
        elif isinstance(layer, Bidirectional):
            b.recurrent(layer, [layer.forward_layer, layer.backward_layer], layer.merge_mode)
        else:
            raise ExportError(f"{_describe(layer)} has no exact ONNX export here (exported: Embedding first, "
                              "Masking, Dropout, Dense, Activation, SimpleRNN, LSTM, GRU, Bidirectional)")
    out_shape: list[int | str | None] = [dims[0], dims[1], None] if b.rank == 3 else [dims[0], None]
    g.add_output(b.x, "output", elem_type(g.onnx, np.float32), out_shape)
    onnx_model = g.model(model.name, f"lstmkit.keras model '{model.name}' exported by lstmkit.export")
    return write_whole(onnx_model.SerializeToString(), filepath)
