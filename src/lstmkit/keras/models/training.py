"""compile / fit / evaluate / predict for lstmkit.keras models (the loops themselves are in `lstmkit.train`).

Keras' rules kept: default batch size 32; `validation_split` takes the last samples before shuffling;
`shuffle=True` reshuffles the training set every epoch; `class_weight` becomes per-sample weights;
`metrics` are not weighted by sample weights, `weighted_metrics` are; the epoch's `loss` is the mean of the
batch losses weighted by batch size and includes the regularization penalties; logs are sorted by name, so
History holds `acc, loss, val_acc, val_loss` for `metrics=["acc"]`.

Data may come as Keras 3 takes it: a dict of inputs keyed by the names of a functional model's `Input`s
(a missing name is an error naming the expected ones; extra keys are ignored, as Keras 3 does, with a
warning), targets as a dict keyed by the output layer's name, and `loss`/`metrics` per output name. A
generator of batches with `steps_per_epoch` works in `fit`, with `class_weight` too. The label check lets a
`None` size of the output (a model on sequences of any length) take the labels' size. A model with several
outputs trains from array targets given per output (multi_output.py has the rules and the names it logs).
`keras.config`'s max_epochs / max_steps_per_epoch cap fit, and no progress bar prints while interactive
logging is off.

Keras 2's `fit_generator`, `evaluate_generator` and `predict_generator` run `fit`, `evaluate` and `predict`
(and `predict_classes`, `predict_proba` work as Keras 2's Sequential's) with a DeprecationWarning; the
generator methods' `max_queue_size`, `workers` and `use_multiprocessing` are accepted and have no effect (the
batches are drawn in this process, one at a time). A Keras 2 `Sequence` (an object with `__len__` and
`__getitem__`, or a `keras.utils.PyDataset`) is read batch by batch, in a shuffled order when `shuffle=True`,
between its `on_epoch_begin()` (when it has one) and `on_epoch_end()`; `fit` takes Keras 2's `workers`,
`use_multiprocessing` and `max_queue_size` too, with a DeprecationWarning.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator, Sized
from typing import Any

import numpy as np
import torch

from lstmkit.keras import callbacks as callbacks_mod
from lstmkit.keras import config
from lstmkit.keras import losses as losses_mod
from lstmkit.keras import metrics as metrics_mod
from lstmkit.keras import optimizers as optimizers_mod
from lstmkit.keras.keras_tensor import map_structure
from lstmkit.keras.layers.layer import Layer, training_mode
from lstmkit.keras.layers.lookup import as_text
from lstmkit.keras.mixed_precision import LossScaleOptimizer, global_policy
from lstmkit.keras.models import multi_output
from lstmkit.keras.utils.py_dataset import PyDataset
from lstmkit.train import (
    CallbackList,
    IterableBatches,
    LoopStats,
    ProgressBar,
    TensorBatches,
    evaluate_loop,
    fit_loop,
    predict_loop,
    resolve,
    split_from_end,
)
from lstmkit.train.data import to_tensor, unpack
from lstmkit.train.distributed import DataParallel, World, check_global_batch, data_parallel, shared_randperm


def _shown(verbose: int) -> int:
    """The progress bar's verbosity: none while keras.config.disable_interactive_logging() holds."""
    return verbose if config.is_interactive_logging_enabled() else 0


def _capped(epochs: int, steps_per_epoch: int | None) -> tuple[int, int | None]:
    """fit's epochs and steps per epoch within keras.config's max_epochs and max_steps_per_epoch (Keras'
    debugging caps, with its warnings)."""
    max_epochs, max_steps = config.max_epochs(), config.max_steps_per_epoch()
    if max_epochs and max_epochs < epochs:
        warnings.warn(f"Limiting epochs to {max_epochs}", UserWarning, stacklevel=3)
        epochs = max_epochs
    if max_steps and (not steps_per_epoch or max_steps < steps_per_epoch):
        warnings.warn(f"Limiting steps_per_epoch to {max_steps}", UserWarning, stacklevel=3)
        steps_per_epoch = max_steps
    return epochs, steps_per_epoch


def _verbose(verbose: Any) -> int:
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2, True, False):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)


def _is_batch_iterable(x: Any) -> bool:
    """A generator / DataLoader / iterable of batches, not an array."""
    if x is None or isinstance(x, (np.ndarray, torch.Tensor, list, tuple, dict, str)):
        return False
    return isinstance(x, Iterable) and not hasattr(x, "__array__")


def _is_sequence(x: Any) -> bool:
    """A Keras 3 `PyDataset` (Keras 2's `Sequence`), or any object with batches by index, `len()` of them and
    no `__iter__`."""
    if isinstance(x, PyDataset):
        return True
    return (not isinstance(x, (np.ndarray, torch.Tensor, list, tuple, dict, str)) and not hasattr(x, "__array__")
            and not isinstance(x, Iterable) and hasattr(x, "__getitem__") and hasattr(x, "__len__"))


def _legacy(what: str, instead: str) -> None:
    warnings.warn(f"{what} is a Keras 2 name that Keras 3 dropped; write {instead}", DeprecationWarning,
                  stacklevel=3)


class _SequenceBatches:
    """A `PyDataset` / Keras 2 `Sequence` as an iterable: its `on_epoch_begin()` (Keras 3's; a Keras 2 Sequence
    may lack it), its batches in order (shuffled each pass when `shuffle`), then its `on_epoch_end()`. Under
    data parallelism (`world`) every rank takes rank 0's order."""

    def __init__(self, sequence: Any, shuffle: bool, world: World | None = None) -> None:
        self.sequence, self.shuffle, self.world = sequence, bool(shuffle), world

    def __len__(self) -> int:
        return len(self.sequence)

    def __iter__(self) -> Iterator[Any]:
        n = len(self.sequence)
        order = shared_randperm(n, self.world).tolist() if self.shuffle else range(n)
        if callable(getattr(self.sequence, "on_epoch_begin", None)):
            self.sequence.on_epoch_begin()
        for i in order:
            yield self.sequence[i]
        if callable(getattr(self.sequence, "on_epoch_end", None)):
            self.sequence.on_epoch_end()


