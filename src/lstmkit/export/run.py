"""`lstmkit export --run DIR --format onnx [--out PATH]`: the model of a run folder as an ONNX file.

A run of `lstmkit run imdb` or `lstmkit run temperature` keeps its model as `model.keras` (lstmkit.keras
`model.save`); it is loaded with `lstmkit.keras.models.load_model` and written by `model.export`, to
DIR/model.onnx unless `out` says otherwise, whole or not at all.
"""

from __future__ import annotations

import os
from pathlib import Path

from lstmkit.errors import FileFormatError
from lstmkit.export.errors import ExportError

FORMATS = ("onnx",)


def export_run(run_dir: str | os.PathLike, fmt: str = "onnx", out: str | os.PathLike | None = None) -> Path:
    """Export the model of the run folder `run_dir`; returns the path written."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}: expected one of {list(FORMATS)}")
    run = Path(run_dir)
    if not run.is_dir():
        raise ExportError(f"{run} is not a folder: expected the --out folder of `lstmkit run`")
    model_file = run / "model.keras"
    if not model_file.is_file():
        held = sorted(p.name for p in run.iterdir() if p.name.startswith("model."))
        what = (f"it holds {', '.join(held)} (a model of lstmkit.nn modules, e.g. the pos tagger, exported with "
                "lstmkit.export.onnx on its recurrent modules)") if held else "it holds no model file"
        raise ExportError(f"{run} has no model.keras to export: {what}")
    from lstmkit.keras.models import load_model

    try:
        model = load_model(str(model_file))
    except (ValueError, KeyError, OSError) as e:
        raise FileFormatError(model_file, f"cannot be loaded as an lstmkit.keras model: {e}") from e
    target = Path(out) if out is not None else run / "model.onnx"
    model.export(target, format=fmt)
    return target
