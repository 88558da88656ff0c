"""Saving and loading without pickle: a JSON config for the architecture, safetensors for the arrays.

`model.save("m.keras")` writes a zip (like Keras' `.keras` format) holding
  config.json                 {"class_name": "Sequential" | "Functional", "config": ..., "compile_config": ...}
  metadata.json               the lstmkit version and the date
  model.weights.safetensors   "weights/0000", ... in `model.get_weights()` order (Keras' layout), and the
                              optimizer's slots as "optimizer/{param}/{slot}" with its step count in the metadata.
Loading rebuilds layers only from lstmkit.keras's own classes by name, so a file cannot run code.
`save_weights` writes the weights alone, as one safetensors file. Every file is written whole or not at all.
"""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from lstmkit import __version__
from lstmkit.io import atomic_write_bytes
from lstmkit.keras.layers.layer import Layer, fmt_shape
from lstmkit.keras.layers.wrappers import layer_from_config
from lstmkit.keras.losses import get as get_loss
from lstmkit.keras.metrics import get as get_metric
from lstmkit.keras.optimizers import get as get_optimizer

CONFIG, METADATA, WEIGHTS = "config.json", "metadata.json", "model.weights.safetensors"


# ----- configs ----------------------------------------------------------------------------------
def model_config(model: Any) -> dict[str, Any]:
    return {"class_name": type(model).__name__, "config": model.get_config()}


def model_from_config(config: dict[str, Any], custom_objects: dict | None = None) -> Any:
    """A model (or layer) from {"class_name", "config"}, by the registry of lstmkit.keras classes."""
    return layer_from_config(config)


def model_from_json(json_string: str, custom_objects: dict | None = None) -> Any:
    return model_from_config(json.loads(json_string), custom_objects)


# ----- files ------------------------------------------------------------------------------------
def _weights_bytes(model: Any, include_optimizer: bool) -> bytes:
    arrays = {f"weights/{i:04d}": np.ascontiguousarray(w, dtype=np.float32) for i, w in enumerate(model.get_weights())}
    metadata = {"format": "lstmkit.keras", "count": str(len(arrays))}
    opt = getattr(model, "optimizer", None)
    if include_optimizer and opt is not None and opt.built:
        for key, t in opt.state_tensors().items():
            arrays[f"optimizer/{key}"] = np.ascontiguousarray(t.detach().cpu().numpy())
        metadata["optimizer_iterations"] = str(opt.iterations)
    return st_save(arrays, metadata=metadata)


def _check_overwrite(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists and overwrite=False")


def save_model(model: Any, filepath: str | os.PathLike, overwrite: bool = True, include_optimizer: bool = True) -> None:
    path = Path(filepath)
    if path.suffix != ".keras":
        raise ValueError(f"model.save() writes a '.keras' file; got {str(filepath)!r} (use save_weights() for "
                         "'.weights.safetensors')")
    _check_overwrite(path, overwrite)
    config = model_config(model)
    config["compile_config"] = getattr(model, "_compile_config", None) if getattr(model, "compiled", False) else None

    metadata = {"lstmkit_version": __version__, "date_saved": time.strftime("%Y-%m-%d@%H:%M:%S"),
                "format": "lstmkit.keras zip: config.json + model.weights.safetensors"}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(CONFIG, json.dumps(config, indent=1))
        z.writestr(METADATA, json.dumps(metadata))
        z.writestr(WEIGHTS, _weights_bytes(model, include_optimizer))
    atomic_write_bytes(path, buf.getvalue())


def _read_zip(path: Path) -> tuple[dict, bytes]:
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path} is not a .keras file written by lstmkit (not a zip archive)")
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        if CONFIG not in names or WEIGHTS not in names:
            raise ValueError(f"{path} lacks {CONFIG} or {WEIGHTS}: not a .keras file written by lstmkit "
                             "(files from Keras itself hold HDF5 weights, which lstmkit does not read)")
        return json.loads(z.read(CONFIG)), z.read(WEIGHTS)