class _NamedBatches:
    """Batches of an iterable with dict inputs / targets put in the model's order and `class_weight` made
    per-sample weights; iterating it again iterates the data again, so a DataLoader stays re-iterable."""

    def __init__(self, data: Iterable[Any], model: Trainer, class_weight: dict | None, what: str) -> None:
        self.data, self.model, self.class_weight, self.what = data, model, class_weight, what

    def __len__(self) -> int:
        if not isinstance(self.data, Sized):
            raise TypeError("the data has no length")
        return len(self.data)

    def __iter__(self) -> Iterator[Any]:
        for item in self.data:
            yield self._batch(item)

    def _batch(self, item: Any) -> Any:
        if isinstance(item, dict):
            return self.model._inputs_from_dict(item, self.what)
        if not (isinstance(item, tuple) and 2 <= len(item) <= 3):
            return item
        x, y, sw = (*item, None) if len(item) == 2 else item
        if isinstance(x, dict):
            x = self.model._inputs_from_dict(x, self.what)
        if isinstance(y, dict):
            y = self.model._targets_from_dict(y, self.what)
        if self.class_weight is not None and y is not None:
            if sw is not None:
                raise ValueError("give either class_weight or sample weights in the batches, not both")
            sw = _class_weights_to_samples(self.class_weight, to_tensor(y, "y"))
        return (x, y) if sw is None else (x, y, sw)


