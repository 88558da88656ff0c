"""Keras' losses, computed as Keras 3 computes them.

Probabilities are clipped to [1e-7, 1 - 1e-7] before the log (Keras' epsilon); categorical outputs are
renormalised to sum to 1 first. A loss gives one value per sample (the mean over the last axis for
element-wise losses), then "sum_over_batch_size": sum(value * sample_weight) / number of values; with a
mask (from the model's output) the divisor is the number of unmasked values.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

EPSILON = 1e-7  # Keras' backend.epsilon()


def same_rank(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Keras' squeeze_or_expand_to_same_rank: (B,) labels against (B, 1) outputs become (B, 1)."""
    ra, rb = a.dim(), b.dim()
    if ra == rb + 1 and a.shape[-1] == 1:
        if rb == 1:
            b = b.unsqueeze(-1)
        else:
            a = a.squeeze(-1)
    elif rb == ra + 1 and b.shape[-1] == 1:
        if ra == 1:
            a = a.unsqueeze(-1)
        else:
            b = b.squeeze(-1)
    return a, b


def binary_crossentropy(y_true: torch.Tensor, y_pred: torch.Tensor, from_logits: bool = False,
                        label_smoothing: float = 0.0, axis: int = -1) -> torch.Tensor:
    y_true = y_true.to(y_pred.dtype)
    y_true, y_pred = same_rank(y_true, y_pred)
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        values = F.binary_cross_entropy_with_logits(y_pred, y_true, reduction="none")
    else:
        # torch's binary_cross_entropy computes the same but raises on NaN; a NaN must reach TerminateOnNaN
        p = y_pred.clamp(EPSILON, 1.0 - EPSILON)
        values = -(y_true * torch.log(p) + (1.0 - y_true) * torch.log1p(-p))
    return values.mean(dim=axis)


def categorical_crossentropy(y_true: torch.Tensor, y_pred: torch.Tensor, from_logits: bool = False,
                             label_smoothing: float = 0.0, axis: int = -1) -> torch.Tensor:
    y_true = y_true.to(y_pred.dtype)
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(f"categorical_crossentropy needs one-hot labels of the output's shape {tuple(y_pred.shape)}, "
                         f"got labels of shape {tuple(y_true.shape)}")
    if label_smoothing:
        y_true = y_true * (1.0 - label_smoothing) + label_smoothing / y_pred.shape[axis]
    if from_logits:
        log_p = torch.log_softmax(y_pred, dim=axis)
    else:
        p = y_pred / y_pred.sum(dim=axis, keepdim=True)
        log_p = torch.log(p.clamp(EPSILON, 1.0 - EPSILON))
    return -(y_true * log_p).sum(dim=axis)


def sparse_categorical_crossentropy(y_true: torch.Tensor, y_pred: torch.Tensor, from_logits: bool = False,
                                    ignore_class: int | None = None, axis: int = -1) -> torch.Tensor:
    target = y_true.long()
    if target.dim() == y_pred.dim() and target.shape[-1] == 1:
        target = target.squeeze(-1)
    if tuple(target.shape) != tuple(y_pred.shape[:-1]):
        raise ValueError(f"sparse_categorical_crossentropy needs integer labels of shape {tuple(y_pred.shape[:-1])} "
                         f"for outputs of shape {tuple(y_pred.shape)}, got labels of shape {tuple(y_true.shape)}")
    valid = None
    if ignore_class is not None:
        valid = target != ignore_class
        target = torch.where(valid, target, torch.zeros_like(target))
    if from_logits:
        log_p = torch.log_softmax(y_pred, dim=-1)
    else:
        p = y_pred / y_pred.sum(dim=-1, keepdim=True)
        log_p = torch.log(p.clamp(EPSILON, 1.0 - EPSILON))
    values = -log_p.gather(-1, target.unsqueeze(-1)).squeeze(-1)
    if valid is not None:
        values = values * valid.to(values.dtype)
    return values


