"""Keras' metrics: running means over an epoch, kept as tensors on the device (no sync per batch).

`"acc"` / `"accuracy"` in `compile(metrics=...)` resolve as Keras resolves them from the shapes of the
labels and the output: binary when the output has one unit, sparse categorical when the labels have one
dimension less (or a last dimension of 1), categorical otherwise; the logs keep the name asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from lstmkit.keras import losses as losses_mod
from lstmkit.keras.layers.layer import to_snake_case


class Metric:
    """A stateful metric: `update_state(y_true, y_pred, sample_weight=None)`, `result()`, `reset_state()`."""

    direction = "up"  # "up" when higher is better (for monitor mode "auto")

    def __init__(self, name: str | None = None, dtype: Any = None) -> None:
        self.name = name or _snake(type(self).__name__)

    def reset_state(self) -> None:
        raise NotImplementedError

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None, mask: Any = None) -> None:
        raise NotImplementedError

    def result(self) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> torch.Tensor:
        """A fresh value for one batch (the running state is left as it was)."""
        saved = self.__dict__.copy()
        self.reset_state()
        self.update_state(y_true, y_pred, sample_weight)
        value = self.result()
        self.__dict__.update(saved)
        return value

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}


def _snake(name: str) -> str:
    return to_snake_case(name)


def _as_tensors(y_true: Any, y_pred: Any) -> tuple[torch.Tensor, torch.Tensor]:
    y_pred = y_pred if isinstance(y_pred, torch.Tensor) else torch.as_tensor(y_pred, dtype=torch.float32)
    y_true = y_true if isinstance(y_true, torch.Tensor) else torch.as_tensor(y_true)
    return y_true.to(y_pred.device), y_pred


class Mean(Metric):
    """Weighted mean of values: sum(v * w) / sum(w)."""

    def __init__(self, name: str = "mean", dtype: Any = None) -> None:
        super().__init__(name)
        self.reset_state()

    def reset_state(self) -> None:
        self.total: torch.Tensor | float = 0.0
        self.count: torch.Tensor | float = 0.0

    def update_values(self, values: torch.Tensor, weight: torch.Tensor | None = None) -> None:
        values = values.detach().float()
        if weight is None:
            self.total = self.total + values.sum()
            self.count = self.count + values.numel()
            return
        weight = weight.detach().to(values.device, values.dtype)
        while weight.dim() < values.dim():
            weight = weight.unsqueeze(-1)
        while weight.dim() > values.dim() and weight.shape[-1] == 1:
            weight = weight.squeeze(-1)
        weight = weight.expand_as(values)
        self.total = self.total + (values * weight).sum()
        self.count = self.count + weight.sum()

    def update_state(self, values: Any, sample_weight: Any = None, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        values = torch.as_tensor(values, dtype=torch.float32)
        self.update_values(values, None if sample_weight is None else torch.as_tensor(sample_weight))

    def result(self) -> torch.Tensor:
        total = torch.as_tensor(self.total, dtype=torch.float32)
        count = torch.as_tensor(self.count, dtype=torch.float32, device=total.device)
        return torch.where(count > 0, total / count.clamp_min(1e-30), torch.zeros_like(total))


class MeanMetricWrapper(Mean):
    """The mean over samples of `fn(y_true, y_pred)` (per-sample values), weighted and masked."""

    def __init__(self, fn: Callable[..., torch.Tensor], name: str | None = None, dtype: Any = None,
                 direction: str = "up", **kwargs: Any) -> None:
        super().__init__(name or getattr(fn, "__name__", "metric"))
        self.fn = fn
        self.fn_kwargs = kwargs
        self.direction = direction

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None, mask: Any = None) -> None:  # type: ignore[override]
        y_true, y_pred = _as_tensors(y_true, y_pred)
        if mask is None:
            mask = getattr(y_pred, "_keras_mask", None)
        with torch.no_grad():
            values = self.fn(y_true, y_pred.detach(), **self.fn_kwargs)
        weight = None
        if sample_weight is not None:
            weight = torch.as_tensor(sample_weight, device=values.device).float()
        if mask is not None:
            m = mask.to(values.device).float()
            if weight is not None:
                while weight.dim() < m.dim():
                    weight = weight.unsqueeze(-1)
            weight = m if weight is None else weight * m
        self.update_values(values, weight)


def binary_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    y_true, y_pred = losses_mod.same_rank(y_true, y_pred)
    y_true = y_true.to(y_pred.dtype)
    return (y_true == (y_pred > threshold).to(y_pred.dtype)).float()


def categorical_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    return (y_true.argmax(dim=-1) == y_pred.argmax(dim=-1)).float()


def sparse_categorical_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    if y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
    return (y_true.to(torch.int64) == y_pred.argmax(dim=-1)).float()


def top_k_categorical_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor, k: int = 5) -> torch.Tensor:
    return sparse_top_k_categorical_accuracy(y_true.argmax(dim=-1), y_pred, k)


def sparse_top_k_categorical_accuracy(y_true: torch.Tensor, y_pred: torch.Tensor, k: int = 5) -> torch.Tensor:
    if y_true.dim() == y_pred.dim() and y_true.shape[-1] == 1:
        y_true = y_true.squeeze(-1)
    top = y_pred.topk(min(k, y_pred.shape[-1]), dim=-1).indices
    return (top == y_true.to(torch.int64).unsqueeze(-1)).any(dim=-1).float()


def _wrapper(class_name: str, fn: Callable, default_name: str, direction: str = "up", **defaults: Any) -> type:
    def __init__(self: MeanMetricWrapper, name: str | None = None, dtype: Any = None, **kwargs: Any) -> None:
        MeanMetricWrapper.__init__(self, fn, name or default_name, direction=direction, **{**defaults, **kwargs})
    return type(class_name, (MeanMetricWrapper,), {"__init__": __init__, "__doc__": f"Keras' {class_name}."})


BinaryAccuracy = _wrapper("BinaryAccuracy", binary_accuracy, "binary_accuracy", threshold=0.5)
CategoricalAccuracy = _wrapper("CategoricalAccuracy", categorical_accuracy, "categorical_accuracy")
SparseCategoricalAccuracy = _wrapper("SparseCategoricalAccuracy", sparse_categorical_accuracy,
                                     "sparse_categorical_accuracy")
TopKCategoricalAccuracy = _wrapper("TopKCategoricalAccuracy", top_k_categorical_accuracy,
                                   "top_k_categorical_accuracy", k=5)
SparseTopKCategoricalAccuracy = _wrapper("SparseTopKCategoricalAccuracy", sparse_top_k_categorical_accuracy,
                                         "sparse_top_k_categorical_accuracy", k=5)
MeanSquaredError = _wrapper("MeanSquaredError", losses_mod.mean_squared_error, "mean_squared_error", "down")
MeanAbsoluteError = _wrapper("MeanAbsoluteError", losses_mod.mean_absolute_error, "mean_absolute_error", "down")
MeanAbsolutePercentageError = _wrapper("MeanAbsolutePercentageError", losses_mod.mean_absolute_percentage_error,
                                       "mean_absolute_percentage_error", "down")
BinaryCrossentropy = _wrapper("BinaryCrossentropy", losses_mod.binary_crossentropy, "binary_crossentropy", "down")
CategoricalCrossentropy = _wrapper("CategoricalCrossentropy", losses_mod.categorical_crossentropy,
                                   "categorical_crossentropy", "down")
SparseCategoricalCrossentropy = _wrapper("SparseCategoricalCrossentropy", losses_mod.sparse_categorical_crossentropy,
                                         "sparse_categorical_crossentropy", "down")


class RootMeanSquaredError(MeanSquaredError):  # type: ignore[misc, valid-type]
    def __init__(self, name: str = "root_mean_squared_error", dtype: Any = None) -> None:
        super().__init__(name=name)

    def result(self) -> torch.Tensor:
        return super().result().sqrt()


class _Confusion(Metric):
    """Precision and recall of binary predictions at `thresholds` (0.5)."""

    def __init__(self, thresholds: float | None = None, name: str | None = None, dtype: Any = None) -> None:
        super().__init__(name)
        self.threshold = 0.5 if thresholds is None else float(thresholds)
        self.reset_state()

    def reset_state(self) -> None:
        self.tp: torch.Tensor | float = 0.0
        self.fp: torch.Tensor | float = 0.0
        self.fn: torch.Tensor | float = 0.0

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None, mask: Any = None) -> None:
        y_true, y_pred = _as_tensors(y_true, y_pred)
        y_true, y_pred = losses_mod.same_rank(y_true, y_pred.detach())
        pred = y_pred > self.threshold
        true = y_true.bool() if y_true.dtype == torch.bool else y_true > 0.5
        w = torch.ones_like(y_pred) if sample_weight is None else torch.as_tensor(
            sample_weight, device=y_pred.device).float().reshape(-1, *([1] * (y_pred.dim() - 1))).expand_as(y_pred)
        self.tp = self.tp + (w * (pred & true)).sum()
        self.fp = self.fp + (w * (pred & ~true)).sum()
        self.fn = self.fn + (w * (~pred & true)).sum()


class Precision(_Confusion):
    def result(self) -> torch.Tensor:
        tp, fp = torch.as_tensor(self.tp, dtype=torch.float32), torch.as_tensor(self.fp, dtype=torch.float32)
        return torch.where(tp + fp > 0, tp / (tp + fp).clamp_min(1e-30), torch.zeros_like(tp))


class Recall(_Confusion):
    def result(self) -> torch.Tensor:
        tp, fn = torch.as_tensor(self.tp, dtype=torch.float32), torch.as_tensor(self.fn, dtype=torch.float32)
        return torch.where(tp + fn > 0, tp / (tp + fn).clamp_min(1e-30), torch.zeros_like(tp))


_BY_NAME: dict[str, type] = {
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError, "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "rmse": RootMeanSquaredError, "root_mean_squared_error": RootMeanSquaredError,
    "binary_crossentropy": BinaryCrossentropy, "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "precision": Precision, "recall": Recall,
}
_CLASSES = {cls.__name__: cls for cls in set(_BY_NAME.values())}


def resolve_accuracy(y_true_shape: tuple, y_pred_shape: tuple) -> str:
    """Keras' choice for "accuracy": binary, sparse categorical or categorical."""
    is_binary = y_pred_shape[-1] == 1
    is_sparse = len(y_true_shape) < len(y_pred_shape) or (y_true_shape[-1] == 1 and y_pred_shape[-1] > 1)
    if is_binary:
        return "binary_accuracy"
    return "sparse_categorical_accuracy" if is_sparse else "categorical_accuracy"