class Trainer:
    """The Keras training API, mixed into Model."""

    optimizer: Any = None
    compiled: bool = False

    # ----- compile --------------------------------------------------------------------------------
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Any = None, metrics: Any = None,
                weighted_metrics: Any = None, run_eagerly: Any = None, steps_per_execution: int = 1,
                jit_compile: Any = None, auto_scale_loss: bool = True, device: str | None = None) -> None:
        """Choose the optimizer (a name takes Keras' defaults: rmsprop lr 1e-3 rho 0.9 eps 1e-7, ...), the loss
        and the metrics. `device` (lstmkit's extra) forces "cpu" or "cuda"; the default takes CUDA when present.
        A model with several outputs takes them per output (lists or dicts by output name; multi_output.py)."""
        names = self._output_names()
        multi = names is not None and len(names) > 1
        self._multi: list[multi_output.Output] | None = None
        if multi:
            assert names is not None
            self._multi = multi_output.outputs_from_compile(names, loss, loss_weights, metrics, weighted_metrics)
            loss = metrics = weighted_metrics = None
        elif loss_weights is not None:
            raise ValueError("loss_weights is for models with several outputs; this model has one")
        if isinstance(loss, (list, tuple)) and len(loss) == 1 and not multi:
            loss = loss[0]  # loss=[l] for a model's one output, as Keras takes it
        if isinstance(loss, dict):
            loss = self._entry_for_output(loss, "loss")
        if isinstance(loss, list):
            raise ValueError("compile() takes one loss: models with several outputs are not supported for training")
        if isinstance(metrics, dict):
            metrics = self._entry_for_output(metrics, "metrics", required=False)
        if isinstance(weighted_metrics, dict):
            weighted_metrics = self._entry_for_output(weighted_metrics, "weighted_metrics", required=False)
        if isinstance(optimizer, LossScaleOptimizer):
            self.optimizer, inner = optimizer, optimizer.inner_optimizer
        else:
            inner = optimizers_mod.get(optimizer)
            # Keras wraps the optimizer under mixed_float16: float16 gradients need a loss scale
            self.optimizer = LossScaleOptimizer(inner) if global_policy().name == "mixed_float16" else inner
        self.loss = loss if self._multi is None else [o.loss_spec for o in self._multi]
        self._loss_fn = None if loss is None else losses_mod.get(loss)
        self._metric_specs = _as_list(metrics, "metrics")
        self._weighted_metric_specs = _as_list(weighted_metrics, "weighted_metrics")
        self._metrics: list[tuple[metrics_mod.Metric, bool]] | None = None  # (metric, weighted), resolved at fit
        self._loss_tracker = metrics_mod.Mean(name="loss")
        self._train_device = resolve(device)
        self.compiled = True
        self._compile_parts = {"optimizer": inner,  # serialized at save time, as the loss (a schedule's config)
                               "metrics": [metrics_mod.serialize(m) for m in self._metric_specs],
                               "weighted_metrics": [metrics_mod.serialize(m) for m in self._weighted_metric_specs]}

    def _output_names(self) -> list[str] | None:
        """The names of the output layers, which dict targets, losses and metrics are keyed by (Keras'
        `model.output_names`); None for a subclassed model, whose outputs have no layer names."""
        stack = getattr(self, "_stack", None)  # a Sequential's layers, applied in order (no import: sequential.py
        if isinstance(stack, torch.nn.ModuleList) and len(stack):  # imports model.py, which imports this)
            return [stack[-1].name]
        return None

    def _input_names(self) -> list[str] | None:
        """The names of the `Input`s, which dict inputs are keyed by; None where inputs have no names."""
        return None

    def _entry_for_output(self, per_output: dict, what: str, required: bool = True) -> Any:
        """The value for this model's one output from a dict keyed by output name (compile's loss, metrics)."""
        names = self._output_names()
        if names is None:
            raise ValueError(f"compile(): {what} given as a dict needs a model whose outputs have names (a "
                             "functional or Sequential model); give it without the dict")
        unknown = sorted(set(per_output) - set(names))
        if unknown:
            raise ValueError(f"compile(): {what} has keys {unknown} that are not outputs of the model; expected "
                             f"the keys {names}")
        if len(names) != 1:
            raise ValueError(f"compile(): {what} for {len(names)} outputs: models with several outputs are not "
                             "supported for training")
        if names[0] not in per_output:
            if required:
                raise ValueError(f"compile(): {what} has no entry for the output {names[0]!r}; expected the keys "
                                 f"{names}")
            return None
        return per_output[names[0]]

    def _inputs_from_dict(self, x: dict, what: str) -> Any:
        """Dict inputs in the model's input order, by the names of its Inputs (as Keras 3)."""
        names = self._input_names()
        if names is None:
            raise ValueError(f"{what}: inputs given as a dict need a functional model, whose Input(name=...) "
                             f"names are the keys; this {type(self).__name__} takes arrays (got the keys "
                             f"{sorted(map(str, x))})")
        missing = [n for n in names if n not in x]
        if missing:
            raise ValueError(f'{what}: Missing data for input "{missing[0]}". You passed a data dictionary with keys '
                             f"{sorted(map(str, x))}. Expected the following keys: {names}")
        extra = sorted(str(k) for k in x if k not in names)
        if extra:
            warnings.warn(f"{what}: the data dictionary has keys {extra} that are not inputs of the model (its "
                          f"inputs are {names}); they are ignored, as Keras 3 does", UserWarning, stacklevel=4)
        values = [x[n] for n in names]
        return values if len(names) > 1 else values[0]

    def _targets_from_dict(self, y: dict, what: str) -> Any:
        """Dict targets keyed by the output layer's name: the array for the model's one output."""
        names = self._output_names()
        if names is None:
            raise ValueError(f"{what}: targets given as a dict need a model whose outputs have names (a functional "
                             f"or Sequential model); got the keys {sorted(map(str, y))}")
        if sorted(map(str, y)) != sorted(names):
            raise ValueError(f"{what}: the targets dictionary has the keys {sorted(map(str, y))}; expected the "
                             f"output names {names}")
        if len(names) != 1:
            raise ValueError(f"{what}: targets for {len(names)} outputs: models with several outputs are not "
                             "supported for training")
        return y[names[0]]

    @property
    def _compile_config(self) -> dict[str, Any]:
        """compile()'s arguments as `model.save` writes them. The loss is written then, as Keras does: a loss
        function that no config can name fails in save() (with its name), not in compile()."""
        if self._multi is not None:  # per output, in output order (lists, as Keras accepts them back)
            return {"optimizer": optimizers_mod.serialize(self._compile_parts["optimizer"]),
                    **multi_output.describe(self._multi)}
        loss = None if self._loss_fn is None else losses_mod.serialize(self._loss_fn)
        return {**self._compile_parts, "optimizer": optimizers_mod.serialize(self._compile_parts["optimizer"]),
                "loss": loss}

    def _require_compiled(self, what: str, need_loss: bool = True) -> None:
        if not self.compiled:
            raise ValueError(f"{what}() needs a compiled model: call model.compile(optimizer=..., loss=...) first")
        if need_loss and self._loss_fn is None and self._multi is None:
            raise ValueError(f"{what}() needs a loss: call model.compile(..., loss='binary_crossentropy') or another")

    def _resolve_metrics(self, y_shape: tuple, pred_shape: tuple) -> None:
        if self._multi is not None:
            raise AssertionError("a model with several outputs resolves its metrics per output")
        if self._metrics is not None:
            return
        resolved = [(metrics_mod.get(m, y_shape, pred_shape), False) for m in self._metric_specs]
        names = {m.name for m, _ in resolved}
        for spec in self._weighted_metric_specs:
            metric = metrics_mod.get(spec, y_shape, pred_shape)
            if metric.name in names:
                metric.name = f"weighted_{metric.name}"
            resolved.append((metric, True))
        self._metrics = resolved

    def compiled_metrics_list(self) -> list[metrics_mod.Metric]:
        """What is logged beside `loss`, in the order evaluate returns it (several outputs: their losses,
        then the metrics by name, as Keras)."""
        if self.__dict__.get("_multi") is not None:
            return multi_output.trackers_and_metrics(self._multi)
        return [m for m, _ in self._metrics or []]

    @property
    def metrics_names(self) -> list[str]:
        return ["loss", *[m.name for m in self.compiled_metrics_list()]]

    def _reset_metrics(self) -> None:
        self._loss_tracker.reset_state()
        for m in self.compiled_metrics_list():
            m.reset_state()

    def reset_metrics(self) -> None:
        self._reset_metrics()

    def _logs(self) -> dict[str, float]:
        values = {"loss": self._loss_tracker.result(), **{m.name: m.result() for m in self.compiled_metrics_list()}}
        return {k: float(values[k]) for k in sorted(values)}

    def _final_logs(self) -> dict[str, float]:
        """The logs at the end of an epoch or a pass: under data parallelism, of the loss and metric states
        summed over the ranks (so every rank's History is the one-process History)."""
        parallel = self.__dict__.get("_parallel")
        if parallel is None:
            return self._logs()
        tracker, *metrics = parallel.reduce([self._loss_tracker, *self.compiled_metrics_list()])
        values = {"loss": tracker.result(), **{m.name: m.result() for m in metrics}}
        return {k: float(values[k]) for k in sorted(values)}

    # ----- data parallelism (lstmkit.train.distributed) -------------------------------------------
    def _begin_parallel(self) -> DataParallel | None:
        """This call's data-parallel context when torchrun started the program (None in one process); the
        steps find it in `_parallel`."""
        parallel = data_parallel(self)
        self.__dict__["_parallel"] = parallel
        return parallel

    def _end_parallel(self) -> None:
        parallel = self.__dict__.pop("_parallel", None)
        if parallel is not None:
            parallel.barrier()  # rank 0's last writes (a BackupAndRestore deleting its backup) are done

    def _shard(self, batches: Any) -> Any:
        """This rank's shards of `batches` under data parallelism; an array batch_size is the global batch."""
        parallel = self.__dict__.get("_parallel")
        if parallel is None:
            return batches
        if isinstance(batches, TensorBatches):
            check_global_batch(batches.batch_size, parallel.world.size)
        return parallel.shard(batches)

    # ----- data -----------------------------------------------------------------------------------
    def _device_for_training(self) -> torch.device:
        return getattr(self, "_train_device", None) or resolve(None)

    def _inputs_to_tensors(self, x: Any, what: str) -> tuple[list[torch.Tensor], bool]:
        """x as a list of tensors (one per model input) and whether the model takes a single input."""
        if x is None:
            raise ValueError(f"{what} got no data: x is None")
        n_inputs = self._num_inputs()
        if isinstance(x, dict):
            x = self._inputs_from_dict(x, what)
        if n_inputs > 1:
            if not isinstance(x, (list, tuple)) or len(x) != n_inputs:
                raise ValueError(f"{what}: the model has {n_inputs} inputs, so x must be a list of {n_inputs} arrays")
            tensors = [self._input_column(a, f"x[{i}]", i) for i, a in enumerate(x)]
        else:
            tensors = [self._input_column(x, "x", 0)]
        for t in tensors:
            if t.ndim == 0 or t.shape[0] == 0:
                raise ValueError(f"{what} got no data: x has shape {tuple(t.shape)} (0 samples)")
        return tensors, n_inputs <= 1

    def _num_inputs(self) -> int:
        return 1

    def _input_column(self, a: Any, name: str, i: int) -> Any:
        """Input `i` as a tensor; text stays a NumPy array of str when that input feeds a TextVectorization or
        StringLookup (a Functional `Input(dtype="string")`, or the first layer of a Sequential)."""
        text = as_text(a) if self._takes_text(i) else None
        return to_tensor(a, name) if text is None else text

    def _takes_text(self, i: int) -> bool:
        """Whether model input `i` feeds a layer that takes raw strings."""
        inputs = getattr(self, "_input_tensors", None)
        if inputs:
            return bool(inputs[i].dtype == "string")
        layers = getattr(self, "layers", None)
        return bool(layers) and bool(getattr(layers[0], "_takes_text", False))

    def _array_data(self, x: Any, y: Any, sample_weight: Any, class_weight: Any, what: str,
                    need_y: bool = True) -> tuple[list[torch.Tensor], torch.Tensor | None, torch.Tensor | None, bool]:
        xs, single = self._inputs_to_tensors(x, what)
        if self.__dict__.get("_multi") is not None and y is not None:
            if class_weight is not None:
                raise ValueError(f"{what}: class_weight is not supported for a model with several outputs (Keras 3 "
                                 "refuses it too); give sample_weight")
            yt_multi = multi_output.targets_from(y, [o.name for o in self._multi], int(xs[0].shape[0]), what)
            sw = None if sample_weight is None else to_tensor(sample_weight, "sample_weight").float()
            if sw is not None and sw.shape[0] != xs[0].shape[0]:
                raise ValueError(f"{what}: sample_weight has {sw.shape[0]} entries for {xs[0].shape[0]} samples")
            return xs, yt_multi, sw, single  # type: ignore[return-value]
        if isinstance(y, dict):
            y = self._targets_from_dict(y, what)
        if isinstance(y, (list, tuple)) and len(y) == 1 and isinstance(y[0], (np.ndarray, torch.Tensor)):
            y = y[0]  # [y] for a model's one output, as Keras takes it
        if y is None and need_y:
            raise ValueError(f"{what} needs targets: give y (labels) with x")
        yt = None if y is None else to_tensor(y, "y")
        if yt is not None and (yt.dim() == 0 or yt.shape[0] != xs[0].shape[0]):
            raise ValueError(f"{what}: x has {xs[0].shape[0]} samples but y has "
                             f"{0 if yt.dim() == 0 else yt.shape[0]}; they must match")
        sw = None if sample_weight is None else to_tensor(sample_weight, "sample_weight").float()
        if sw is not None and sw.shape[0] != xs[0].shape[0]:
            raise ValueError(f"{what}: sample_weight has {sw.shape[0]} entries for {xs[0].shape[0]} samples")
        if class_weight is not None:
            if sw is not None:
                raise ValueError("give either class_weight or sample_weight, not both")
            if yt is None:
                raise ValueError("class_weight needs targets y")
            sw = _class_weights_to_samples(class_weight, yt)
        return xs, yt, sw, single

    def _maybe_build_from(self, xs: list[torch.Tensor], single: bool) -> None:
        for i, t in enumerate(xs):  # batches of a dataset keep their text as NumPy (train.data.unpack)
            if isinstance(t, np.ndarray) and not self._takes_text(i):
                raise ValueError(f"x holds text (an array of dtype {t.dtype}), but the model's input {i} does not "
                                 "take strings: start the model with a TextVectorization (or StringLookup), or "
                                 "vectorize the data first, e.g. ds.map(lambda x, y: (vectorizer(x), y))")
        if not self.built:
            shapes = [(None, *tuple(t.shape[1:])) for t in xs]
            self.build(shapes[0] if single else shapes)

    def _check_targets(self, xs: list[torch.Tensor], single: bool, yt: Any) -> None:
        """Before the first step: the labels fit the loss and the output (per output when there are several),
        and the metrics are resolved for their shapes."""
        if self.__dict__.get("_multi") is not None:
            shapes = [(None, *tuple(t.shape[1:])) for t in xs]
            names = [o.name for o in self._multi]
            out_shapes = multi_output.flat_outputs(self.compute_output_shape(shapes[0] if single else shapes), names)
            for out, y, shape in zip(self._multi, yt, out_shapes):
                filled = _sizes_from_targets(tuple(shape), y, out.loss_fn)
                if out.loss_fn is not None:
                    try:
                        losses_mod.check_targets(out.loss_fn, y, filled)
                    except ValueError as e:
                        raise ValueError(f"output {out.name!r}: {e}") from e
                out.resolve_metrics(tuple(y.shape), filled)
            return
        out_shape = _sizes_from_targets(self._output_shape_for(xs, single), yt, self._loss_fn)
        losses_mod.check_targets(self._loss_fn, yt, out_shape)
        self._resolve_metrics(tuple(yt.shape), out_shape)

    def _output_shape_for(self, xs: list[torch.Tensor], single: bool) -> tuple:
        shapes = [(None, *tuple(t.shape[1:])) for t in xs]
        out = _the_one(self.compute_output_shape(shapes[0] if single else shapes))
        if not (isinstance(out, tuple) and all(s is None or isinstance(s, int) for s in out)):
            raise ValueError("training needs a model with one output; this one has several")
        return out

    # ----- steps ----------------------------------------------------------------------------------
    def _forward(self, x: Any, training: bool) -> tuple[torch.Tensor, Any]:
        with training_mode(training):
            return self._call_internal(x, training=training)

    def _outputs(self, structure: Any) -> Any:
        """The model's one output (or mask) from what it returned, or the list of them in output order."""
        if self.__dict__.get("_multi") is not None:
            return multi_output.flat_outputs(structure, [o.name for o in self._multi])
        return _the_one(structure)

    def _compute_loss(self, y: Any, y_pred: Any, sw: torch.Tensor | None, mask: Any,
                      training: bool) -> torch.Tensor:
        if self.__dict__.get("_multi") is not None:  # the weighted sum; each output's loss kept for its tracker
            loss, self.__dict__["_output_losses"] = multi_output.loss_of(self._multi, y, y_pred, sw, mask)
            return self._with_penalties(loss, training)
        if y_pred.is_floating_point() and y_pred.dtype in (torch.float16, torch.bfloat16):
            y_pred = y_pred.float()  # mixed precision: the loss in float32, as Keras
        return self._with_penalties(self._loss_fn(y, y_pred, sw, mask), training)

    def _with_penalties(self, loss: torch.Tensor, training: bool) -> torch.Tensor:
        if training and self._regularized:
            penalties = self.losses
            if penalties:
                loss = loss + torch.stack([p.to(loss.device).reshape(()) for p in penalties]).sum()
        return loss

    def _update_metrics(self, y: Any, y_pred: Any, sw: torch.Tensor | None, mask: Any,
                        loss: torch.Tensor) -> None:
        if self.__dict__.get("_multi") is not None:
            n = y_pred[0].shape[0]
            count = torch.full((1,), float(n), device=loss.device)
            self._loss_tracker.update_values(loss.detach().reshape(1), count)
            for out, yi, pi, mi, li in zip(self._multi, y, y_pred, mask, self.__dict__.pop("_output_losses")):
                if li is not None:
                    out.tracker.update_values(li.detach().reshape(1), count)
                if out.metrics is None:  # data from an iterable: resolved on the first batch
                    out.resolve_metrics(tuple(yi.shape), tuple(pi.shape))
                for metric, weighted in out.metrics or []:
                    metric.update_state(yi, pi.detach(), sw if weighted else None, mi)
            return
        if self._metrics is None:  # data from an iterable: resolve "accuracy" on the first batch, as Keras
            self._resolve_metrics(tuple(y.shape), tuple(y_pred.shape))
        n = y_pred.shape[0]
        self._loss_tracker.update_values(loss.detach().reshape(1), torch.full((1,), float(n), device=loss.device))
        for metric, weighted in self._metrics or []:
            metric.update_state(y, y_pred, sw if weighted else None, mask)

    def _train_step(self, batch: Any) -> None:
        x, y, sw = batch
        parallel = self.__dict__.get("_parallel")  # data-parallel: the forward pass through DDP
        y_pred, mask = map(self._outputs, (self._forward if parallel is None else parallel.forward)(x, training=True))
        loss = self._compute_loss(y, y_pred, sw, mask, training=True)
        for p in self.optimizer.params:
            p.grad = None
        scaled = self.optimizer.scale_loss(loss) if isinstance(self.optimizer, LossScaleOptimizer) else loss
        if parallel is not None and parallel.current.loss_scale != 1.0:  # an uneven last batch
            scaled = scaled * parallel.current.loss_scale
        if scaled.requires_grad:
            scaled.backward()
        elif not self.__dict__.get("_warned_untrainable"):  # a frozen model, a Masking alone: nothing to update;
            self.__dict__["_warned_untrainable"] = True      # the step runs and changes nothing, as in Keras
            warnings.warn("The model does not have any trainable weights.", UserWarning, stacklevel=2)
        self.optimizer.apply()
        if self._constrained:
            self._apply_constraints()
        if parallel is None or parallel.current.rows:  # not a stand-in row of an empty shard
            self._update_metrics(y, y_pred if self.__dict__.get("_multi") is not None else y_pred.detach(), sw, mask,
                                 loss)

    @torch.no_grad()
    def _test_step(self, batch: Any) -> None:
        parallel = self.__dict__.get("_parallel")
        if parallel is not None and not parallel.current.rows:  # a stand-in row of an empty shard
            return
        x, y, sw = batch
        y_pred, mask = map(self._outputs, self._forward(x, training=False))
        loss = self._compute_loss(y, y_pred, sw, mask, training=False)
        self._update_metrics(y, y_pred, sw, mask, loss)

    @torch.no_grad()
    def _predict_step(self, batch: Any) -> Any:
        x = batch[0] if isinstance(batch, tuple) and len(batch) == 3 else batch
        y_pred, _ = self._forward(x, training=False)
        return map_structure(lambda t: t.detach().cpu().numpy(), y_pred)

    def _prepare_training(self, device: torch.device) -> None:
        self.to(device)
        params = [p for p in self.parameters() if p.requires_grad]
        if not self.optimizer.built or [id(p) for p in self.optimizer.params] != [id(p) for p in params]:
            self.optimizer.build(params)
        self._regularized = any(True for _ in _regularized_layers(self))
        self._constrained = any(s.constraint is not None for s, _ in self._all_keras_weights())

    # ----- public loops ---------------------------------------------------------------------------
    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1, verbose: Any = "auto",
            callbacks: list | None = None, validation_split: float = 0.0, validation_data: Any = None,
            shuffle: bool | str = True, class_weight: dict | None = None, sample_weight: Any = None,
            initial_epoch: int = 0, steps_per_epoch: int | None = None, validation_steps: int | None = None,
            validation_batch_size: int | None = None, validation_freq: int = 1,
            **keras2: Any) -> callbacks_mod.History:
        """Train for `epochs` epochs; returns a History whose `.history` holds the logs per epoch. Keras 2's
        `workers`, `use_multiprocessing` and `max_queue_size` are accepted with a DeprecationWarning (the batches
        are drawn in this process)."""
        unknown = sorted(set(keras2) - {"workers", "use_multiprocessing", "max_queue_size"})
        if unknown:
            raise TypeError(f"fit() got unexpected keyword arguments {unknown}")
        if keras2:
            _legacy(f"fit({', '.join(f'{k}=' for k in sorted(keras2))})",
                    "the same arguments on a keras.utils.PyDataset (PyDataset(workers=...)), or leave them out")
            for name in ("workers", "max_queue_size"):
                value = keras2.get(name, 1)
                if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                    raise ValueError(f"fit: {name} must be a non-negative integer, got {value!r}")
        self._require_compiled("fit")
        verbose = _verbose(verbose)
        parallel = self._begin_parallel()
        if parallel is not None and parallel.world.rank:
            verbose = 0  # only rank 0 prints
        if not isinstance(epochs, int) or epochs < 0 or initial_epoch < 0:
            raise ValueError(f"epochs and initial_epoch must be non-negative integers, got {epochs}, {initial_epoch}")
        epochs, steps_per_epoch = _capped(epochs, steps_per_epoch)
        device = self._device_for_training()
        val_batches = None
        source = x  # the data as given: BackupAndRestore saves its state (a dataset's shuffling generator)
        if _is_sequence(x):
            x = _SequenceBatches(x, shuffle, None if parallel is None else parallel.world)
        if _is_batch_iterable(x):
            if y is not None or validation_split:
                raise ValueError("with x given as an iterable of batches, y and validation_split must not be given")
            if sample_weight is not None:
                raise ValueError("with x given as an iterable of batches, give the sample weights in the batches: "
                                 "(x, y, sample_weight)")
            if not self.built and iter(x) is x:  # a one-pass iterator: peeking would lose its first batch
                raise ValueError("fit on a generator needs a built model: start the model with Input(shape=...) "
                                 "or give a dataset that can be iterated again (a DataLoader, a list)")
            x = _NamedBatches(x, self, class_weight, "fit")
            train: Any = self._shard(IterableBatches(x, steps_per_epoch))
            if not self.built:
                fx, _, _ = unpack(next(iter(x)))
                self._maybe_build_from(fx if isinstance(fx, list) else [fx], not isinstance(fx, list))
        else:
            xs, yt, sw, single = self._array_data(x, y, sample_weight, class_weight, "fit")
            if validation_split and validation_data is None:
                (*txs, yt, sw), (*vxs, vy, vsw) = split_from_end([*xs, yt, sw], validation_split)
                xs = txs
                val_batches = TensorBatches(vxs, vy, vsw, validation_batch_size or batch_size or 32,
                                            single_input=single)
            self._maybe_build_from(xs, single)
            self._check_targets(xs, single, yt)
            train = self._shard(TensorBatches(xs, yt, sw, batch_size or 32, shuffle=shuffle, single_input=single))
            if steps_per_epoch is not None:
                train = IterableBatches(_repeat(train), steps_per_epoch)
        if validation_data is not None:
            val_batches = self._validation_batches(validation_data, validation_batch_size or batch_size or 32,
                                                   validation_steps)
        self._prepare_training(device)
        train = train.to(device)
        if val_batches is not None:
            val_batches = self._shard(val_batches).to(device)
        history = callbacks_mod.History()
        cbs = CallbackList([*(callbacks or []), history, ProgressBar(_shown(verbose))], model=self,
                           params={"verbose": verbose, "epochs": epochs, "steps": len(train) or None})
        stats = LoopStats()
        # what BackupAndRestore saves beside the weights: the callbacks' and the training data's state
        self._fit_context = {"callbacks": cbs.callbacks, "data": [source], "stats": stats}

        def validate() -> dict[str, float]:
            return evaluate_loop(test_step=self._test_step, test_logs=self._logs, reset_metrics=self._reset_metrics,
                                 data=val_batches, callbacks=cbs, final_logs=self._final_logs)

        fit_loop(model=self, train_step=self._train_step, train_logs=self._logs, reset_metrics=self._reset_metrics,
                 train_data=train, epochs=epochs, initial_epoch=initial_epoch, callbacks=cbs,
                 validate=validate if val_batches is not None else None, validation_freq=validation_freq,
                 stats=stats, final_logs=self._final_logs,
                 agree=parallel.any_rank if parallel is not None else None)
        self._end_parallel()
        history.epoch_times = list(stats.epoch_seconds)
        history.loop_stats = stats.as_dict()
        self.history = history
        return history

    def _validation_batches(self, data: Any, batch_size: int, steps: int | None) -> Any:
        if _is_sequence(data):
            data = _SequenceBatches(data, shuffle=False)
        if _is_batch_iterable(data):
            return IterableBatches(_NamedBatches(data, self, None, "fit (validation_data)"), steps)
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise ValueError("validation_data must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight_val)")
        vx, vy, vsw = (*data, None) if len(data) == 2 else data
        xs, yt, sw, single = self._array_data(vx, vy, vsw, None, "fit (validation_data)")
        return TensorBatches(xs, yt, sw, batch_size, single_input=single)

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None, verbose: Any = "auto",
                 sample_weight: Any = None, steps: int | None = None, callbacks: list | None = None,
                 return_dict: bool = False) -> Any:
        """Loss and metrics on (x, y): a scalar without metrics, else [loss, *metrics] (or a dict)."""
        self._require_compiled("evaluate")
        verbose = _verbose(verbose)
        parallel = self._begin_parallel()
        if parallel is not None and parallel.world.rank:
            verbose = 0  # only rank 0 prints
        if _is_sequence(x):
            x = _SequenceBatches(x, shuffle=False)
        if _is_batch_iterable(x):
            data: Any = IterableBatches(_NamedBatches(x, self, None, "evaluate"), steps)
        else:
            xs, yt, sw, single = self._array_data(x, y, sample_weight, None, "evaluate")
            self._maybe_build_from(xs, single)
            self._check_targets(xs, single, yt)
            data = TensorBatches(xs, yt, sw, batch_size or 32, single_input=single)
        device = self._device_for_training()
        self.to(device)
        self._regularized = False
        data = self._shard(data).to(device)
        cbs = CallbackList([*(callbacks or []), ProgressBar(_shown(verbose), mode="test")], model=self,
                           params={"verbose": verbose, "steps": len(data) or None})
        logs = evaluate_loop(test_step=self._test_step, test_logs=self._logs, reset_metrics=self._reset_metrics,
                             data=data, callbacks=cbs, final_logs=self._final_logs)
        self._end_parallel()
        if return_dict:
            return logs
        values = [logs["loss"], *[logs[m.name] for m in self.compiled_metrics_list()]]
        return values[0] if len(values) == 1 else values

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = "auto", steps: int | None = None,
                callbacks: list | None = None) -> Any:
        """The model's outputs for x, as NumPy arrays (a list of arrays for several outputs)."""
        verbose = _verbose(verbose)
        parallel = self._begin_parallel()
        if parallel is not None and parallel.world.rank:
            verbose = 0  # only rank 0 prints
        if _is_sequence(x):
            x = _SequenceBatches(x, shuffle=False)
        if _is_batch_iterable(x):
            data: Any = IterableBatches(_NamedBatches(x, self, None, "predict"), steps)
        else:
            xs, _, _, single = self._array_data(x, None, None, None, "predict", need_y=False)
            self._maybe_build_from(xs, single)
            data = TensorBatches(xs, None, None, batch_size or 32, single_input=single)
        device = self._device_for_training()
        self.to(device)
        data = self._shard(data).to(device)
        cbs = CallbackList([*(callbacks or []), ProgressBar(_shown(verbose), mode="predict")], model=self,
                           params={"verbose": verbose, "steps": len(data) or None})
        outputs = predict_loop(predict_step=self._predict_step, data=data, callbacks=cbs)
        if parallel is not None:  # every rank's shards, in the rows' order
            outputs = parallel.gather(outputs, data)
        self._end_parallel()
        first = outputs[0]
        if isinstance(first, dict):  # a dict of outputs: a dict of arrays, as Keras
            return {k: np.concatenate([o[k] for o in outputs]) for k in first}
        if isinstance(first, (list, tuple)) and len(first) == 1:  # outputs=[o]: Keras returns the array
            return np.concatenate([o[0] for o in outputs])
        if isinstance(first, (list, tuple)):
            return [np.concatenate([o[i] for o in outputs]) for i in range(len(first))]
        return np.concatenate(outputs)

    # ----- Keras 2's generator methods -------------------------------------------------------------
    def fit_generator(self, generator: Any, steps_per_epoch: int | None = None, epochs: int = 1, verbose: Any = 1,
                      callbacks: list | None = None, validation_data: Any = None, validation_steps: int | None = None,
                      validation_freq: int = 1, class_weight: dict | None = None, max_queue_size: int = 10,
                      workers: int = 1, use_multiprocessing: bool = False, shuffle: bool = True,
                      initial_epoch: int = 0) -> callbacks_mod.History:
        """Keras 2's `fit_generator`: `fit` on batches from a generator (or a Sequence)."""
        _legacy("Model.fit_generator", "model.fit(generator, steps_per_epoch=...)")
        _check_generator_args("fit_generator", generator, steps_per_epoch, "steps_per_epoch", max_queue_size,
                              workers)
        if validation_data is not None and not isinstance(validation_data, (tuple, list)):
            _check_generator_args("fit_generator", validation_data, validation_steps, "validation_steps",
                                  max_queue_size, workers, what="validation_data")
        return self.fit(generator, steps_per_epoch=steps_per_epoch, epochs=epochs, verbose=verbose,
                        callbacks=callbacks, validation_data=validation_data, validation_steps=validation_steps,
                        validation_freq=validation_freq, class_weight=class_weight, shuffle=shuffle,
                        initial_epoch=initial_epoch)

    def evaluate_generator(self, generator: Any, steps: int | None = None, callbacks: list | None = None,
                           max_queue_size: int = 10, workers: int = 1, use_multiprocessing: bool = False,
                           verbose: Any = 0) -> Any:
        """Keras 2's `evaluate_generator`: `evaluate` on batches from a generator (or a Sequence)."""
        _legacy("Model.evaluate_generator", "model.evaluate(generator, steps=...)")
        _check_generator_args("evaluate_generator", generator, steps, "steps", max_queue_size, workers)
        return self.evaluate(generator, steps=steps, callbacks=callbacks, verbose=verbose)

    def predict_generator(self, generator: Any, steps: int | None = None, callbacks: list | None = None,
                          max_queue_size: int = 10, workers: int = 1, use_multiprocessing: bool = False,
                          verbose: Any = 0) -> Any:
        """Keras 2's `predict_generator`: `predict` on batches from a generator (or a Sequence)."""
        _legacy("Model.predict_generator", "model.predict(generator, steps=...)")
        _check_generator_args("predict_generator", generator, steps, "steps", max_queue_size, workers)
        return self.predict(generator, steps=steps, callbacks=callbacks, verbose=verbose)

    def predict_classes(self, x: Any, batch_size: int = 32, verbose: Any = 0) -> np.ndarray:
        """Keras 2's Sequential.predict_classes: the argmax of several outputs, or outputs > 0.5 for one."""
        _legacy("Model.predict_classes", 'np.argmax(model.predict(x), axis=-1) for several classes, or '
                                         '(model.predict(x) > 0.5).astype("int32") for one sigmoid output')
        proba = self.predict(x, batch_size=batch_size, verbose=verbose)
        if proba.shape[-1] > 1:
            return proba.argmax(axis=-1)
        return (proba > 0.5).astype("int32")

    def predict_proba(self, x: Any, batch_size: int = 32, verbose: Any = 0) -> np.ndarray:
        """Keras 2's Sequential.predict_proba: predict, with a warning when the outputs are not in [0, 1]."""
        _legacy("Model.predict_proba", "model.predict(x)")
        preds = self.predict(x, batch_size=batch_size, verbose=verbose)
        if preds.min() < 0.0 or preds.max() > 1.0:
            warnings.warn("predict_proba: the model returns values outside [0, 1], not probabilities (is its last "
                          "activation a sigmoid or a softmax?)", UserWarning, stacklevel=2)
        return preds

    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None, class_weight: Any = None,
                       return_dict: bool = False) -> Any:
        self._require_compiled("train_on_batch")
        self.__dict__.pop("_parallel", None)  # one process's step (a fit that failed may have left its context)
        xs, yt, sw, single = self._array_data(x, y, sample_weight, class_weight, "train_on_batch")
        self._maybe_build_from(xs, single)
        self._check_targets(xs, single, yt)
        device = self._device_for_training()
        self._prepare_training(device)
        self._reset_metrics()
        batch = (_inputs_on(xs, single, device), yt.to(device),
                 None if sw is None else sw.to(device))
        self._train_step(batch)
        return self._result(return_dict)

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False) -> Any:
        self._require_compiled("test_on_batch")
        self.__dict__.pop("_parallel", None)
        xs, yt, sw, single = self._array_data(x, y, sample_weight, None, "test_on_batch")
        self._maybe_build_from(xs, single)
        self._check_targets(xs, single, yt)
        device = self._device_for_training()
        self.to(device)
        self._regularized = False
        self._reset_metrics()
        self._test_step((_inputs_on(xs, single, device), yt.to(device),
                         None if sw is None else sw.to(device)))
        return self._result(return_dict)

    def predict_on_batch(self, x: Any) -> Any:
        xs, _, _, single = self._array_data(x, None, None, None, "predict_on_batch", need_y=False)
        self._maybe_build_from(xs, single)
        device = self._device_for_training()
        self.to(device)
        return self._predict_step(_inputs_on(xs, single, device))

    def _result(self, return_dict: bool) -> Any:
        logs = self._logs()
        if return_dict:
            return logs
        values = [logs["loss"], *[logs[m.name] for m in self.compiled_metrics_list()]]
        return values[0] if len(values) == 1 else values


