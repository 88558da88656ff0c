"""Keras' TensorBoard callback, written with TensorBoard's own event writer (`torch.utils.tensorboard`).

What goes where follows Keras 3 (keras/src/callbacks/tensorboard.py), so a TensorBoard page shows the
same runs and tags for a Keras fit and an lstmkit one:

- `log_dir/train`: `epoch_<name>` for every training log at each epoch (step = epoch, 0-based), with
  `epoch_learning_rate` added, `epoch_steps_per_second` with `write_steps_per_second=True`; with an int
  `update_freq`, `batch_<name>` at every `update_freq`-th training batch (step = batches since fit began,
  1-based) and `batch_steps_per_second`; with `histogram_freq=n`, a histogram `<weight path>/histogram` of
  every weight of every layer each n-th epoch (and `<weight path>/image` with `write_images=True`); with
  `write_graph=True`, the model's JSON as the tag `keras` (TensorBoard's graph plugin draws it as Keras'
  conceptual graph).
- `log_dir/validation`: `epoch_<name>` of the `val_` logs without the prefix, and at the end of each
  evaluation `evaluation_<name>_vs_iterations` (step = the optimizer's iterations); with an int
  `update_freq` only when the evaluation batches counted since fit began are a multiple of it, as in Keras.

Not written: the op graph (`SummaryWriter.add_graph` traces the model on an example batch, and the callback
hooks are given batch numbers, not batches; Keras on its torch backend writes no op graph either), profiles
(`profile_batch`, which Keras' torch backend refuses too) and embeddings (`embeddings_freq`).

Event files are TensorBoard's append-only record streams: each record carries its own CRC and TensorBoard
reads a file up to its last whole record, so they are appended to rather than replaced whole. The writers
are flushed and closed at the end of `fit` (and of an `evaluate` outside `fit`).
"""

from __future__ import annotations

import os
import sys
import time
import types
from collections.abc import Mapping
from typing import Any

import numpy as np

from lstmkit.train.callbacks import Callback
from lstmkit.train.distributed import is_chief

__all__ = ["TensorBoard"]


def _summary_writer_class() -> Any:
    """`torch.utils.tensorboard.SummaryWriter`, imported only when a TensorBoard callback is made."""
    try:
        import tensorboard  # noqa: F401  (torch's module imports without it and fails later, less clearly)
    except ImportError as err:
        raise ImportError("lstmkit.keras.callbacks.TensorBoard writes its logs with the tensorboard package, "
                          "which is not installed: pip install tensorboard (or lstmkit[tensorboard])") from err
    if "tensorflow" not in sys.modules:
        # TensorBoard's writer imports TensorFlow when it is installed, only for file access that its own stub
        # does as well; the empty module `tensorboard.compat.notf` is TensorBoard's switch to the stub. TensorFlow
        # is never needed to write event files, its import takes seconds, and TensorFlow 2.21 imported after torch
        # 2.13 aborts the process ("LLVM ERROR: inconsistency in registered CommandLine options"). The switch
        # holds for the process: tf.summary (Keras' own TensorBoard) used after it finds no TensorFlow 2, so a
        # program using both imports tensorflow before making this callback.
        sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as err:
        raise ImportError("lstmkit.keras.callbacks.TensorBoard writes its logs with the tensorboard package, "
                          "which is not installed: pip install tensorboard (or lstmkit[tensorboard])") from err
    return SummaryWriter


