"""LayerNormalization and BatchNormalization with Keras' defaults (epsilon 1e-3, momentum 0.99)."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lstmkit.keras import constraints as constraints_mod
from lstmkit.keras import initializers as initializers_mod
from lstmkit.keras import regularizers as regularizers_mod
from lstmkit.keras.keras_tensor import Shape
from lstmkit.keras.layers.layer import Layer, fmt_shape

EPSILON = 1e-7  # Keras' backend.epsilon(), used in masked moments


def _axes(axis: int | list[int] | tuple[int, ...], rank: int, layer: Layer) -> list[int]:
    axes = [axis] if isinstance(axis, int) else list(axis)
    out = []
    for a in axes:
        if not -rank <= a < rank:
            raise layer._error(f"axis {a} is out of range for inputs of rank {rank}")
        out.append(a % rank)
    return sorted(out)


class _Normalization(Layer):
    def __init__(self, axis: Any, epsilon: float, center: bool, scale: bool, beta_initializer: Any,
                 gamma_initializer: Any, beta_regularizer: Any, gamma_regularizer: Any, beta_constraint: Any,
                 gamma_constraint: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else int(axis)
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers_mod.get(beta_initializer)
        self.gamma_initializer = initializers_mod.get(gamma_initializer)
        self.beta_regularizer = regularizers_mod.get(beta_regularizer)
        self.gamma_regularizer = regularizers_mod.get(gamma_regularizer)
        self.beta_constraint = constraints_mod.get(beta_constraint)
        self.gamma_constraint = constraints_mod.get(gamma_constraint)
        self.supports_masking = True

    def _check_input_shape(self, input_shape: Any) -> None:
        if not isinstance(input_shape, tuple):
            raise self._error(f"expects one input tensor, got shapes {fmt_shape(input_shape)}")
        for a in _axes(self.axis, len(input_shape), self):
            if a == 0 or input_shape[a] is None:
                raise self._error(f"the normalized axis {a} must be a known non-batch dimension, got input shape "
                                  f"{fmt_shape(input_shape)}")

    def _param_shape(self, input_shape: Shape) -> tuple[int, ...]:
        return tuple(input_shape[a] for a in _axes(self.axis, len(input_shape), self))

    def _add_gamma_beta(self, shape: tuple[int, ...]) -> None:
        self.gamma = self.beta = None
        if self.scale:
            self.gamma = self.add_weight(shape, self.gamma_initializer, regularizer=self.gamma_regularizer,
                                         constraint=self.gamma_constraint, name="gamma")
        if self.center:
            self.beta = self.add_weight(shape, self.beta_initializer, regularizer=self.beta_regularizer,
                                        constraint=self.beta_constraint, name="beta")

    def _broadcast(self, t: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor | None:
        """A parameter of the normalized axes' shape, reshaped to broadcast against x."""
        if t is None:
            return None
        axes = _axes(self.axis, x.dim(), self)
        shape = [x.shape[i] if i in axes else 1 for i in range(x.dim())]
        return t.reshape(shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale,
                "beta_initializer": initializers_mod.serialize(self.beta_initializer),
                "gamma_initializer": initializers_mod.serialize(self.gamma_initializer),
                "beta_regularizer": regularizers_mod.serialize(self.beta_regularizer),
                "gamma_regularizer": regularizers_mod.serialize(self.gamma_regularizer),
                "beta_constraint": constraints_mod.serialize(self.beta_constraint),
                "gamma_constraint": constraints_mod.serialize(self.gamma_constraint)}


