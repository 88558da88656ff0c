"""Keras 3's own file formats: the `.keras` zip and the `.weights.h5` HDF5 file, both ways.

A `.keras` file of Keras 3 is a zip holding
  metadata.json      {"keras_version", "date_saved"}; lstmkit adds "lstmkit_version" and, under
                     "lstmkit_options", the options of lstmkit's own that Keras' layers do not take
                     ({"<layer path>": {"backend": "cpu"}}), so Keras opens the file and ignores them
  config.json        Keras' serialization schema: every object as {"module", "class_name", "config",
                     "registered_name"}, layers with a "build_config", the model with a "compile_config"
  model.weights.h5   HDF5: each layer's variables as datasets "vars/0", "vars/1", ... in a group named by
                     where the layer sits. Keras names these groups by class, not by layer name:
                     "layers/<snake_case class name>" ("lstm", then "lstm_1", ...) for a model's layers,
                     ".../cell" for a recurrent layer's cell, ".../forward_layer" and ".../backward_layer"
                     for Bidirectional, ".../layer" for TimeDistributed; "optimizer/vars" holds the
                     iteration count, the learning rate, then the optimizer's slots per trainable variable.
lstmkit.keras layers hold their weights in Keras' layout already (kernel (I, 4U), recurrent_kernel (U, 4U),
bias (4U,), GRU bias (2, 3U)), so the arrays go in and out as they are.

The config schema, both ways, is `lstmkit.keras.keras_config`. Reading never runs code: classes are found by
name among lstmkit.keras' own and the registered ones; a Lambda's Python bytecode is refused unless
`safe_mode=False` (as Keras). A file that does not fit gets a `FileFormatError` naming the file, the layer
and the fault.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch

from lstmkit import __version__
from lstmkit.errors import FileFormatError
from lstmkit.keras.keras_config import (
    CONFIG,
    LSTMKIT_ONLY,
    is_model_class,
    keras_compile_config,
    keras_model_config,
)
from lstmkit.keras.layers.layer import Layer, fmt_shape, to_snake_case

KERAS_VERSION = "3.15.1"  # the Keras release whose files these are (and that the tests open them with)
METADATA, WEIGHTS = "metadata.json", "model.weights.h5"
# Keras' optimizers create their slots in these groups, one group for every trainable variable in turn
# (Adam: momentum and velocity of variable 0, then of 1, ...; then all velocity_hats).
_SLOT_GROUPS = {"Adam": [("momentum", "velocity"), ("velocity_hat",)],
                "AdamW": [("momentum", "velocity"), ("velocity_hat",)],
                "RMSprop": [("velocity",), ("momentum",), ("average_gradient",)],
                "SGD": [("momentum",)], "Adagrad": [("accumulator",)],
                "Adadelta": [("accumulated_grad", "accumulated_delta_var")], "Adamax": [("momentum", "norm")],
                "Nadam": [("momentum", "velocity")], "Ftrl": [("accumulator", "linear")], "Lion": [("momentum",)]}


# ----- weights: the HDF5 layout -----------------------------------------------------------------
def saveables(layer: Layer, path: str = "") -> list[tuple[str, Layer]]:
    """Every layer under `layer` with the HDF5 group Keras gives it (`""` for the root)."""
    from lstmkit.keras.layers.core import InputLayer
    from lstmkit.keras.layers.recurrent import RNN
    from lstmkit.keras.layers.rnn_cells import StackedRNNCells
    from lstmkit.keras.layers.wrappers import Bidirectional, TimeDistributed

    def join(child: str) -> str:
        return f"{path}/{child}" if path else child

    def by_class(items: list[Layer], prefix: str) -> list[tuple[str, Layer]]:
        used: dict[str, int] = {}
        out = []
        for item in items:
            name = to_snake_case(type(item).__name__)
            if name in used:
                used[name] += 1
                name = f"{name}_{used[name]}"
            else:
                used[name] = 0
            out.append((join(f"{prefix}/{name}"), item))
        return out

    out = [(path, layer)]
    if is_model_class(layer, "sequential", "Sequential"):
        children = by_class([lay for lay in layer.layers if not isinstance(lay, InputLayer)], "layers")
    elif is_model_class(layer, "functional", "Functional"):
        children = by_class(list(layer.layers), "layers")
    elif isinstance(layer, Bidirectional):
        children = [(join("forward_layer"), layer.forward_layer), (join("backward_layer"), layer.backward_layer)]
    elif isinstance(layer, TimeDistributed):
        children = [(join("layer"), layer.layer)]
    elif isinstance(layer, StackedRNNCells):
        children = by_class(list(layer.cells), "cells")
    elif isinstance(layer, RNN):
        children = [(join("cell"), layer.cell)] if isinstance(layer.cell, Layer) else []
    else:
        children = by_class(layer._sublayers(), "layers")
    for child_path, child in children:
        out.extend(saveables(child, child_path))
    return out


def _own(layer: Layer) -> list[torch.Tensor]:
    """The layer's own variables in Keras' order for save_own_variables: trainable, then non-trainable."""
    entries = layer._keras_weights()
    return [t for s, t in entries if s.trainable] + [t for s, t in entries if not s.trainable]


def _trainable_tensors(model: Any) -> list[torch.Tensor]:
    return [v._layer._variable_value(v._spec) for v in model.trainable_weights]


def weights_h5_bytes(model: Any, include_optimizer: bool) -> bytes:
    """The model's `.weights.h5` (Keras 3's layout) as bytes."""
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for path, layer in saveables(model):
            group = f.create_group(f"{path}/vars" if path else "vars")
            group.attrs["name"] = layer.name
            for i, t in enumerate(_own(layer)):
                group.create_dataset(str(i), data=t.detach().cpu().numpy())
        opt = getattr(model, "optimizer", None)
        if include_optimizer and opt is not None and getattr(opt, "built", False):
            group = f.create_group("optimizer/vars")
            group.attrs["name"] = to_snake_case(type(opt).__name__)
            for i, array in enumerate(_optimizer_arrays(model, opt)):
                group.create_dataset(str(i), data=array)
    return buf.getvalue()


def _slot_order(opt: Any) -> list[tuple[str, ...]]:
    groups = _SLOT_GROUPS.get(type(opt).__name__)
    if groups is None:
        raise ValueError(f"the state of optimizer {type(opt).__name__} has no Keras layout known to lstmkit")
    return groups


def _optimizer_slots(model: Any, opt: Any) -> list[torch.Tensor]:
    """The optimizer's slot tensors in Keras' order (the file's vars/2, vars/3, ...)."""
    params = {id(p): i for i, p in enumerate(opt.params)}
    states = []
    for t in _trainable_tensors(model):
        if id(t) not in params:
            raise ValueError("the optimizer was built on tensors that are not the model's trainable weights")
        states.append(opt.state[params[id(t)]])
    out = []
    for group in _slot_order(opt):
        if not states or not all(slot in states[0] for slot in group):
            continue  # a slot this configuration has not (SGD without momentum, Adam without amsgrad)
        for state in states:
            out.extend(state[slot] for slot in group)
    return out


def _optimizer_head(opt: Any) -> list[np.ndarray]:
    """The variables before the slots: the iteration count, and the learning rate unless a schedule gives it
    (Keras keeps no learning-rate variable then)."""
    head = [np.asarray(opt.iterations, np.int64)]
    if not callable(opt._learning_rate):
        head.append(np.asarray(opt.learning_rate, np.float32))
    return head


def _optimizer_tail(opt: Any) -> list[np.ndarray]:
    """The variables after the slots: Nadam's product of momentum factors (lstmkit recomputes it on load)."""
    if type(opt).__name__ == "Nadam":
        return [np.asarray(opt._product(opt.iterations), np.float32)]
    return []


def _optimizer_arrays(model: Any, opt: Any) -> list[np.ndarray]:
    slots = [t.detach().cpu().numpy() for t in _optimizer_slots(model, opt)]
    return _optimizer_head(opt) + slots + _optimizer_tail(opt)


def load_weights_h5(model: Any, f: h5py.File, where: str, skip_mismatch: bool = False,
                    optimizer: bool = True) -> None:
    """Copy a Keras 3 `.weights.h5` (an open h5py file) into a built model of the same architecture."""
    values: list[tuple[Layer, list[torch.Tensor]]] = []
    for path, layer in saveables(model):
        key = f"{path}/vars" if path else "vars"
        own = _own(layer)
        group = f.get(key)
        stored = [] if group is None else [group[str(i)] for i in range(len(group)) if str(i) in group]
        label = f"layer {layer.name!r} (group '{key}')"
        if len(stored) != len(own):
            if skip_mismatch:
                continue
            raise FileFormatError(where, f"{label}: the file holds {len(stored)} variables, the model's "
                                         f"{type(layer).__name__} has {len(own)}")
        arrays = []
        for i, (d, t) in enumerate(zip(stored, own)):
            if tuple(d.shape) != tuple(t.shape):
                if skip_mismatch:
                    arrays = None
                    break
                raise FileFormatError(where, f"{label}: variable {i} has shape {fmt_shape(tuple(d.shape))} in the "
                                             f"file but {fmt_shape(tuple(t.shape))} in the model")
            arrays.append(torch.from_numpy(np.asarray(d[()], dtype=np.float32)))
        if arrays is not None and own:
            values.append((layer, arrays))
    for layer, arrays in values:
        entries = layer._keras_weights()
        order = [i for i, (s, _) in enumerate(entries) if s.trainable] + \
                [i for i, (s, _) in enumerate(entries) if not s.trainable]
        in_layer_order: list[torch.Tensor] = [arrays[0]] * len(entries)
        for a, i in zip(arrays, order):
            in_layer_order[i] = a
        layer._assign_keras(in_layer_order)
    opt = getattr(model, "optimizer", None)
    if optimizer and opt is not None and "optimizer/vars" in f:
        _load_optimizer(model, opt, f["optimizer/vars"], where)


def _load_optimizer(model: Any, opt: Any, group: h5py.Group, where: str) -> None:
    if not getattr(opt, "built", False):
        opt.build([p for p in model.parameters() if p.requires_grad])
    slots = _optimizer_slots(model, opt)
    stored = [group[str(i)] for i in range(len(group))]
    n_head, n_tail = len(_optimizer_head(opt)), len(_optimizer_tail(opt))
    if len(stored) != n_head + len(slots) + n_tail:
        head = "iterations" if n_head == 1 else "iterations, learning rate"
        raise FileFormatError(where, f"optimizer: the file holds {len(stored)} variables, the model's "
                                     f"{type(opt).__name__} has {n_head + len(slots) + n_tail} ({head}, "
                                     f"{len(slots)} slots{', 1 after them' if n_tail else ''})")
    for i, (d, t) in enumerate(zip(stored[n_head:], slots), start=n_head):
        if tuple(d.shape) != tuple(t.shape):
            raise FileFormatError(where, f"optimizer: variable {i} has shape {fmt_shape(tuple(d.shape))} in the "
                                         f"file but {fmt_shape(tuple(t.shape))} in the model")
    with torch.no_grad():
        for d, t in zip(stored[n_head:], slots):
            t.copy_(torch.from_numpy(np.asarray(d[()])).to(t.dtype))
    opt.iterations = int(stored[0][()])


# ----- the .keras zip ---------------------------------------------------------------------------
def keras_zip_bytes(model: Any, include_optimizer: bool = True) -> bytes:
    config, options = keras_model_config(model)
    config["compile_config"] = keras_compile_config(model)
    metadata = {"keras_version": KERAS_VERSION, "date_saved": time.strftime("%Y-%m-%d@%H:%M:%S"),
                "lstmkit_version": __version__, "lstmkit_options": options}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(METADATA, json.dumps(metadata))
        z.writestr(CONFIG, json.dumps(config))
        z.writestr(WEIGHTS, weights_h5_bytes(model, include_optimizer))
    return buf.getvalue()


def is_keras3_zip(names: set[str]) -> bool:
    return WEIGHTS in names and CONFIG in names


def read_keras_zip(path: Path) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """config.json, metadata.json and model.weights.h5 of a Keras 3 `.keras` file."""
    try:
        with zipfile.ZipFile(path) as z:
            raw_config, raw_meta, blob = z.read(CONFIG), z.read(METADATA) if METADATA in z.namelist() else b"{}", \
                z.read(WEIGHTS)
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise FileFormatError(path, f"a damaged zip archive ({e})") from None
    try:
        config, metadata = json.loads(raw_config), json.loads(raw_meta)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise FileFormatError(path, f"its {CONFIG} or {METADATA} is not valid JSON ({e})") from None
    if not isinstance(config, dict):
        raise FileFormatError(path, f"its {CONFIG} holds a JSON {type(config).__name__}, not a model config")
    return config, metadata, blob


def open_h5(blob_or_path: bytes | Path, where: str) -> h5py.File:
    try:
        return h5py.File(io.BytesIO(blob_or_path) if isinstance(blob_or_path, bytes) else blob_or_path, "r")
    except OSError as e:
        raise FileFormatError(where, f"not a readable HDF5 file ({e})") from None


def apply_options(model: Any, options: dict[str, dict[str, Any]]) -> None:
    """Put back the lstmkit-only options a file kept in its metadata, by the config path they were
    written at ("lstm", "bidirectional/layer", "bidirectional/backward_layer", ...)."""
    from lstmkit.keras.layers.wrappers import Bidirectional

    layers = {layer.name: layer for layer in model.layers}
    for path, values in (options or {}).items():
        parts = path.split("/")
        target: Any = layers.get(parts[0])
        for attr in parts[1:]:
            if isinstance(target, Bidirectional) and attr == "layer":
                attr = "forward_layer"
            target = getattr(target, attr, None) if isinstance(target, Layer) else None
        if not isinstance(target, Layer):
            continue  # a layer the file's lstmkit options name but its Keras config no longer has
        for key, value in values.items():
            if key in LSTMKIT_ONLY:
                setattr(target, key, value)
