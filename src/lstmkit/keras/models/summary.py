"""`model.summary()`: Keras 3's table (rich, heavy header, a line between rows) and its totals.

Parameter counts are Keras' because the layers hold Keras' weights (one bias for LSTM, two for GRU with
reset_after). As in Keras, once the optimizer is built its slots and its two scalars (iterations,
learning rate) are counted under "Optimizer params" and in the total.
"""

from __future__ import annotations

import io
import shutil
from typing import Any

from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from lstmkit.keras.keras_tensor import flatten
from lstmkit.keras.layers.core import InputLayer
from lstmkit.keras.layers.layer import Layer, fmt_shape


def readable_size(n_bytes: float) -> str:
    """Keras' readable_memory_size: 1024-based units, two decimals."""
    for unit in ["B", "KB", "MB", "GB", "TB"]:
        if n_bytes / 1024 < 1:
            return f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.2f} PB"


def _count(tensors: list) -> int:
    return int(sum(t.numel() for t in tensors))


def _shape_text(layer: Layer) -> str:
    shape = layer._output_shape
    if shape is None and isinstance(layer, InputLayer):
        shape = layer.batch_shape
    if shape is None:
        return "?"
    if isinstance(shape, tuple) and all(s is None or isinstance(s, int) for s in shape):
        return fmt_shape(shape)
    return ", ".join(fmt_shape(s) for s in flatten(shape) if s is not None) if isinstance(shape, list) else str(
        [fmt_shape(s) for s in shape])


def _params_text(layer: Layer) -> str:
    if not layer.built:
        return "0 (unbuilt)"
    return f"{layer.count_params():,}"


def _connections(layer: Layer, model: Any) -> str:
    nodes = getattr(model, "_nodes", [])
    parts = []
    for node in nodes:
        if node.layer is not layer:
            continue
        for t in node.parents:
            source = t.node.layer
            index = [n for n in source._inbound_nodes].index(t.node) if t.node in source._inbound_nodes else 0
            parts.append(f"{source.name}[{index}][{t.index}]")
    return ", ".join(parts) or "-"


def _is_sequential_like(model: Any) -> bool:
    nodes = getattr(model, "_nodes", None)
    if nodes is None:
        return True
    used: dict[int, int] = {}
    for node in nodes:
        if len(node.parents) > 1:
            return False
        for t in node.parents:
            used[id(t)] = used.get(id(t), 0) + 1
    return all(v == 1 for v in used.values()) and len({id(n.layer) for n in nodes}) == len(nodes)


def summary_text(model: Any, line_length: int | None = None, show_trainable: bool = False) -> str:
    """The summary as text (no colors)."""
    sequential_like = _is_sequential_like(model)
    if sequential_like:
        default, positions = 88, [0.45, 0.80, 1.0]
        header, justify = ["Layer (type)", "Output Shape", "Param #"], ["left", "left", "right"]
    else:
        default, positions = 108, [0.3, 0.56, 0.74, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        justify = ["left", "left", "right", "left"]
    if show_trainable:
        default += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        header.append("Trainable")
        justify.append("center")
    width = line_length or min(default, shutil.get_terminal_size().columns - 4)
    widths, current = [], 0
    for pos in positions:
        widths.append(int(pos * width) - current)
        current += widths[-1]
    table = Table(*[Column(h, justify=j, width=w) for h, j, w in zip(header, justify, widths)],  # type: ignore[arg-type]
                  width=width, show_lines=True)
    for layer in model.layers:
        row = [f"{layer.name} ({type(layer).__name__})", _shape_text(layer), _params_text(layer)]
        if not sequential_like:
            row.append(_connections(layer, model))
        if show_trainable:
            row.append(("Y" if layer.trainable else "N") if layer.built and layer.weights else "-")
        table.add_row(*[Text(cell) for cell in row])

    built = model.built
    trainable = _count(model.trainable_weights) if built else 0
    non_trainable = _count(model.non_trainable_weights) if built else 0
    optimizer = getattr(model, "optimizer", None)
    opt_count = 0
    if getattr(model, "compiled", False) and optimizer is not None and optimizer.built:
        opt_count = 2 + _count(list(optimizer.state_tensors().values()))  # + iterations and learning rate
    buf = io.StringIO()
    console = Console(file=buf, width=width, color_system=None, force_terminal=False, highlight=False)
    console.print(f'Model: "{model.name}"', markup=False)
    console.print(table)
    total = trainable + non_trainable + opt_count
    console.print(f" Total params: {total:,} ({readable_size(4 * total)})", markup=False)
    console.print(f" Trainable params: {trainable:,} ({readable_size(4 * trainable)})", markup=False)
    console.print(f" Non-trainable params: {non_trainable:,} ({readable_size(4 * non_trainable)})", markup=False)
    if opt_count:
        console.print(f" Optimizer params: {opt_count:,} ({readable_size(4 * opt_count)})", markup=False)
    return buf.getvalue().rstrip("\n")