class LayerNormalization(_Normalization):
    """(x - mean) / sqrt(var + epsilon) * gamma + beta, moments over `axis` (the features by default)."""

    def __init__(self, axis: Any = -1, epsilon: float = 1e-3, center: bool = True, scale: bool = True,
                 rms_scaling: bool = False, beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 beta_regularizer: Any = None, gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, **kwargs: Any) -> None:
        if rms_scaling:
            raise ValueError("LayerNormalization(rms_scaling=True) is not supported (deprecated in Keras)")
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, beta_constraint, gamma_constraint, **kwargs)

    def build(self, input_shape: Shape) -> None:
        self._add_gamma_beta(self._param_shape(input_shape))

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        axes = _axes(self.axis, inputs.dim(), self)
        if axes == list(range(inputs.dim() - len(axes), inputs.dim())):  # trailing axes: torch's kernel
            return F.layer_norm(inputs, inputs.shape[axes[0]:], self.gamma, self.beta, self.epsilon)
        mean = inputs.mean(dim=axes, keepdim=True)
        var = (inputs - mean).square().mean(dim=axes, keepdim=True)
        y = (inputs - mean) * torch.rsqrt(var + self.epsilon)
        if self.gamma is not None:
            y = y * self._broadcast(self.gamma, inputs)
        if self.beta is not None:
            y = y + self._broadcast(self.beta, inputs)
        return y


class BatchNormalization(_Normalization):
    """Training: normalize with the batch's moments (over every axis but `axis`; unmasked steps only
    when a mask is given) and update moving = moving * momentum + batch * (1 - momentum).
    Inference (or trainable=False): normalize with the moving statistics."""

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer: Any = "zeros", gamma_initializer: Any = "ones",
                 moving_mean_initializer: Any = "zeros", moving_variance_initializer: Any = "ones",
                 beta_regularizer: Any = None, gamma_regularizer: Any = None, beta_constraint: Any = None,
                 gamma_constraint: Any = None, synchronized: bool = False, renorm: bool = False,
                 **kwargs: Any) -> None:
        if renorm or synchronized:
            raise ValueError("BatchNormalization(renorm=True / synchronized=True) is not supported")
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, beta_constraint, gamma_constraint, **kwargs)
        self.momentum = float(momentum)
        self.moving_mean_initializer = initializers_mod.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers_mod.get(moving_variance_initializer)

    def build(self, input_shape: Shape) -> None:
        shape = self._param_shape(input_shape)
        self._add_gamma_beta(shape)
        self.moving_mean = self.add_weight(shape, self.moving_mean_initializer, trainable=False, name="moving_mean")
        self.moving_variance = self.add_weight(shape, self.moving_variance_initializer, trainable=False,
                                               name="moving_variance")

    def _moments(self, x: torch.Tensor, mask: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        keep = _axes(self.axis, x.dim(), self)
        reduce = [i for i in range(x.dim()) if i not in keep]
        if mask is None:
            mean = x.mean(dim=reduce, keepdim=True)
            return mean, (x - mean).square().mean(dim=reduce, keepdim=True)
        m = mask.bool().unsqueeze(-1).expand_as(x)
        weights = m.to(x.dtype).sum(dim=reduce, keepdim=True)
        mean = torch.where(m, x, 0.0).sum(dim=reduce, keepdim=True) / (weights + EPSILON)
        var = torch.where(m, x - mean, 0.0).square().sum(dim=reduce, keepdim=True) / (weights + EPSILON)
        return mean, var

    def call(self, inputs: torch.Tensor, training: bool = False, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is not None and mask.dim() != inputs.dim() - 1:
            raise self._error(f"the mask must have one dimension less than the inputs: mask shape "
                              f"{fmt_shape(tuple(mask.shape))}, inputs shape {fmt_shape(tuple(inputs.shape))}")
        if training and self.trainable:
            mean, var = self._moments(inputs, mask)
            with torch.no_grad():
                self.moving_mean.mul_(self.momentum).add_(mean.reshape(self.moving_mean.shape), alpha=1 - self.momentum)
                self.moving_variance.mul_(self.momentum).add_(var.reshape(self.moving_variance.shape),
                                                              alpha=1 - self.momentum)
        else:
            mean = self._broadcast(self.moving_mean, inputs)
            var = self._broadcast(self.moving_variance, inputs)
        y = (inputs - mean) * torch.rsqrt(var + self.epsilon)
        if self.gamma is not None:
            y = y * self._broadcast(self.gamma, inputs)
        if self.beta is not None:
            y = y + self._broadcast(self.beta, inputs)
        return y

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum,
                "moving_mean_initializer": initializers_mod.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers_mod.serialize(self.moving_variance_initializer)}
