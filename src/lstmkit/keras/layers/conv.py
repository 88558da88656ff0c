"""1-D convolution and pooling over (batch, steps, channels) inputs, as Keras defines them.

Conv1D keeps Keras' kernel layout (kernel_size, in_channels / groups, filters); torch's conv1d wants
(filters, in / groups, kernel_size), a permuted view. "same" padding splits the total padding
(k - 1) * dilation + 1 - stride-dependent rest with the extra step at the end, as TensorFlow and Keras;
"causal" pads only at the start.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from lstmkit.keras import activations as activations_mod
from lstmkit.keras import constraints as constraints_mod
from lstmkit.keras import initializers as initializers_mod
from lstmkit.keras import regularizers as regularizers_mod
from lstmkit.keras.keras_tensor import Shape
from lstmkit.keras.layers.layer import Layer, fmt_shape


def _one(v: Any, name: str) -> int:
    if isinstance(v, (list, tuple)):
        if len(v) != 1:
            raise ValueError(f"{name} must be an integer or a 1-tuple, got {v!r}")
        v = v[0]
    if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
        raise ValueError(f"{name} must be a positive integer, got {v!r}")
    return v


def same_padding(length: int, size: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(left, right) padding for Keras' "same": output length ceil(length / stride)."""
    effective = (size - 1) * dilation + 1
    out = -(-length // stride)
    total = max(0, (out - 1) * stride + effective - length)
    return total // 2, total - total // 2


def conv_length(length: int | None, size: int, stride: int, padding: str, dilation: int = 1) -> int | None:
    if length is None:
        return None
    if padding in ("same", "causal"):
        return -(-length // stride)
    effective = (size - 1) * dilation + 1
    return max(0, (length - effective) // stride + 1)


def _check_rank3(layer: Layer, input_shape: Any) -> None:
    if not isinstance(input_shape, tuple) or len(input_shape) != 3:
        raise layer._error(f"expects inputs of shape (batch, steps, channels), got {fmt_shape(input_shape)}")


def _check_format(data_format: str | None) -> str:
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"data_format must be channels_last or channels_first, got {data_format!r}")
    return data_format


class Conv1D(Layer):
    """`activation(conv1d(x, kernel) + bias)`; kernel (kernel_size, in_channels / groups, filters)."""

    def __init__(self, filters: int, kernel_size: int | tuple, strides: int | tuple = 1, padding: str = "valid",
                 data_format: str | None = None, dilation_rate: int | tuple = 1, groups: int = 1,
                 activation: Any = None, use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None, bias_constraint: Any = None,
                 **kwargs: Any) -> None:
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.filters = _one(filters, "Conv1D: filters")
        self.kernel_size = _one(kernel_size, "Conv1D: kernel_size")
        self.strides = _one(strides, "Conv1D: strides")
        self.dilation_rate = _one(dilation_rate, "Conv1D: dilation_rate")
        self.groups = _one(groups, "Conv1D: groups")
        padding = padding.lower()
        if padding not in ("valid", "same", "causal"):
            raise ValueError(f"Conv1D: padding must be valid, same or causal, got {padding!r}")
        if padding == "same" and self.strides > 1 and self.dilation_rate > 1:
            raise ValueError("Conv1D: padding='same' with both strides > 1 and dilation_rate > 1 is not supported")
        if self.filters % self.groups:
            raise ValueError(f"Conv1D: filters ({self.filters}) must be divisible by groups ({self.groups})")
        self.padding = padding
        self.data_format = _check_format(data_format)
        self.activation = activations_mod.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers_mod.get(kernel_initializer)
        self.bias_initializer = initializers_mod.get(bias_initializer)
        self.kernel_regularizer = regularizers_mod.get(kernel_regularizer)
        self.bias_regularizer = regularizers_mod.get(bias_regularizer)
        self.kernel_constraint = constraints_mod.get(kernel_constraint)
        self.bias_constraint = constraints_mod.get(bias_constraint)

    def _channel_axis(self) -> int:
        return -1 if self.data_format == "channels_last" else 1

    def _check_input_shape(self, input_shape: Any) -> None:
        _check_rank3(self, input_shape)
        channels = input_shape[self._channel_axis()]
        if channels is None:
            raise self._error(f"the channel dimension must be known, got input shape {fmt_shape(input_shape)}")
        if channels % self.groups:
            raise self._error(f"{channels} input channels are not divisible by groups={self.groups}")
        steps = input_shape[1 if self.data_format == "channels_last" else 2]
        if conv_length(steps, self.kernel_size, self.strides, self.padding, self.dilation_rate) == 0:
            raise self._error(f"an input of {steps} steps is shorter than the kernel ({self.kernel_size}, "
                              f"dilation {self.dilation_rate}); input shape {fmt_shape(input_shape)}")

    def build(self, input_shape: Shape) -> None:
        channels = input_shape[self._channel_axis()]
        self.kernel = self.add_weight((self.kernel_size, channels // self.groups, self.filters),
                                      self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, name="kernel")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight((self.filters,), self.bias_initializer, regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint, name="bias")

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        # contiguous copies: mkldnn's conv1d forward + backward ran 20% faster on them (62 ms against 78 ms,
        # B=128, L=500, 32 -> 32 channels, k=7, one thread) than on the transposed views
        x = inputs.transpose(1, 2).contiguous() if self.data_format == "channels_last" else inputs  # (B, C, L)
        if x.shape[1] != self.kernel.shape[1] * self.groups:
            raise self._error(f"was built for {self.kernel.shape[1] * self.groups} channels, got an input of shape "
                              f"{fmt_shape(tuple(inputs.shape))}")
        if self.padding == "same":
            x = F.pad(x, same_padding(x.shape[2], self.kernel_size, self.strides, self.dilation_rate))
        elif self.padding == "causal":
            x = F.pad(x, ((self.kernel_size - 1) * self.dilation_rate, 0))
        weight = self.kernel.permute(2, 1, 0).contiguous()  # (filters, C / groups, k)
        y = F.conv1d(x, weight, self.bias, stride=self.strides, dilation=self.dilation_rate, groups=self.groups)
        if self.data_format == "channels_last":
            y = y.transpose(1, 2)  # (B, L', filters)
        return self.activation(y)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if self.data_format == "channels_last":
            b, steps, _ = input_shape
            return (b, conv_length(steps, self.kernel_size, self.strides, self.padding, self.dilation_rate),
                    self.filters)
        b, _, steps = input_shape
        return (b, self.filters, conv_length(steps, self.kernel_size, self.strides, self.padding, self.dilation_rate))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": self.dilation_rate, "groups": self.groups,
                "activation": activations_mod.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers_mod.serialize(self.kernel_initializer),
                "bias_initializer": initializers_mod.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers_mod.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers_mod.serialize(self.bias_regularizer),
                "kernel_constraint": constraints_mod.serialize(self.kernel_constraint),
                "bias_constraint": constraints_mod.serialize(self.bias_constraint)}


class _Pooling1D(Layer):
    def __init__(self, pool_size: int | tuple = 2, strides: int | tuple | None = None, padding: str = "valid",
                 data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pool_size = _one(pool_size, f"{type(self).__name__}: pool_size")
        self.strides = self.pool_size if strides is None else _one(strides, f"{type(self).__name__}: strides")
        padding = padding.lower()
        if padding not in ("valid", "same"):
            raise ValueError(f"{type(self).__name__}: padding must be valid or same, got {padding!r}")
        self.padding = padding
        self.data_format = _check_format(data_format)

    def _check_input_shape(self, input_shape: Any) -> None:
        _check_rank3(self, input_shape)
        steps = input_shape[1 if self.data_format == "channels_last" else 2]
        if conv_length(steps, self.pool_size, self.strides, self.padding) == 0:
            raise self._error(f"an input of {steps} steps is shorter than pool_size={self.pool_size}")

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        x = inputs.transpose(1, 2).contiguous() if self.data_format == "channels_last" else inputs  # (B, C, L)
        y = self._pool(x)
        return y.transpose(1, 2) if self.data_format == "channels_last" else y

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if self.data_format == "channels_last":
            b, steps, c = input_shape
            return (b, conv_length(steps, self.pool_size, self.strides, self.padding), c)
        b, c, steps = input_shape
        return (b, c, conv_length(steps, self.pool_size, self.strides, self.padding))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding, "data_format": self.data_format}


class MaxPooling1D(_Pooling1D):
    """Maximum over windows of `pool_size` steps (stride defaults to the pool size)."""

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        if self.padding == "same":
            x = F.pad(x, same_padding(x.shape[2], self.pool_size, self.strides), value=float("-inf"))
        return F.max_pool1d(x, self.pool_size, self.strides)


class AveragePooling1D(_Pooling1D):
    """Mean over windows of `pool_size` steps; with "same" padding the padded steps are not counted."""

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        if self.padding == "valid":
            return F.avg_pool1d(x, self.pool_size, self.strides)
        pad = same_padding(x.shape[2], self.pool_size, self.strides)
        total = F.avg_pool1d(F.pad(x, pad), self.pool_size, self.strides) * self.pool_size
        ones = F.pad(torch.ones_like(x[:1, :1]), pad)
        count = F.avg_pool1d(ones, self.pool_size, self.strides) * self.pool_size
        return total / count


class _GlobalPooling1D(Layer):
    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = _check_format(data_format)
        self.keepdims = bool(keepdims)

    def _steps_axis(self) -> int:
        return 1 if self.data_format == "channels_last" else 2

    def _check_input_shape(self, input_shape: Any) -> None:
        _check_rank3(self, input_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        axis = self._steps_axis()
        if self.keepdims:
            return tuple(1 if i == axis else s for i, s in enumerate(input_shape))
        return tuple(s for i, s in enumerate(input_shape) if i != axis)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalMaxPooling1D(_GlobalPooling1D):
    """Maximum over the steps (Keras ignores a mask here, and so does this layer)."""

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.amax(dim=self._steps_axis(), keepdim=self.keepdims)


class GlobalAveragePooling1D(_GlobalPooling1D):
    """Mean over the steps; with a mask, the mean over the unmasked steps."""

    def __init__(self, data_format: str | None = None, keepdims: bool = False, **kwargs: Any) -> None:
        super().__init__(data_format, keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        axis = self._steps_axis()
        if mask is None:
            return inputs.mean(dim=axis, keepdim=self.keepdims)
        m = mask.bool().unsqueeze(2 if self.data_format == "channels_last" else 1)  # (B, T, 1)
        total = torch.where(m, inputs, torch.zeros_like(inputs)).sum(dim=axis, keepdim=self.keepdims)
        return total / m.to(inputs.dtype).sum(dim=axis, keepdim=self.keepdims)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return None