def get(identifier: Any, y_true_shape: tuple | None = None, y_pred_shape: tuple | None = None) -> Metric:
    """A Metric from a name (with Keras' resolution of "acc"/"accuracy"), a Metric, or a function."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier.lower() in ("acc", "accuracy"):
            if y_true_shape is None or y_pred_shape is None:
                raise ValueError("resolving 'accuracy' needs the shapes of the labels and of the output")
            metric = _BY_NAME[resolve_accuracy(y_true_shape, y_pred_shape)]()
        else:
            cls = _BY_NAME.get(identifier) or _CLASSES.get(identifier)
            if cls is None:
                raise ValueError(f"unknown metric {identifier!r}: expected 'accuracy' or one of {sorted(_BY_NAME)}")
            metric = cls()
        metric.name = identifier
        return metric
    if isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]](**identifier.get("config", {}))
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise ValueError(f"a metric must be a name, a Metric or a function, got {identifier!r}")


def serialize(metric: Any) -> Any:
    """A metric as compile() got it: a name stays a name; a named Metric becomes a config."""
    if isinstance(metric, str):
        return metric
    if isinstance(metric, Metric) and type(metric).__name__ in _CLASSES:
        return {"class_name": type(metric).__name__, "config": metric.get_config()}
    raise ValueError(f"cannot save the metric {metric!r} to a config: only Keras' named metrics can be written")