def _elementwise(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Callable:
    def loss(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        y_true = y_true.to(y_pred.dtype)
        y_true, y_pred = same_rank(y_true, y_pred)
        return fn(y_true, y_pred).mean(dim=-1)
    loss.__name__ = fn.__name__
    return loss


def _mse(t: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    return (p - t).square()


def _mae(t: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    return (p - t).abs()


def _mape(t: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    return 100.0 * ((t - p) / t.abs().clamp_min(EPSILON)).abs()


def _msle(t: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    return (torch.log1p(p.clamp_min(EPSILON)) - torch.log1p(t.clamp_min(EPSILON))).square()


def _log_cosh(t: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    x = p - t
    return x + F.softplus(-2.0 * x) - np.log(2.0)


mean_squared_error = _elementwise(_mse)
mean_absolute_error = _elementwise(_mae)
mean_absolute_percentage_error = _elementwise(_mape)
mean_squared_logarithmic_error = _elementwise(_msle)
log_cosh = _elementwise(_log_cosh)


def huber(y_true: torch.Tensor, y_pred: torch.Tensor, delta: float = 1.0) -> torch.Tensor:
    y_true = y_true.to(y_pred.dtype)
    y_true, y_pred = same_rank(y_true, y_pred)
    error = y_pred - y_true
    abs_error = error.abs()
    values = torch.where(abs_error <= delta, 0.5 * error.square(), delta * abs_error - 0.5 * delta * delta)
    return values.mean(dim=-1)


def kl_divergence(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    y_true = y_true.to(y_pred.dtype).clamp(EPSILON, 1.0)
    y_true, y_pred = same_rank(y_true, y_pred)
    return (y_true * torch.log(y_true / y_pred.clamp(EPSILON, 1.0))).sum(dim=-1)


def poisson(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    y_true = y_true.to(y_pred.dtype)
    y_true, y_pred = same_rank(y_true, y_pred)
    return (y_pred - y_true * torch.log(y_pred + EPSILON)).mean(dim=-1)


def hinge(y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
    y_true = y_true.to(y_pred.dtype)
    y_true, y_pred = same_rank(y_true, y_pred)
    y_true = torch.where(y_true == 0, -torch.ones_like(y_true), y_true)  # {0, 1} labels to {-1, 1}
    return (1.0 - y_true * y_pred).clamp_min(0.0).mean(dim=-1)


# ----- Loss objects ---------------------------------------------------------------------------------
def reduce_weighted(values: torch.Tensor, sample_weight: torch.Tensor | None = None,
                    mask: torch.Tensor | None = None, reduction: str = "sum_over_batch_size") -> torch.Tensor:
    """Keras' reduce_weighted_values: weights (and the mask, rescaled by total / valid) multiply the
    per-sample values; "sum_over_batch_size" divides the sum by the number of values."""
    weight = None
    if mask is not None:
        mask = mask.to(values.device)
        if reduction in ("sum_over_batch_size", "mean"):
            total = float(mask.numel())
            valid = mask.to(values.dtype).sum()
            scale = torch.where(valid > 0, total / valid.clamp_min(1.0), torch.zeros_like(valid))
            weight = torch.where(mask.bool(), scale, torch.zeros_like(scale))
        else:
            weight = mask.to(values.dtype)
    if sample_weight is not None:
        sw = sample_weight.to(values.device, values.dtype)
        while sw.dim() < values.dim():
            sw = sw.unsqueeze(-1)
        while sw.dim() > values.dim() and sw.shape[-1] == 1:
            sw = sw.squeeze(-1)
        weight = sw if weight is None else weight * sw
    if weight is not None:
        values = values * weight
    if reduction in ("none", None):
        return values
    if reduction == "sum":
        return values.sum()
    if reduction in ("sum_over_batch_size", "mean"):
        return values.sum() / max(values.numel(), 1)
    raise ValueError(f"reduction must be sum_over_batch_size, sum or none, got {reduction!r}")


class Loss:
    """A callable loss: `loss(y_true, y_pred, sample_weight=None)` -> scalar tensor."""

    fn: Callable[..., torch.Tensor] = staticmethod(mean_squared_error)  # type: ignore[assignment]
    default_name = "loss"

    def __init__(self, reduction: str = "sum_over_batch_size", name: str | None = None, **kwargs: Any) -> None:
        self.reduction = reduction
        self.name = name or self.default_name
        self.kwargs = kwargs

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        return type(self).fn(y_true, y_pred, **self.kwargs)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None, mask: Any = None) -> torch.Tensor:
        y_pred = torch.as_tensor(y_pred, dtype=torch.float32) if not isinstance(y_pred, torch.Tensor) else y_pred
        y_true = torch.as_tensor(np.asarray(y_true) if not isinstance(y_true, torch.Tensor) else y_true,
                                 device=y_pred.device)
        if mask is None:
            mask = getattr(y_pred, "_keras_mask", None)
        sw = None if sample_weight is None else torch.as_tensor(sample_weight, device=y_pred.device)
        return reduce_weighted(self.call(y_true, y_pred), sw, mask, self.reduction)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "reduction": self.reduction, **self.kwargs}


def _loss_class(class_name: str, fn: Callable, default_name: str, **defaults: Any) -> type[Loss]:
    def __init__(self: Loss, reduction: str = "sum_over_batch_size", name: str | None = None, **kwargs: Any) -> None:
        unknown = set(kwargs) - set(defaults)
        if unknown:
            raise TypeError(f"{class_name}: unexpected arguments {sorted(unknown)}")
        Loss.__init__(self, reduction, name or default_name, **{**defaults, **kwargs})
    return type(class_name, (Loss,), {"fn": staticmethod(fn), "default_name": default_name, "__init__": __init__,
                                      "__doc__": f"Keras' {class_name} (see `{fn.__name__}`)."})


BinaryCrossentropy = _loss_class("BinaryCrossentropy", binary_crossentropy, "binary_crossentropy",
                                 from_logits=False, label_smoothing=0.0)
CategoricalCrossentropy = _loss_class("CategoricalCrossentropy", categorical_crossentropy,
                                      "categorical_crossentropy", from_logits=False, label_smoothing=0.0)
SparseCategoricalCrossentropy = _loss_class("SparseCategoricalCrossentropy", sparse_categorical_crossentropy,
                                            "sparse_categorical_crossentropy", from_logits=False, ignore_class=None)
MeanSquaredError = _loss_class("MeanSquaredError", mean_squared_error, "mean_squared_error")
MeanAbsoluteError = _loss_class("MeanAbsoluteError", mean_absolute_error, "mean_absolute_error")
MeanAbsolutePercentageError = _loss_class("MeanAbsolutePercentageError", mean_absolute_percentage_error,
                                          "mean_absolute_percentage_error")
MeanSquaredLogarithmicError = _loss_class("MeanSquaredLogarithmicError", mean_squared_logarithmic_error,
                                          "mean_squared_logarithmic_error")
Huber = _loss_class("Huber", huber, "huber_loss", delta=1.0)
LogCosh = _loss_class("LogCosh", log_cosh, "log_cosh")
KLDivergence = _loss_class("KLDivergence", kl_divergence, "kl_divergence")
Poisson = _loss_class("Poisson", poisson, "poisson")
Hinge = _loss_class("Hinge", hinge, "hinge")

_BY_NAME: dict[str, type[Loss]] = {
    "binary_crossentropy": BinaryCrossentropy, "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy, "cce": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError, "mape": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError, "msle": MeanSquaredLogarithmicError,
    "huber": Huber, "huber_loss": Huber, "log_cosh": LogCosh, "logcosh": LogCosh,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "poisson": Poisson, "hinge": Hinge,
}
_CLASSES = {cls.__name__: cls for cls in set(_BY_NAME.values())}


class LossFunctionWrapper(Loss):
    """A plain function `f(y_true, y_pred) -> per-sample values` used as a loss."""

    def __init__(self, fn: Callable, name: str | None = None, reduction: str = "sum_over_batch_size") -> None:
        super().__init__(reduction, name or getattr(fn, "__name__", "loss"))
        self._fn = fn

    def call(self, y_true: torch.Tensor, y_pred: torch.Tensor) -> torch.Tensor:
        return self._fn(y_true, y_pred)


def get(identifier: str | Loss | Callable | dict) -> Loss:
    """A Loss object from a Keras name ("binary_crossentropy", "mse", ...), a Loss, a config or a function."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier) or _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"unknown loss {identifier!r}: expected one of {sorted(_BY_NAME)}")
        return cls(name=identifier) if identifier in _BY_NAME else cls()
    if isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]](**identifier.get("config", {}))
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise ValueError(f"a loss must be a name, a Loss or a function, got {identifier!r}")


def serialize(loss: Loss) -> dict[str, Any]:
    if type(loss).__name__ not in _CLASSES:
        raise ValueError(f"cannot save the loss {loss.name!r}: only Keras' named losses can be written to a config")
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def check_targets(loss: Loss, y: torch.Tensor, output_shape: tuple) -> None:
    """A clear error, before training, when labels cannot go with this loss and this output."""
    kind = type(loss).__name__
    out = tuple(output_shape)
    y_shape = tuple(y.shape)
    classes = out[-1] if out else None
    if kind == "SparseCategoricalCrossentropy":
        if y.is_floating_point() and bool((y != y.round()).any()):
            raise ValueError(f"sparse_categorical_crossentropy needs integer class ids as labels, got non-integer "
                             f"values (labels of shape {y_shape}); one-hot labels go with categorical_crossentropy")
        expected = out[1:-1]
        if y_shape[1:] not in (expected, (*expected, 1)):
            hint = " (they look one-hot: use categorical_crossentropy)" if y_shape[1:] == out[1:] else ""
            raise ValueError(f"sparse_categorical_crossentropy: the model outputs {_fmt(out)} so labels must have "
                             f"shape {_fmt((None, *expected))}, got {_fmt(y_shape)}{hint}")
        if classes is not None and y.numel() and (int(y.min()) < 0 or int(y.max()) >= classes):
            raise ValueError(f"sparse_categorical_crossentropy: labels must be class ids in [0, {classes}) for a model "
                             f"with {classes} outputs, got labels from {int(y.min())} to {int(y.max())}")
    elif kind == "CategoricalCrossentropy":
        if y_shape[1:] != out[1:]:
            hint = (" (they look like integer class ids: use sparse_categorical_crossentropy, or one-hot encode "
                    "them with to_categorical)") if y_shape[1:] in (out[1:-1], (*out[1:-1], 1)) else ""
            raise ValueError(f"categorical_crossentropy: the model outputs {_fmt(out)} so labels must be one-hot of "
                             f"shape {_fmt((None, *out[1:]))}, got {_fmt(y_shape)}{hint}")
    elif kind == "BinaryCrossentropy":
        if not _same_after_rank_fix(y_shape[1:], out[1:]):
            raise ValueError(f"binary_crossentropy: the model outputs {_fmt(out)} so labels must have shape "
                             f"{_fmt((None, *out[1:]))} (or without the last 1), got {_fmt(y_shape)}")
        if not loss.kwargs.get("from_logits") and y.numel() and (float(y.min()) < 0 or float(y.max()) > 1):
            raise ValueError(f"binary_crossentropy needs labels in [0, 1], got values from {float(y.min())} to "
                             f"{float(y.max())}; for several classes use a softmax output with "
                             "sparse_categorical_crossentropy")
    elif type(loss) in set(_BY_NAME.values()) and not _same_after_rank_fix(y_shape[1:], out[1:]):
        raise ValueError(f"{loss.name}: the model outputs {_fmt(out)} so targets must have shape "
                         f"{_fmt((None, *out[1:]))}, got {_fmt(y_shape)}")


def _same_after_rank_fix(y: tuple, out: tuple) -> bool:
    if y == out:
        return True
    return (y == out[:-1] and out[-1:] == (1,)) or (out == y[:-1] and y[-1:] == (1,))


def _fmt(shape: tuple) -> str:
    return "(" + ", ".join("None" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
