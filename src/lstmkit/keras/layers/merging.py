"""Merging layers for the functional API: Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum."""

from __future__ import annotations

from functools import reduce
from typing import Any

import torch

from lstmkit.keras.keras_tensor import Shape
from lstmkit.keras.layers.layer import Layer, fmt_shape


class _Merge(Layer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def _check_input_shape(self, input_shape: Any) -> None:
        if not isinstance(input_shape, list) or len(input_shape) < 2:
            raise self._error(f"expects a list of at least 2 inputs, got {fmt_shape(input_shape)}")
        first = input_shape[0]
        for s in input_shape[1:]:
            if len(s) != len(first) or any(a is not None and b is not None and a != b for a, b in zip(s, first)):
                raise self._error(f"all inputs must have the same shape, got {fmt_shape(input_shape)}")

    def _merge(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def call(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return self._merge(list(inputs))

    def compute_output_shape(self, input_shape: list[Shape]) -> Shape:
        return input_shape[0]

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if mask is None or all(m is None for m in mask):
            return None
        masks = [m for m in mask if m is not None]
        return reduce(torch.logical_and, masks)


class Add(_Merge):
    def _merge(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return reduce(torch.add, inputs)


class Subtract(_Merge):
    def _check_input_shape(self, input_shape: Any) -> None:
        super()._check_input_shape(input_shape)
        if len(input_shape) != 2:
            raise self._error(f"expects exactly 2 inputs, got {len(input_shape)}")

    def _merge(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return inputs[0] - inputs[1]


class Multiply(_Merge):
    def _merge(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return reduce(torch.mul, inputs)


class Average(_Merge):
    def _merge(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return reduce(torch.add, inputs) / len(inputs)


class Maximum(_Merge):
    def _merge(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return reduce(torch.maximum, inputs)


class Minimum(_Merge):
    def _merge(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return reduce(torch.minimum, inputs)


class Concatenate(_Merge):
    """Joins the inputs along `axis` (the features by default); the other dimensions must agree."""

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = int(axis)

    def _check_input_shape(self, input_shape: Any) -> None:
        if not isinstance(input_shape, list) or len(input_shape) < 2:
            raise self._error(f"expects a list of at least 2 inputs, got {fmt_shape(input_shape)}")
        rank = len(input_shape[0])
        axis = self.axis % rank
        for s in input_shape:
            if len(s) != rank or any(i != axis and a is not None and b is not None and a != b
                                     for i, (a, b) in enumerate(zip(s, input_shape[0]))):
                raise self._error(f"inputs must match except on axis {self.axis}, got {fmt_shape(input_shape)}")

    def _merge(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat(inputs, dim=self.axis)

    def compute_output_shape(self, input_shape: list[Shape]) -> Shape:
        axis = self.axis % len(input_shape[0])
        sizes = [s[axis] for s in input_shape]
        out = list(input_shape[0])
        out[axis] = None if None in sizes else sum(sizes)
        return tuple(out)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if mask is None or all(m is None for m in mask):
            return None
        if self.axis % inputs[0].dim() != inputs[0].dim() - 1:
            masks = [torch.ones(x.shape[:-1], dtype=torch.bool, device=x.device) if m is None else m.bool()
                     for x, m in zip(inputs, mask)]
            return torch.cat(masks, dim=self.axis)
        return super().compute_mask(inputs, mask)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}
