"""Keras 2's HDF5 files (`model.save("m.h5")`, `model.save_weights("w.h5")`), read and (weights) written.

A whole-model file holds, as root attributes, `model_config` (the JSON {"class_name", "config"} of Keras 2's
schema: no "module", the first layer's `batch_input_shape`, LSTM options such as `implementation` and
`time_major`), `keras_version`, `backend` and, when compiled, `training_config`; its weights are under
`model_weights`. A weights file holds the same weights group at its root:
  attrs["layer_names"]            every layer of the model, in order
  <layer>/attrs["weight_names"]   the layer's variables, trainable first: "lstm/lstm_cell/kernel:0", ...
  <layer>/<weight name>           the array, in Keras' layout (the same as Keras 3's and lstmkit's)
Weights load by order, as Keras does: the k-th layer that has weights takes the k-th saved layer that has
some. `save_weights("w.h5")` writes this layout (with Keras 3's variable paths as names, as Keras 3's own
legacy writer does), so Keras 3's `load_weights("w.h5")` and Keras 2 read it.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from lstmkit import __version__
from lstmkit.errors import FileFormatError
from lstmkit.keras.keras_config import build_from_keras_config
from lstmkit.keras.keras_format import KERAS_VERSION
from lstmkit.keras.layers.layer import Layer, fmt_shape


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _names(group: h5py.Group, attr: str) -> list[str]:
    """An attribute list of names; Keras splits long lists into `attr0`, `attr1`, ... (HDF5's 64 KB limit)."""
    if attr in group.attrs:
        return [_text(n) for n in group.attrs[attr]]
    out: list[str] = []
    chunk = 0
    while f"{attr}{chunk}" in group.attrs:
        out.extend(_text(n) for n in group.attrs[f"{attr}{chunk}"])
        chunk += 1
    return out


def is_legacy_weights(f: h5py.File) -> bool:
    return "layer_names" in f.attrs or "layer_names0" in f.attrs or "model_weights" in f


def _legacy_order(layer: Layer) -> list[int]:
    """Indices into the layer's get_weights() order of its variables in Keras 2's order (trainable first)."""
    flags = [layer.trainable and v._spec.trainable for v in layer.weights]
    return [i for i, t in enumerate(flags) if t] + [i for i, t in enumerate(flags) if not t]


def load_legacy_weights(model: Any, group: h5py.Group, where: str, skip_mismatch: bool = False) -> None:
    layers = [layer for layer in model.layers if layer.weights]
    saved = [name for name in _names(group, "layer_names") if name in group and _names(group[name], "weight_names")]
    if len(saved) != len(layers):
        raise FileFormatError(where, f"holds weights for {len(saved)} layers ({saved}) but the model has "
                                     f"{len(layers)} layers with weights ({[lay.name for lay in layers]})")
    for layer, name in zip(layers, saved):
        weight_names = _names(group[name], "weight_names")
        order = _legacy_order(layer)
        if len(weight_names) != len(order):
            if skip_mismatch:
                continue
            raise FileFormatError(where, f"layer {layer.name!r} (saved as {name!r}): the file holds "
                                         f"{len(weight_names)} weights, the model's {type(layer).__name__} has "
                                         f"{len(order)}")
        current = layer.get_weights()
        values: list[Any] = list(current)
        mismatch = False
        for wname, i in zip(weight_names, order):
            array = np.asarray(group[name][wname][()], dtype=np.float32)
            if array.shape != current[i].shape:
                if skip_mismatch:
                    mismatch = True
                    break
                raise FileFormatError(where, f"layer {layer.name!r} (saved as {name!r}): weight {wname!r} has "
                                             f"shape {fmt_shape(array.shape)} in the file but "
                                             f"{fmt_shape(current[i].shape)} in the model")
            values[i] = array
        if not mismatch:
            layer.set_weights(values)


def save_legacy_weights_bytes(model: Any) -> bytes:
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        _write_weights_group(f, model)
    return buf.getvalue()


def _write_weights_group(group: h5py.Group, model: Any) -> None:
    group.attrs["layer_names"] = [layer.name.encode("utf8") for layer in model.layers]
    group.attrs["backend"] = b"torch"
    group.attrs["keras_version"] = KERAS_VERSION.encode("utf8")
    group.attrs["lstmkit_version"] = __version__.encode("utf8")
    for layer in sorted(model.layers, key=lambda lay: lay.name):
        g = group.create_group(layer.name)
        weights, arrays = layer.weights, layer.get_weights()
        order = _legacy_order(layer) if weights else []
        names = [weights[i].path.encode("utf8") for i in order]
        g.attrs["weight_names"] = names
        for name, i in zip(names, order):
            g.create_dataset(name, data=arrays[i])
    group.create_group("top_level_model_weights").attrs["weight_names"] = []


def _keras2_to_keras3(config: Any) -> Any:
    """Keras 2's InputLayer takes `batch_input_shape`; lstmkit's (as Keras 3's) `batch_shape`."""
    if isinstance(config, dict):
        out = {k: _keras2_to_keras3(v) for k, v in config.items()}
        if out.get("class_name") == "InputLayer" and isinstance(out.get("config"), dict):
            inner = dict(out["config"])
            if "batch_input_shape" in inner:
                inner["batch_shape"] = inner.pop("batch_input_shape")
            out["config"] = inner
        return out
    if isinstance(config, list):
        return [_keras2_to_keras3(v) for v in config]
    return config


def load_legacy_model(path: Path, compile: bool = True, safe_mode: bool = True) -> Any:
    """A Keras 2 (or Keras 3 legacy) whole-model `.h5` file as an lstmkit.keras model."""
    from lstmkit.keras.keras_format import open_h5

    where = str(path)
    with open_h5(path, where) as f:
        raw = f.attrs.get("model_config")
        if raw is None:
            raise FileFormatError(where, "an HDF5 file without 'model_config': a weights file, not a whole model "
                                         "(build the model in code and call load_weights)")
        try:
            config = json.loads(_text(raw))
        except json.JSONDecodeError as e:
            raise FileFormatError(where, f"its model_config is not valid JSON ({e})") from None
        model = build_from_keras_config(_keras2_to_keras3(config), where, safe_mode)
        if not model.built:
            raise FileFormatError(where, "the saved model has no input shape, so its weights cannot be placed")
        if "model_weights" not in f:
            raise FileFormatError(where, "lacks the 'model_weights' group")
        load_legacy_weights(model, f["model_weights"], where)
        training = f.attrs.get("training_config")
        if compile and training is not None:
            _compile_legacy(model, json.loads(_text(training)), where)
    return model


def _compile_legacy(model: Any, training: dict[str, Any], where: str) -> None:
    from lstmkit.keras.losses import get as get_loss
    from lstmkit.keras.optimizers import get as get_optimizer

    opt = training.get("optimizer_config") or {}
    config = {k: v for k, v in (opt.get("config") or {}).items()
              if k not in ("decay", "is_legacy_optimizer", "jit_compile", "use_ema", "ema_momentum",
                           "ema_overwrite_frequency")}
    loss = training.get("loss")
    if isinstance(loss, dict) and "class_name" in loss:
        loss = {"class_name": loss["class_name"], "config": {k: v for k, v in loss.get("config", {}).items()
                                                             if k not in ("fn",)}}
    metrics = []
    for m in training.get("metrics") or []:
        if isinstance(m, list):  # Keras 2 writes one list per output
            metrics.extend(x for x in m if isinstance(x, str))
        elif isinstance(m, str):
            metrics.append(m)
        elif isinstance(m, dict) and isinstance(m.get("config", {}).get("name"), str):
            metrics.append(m["config"]["name"])
    try:
        model.compile(optimizer=get_optimizer({"class_name": opt.get("class_name"), "config": config}),
                      loss=None if loss is None else get_loss(loss), metrics=metrics)
    except (ValueError, TypeError) as e:
        raise FileFormatError(where, f"its training_config cannot be compiled by lstmkit.keras ({e})") from e

