"""compile / fit / evaluate / predict for lstmkit.keras models (the loops themselves are in `lstmkit.train`).

Keras' rules kept: default batch size 32; `validation_split` takes the last samples before shuffling;
`shuffle=True` reshuffles the training set every epoch; `class_weight` becomes per-sample weights;
`metrics` are not weighted by sample weights, `weighted_metrics` are; the epoch's `loss` is the mean of the
batch losses weighted by batch size and includes the regularization penalties; logs are sorted by name, so
History holds `acc, loss, val_acc, val_loss` for `metrics=["acc"]`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from lstmkit.keras import callbacks as callbacks_mod
from lstmkit.keras import losses as losses_mod
from lstmkit.keras import metrics as metrics_mod
from lstmkit.keras import optimizers as optimizers_mod
from lstmkit.keras.keras_tensor import map_structure
from lstmkit.keras.layers.layer import Layer, training_mode
from lstmkit.keras.mixed_precision import LossScaleOptimizer, global_policy
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


class Trainer:
    """The Keras training API, mixed into Model."""

    optimizer: Any = None
    compiled: bool = False

    # ----- compile --------------------------------------------------------------------------------
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, loss_weights: Any = None, metrics: Any = None,
                weighted_metrics: Any = None, run_eagerly: Any = None, steps_per_execution: int = 1,
                jit_compile: Any = None, auto_scale_loss: bool = True, device: str | None = None) -> None:
        """Choose the optimizer (a name takes Keras' defaults: rmsprop lr 1e-3 rho 0.9 eps 1e-7, ...), the loss
        and the metrics. `device` (lstmkit's extra) forces "cpu" or "cuda"; the default takes CUDA when present."""
        if loss_weights is not None:
            raise ValueError("loss_weights is for models with several outputs, which compile() does not support")
        if isinstance(loss, (list, dict)):
            raise ValueError("compile() takes one loss: models with several outputs are not supported for training")
        if isinstance(optimizer, LossScaleOptimizer):
            self.optimizer, inner = optimizer, optimizer.inner_optimizer
        else:
            inner = optimizers_mod.get(optimizer)
            # Keras wraps the optimizer under mixed_float16: float16 gradients need a loss scale
            self.optimizer = LossScaleOptimizer(inner) if global_policy().name == "mixed_float16" else inner
        self.loss = loss
        self._loss_fn = None if loss is None else losses_mod.get(loss)
        self._metric_specs = _as_list(metrics, "metrics")
        self._weighted_metric_specs = _as_list(weighted_metrics, "weighted_metrics")
        self._metrics: list[tuple[metrics_mod.Metric, bool]] | None = None  # (metric, weighted), resolved at fit
        self._loss_tracker = metrics_mod.Mean(name="loss")
        self._train_device = resolve(device)
        self.compiled = True
        self._compile_parts = {"optimizer": optimizers_mod.serialize(inner),
                               "metrics": [metrics_mod.serialize(m) for m in self._metric_specs],
                               "weighted_metrics": [metrics_mod.serialize(m) for m in self._weighted_metric_specs]}

    @property
    def _compile_config(self) -> dict[str, Any]:
        """compile()'s arguments as `model.save` writes them. The loss is written then, as Keras does: a loss
        function that no config can name fails in save() (with its name), not in compile()."""
        loss = None if self._loss_fn is None else losses_mod.serialize(self._loss_fn)
        return {**self._compile_parts, "loss": loss}

    def _require_compiled(self, what: str, need_loss: bool = True) -> None:
        if not self.compiled:
            raise ValueError(f"{what}() needs a compiled model: call model.compile(optimizer=..., loss=...) first")
        if need_loss and self._loss_fn is None:
            raise ValueError(f"{what}() needs a loss: call model.compile(..., loss='binary_crossentropy') or another")

    def _resolve_metrics(self, y_shape: tuple, pred_shape: tuple) -> None:
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
        return [m for m, _ in self._metrics or []]

    @property
    def metrics_names(self) -> list[str]:
        return ["loss", *[m.name for m in self.compiled_metrics_list()]]

    def _reset_metrics(self) -> None:
        self._loss_tracker.reset_state()
        for m, _ in self._metrics or []:
            m.reset_state()

    def reset_metrics(self) -> None:
        self._reset_metrics()

    def _logs(self) -> dict[str, float]:
        values = {"loss": self._loss_tracker.result(), **{m.name: m.result() for m, _ in self._metrics or []}}
        return {k: float(values[k]) for k in sorted(values)}

    # ----- data -----------------------------------------------------------------------------------
    def _device_for_training(self) -> torch.device:
        return getattr(self, "_train_device", None) or resolve(None)

    def _inputs_to_tensors(self, x: Any, what: str) -> tuple[list[torch.Tensor], bool]:
        """x as a list of tensors (one per model input) and whether the model takes a single input."""
        if x is None:
            raise ValueError(f"{what} got no data: x is None")
        n_inputs = self._num_inputs()
        if isinstance(x, dict):
            raise ValueError(f"{what}: inputs given as a dict are not supported; give a list in the order of the "
                             "model's inputs")
        if n_inputs > 1:
            if not isinstance(x, (list, tuple)) or len(x) != n_inputs:
                raise ValueError(f"{what}: the model has {n_inputs} inputs, so x must be a list of {n_inputs} arrays")
            tensors = [to_tensor(a, f"x[{i}]") for i, a in enumerate(x)]
        else:
            tensors = [to_tensor(x, "x")]
        for t in tensors:
            if t.dim() == 0 or t.shape[0] == 0:
                raise ValueError(f"{what} got no data: x has shape {tuple(t.shape)} (0 samples)")
        return tensors, n_inputs <= 1

    def _num_inputs(self) -> int:
        return 1

    def _array_data(self, x: Any, y: Any, sample_weight: Any, class_weight: Any, what: str,
                    need_y: bool = True) -> tuple[list[torch.Tensor], torch.Tensor | None, torch.Tensor | None, bool]:
        xs, single = self._inputs_to_tensors(x, what)
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
        if not self.built:
            shapes = [(None, *tuple(t.shape[1:])) for t in xs]
            self.build(shapes[0] if single else shapes)

    def _output_shape_for(self, xs: list[torch.Tensor], single: bool) -> tuple:
        shapes = [(None, *tuple(t.shape[1:])) for t in xs]
        out = self.compute_output_shape(shapes[0] if single else shapes)
        if not (isinstance(out, tuple) and all(s is None or isinstance(s, int) for s in out)):
            raise ValueError("training needs a model with one output; this one has several")
        return out

    # ----- steps ----------------------------------------------------------------------------------
    def _forward(self, x: Any, training: bool) -> tuple[torch.Tensor, Any]:
        with training_mode(training):
            return self._call_internal(x, training=training)

    def _compute_loss(self, y: torch.Tensor, y_pred: torch.Tensor, sw: torch.Tensor | None, mask: Any,
                      training: bool) -> torch.Tensor:
        if y_pred.is_floating_point() and y_pred.dtype in (torch.float16, torch.bfloat16):
            y_pred = y_pred.float()  # mixed precision: the loss in float32, as Keras
        loss = self._loss_fn(y, y_pred, sw, mask)
        if training and self._regularized:
            penalties = self.losses
            if penalties:
                loss = loss + torch.stack([p.to(loss.device).reshape(()) for p in penalties]).sum()
        return loss

    def _update_metrics(self, y: torch.Tensor, y_pred: torch.Tensor, sw: torch.Tensor | None, mask: Any,
                        loss: torch.Tensor) -> None:
        if self._metrics is None:  # data from an iterable: resolve "accuracy" on the first batch, as Keras
            self._resolve_metrics(tuple(y.shape), tuple(y_pred.shape))
        n = y_pred.shape[0]
        self._loss_tracker.update_values(loss.detach().reshape(1), torch.full((1,), float(n), device=loss.device))
        for metric, weighted in self._metrics or []:
            metric.update_state(y, y_pred, sw if weighted else None, mask)

    def _train_step(self, batch: Any) -> None:
        x, y, sw = batch
        y_pred, mask = self._forward(x, training=True)
        loss = self._compute_loss(y, y_pred, sw, mask, training=True)
        for p in self.optimizer.params:
            p.grad = None
        scaled = self.optimizer.scale_loss(loss) if isinstance(self.optimizer, LossScaleOptimizer) else loss
        if scaled.requires_grad:
            scaled.backward()
        elif not self.__dict__.get("_warned_untrainable"):  # a frozen model, a Masking alone: nothing to update;
            self.__dict__["_warned_untrainable"] = True      # the step runs and changes nothing, as in Keras
            warnings.warn("The model does not have any trainable weights.", UserWarning, stacklevel=2)
        self.optimizer.apply()
        if self._constrained:
            self._apply_constraints()
        self._update_metrics(y, y_pred.detach(), sw, mask, loss)

    @torch.no_grad()
    def _test_step(self, batch: Any) -> None:
        x, y, sw = batch
        y_pred, mask = self._forward(x, training=False)
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
            validation_batch_size: int | None = None, validation_freq: int = 1) -> callbacks_mod.History:
        """Train for `epochs` epochs; returns a History whose `.history` holds the logs per epoch."""
        self._require_compiled("fit")
        verbose = _verbose(verbose)
        if not isinstance(epochs, int) or epochs < 0 or initial_epoch < 0:
            raise ValueError(f"epochs and initial_epoch must be non-negative integers, got {epochs}, {initial_epoch}")
        device = self._device_for_training()
        val_batches = None
        if _is_batch_iterable(x):
            if y is not None or validation_split:
                raise ValueError("with x given as an iterable of batches, y and validation_split must not be given")
            train: Any = IterableBatches(x, steps_per_epoch)
            if not self.built:
                if iter(x) is x:  # a one-pass iterator: peeking would lose its first batch
                    raise ValueError("fit on a generator needs a built model: start the model with Input(shape=...) "
                                     "or give a dataset that can be iterated again (a DataLoader, a list)")
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
            out_shape = self._output_shape_for(xs, single)
            losses_mod.check_targets(self._loss_fn, yt, out_shape)
            self._resolve_metrics(tuple(yt.shape), out_shape)
            train = TensorBatches(xs, yt, sw, batch_size or 32, shuffle=shuffle, single_input=single)
            if steps_per_epoch is not None:
                train = IterableBatches(_repeat(train), steps_per_epoch)
        if validation_data is not None:
            val_batches = self._validation_batches(validation_data, validation_batch_size or batch_size or 32,
                                                   validation_steps)
        self._prepare_training(device)
        train = train.to(device)
        if val_batches is not None:
            val_batches = val_batches.to(device)
        history = callbacks_mod.History()
        cbs = CallbackList([*(callbacks or []), history, ProgressBar(verbose)], model=self,
                           params={"verbose": verbose, "epochs": epochs, "steps": len(train) or None})
        stats = LoopStats()
        # what BackupAndRestore saves beside the weights: the callbacks' and the training data's state
        self._fit_context = {"callbacks": cbs.callbacks, "data": [x], "stats": stats}

        def validate() -> dict[str, float]:
            return evaluate_loop(test_step=self._test_step, test_logs=self._logs, reset_metrics=self._reset_metrics,
                                 data=val_batches, callbacks=cbs)

        fit_loop(model=self, train_step=self._train_step, train_logs=self._logs, reset_metrics=self._reset_metrics,
                 train_data=train, epochs=epochs, initial_epoch=initial_epoch, callbacks=cbs,
                 validate=validate if val_batches is not None else None, validation_freq=validation_freq,
                 stats=stats)
        history.epoch_times = list(stats.epoch_seconds)
        history.loop_stats = stats.as_dict()
        self.history = history
        return history

    def _validation_batches(self, data: Any, batch_size: int, steps: int | None) -> Any:
        if _is_batch_iterable(data):
            return IterableBatches(data, steps)
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
        if _is_batch_iterable(x):
            data: Any = IterableBatches(x, steps)
        else:
            xs, yt, sw, single = self._array_data(x, y, sample_weight, None, "evaluate")
            self._maybe_build_from(xs, single)
            out_shape = self._output_shape_for(xs, single)
            losses_mod.check_targets(self._loss_fn, yt, out_shape)
            self._resolve_metrics(tuple(yt.shape), out_shape)
            data = TensorBatches(xs, yt, sw, batch_size or 32, single_input=single)
        device = self._device_for_training()
        self.to(device)
        self._regularized = False
        data = data.to(device)
        cbs = CallbackList([*(callbacks or []), ProgressBar(verbose, mode="test")], model=self,
                           params={"verbose": verbose, "steps": len(data) or None})
        logs = evaluate_loop(test_step=self._test_step, test_logs=self._logs, reset_metrics=self._reset_metrics,
                             data=data, callbacks=cbs)
        if return_dict:
            return logs
        values = [logs["loss"], *[logs[m.name] for m in self.compiled_metrics_list()]]
        return values[0] if len(values) == 1 else values

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = "auto", steps: int | None = None,
                callbacks: list | None = None) -> Any:
        """The model's outputs for x, as NumPy arrays (a list of arrays for several outputs)."""
        verbose = _verbose(verbose)
        if _is_batch_iterable(x):
            data: Any = IterableBatches(x, steps)
        else:
            xs, _, _, single = self._array_data(x, None, None, None, "predict", need_y=False)
            self._maybe_build_from(xs, single)
            data = TensorBatches(xs, None, None, batch_size or 32, single_input=single)
        device = self._device_for_training()
        self.to(device)
        data = data.to(device)
        cbs = CallbackList([*(callbacks or []), ProgressBar(verbose, mode="predict")], model=self,
                           params={"verbose": verbose, "steps": len(data) or None})
        outputs = predict_loop(predict_step=self._predict_step, data=data, callbacks=cbs)
        first = outputs[0]
        if isinstance(first, (list, tuple)):
            return [np.concatenate([o[i] for o in outputs]) for i in range(len(first))]
        return np.concatenate(outputs)

    def train_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None, class_weight: Any = None,
                       return_dict: bool = False) -> Any:
        self._require_compiled("train_on_batch")
        xs, yt, sw, single = self._array_data(x, y, sample_weight, class_weight, "train_on_batch")
        self._maybe_build_from(xs, single)
        out_shape = self._output_shape_for(xs, single)
        self._resolve_metrics(tuple(yt.shape), out_shape)
        device = self._device_for_training()
        self._prepare_training(device)
        self._reset_metrics()
        batch = ([t.to(device) for t in xs] if not single else xs[0].to(device), yt.to(device),
                 None if sw is None else sw.to(device))
        self._train_step(batch)
        return self._result(return_dict)

    def test_on_batch(self, x: Any, y: Any = None, sample_weight: Any = None, return_dict: bool = False) -> Any:
        self._require_compiled("test_on_batch")
        xs, yt, sw, single = self._array_data(x, y, sample_weight, None, "test_on_batch")
        self._maybe_build_from(xs, single)
        self._resolve_metrics(tuple(yt.shape), self._output_shape_for(xs, single))
        device = self._device_for_training()
        self.to(device)
        self._regularized = False
        self._reset_metrics()
        self._test_step(([t.to(device) for t in xs] if not single else xs[0].to(device), yt.to(device),
                         None if sw is None else sw.to(device)))
        return self._result(return_dict)

    def predict_on_batch(self, x: Any) -> Any:
        xs, _, _, single = self._array_data(x, None, None, None, "predict_on_batch", need_y=False)
        self._maybe_build_from(xs, single)
        device = self._device_for_training()
        self.to(device)
        return self._predict_step(xs[0].to(device) if single else [t.to(device) for t in xs])

    def _result(self, return_dict: bool) -> Any:
        logs = self._logs()
        if return_dict:
            return logs
        values = [logs["loss"], *[logs[m.name] for m in self.compiled_metrics_list()]]
        return values[0] if len(values) == 1 else values


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

