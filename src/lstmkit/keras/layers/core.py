"""Core layers: Input, Embedding, Dense, Activation, Dropout, Flatten, Masking, Reshape, RepeatVector, Lambda.

Weights in Keras' layout: Dense `kernel (I, U)`, `bias (U,)`; Embedding `embeddings (input_dim, output_dim)`.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from lstmkit.keras import activations as activations_mod
from lstmkit.keras import constraints as constraints_mod
from lstmkit.keras import initializers as initializers_mod
from lstmkit.keras import regularizers as regularizers_mod
from lstmkit.keras.keras_tensor import KerasTensor, Node, Shape, dtype_name
from lstmkit.keras.layers.layer import Layer, auto_name, fmt_shape, to_tensor


class InputLayer(Layer):
    """The entry of a model: holds the input shape (batch first) and dtype; passes data through."""

    def __init__(self, shape: tuple | None = None, batch_size: int | None = None, dtype: Any = None,
                 batch_shape: tuple | None = None, name: str | None = None, input_shape: tuple | None = None,
                 batch_input_shape: tuple | None = None, sparse: bool | None = None, **kwargs: Any) -> None:
        if sparse:
            raise ValueError("sparse inputs are not supported")
        shape = shape if shape is not None else input_shape
        batch_shape = batch_shape if batch_shape is not None else batch_input_shape
        if shape is None and batch_shape is None:
            raise ValueError("InputLayer needs shape=(...) (without the batch) or batch_shape=(batch, ...)")
        if batch_shape is None:
            if isinstance(shape, int):
                shape = (shape,)
            batch_shape = (batch_size, *tuple(shape))
        super().__init__(name=name or auto_name("input_layer"), **kwargs)
        self.batch_shape: Shape = tuple(None if s is None else int(s) for s in batch_shape)
        self._batch_input_shape = self.batch_shape
        self.dtype = dtype_name(dtype)
        self.built = True
        self._output_shape = self.batch_shape
        self.output_tensor = KerasTensor(self.batch_shape, self.dtype, name=self.name)
        node = Node(self, (), {}, self.output_tensor)
        self.output_tensor.node = node
        self._inbound_nodes.append(node)

    def call(self, inputs: Any) -> Any:
        return inputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype, "name": self.name}


def Input(shape: tuple | None = None, batch_size: int | None = None, dtype: Any = None, sparse: bool | None = None,
          batch_shape: tuple | None = None, name: str | None = None, tensor: Any = None,
          optional: bool = False) -> KerasTensor:
    """A symbolic input of `shape` (without the batch dimension), for Sequential or Model(inputs, outputs)."""
    if tensor is not None:
        raise ValueError("Input(tensor=...) is not supported")
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape, name=name,
                      sparse=sparse).output_tensor


class Embedding(Layer):
    """Token ids (integers in [0, input_dim)) to vectors; with `mask_zero=True` id 0 is padding and masked."""

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer: Any = "uniform",
                 embeddings_regularizer: Any = None, embeddings_constraint: Any = None, mask_zero: bool = False,
                 weights: list | None = None, lora_rank: int | None = None, input_length: int | None = None,
                 **kwargs: Any) -> None:
        if lora_rank is not None:
            raise ValueError("Embedding(lora_rank=...) is not supported")
        for arg, v in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
                raise ValueError(f"Embedding: `{arg}` must be a positive integer, got {arg}={v!r}")
        if input_length is not None and "input_shape" not in kwargs and "batch_input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length,)  # Keras 2's argument: the sequence length
        super().__init__(**kwargs)
        self.input_dim, self.output_dim = input_dim, output_dim
        self.embeddings_initializer = initializers_mod.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers_mod.get(embeddings_regularizer)
        self.embeddings_constraint = constraints_mod.get(embeddings_constraint)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        if weights is not None:  # Keras 3: pretrained vectors, in place at once (the weights need no input shape)
            self.build()
            self.set_weights(weights if isinstance(weights, (list, tuple)) else [weights])

    def build(self, input_shape: Shape | None = None) -> None:
        """The table does not depend on the input shape: `build()` alone makes it (Keras)."""
        self.embeddings = self.add_weight((self.input_dim, self.output_dim), self.embeddings_initializer,
                                          regularizer=self.embeddings_regularizer,
                                          constraint=self.embeddings_constraint, name="embeddings")

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        floating = inputs.is_floating_point()
        if floating:
            self._check_float_ids(inputs)
        if inputs.numel():
            low, high = torch.aminmax(inputs)  # one pass, no (B, T) temporaries
            if int(low) < 0 or int(high) >= self.input_dim:
                raise self._error(
                    f"token ids must be in [0, {self.input_dim}) (input_dim={self.input_dim}), got ids from "
                    f"{int(low)} to {int(high)} in an input of shape {fmt_shape(tuple(inputs.shape))};"
                    " raise input_dim or limit the vocabulary (e.g. num_words=)"
                )
        if floating:
            inputs = inputs.long()  # whole-number float ids, as Keras casts them
        # indexing, not F.embedding: its backward (an index_put with accumulation) took 5.1 ms against 8.6 ms
        # for a (128, 500) batch into a 10000 x 32 table, one thread
        return self.embeddings[inputs]

    def _check_float_ids(self, inputs: torch.Tensor) -> None:
        """Float ids must be whole numbers: a cast would make NaN -2**63 and 2.7 silently 2 (Keras truncates)."""
        for bad, what in ((torch.isnan(inputs), "NaN id(s)"), (torch.isinf(inputs), "infinite id(s)"),
                          (inputs != torch.trunc(inputs), "id(s) that are not whole numbers")):
            if bad.any():
                where = tuple(bad.nonzero()[0].tolist())
                raise self._error(
                    f"token ids must be integers, but the float input of shape {fmt_shape(tuple(inputs.shape))} "
                    f"holds {int(bad.sum())} {what}, the first {float(inputs[where])} at index {where}; pass "
                    "integer ids (e.g. x.astype('int32'))"
                )

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if not self.mask_zero:
            return None
        return to_tensor(inputs) != 0

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape, self.output_dim)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": initializers_mod.serialize(self.embeddings_initializer),
                "embeddings_regularizer": regularizers_mod.serialize(self.embeddings_regularizer),
                "embeddings_constraint": constraints_mod.serialize(self.embeddings_constraint),
                "mask_zero": self.mask_zero}


class Dense(Layer):
    """`activation(x @ kernel + bias)` on the last axis; kernel (I, U)."""

    def __init__(self, units: int, activation: Any = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, bias_constraint: Any = None, lora_rank: int | None = None,
                 **kwargs: Any) -> None:
        if lora_rank is not None:
            raise ValueError("Dense(lora_rank=...) is not supported")
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"Dense: units must be a positive integer, got {units!r}")
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.units = units
        self.activation = activations_mod.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers_mod.get(kernel_initializer)
        self.bias_initializer = initializers_mod.get(bias_initializer)
        self.kernel_regularizer = regularizers_mod.get(kernel_regularizer)
        self.bias_regularizer = regularizers_mod.get(bias_regularizer)
        self.kernel_constraint = constraints_mod.get(kernel_constraint)
        self.bias_constraint = constraints_mod.get(bias_constraint)
        self.supports_masking = True

    def _check_input_shape(self, input_shape: Any) -> None:
        if not isinstance(input_shape, tuple) or len(input_shape) < 2 or input_shape[-1] is None:
            raise self._error(f"expects inputs with a known last dimension (batch, ..., features), "
                              f"got shape {fmt_shape(input_shape)}")

    def build(self, input_shape: Shape) -> None:
        self.kernel = self.add_weight((input_shape[-1], self.units), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
                                      name="kernel")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight((self.units,), self.bias_initializer, regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint, name="bias")

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        if inputs.shape[-1] != self.kernel.shape[0]:
            raise self._error(f"was built for {self.kernel.shape[0]} input features but got an input of shape "
                              f"{fmt_shape(tuple(inputs.shape))}")
        return self.activation(F.linear(inputs.float(), self.kernel.T, self.bias))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape[:-1], self.units)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units,
                "activation": activations_mod.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers_mod.serialize(self.kernel_initializer),
                "bias_initializer": initializers_mod.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers_mod.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers_mod.serialize(self.bias_regularizer),
                "kernel_constraint": constraints_mod.serialize(self.kernel_constraint),
                "bias_constraint": constraints_mod.serialize(self.bias_constraint)}


class Activation(Layer):
    def __init__(self, activation: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = activations_mod.get(activation)
        self.supports_masking = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.activation(inputs)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": activations_mod.serialize(self.activation)}


class Dropout(Layer):
    """Inverted dropout while training (kept units scaled by 1/(1-rate)); identity at inference.
    `noise_shape` with 1 on an axis shares the draw along it, e.g. (None, 1, C) for whole channels."""

    def __init__(self, rate: float, noise_shape: tuple | None = None, seed: int | None = None,
                 **kwargs: Any) -> None:
        if not 0.0 <= float(rate) <= 1.0:
            raise ValueError(f"Dropout: rate must be in [0, 1], got {rate}")
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self.supports_masking = True

    def call(self, inputs: torch.Tensor, training: bool = False) -> torch.Tensor:
        if not training or self.rate == 0.0:
            return inputs
        if self.rate == 1.0:
            return torch.zeros_like(inputs)
        if self.noise_shape is None:
            return F.dropout(inputs, self.rate, training=True)
        shape = tuple(d if n is None else n for n, d in zip(self.noise_shape, inputs.shape))
        keep = (torch.rand(shape, device=inputs.device) >= self.rate).to(inputs.dtype)
        return inputs * keep / (1.0 - self.rate)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape)}


class SpatialDropout1D(Dropout):
    """Drops whole feature channels of a (batch, steps, channels) input."""

    def __init__(self, rate: float, seed: int | None = None, **kwargs: Any) -> None:
        kwargs.pop("noise_shape", None)
        super().__init__(rate, noise_shape=(None, 1, None), seed=seed, **kwargs)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("noise_shape")
        return config


class Flatten(Layer):
    """(batch, d1, d2, ...) -> (batch, d1*d2*...)."""

    def __init__(self, data_format: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.data_format = data_format

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.reshape(inputs.shape[0], -1)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        rest = input_shape[1:]
        return (input_shape[0], None if any(s is None for s in rest) else math.prod(rest))


class Masking(Layer):
    """Masks the time steps whose features all equal `mask_value`, and zeroes them."""

    def __init__(self, mask_value: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)
        self.supports_masking = True

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        keep = (inputs != self.mask_value).any(dim=-1, keepdim=True)
        return inputs * keep.to(inputs.dtype)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return (to_tensor(inputs) != self.mask_value).any(dim=-1)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mask_value": self.mask_value}


class Reshape(Layer):
    """Reshape everything but the batch axis to `target_shape` (one entry may be -1)."""

    def __init__(self, target_shape: tuple, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_shape = tuple(int(s) for s in target_shape)
        if sum(s == -1 for s in self.target_shape) > 1:
            raise ValueError(f"Reshape: at most one -1 in target_shape, got {self.target_shape}")

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs.reshape(inputs.shape[0], *self.target_shape)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        rest = input_shape[1:]
        if -1 not in self.target_shape:
            if None not in rest and math.prod(rest) != math.prod(self.target_shape):
                raise self._error(f"cannot reshape {fmt_shape(input_shape)} to (None, *{self.target_shape})")
            return (input_shape[0], *self.target_shape)
        if None in rest:
            return (input_shape[0], *(None if s == -1 else s for s in self.target_shape))
        known = math.prod(s for s in self.target_shape if s != -1)
        if math.prod(rest) % known:
            raise self._error(f"cannot reshape {fmt_shape(input_shape)} to (None, *{self.target_shape})")
        return (input_shape[0], *(math.prod(rest) // known if s == -1 else s for s in self.target_shape))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class RepeatVector(Layer):
    """(batch, features) -> (batch, n, features)."""

    def __init__(self, n: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.n = int(n)

    def _check_input_shape(self, input_shape: Any) -> None:
        if not isinstance(input_shape, tuple) or len(input_shape) != 2:
            raise self._error(f"expects inputs of shape (batch, features), got {fmt_shape(input_shape)}")

    def call(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs[:, None, :].expand(-1, self.n, -1)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "n": self.n}


class Lambda(Layer):
    """Wraps a function of torch tensors. Usable in models; a model holding one cannot be saved."""

    def __init__(self, function: Any, output_shape: Any = None, mask: Any = None, arguments: dict | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.function = function
        self._fixed_output_shape = output_shape
        self.arguments = arguments or {}

    def call(self, inputs: Any) -> Any:
        return self.function(inputs, **self.arguments)

    def compute_output_shape(self, input_shape: Any) -> Any:
        if self._fixed_output_shape is not None:
            return (input_shape[0], *tuple(self._fixed_output_shape))
        return super().compute_output_shape(input_shape)

    def get_config(self) -> dict[str, Any]:
        raise ValueError(f"Layer '{self.name}' (Lambda) holds Python code and cannot be saved to a config; "
                         "save the weights with save_weights() and rebuild the model in code")
