"""Saving and loading without pickle, in Keras' own file formats and in lstmkit's earlier one.

`model.save("m.keras")` writes Keras 3's `.keras` zip (config.json in Keras' schema, model.weights.h5 in
Keras' HDF5 layout; `lstmkit.keras.keras_format`), which real Keras 3 opens. `load_model` reads that, the
`.keras` files of Keras 3 itself, Keras 2's whole-model `.h5` files (`lstmkit.keras.h5_format`), and the
`.keras` zips lstmkit wrote before (holding
  config.json                 {"class_name": "Sequential" | "Functional", "config": ..., "compile_config": ...}
  metadata.json               the lstmkit version and the date
  model.weights.safetensors   "weights/0000", ... in `model.get_weights()` order (Keras' layout), and the
                              optimizer's slots as "optimizer/{param}/{slot}" with its step count in the metadata).
`save_weights` writes by the name: "*.weights.h5" Keras 3's HDF5 layout, any other "*.h5" Keras 2's
(layer_names / weight_names, which Keras 3's load_weights("*.h5") also reads), anything else lstmkit's
safetensors. Loading rebuilds layers only from lstmkit.keras's own classes by name, so a file cannot run
code. Every file is written whole or not at all. Reading one that is damaged or that does not fit raises
`lstmkit.errors.FileFormatError` naming the file and the fault.
"""

from __future__ import annotations

import inspect
import io
import json
import os
import time
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from lstmkit import __version__
from lstmkit.errors import FileFormatError
from lstmkit.io import atomic_write_bytes
from lstmkit.keras import config as keras_settings
from lstmkit.keras import h5_format, keras_config, keras_format
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
    if not model.built:
        raise ValueError(f"Model '{model.name}' is not built yet: it has no weights to save")
    atomic_write_bytes(path, keras_format.keras_zip_bytes(model, include_optimizer))


def save_lstmkit_zip(model: Any, filepath: str | os.PathLike, include_optimizer: bool = True) -> None:
    """The `.keras` zip of lstmkit before it wrote Keras' format (safetensors weights); kept so that the
    files it made stay readable, and tested that way."""
    path = Path(filepath)
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


def _zip_names(path: Path) -> set[str]:
    try:
        with zipfile.ZipFile(path) as z:
            return set(z.namelist())
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:
        raise FileFormatError(path, f"a damaged zip archive ({e})") from None


def _read_zip(path: Path) -> tuple[dict, bytes]:
    if not path.exists():
        raise FileNotFoundError(f"no model file at {path}")
    if not zipfile.is_zipfile(path):
        raise FileFormatError(path, "not a .keras file (not a zip archive)")
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if CONFIG not in names or WEIGHTS not in names:
                raise FileFormatError(path, f"lacks {CONFIG} and {keras_format.WEIGHTS} or {WEIGHTS}: not a "
                                            ".keras file of Keras 3 or of lstmkit")
            raw_config, blob = z.read(CONFIG), z.read(WEIGHTS)
    except (zipfile.BadZipFile, zlib.error, EOFError) as e:  # a bad CRC, a cut or garbled member
        raise FileFormatError(path, f"a damaged zip archive ({e})") from None
    try:
        config = json.loads(raw_config)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise FileFormatError(path, f"its {CONFIG} is not valid JSON ({e})") from None
    if not isinstance(config, dict):
        raise FileFormatError(path, f"its {CONFIG} holds a JSON {type(config).__name__}, not a model config")
    return config, blob


