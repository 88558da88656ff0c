"""The training loop under `lstmkit.keras` `fit`: device choice, batches, callbacks plumbing, progress, timing."""

from lstmkit.train.callbacks import Callback, CallbackList
from lstmkit.train.data import IterableBatches, TensorBatches, split_from_end
from lstmkit.train.device import default_device, resolve
from lstmkit.train.loop import LazyLogs, LoopStats, evaluate_loop, fit_loop, predict_loop, run_batches
from lstmkit.train.progress import ProgressBar

__all__ = [
    "Callback", "CallbackList", "IterableBatches", "LazyLogs", "LoopStats", "ProgressBar", "TensorBatches",
    "default_device", "evaluate_loop", "fit_loop", "predict_loop", "resolve", "run_batches", "split_from_end",
]