class TensorBoard(Callback):
    """Log scalars, weight histograms and the model for TensorBoard, with Keras 3's arguments and tags."""

    def __init__(self, log_dir: str | os.PathLike = "logs", histogram_freq: int = 0, write_graph: bool = True,
                 write_images: bool = False, write_steps_per_second: bool = False, update_freq: str | int = "epoch",
                 profile_batch: int | str | tuple[int, int] = 0, embeddings_freq: int = 0,
                 embeddings_metadata: str | dict[str, str] | None = None) -> None:
        super().__init__()
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int) or histogram_freq < 0:
            raise ValueError(f"TensorBoard histogram_freq must be an int >= 0 (0: no histograms), "
                             f"got {histogram_freq!r}")
        freq: str | int = 1 if update_freq == "batch" else update_freq
        if freq != "epoch" and (isinstance(freq, bool) or not isinstance(freq, int) or freq < 1):
            raise ValueError(f"TensorBoard update_freq must be 'epoch', 'batch' or an int >= 1, got {update_freq!r}")
        if profile_batch not in (0, "0", "0,0", (0, 0), [0, 0]):
            raise ValueError(f"TensorBoard profile_batch={profile_batch!r} is not supported by lstmkit (no "
                             "profiler is wired to TensorBoard; Keras' torch backend refuses it as well): pass 0, "
                             "or use torch.profiler")
        if embeddings_freq:
            raise ValueError(f"TensorBoard embeddings_freq={embeddings_freq!r} is not supported by lstmkit "
                             "(the embedding projector is not written): pass 0")
        self._writer_class = _summary_writer_class()
        self.log_dir = os.fspath(log_dir)
        self.histogram_freq, self.write_graph, self.write_images = histogram_freq, write_graph, write_images
        self.write_steps_per_second, self.update_freq = write_steps_per_second, freq
        self.embeddings_freq, self.embeddings_metadata = embeddings_freq, embeddings_metadata
        self._train_dir = os.path.join(self.log_dir, "train")
        self._val_dir = os.path.join(self.log_dir, "validation")
        self._writers: dict[str, Any] = {}
        self._global_train_batch = 0
        self._global_test_batch = 0
        self._in_fit = False
        self._batch_start = 0.0
        self._epoch_start = 0.0
        self._epoch_start_iterations = 0

    # ----- writers
    def _writer(self, which: str) -> Any:
        if which not in self._writers:
            folder = self._train_dir if which == "train" else self._val_dir
            self._writers[which] = self._writer_class(log_dir=folder)
        return self._writers[which]

    def _close_writers(self) -> None:
        for writer in self._writers.values():
            writer.close()  # flushes first
        self._writers = {}

    def _records(self, count: int) -> bool:
        """Whether a batch-level summary at this count is written (Keras' `record_if(step % update_freq == 0)`)."""
        return self.update_freq != "epoch" and count % int(self.update_freq) == 0

    # ----- the model
    def set_model(self, model: Any) -> None:
        super().set_model(model)
        if self.write_graph and is_chief():  # data parallelism: rank 0 alone writes event files
            self._write_model_json()

    def _write_model_json(self) -> None:
        """The tag `keras` at step 0: the model's JSON under the graph plugin's `graph_keras_model`, as Keras."""
        to_json = getattr(self.model, "to_json", None)
        if type(self.model).__name__ not in ("Sequential", "Functional", "Model") or to_json is None:
            return
        from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
        from tensorboard.compat.proto.tensor_pb2 import TensorProto
        from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
        from tensorboard.compat.proto.types_pb2 import DT_STRING

        metadata = SummaryMetadata()
        metadata.plugin_data.plugin_name = "graph_keras_model"
        metadata.plugin_data.content = b"1"  # the plugin's data version
        tensor = TensorProto(dtype=DT_STRING, string_val=[to_json().encode()], tensor_shape=TensorShapeProto())
        summary = Summary(value=[Summary.Value(tag="keras", metadata=metadata, tensor=tensor)])
        self._writer("train")._get_file_writer().add_summary(summary, global_step=0)

    @staticmethod
    def _weight_name(weight: Any) -> str:
        """Keras' `weight.path` ("sequential/lstm/lstm_cell/kernel" in a Sequential), without ':'."""
        return str(weight.path).replace(":", "_")

    def _iterations(self) -> int:
        return int(self.model.optimizer.iterations)

    # ----- the hooks
    def on_train_begin(self, logs: Mapping | None = None) -> None:
        self._in_fit = True
        self._global_train_batch = 0

    def on_train_end(self, logs: Mapping | None = None) -> None:
        self._in_fit = False
        self._close_writers()

    def on_epoch_begin(self, epoch: int, logs: Mapping | None = None) -> None:
        if self.write_steps_per_second:
            self._epoch_start_iterations = self._iterations()
            self._epoch_start = time.perf_counter()

    def on_train_batch_begin(self, batch: int, logs: Mapping | None = None) -> None:
        self._global_train_batch += 1
        if self.write_steps_per_second:
            self._batch_start = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: Mapping | None = None) -> None:
        step = self._global_train_batch
        if not self._records(step) or not is_chief():  # the logs are read only here: a read waits for the GPU
            return
        writer = self._writer("train")
        if self.write_steps_per_second:
            writer.add_scalar("batch_steps_per_second", 1.0 / (time.perf_counter() - self._batch_start), step)
        for name, value in (logs or {}).items():
            writer.add_scalar(f"batch_{name}", float(value), step)

    def on_test_batch_begin(self, batch: int, logs: Mapping | None = None) -> None:
        self._global_test_batch += 1

    def on_test_end(self, logs: Mapping | None = None) -> None:
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and hasattr(optimizer, "iterations") and is_chief() and \
                (self.update_freq == "epoch" or self._records(self._global_test_batch)):
            writer = self._writer("val")
            for name, value in (logs or {}).items():
                writer.add_scalar(f"evaluation_{name}_vs_iterations", float(value), self._iterations())
        if not self._in_fit:
            self._close_writers()

    def on_epoch_end(self, epoch: int, logs: Mapping | None = None) -> None:
        if not is_chief():  # data parallelism: the all-reduced logs are rank 0's too, and rank 0 writes them
            return
        self._log_epoch_metrics(epoch, logs or {})
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)

    # ----- what an epoch writes
    def _log_epoch_metrics(self, epoch: int, logs: Mapping) -> None:
        if not logs:
            return
        train = {k: float(v) for k, v in logs.items() if not k.startswith("val_")}
        val = {k.removeprefix("val_"): float(v) for k, v in logs.items() if k.startswith("val_")}
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and hasattr(optimizer, "learning_rate"):
            train["learning_rate"] = float(optimizer.learning_rate)
        if self.write_steps_per_second:
            seconds = time.perf_counter() - self._epoch_start
            train["steps_per_second"] = (self._iterations() - self._epoch_start_iterations) / seconds
        for which, values in (("train", train), ("val", val)):
            if values:
                writer = self._writer(which)
                for name, value in values.items():
                    writer.add_scalar(f"epoch_{name}", value, epoch)

    def _log_weights(self, epoch: int) -> None:
        writer = self._writer("train")
        for layer in self.model.layers:
            for weight in layer.weights:
                name = self._weight_name(weight)
                values = np.asarray(weight.numpy())
                writer.add_histogram(f"{name}/histogram", values, epoch)
                if self.write_images:
                    self._log_weight_as_image(writer, values, f"{name}/image", epoch)
        writer.flush()

    @staticmethod
    def _log_weight_as_image(writer: Any, weight: np.ndarray, tag: str, epoch: int) -> None:
        """Keras' picture of a weight: a bias as a column, a kernel as its wider side across, a 3-d (conv) kernel
        as one picture per output channel; others are not drawn. Values are clipped to [0, 1] as in Keras."""
        w = np.squeeze(weight)
        if w.ndim == 1:
            img = w.reshape(1, w.shape[0], 1, 1)  # (1, H, 1, 1)
        elif w.ndim == 2:
            if w.shape[0] > w.shape[1]:
                w = w.T
            img = w.reshape(1, w.shape[0], w.shape[1], 1)  # (1, H, W, 1)
        elif w.ndim == 3:
            w = np.transpose(w, (2, 0, 1))  # channels last -> (C, H, W)
            img = w.reshape(*w.shape, 1)  # (C, H, W, 1)
        else:
            return
        # tf.summary.image shows at most 3 pictures per tag (its max_outputs)
        writer.add_images(tag, np.clip(img[:3], 0.0, 1.0), epoch, dataformats="NHWC")