def _read_safetensors(blob: bytes, where: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The arrays and the metadata of a safetensors blob; `where` names it in errors."""
    try:
        arrays = st_load(blob)
    except SafetensorError as e:
        raise FileFormatError(where, f"not a readable safetensors file ({e})") from None
    n = int.from_bytes(blob[:8], "little")  # safetensors: an 8-byte header length, then the JSON header
    return arrays, json.loads(blob[8:8 + n]).get("__metadata__") or {}


def _listed(keys: list[str], most: int = 8) -> str:
    shown = ", ".join(keys[:most])
    return f"[{shown}, ... ({len(keys)} in all)]" if len(keys) > most else f"[{shown}]"


def _weight_list(arrays: dict[str, np.ndarray], metadata: dict[str, str], where: str,
                 skip_mismatch: bool = False) -> tuple[list[np.ndarray | None], dict[str, np.ndarray]]:
    """The weights "weights/0000", ... in order, checked against the count the file records; a weight
    that is missing is an error (None in the list with `skip_mismatch`), and so is any key that is neither
    a listed weight nor optimizer state (ignored with `skip_mismatch`)."""
    count = metadata.get("count", "")
    indices = [k for k in arrays if k.startswith("weights/")]
    if not count.isdigit() and not indices:
        raise FileFormatError(where, f"holds no lstmkit.keras weights: its keys are {_listed(sorted(arrays))}")
    n = int(count) if count.isdigit() else len(indices)
    expected = [f"weights/{i:04d}" for i in range(n)]
    missing = [k for k in expected if k not in arrays]
    unexpected = sorted(set(arrays) - set(expected) - {k for k in arrays if k.startswith("optimizer/")})
    if missing or unexpected:
        faults = [f"lacks {len(missing)} of the {n} weights its metadata lists: {_listed(missing)}"] if missing else []
        faults += [f"holds keys that are not among the {n} weights its metadata lists: {_listed(unexpected)}"
                   ] if unexpected else []
        what = "; and ".join(faults)
        if not skip_mismatch:
            raise FileFormatError(where, what)
        warnings.warn(f"{where}: {what}; with skip_mismatch the missing weights keep their values and the "
                      "unexpected keys are ignored", stacklevel=3)
    weights = [arrays.get(k) for k in expected]
    optimizer = {k.removeprefix("optimizer/"): v for k, v in arrays.items() if k.startswith("optimizer/")}
    return weights, optimizer


def load_model(filepath: str | os.PathLike, custom_objects: dict | None = None, compile: bool = True,
               safe_mode: bool = True) -> Any:
    """Rebuild a model saved by `model.save()`: architecture, weights, and (if compiled) the compile settings
    and optimizer state, so training can resume."""

    path = Path(filepath)
    if not path.exists():
        raise FileNotFoundError(f"no model file at {path}")
    safe_mode = keras_settings.safe_mode(safe_mode)  # keras.config.enable_unsafe_deserialization() wins
    if h5py.is_hdf5(path):
        return h5_format.load_legacy_model(path, compile=compile, safe_mode=safe_mode)
    if zipfile.is_zipfile(path) and keras_format.is_keras3_zip(_zip_names(path)):
        return _load_keras3(path, compile, safe_mode)
    config, blob = _read_zip(path)
    arrays, metadata = _read_safetensors(blob, f"{path} ({WEIGHTS})")
    weights, opt_state = _weight_list(arrays, metadata, f"{path} ({WEIGHTS})")
    try:
        model = model_from_config(config, custom_objects)
    except (ValueError, KeyError, TypeError) as e:
        raise FileFormatError(path, f"its {CONFIG} does not describe an lstmkit.keras model "
                                    f"({type(e).__name__}: {e})") from e
    if not model.built:
        raise FileFormatError(path, "the saved model has no input shape, so its weights cannot be placed")
    try:
        model.set_weights(weights)
    except ValueError as e:
        raise FileFormatError(path, f"its weights do not fit the model its {CONFIG} describes ({e})") from e
    compile_config = config.get("compile_config")
    if compile and compile_config:
        metrics = _per_output(compile_config.get("metrics", []), get_metric)
        weighted = _per_output(compile_config.get("weighted_metrics", []), get_metric)
        model.compile(optimizer=get_optimizer(compile_config["optimizer"]),
                      loss=_per_output(compile_config.get("loss"), get_loss),
                      loss_weights=compile_config.get("loss_weights"), metrics=metrics, weighted_metrics=weighted)
        if opt_state:
            params = [p for p in model.parameters() if p.requires_grad]
            model.optimizer.build(params)
            try:
                model.optimizer.load_state_tensors({k: torch.from_numpy(v.copy()) for k, v in opt_state.items()},
                                                   int(metadata.get("optimizer_iterations", 0)))
            except (ValueError, KeyError, IndexError) as e:
                raise FileFormatError(path, f"its optimizer state does not fit the model ({type(e).__name__}: "
                                            f"{e})") from e
    return model


def _load_keras3(path: Path, compile: bool, safe_mode: bool) -> Any:
    """A Keras 3 `.keras` file (Keras' own or lstmkit's): the model, its weights, and when compiled its
    compile settings and optimizer state."""
    config, metadata, blob = keras_format.read_keras_zip(path)
    model = keras_config.build_from_keras_config(config, str(path), safe_mode)
    if not model.built:
        raise FileFormatError(path, "the saved model has no input shape, so its weights cannot be placed")
    keras_format.apply_options(model, metadata.get("lstmkit_options") or {})
    compile_config = config.get("compile_config")
    if compile and compile_config:
        _compile_from_keras(model, compile_config, path)
    where = f"{path} ({keras_format.WEIGHTS})"
    with keras_format.open_h5(blob, where) as f:
        keras_format.load_weights_h5(model, f, where, optimizer=compile)
    return model


def _per_output(spec: Any, get: Any) -> Any:
    """A compile_config's loss or metrics as objects: a name stays a name, a config becomes the object, and a
    list (of a model with several outputs, or of metrics) is converted entry by entry."""
    if spec is None or isinstance(spec, str):
        return spec
    if isinstance(spec, list):
        return [_per_output(s, get) for s in spec]
    return get(spec)


# Keras config keys of losses and metrics that lstmkit's classes do not take, with the value that changes nothing
_DEFAULT_ONLY = {"axis": -1, "dtype": None}


def _strip(spec: Any, classes: dict[str, type] | None = None) -> Any:
    """A Keras object config without its "module" and "registered_name" (lstmkit finds classes by name), and
    without the keys at Keras' defaults that the lstmkit class does not take."""
    if not (isinstance(spec, dict) and "class_name" in spec):
        return spec
    config = dict(spec.get("config") or {})
    cls = (classes or {}).get(spec["class_name"])
    if cls is not None:
        accepted = set(inspect.signature(cls.__init__).parameters)
        for key in [k for k in config if k not in accepted and k in _DEFAULT_ONLY]:
            if config[key] == _DEFAULT_ONLY[key]:
                del config[key]
    return {"class_name": spec["class_name"], "config": config}


def _compile_from_keras(model: Any, cc: dict[str, Any], path: Path) -> None:
    from lstmkit.keras import losses
    from lstmkit.keras import metrics as metrics_mod

    loss_classes = {k: v for k, v in vars(losses).items() if isinstance(v, type)}
    metric_classes = {k: v for k, v in vars(metrics_mod).items() if isinstance(v, type)}
    try:
        optimizer = get_optimizer(_strip(cc["optimizer"]))
        metrics = _per_output(cc.get("metrics") or [], lambda m: get_metric(_strip(m, metric_classes)))
        weighted = _per_output(cc.get("weighted_metrics") or [], lambda m: get_metric(_strip(m, metric_classes)))
        loss = _per_output(cc.get("loss"), lambda lo: get_loss(_strip(lo, loss_classes)))
        model.compile(optimizer=optimizer, loss=loss, loss_weights=cc.get("loss_weights"), metrics=metrics,
                      weighted_metrics=weighted)
    except (ValueError, TypeError, KeyError) as e:
        raise FileFormatError(path, f"its compile_config cannot be compiled by lstmkit.keras "
                                    f"({type(e).__name__}: {e})") from e


def save_weights(model: Any, filepath: str | os.PathLike, overwrite: bool = True) -> None:
    """"*.weights.h5": Keras 3's HDF5 layout; another "*.h5": Keras 2's; else lstmkit's safetensors."""
    path = Path(filepath)
    if path.suffix == ".keras":
        raise ValueError("save_weights() writes a weights file; name it '*.weights.h5' (Keras 3's format) or "
                         "'*.weights.safetensors' (use save() for '.keras')")
    _check_overwrite(path, overwrite)
    if not model.built:
        raise ValueError(f"Model '{model.name}' is not built yet: it has no weights to save")
    if path.name.endswith(".weights.h5"):
        atomic_write_bytes(path, keras_format.weights_h5_bytes(model, include_optimizer=False))
    elif path.suffix in (".h5", ".hdf5"):
        atomic_write_bytes(path, h5_format.save_legacy_weights_bytes(model))
    else:
        atomic_write_bytes(path, _weights_bytes(model, include_optimizer=False))


def load_weights(model: Any, filepath: str | os.PathLike, skip_mismatch: bool = False) -> None:
    """Weights saved by `save_weights` or `save` into a built model of the same architecture. With
    `skip_mismatch` (as Keras) a weight whose shape differs, or that the file lacks, keeps its value."""
    path = Path(filepath)
    if path.exists() and (h5py.is_hdf5(path) or (zipfile.is_zipfile(path) and
                                                  keras_format.is_keras3_zip(_zip_names(path)))):
        if not model.built:
            raise ValueError(f"Model '{model.name}' is not built yet: build it (call it on data or give an input "
                             "shape) before load_weights()")
        _load_h5_weights(model, path, skip_mismatch)
        return
    if zipfile.is_zipfile(path):
        _, blob = _read_zip(path)
        where = f"{path} ({WEIGHTS})"
    else:
        blob = path.read_bytes()  # a missing file: FileNotFoundError with the path
        where = str(path)
    weights, _ = _weight_list(*_read_safetensors(blob, where), where, skip_mismatch=skip_mismatch)
    if not model.built:
        raise ValueError(f"Model '{model.name}' is not built yet: build it (call it on data or give an input shape) "
                         "before load_weights()")
    current = model.get_weights()
    if len(weights) != len(current):
        raise ValueError(f"{path} holds {len(weights)} weights but model '{model.name}' has {len(current)}")
    loaded = []
    for i, (w, c) in enumerate(zip(weights, current)):
        if w is None:  # missing from the file, allowed by skip_mismatch
            loaded.append(c)
        elif w.shape != c.shape:
            if not skip_mismatch:
                owner = _owner_of(model, i)
                raise ValueError(f"weight {i} ({owner}) has shape {fmt_shape(tuple(w.shape))} in {path} but "
                                 f"{fmt_shape(tuple(c.shape))} in the model")
            loaded.append(c)
        else:
            loaded.append(w)
    model.set_weights(loaded)


def _load_h5_weights(model: Any, path: Path, skip_mismatch: bool) -> None:
    if h5py.is_hdf5(path):
        with keras_format.open_h5(path, str(path)) as f:
            if h5_format.is_legacy_weights(f):
                group = f["model_weights"] if "model_weights" in f else f
                h5_format.load_legacy_weights(model, group, str(path), skip_mismatch)
            else:
                keras_format.load_weights_h5(model, f, str(path), skip_mismatch, optimizer=False)
        return
    _, _, blob = keras_format.read_keras_zip(path)
    where = f"{path} ({keras_format.WEIGHTS})"
    with keras_format.open_h5(blob, where) as f:
        keras_format.load_weights_h5(model, f, where, skip_mismatch, optimizer=False)


def _owner_of(model: Any, index: int) -> str:
    count = 0
    for layer in model.layers:
        n = len(layer.get_weights()) if isinstance(layer, Layer) and layer.built else 0
        if index < count + n:
            return f"layer '{layer.name}'"
        count += n
    return "unknown layer"
