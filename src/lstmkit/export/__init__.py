"""Export that is exact at every length: ONNX graphs on ONNX's own LSTM/GRU/RNN operators.

`lstmkit.export.onnx(module, example_inputs, path)` for lstmkit.nn (and torch.nn) recurrent modules;
`model.export(path, format="onnx")` for lstmkit.keras models (`lstmkit.export.keras_model`);
`export_run(run_dir, out)` for a run folder of `lstmkit run` (`lstmkit export`). See docs/export.md.
"""

from lstmkit.export.errors import ExportError, MissingDependency
from lstmkit.export.nn import onnx

__all__ = ["ExportError", "MissingDependency", "onnx"]