def _inputs_on(xs: list[Any], single: bool, device: torch.device) -> Any:
    """One batch's inputs on `device` (the input, or the list of them); text (NumPy str arrays for a
    TextVectorization) stays where it is."""
    moved = [t.to(device) if isinstance(t, torch.Tensor) else t for t in xs]
    return moved[0] if single else moved


def _the_one(outputs: Any) -> Any:
    """A model's one output (or mask, or shape) out of `outputs=[o]` or `outputs={"name": o}`."""
    if isinstance(outputs, list) and len(outputs) == 1:
        return outputs[0]
    if isinstance(outputs, tuple) and len(outputs) == 1 and isinstance(outputs[0], (torch.Tensor, tuple)):
        return outputs[0]  # outputs=(o,); a shape (None,) of one axis stays as it is
    if isinstance(outputs, dict) and len(outputs) == 1:
        return next(iter(outputs.values()))
    return outputs


def _check_generator_args(method: str, data: Any, steps: int | None, steps_name: str, max_queue_size: Any,
                          workers: Any, what: str = "generator") -> None:
    """Keras 2's rules: a generator without a length needs its number of steps; queue and workers are counts."""
    if not (_is_batch_iterable(data) or _is_sequence(data)):
        raise ValueError(f"{method}: {what} must be a generator, an iterable of batches or a Sequence, got "
                         f"{type(data).__name__}; for arrays use fit/evaluate/predict")
    if steps is None and not isinstance(data, Sized) and not _is_sequence(data):
        raise ValueError(f"{method}: `{steps_name}=None` is only valid for a generator with a length (a Sequence, "
                         f"a DataLoader); give `{steps_name}`, the number of batches to draw from {what}")
    if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool) or steps <= 0):
        raise ValueError(f"{method}: {steps_name} must be a positive integer, got {steps!r}")
    for name, value in (("max_queue_size", max_queue_size), ("workers", workers)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{method}: {name} must be a non-negative integer, got {value!r}")


def _sizes_from_targets(out_shape: tuple, y: torch.Tensor, loss: Any) -> tuple:
    """The output shape with its unknown (None) sizes taken from the labels, so the label check compares only
    the sizes the model fixes: labels (240, 47, 31) go with an output (None, None, 31). The last axis stays
    unknown for sparse labels, which have no class axis (or a trailing 1)."""
    y_shape = tuple(y.shape)
    sparse = type(loss).__name__ == "SparseCategoricalCrossentropy"
    filled = list(out_shape)
    for i in range(1, len(filled)):
        last = i == len(filled) - 1
        if filled[i] is None and i < len(y_shape) and not (last and (sparse or len(y_shape) != len(filled))):
            filled[i] = y_shape[i]
    return tuple(filled)


def _as_list(metrics: Any, what: str) -> list:
    if metrics is None:
        return []
    if isinstance(metrics, dict):
        raise ValueError(f"{what} given per output (a dict) are not supported: give a list")
    return list(metrics) if isinstance(metrics, (list, tuple)) else [metrics]


def _class_weights_to_samples(class_weight: dict, y: torch.Tensor) -> torch.Tensor:
    if y.dim() > 1 and y.shape[-1] > 1:
        ids = y.argmax(dim=-1)
    else:
        ids = y.reshape(y.shape[0], *y.shape[1:-1]) if y.dim() > 1 else y
        ids = ids.round().long()
    classes = torch.unique(ids).tolist()
    missing = [c for c in classes if c not in class_weight]
    if missing:
        raise ValueError(f"class_weight has no weight for the classes {missing} found in y; it has "
                         f"{sorted(class_weight)}")
    table = torch.zeros(int(max(max(classes), max(class_weight))) + 1)
    for c, w in class_weight.items():
        table[int(c)] = float(w)
    return table[ids.long()]


def _repeat(batches: TensorBatches) -> Iterable:
    while True:
        yield from batches


def _regularized_layers(model: Any) -> Iterable:
    for module in model.modules():
        if isinstance(module, Layer) and (module.activity_regularizer is not None
                                          or any(s.regularizer is not None for s in module._weight_specs)):
            yield module