def _weight_list(blob: bytes) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    arrays = st_load(blob)
    weights = [arrays[k] for k in sorted(k for k in arrays if k.startswith("weights/"))]
    optimizer = {k.removeprefix("optimizer/"): v for k, v in arrays.items() if k.startswith("optimizer/")}
    return weights, optimizer


def _metadata(blob: bytes) -> dict[str, str]:
    n = int.from_bytes(blob[:8], "little")
    return json.loads(blob[8:8 + n]).get("__metadata__", {})


def load_model(filepath: str | os.PathLike, custom_objects: dict | None = None, compile: bool = True,
               safe_mode: bool = True) -> Any:
    """Rebuild a model saved by `model.save()`: architecture, weights, and (if compiled) the compile settings
    and optimizer state, so training can resume."""

    path = Path(filepath)
    config, blob = _read_zip(path)
    model = model_from_config(config, custom_objects)
    weights, opt_state = _weight_list(blob)
    if not model.built:
        raise ValueError(f"{path}: the saved model has no input shape, so its weights cannot be placed")
    model.set_weights(weights)
    compile_config = config.get("compile_config")
    if compile and compile_config:
        metrics = [m if isinstance(m, str) else get_metric(m) for m in compile_config.get("metrics", [])]
        weighted = [m if isinstance(m, str) else get_metric(m) for m in compile_config.get("weighted_metrics", [])]
        loss = compile_config.get("loss")
        model.compile(optimizer=get_optimizer(compile_config["optimizer"]),
                      loss=None if loss is None else get_loss(loss), metrics=metrics, weighted_metrics=weighted)
        if opt_state:
            params = [p for p in model.parameters() if p.requires_grad]
            model.optimizer.build(params)
            model.optimizer.load_state_tensors({k: torch.from_numpy(v.copy()) for k, v in opt_state.items()},
                                               int(_metadata(blob).get("optimizer_iterations", 0)))
    return model


def save_weights(model: Any, filepath: str | os.PathLike, overwrite: bool = True) -> None:
    path = Path(filepath)
    if path.suffix == ".keras":
        raise ValueError("save_weights() writes a safetensors file; name it '*.weights.safetensors' (use save() "
                         "for '.keras')")
    _check_overwrite(path, overwrite)
    if not model.built:
        raise ValueError(f"Model '{model.name}' is not built yet: it has no weights to save")
    atomic_write_bytes(path, _weights_bytes(model, include_optimizer=False))


def load_weights(model: Any, filepath: str | os.PathLike, skip_mismatch: bool = False) -> None:
    path = Path(filepath)
    if zipfile.is_zipfile(path):
        _, blob = _read_zip(path)
    else:
        blob = path.read_bytes()
    weights, _ = _weight_list(blob)
    if not model.built:
        raise ValueError(f"Model '{model.name}' is not built yet: build it (call it on data or give an input shape) "
                         "before load_weights()")
    current = model.get_weights()
    if len(weights) != len(current):
        raise ValueError(f"{path} holds {len(weights)} weights but model '{model.name}' has {len(current)}")
    for i, (w, c) in enumerate(zip(weights, current)):
        if w.shape != c.shape:
            if skip_mismatch:
                weights[i] = c
                continue
            owner = _owner_of(model, i)
            raise ValueError(f"weight {i} ({owner}) has shape {fmt_shape(tuple(w.shape))} in {path} but "
                             f"{fmt_shape(tuple(c.shape))} in the model")
    model.set_weights(weights)


def _owner_of(model: Any, index: int) -> str:
    count = 0
    for layer in model.layers:
        n = len(layer.get_weights()) if isinstance(layer, Layer) and layer.built else 0
        if index < count + n:
            return f"layer '{layer.name}'"
        count += n
    return "unknown layer"
