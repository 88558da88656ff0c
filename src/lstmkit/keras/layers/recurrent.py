"""SimpleRNN, LSTM and GRU with Keras 3's arguments, running on `lstmkit.ops` (backend="auto").

The parameters are held in PyTorch's layout (`weight_ih (G*U, I)`, `weight_hh (G*U, U)`, `bias_ih`,
and `bias_hh` only where Keras has a second bias: GRU with reset_after=True), so the fast backends
get them as they want them, and the parameter count is Keras': LSTM 4*(U*(I+U)+U), GRU
3*(U*(I+U)+2U) (reset_after) or 3*(U*(I+U)+U), SimpleRNN U*(I+U)+U. `weights`, `get_weights()` and
`set_weights()` speak Keras' layout (kernel, recurrent_kernel, bias; GRU gates z, r, h), converted
by `lstmkit.nn.convert`; Keras' initializers draw in Keras' layout.

Keras semantics kept: a masked step carries output and state forward (padding on either side);
`go_backwards` returns the sequence in processing order (reversed), as Keras; without
`return_sequences` the output is the one of the last step processed; dropout masks are drawn once per
batch and reused at every step; `stateful` keeps the final states (detached) for the next batch.

One difference, by design: `dropout` / `recurrent_dropout` draw one (batch, features) mask shared by all
gates (`lstmkit.ops.dropout_mask`, the variational dropout of Gal & Ghahramani), where Keras 3 switches
to its per-gate implementation and draws one mask per gate. Both are the same regularizer in
expectation; with dropout 0 (the default) the layers compute exactly what Keras computes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from lstmkit import ops
from lstmkit.keras import activations as activations_mod
from lstmkit.keras import constraints as constraints_mod
from lstmkit.keras import initializers as initializers_mod
from lstmkit.keras import regularizers as regularizers_mod
from lstmkit.keras.keras_tensor import Shape
from lstmkit.keras.layers.layer import Layer, WeightSpec, fmt_shape
from lstmkit.nn import convert
from lstmkit.ops.activations import ACTIVATIONS as OPS_ACTIVATIONS


class RNN(Layer):
    """Common code of SimpleRNN, LSTM and GRU (Keras' generic `RNN(cell)` is not provided)."""

    _gates = 1
    _n_states = 1

    def __init__(
        self,
        units: int,
        *,
        activation: Any = "tanh",
        recurrent_activation: Any = "sigmoid",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        recurrent_initializer: Any = "orthogonal",
        bias_initializer: Any = "zeros",
        unit_forget_bias: bool = True,
        kernel_regularizer: Any = None,
        recurrent_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        recurrent_constraint: Any = None,
        bias_constraint: Any = None,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        seed: int | None = None,
        return_sequences: bool = False,
        return_state: bool = False,
        go_backwards: bool = False,
        stateful: bool = False,
        unroll: bool = False,
        reset_after: bool = True,
        use_cudnn: Any = "auto",
        zero_output_for_mask: bool = False,
        backend: str = "auto",
        **kwargs: Any,
    ) -> None:
        kwargs.pop("implementation", None)  # Keras 2's choice of kernel; lstmkit.ops picks its own
        if kwargs.pop("time_major", False):
            raise ValueError("time_major=True is not supported: inputs are (batch, timesteps, features)")
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"{type(self).__name__}: units must be a positive integer, got {units!r}")
        for arg, p in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= float(p) < 1.0:
                raise ValueError(f"{type(self).__name__}: {arg} must be in [0, 1), got {p}")
        self.units = units
        self.activation = activations_mod.get(activation)
        self.recurrent_activation = activations_mod.get(recurrent_activation)
        self._activation_arg = _ops_activation(activation, self.activation)
        self._recurrent_activation_arg = _ops_activation(recurrent_activation, self.recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers_mod.get(kernel_initializer)
        self.recurrent_initializer = initializers_mod.get(recurrent_initializer)
        self.bias_initializer = initializers_mod.get(bias_initializer)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.kernel_regularizer = regularizers_mod.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers_mod.get(recurrent_regularizer)
        self.bias_regularizer = regularizers_mod.get(bias_regularizer)
        self.kernel_constraint = constraints_mod.get(kernel_constraint)
        self.recurrent_constraint = constraints_mod.get(recurrent_constraint)
        self.bias_constraint = constraints_mod.get(bias_constraint)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)  # accepted for Keras programs; the recurrence is the same either way
        self.reset_after = bool(reset_after)
        self.use_cudnn = use_cudnn
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.backend = backend
        self.supports_masking = True
        self.states: list[torch.Tensor] | None = None
        self._generator: torch.Generator | None = None

    # ----- weights ----------------------------------------------------------------------------
    def _check_input_shape(self, input_shape: Any) -> None:
        if not isinstance(input_shape, tuple) or len(input_shape) != 3 or input_shape[-1] is None:
            raise self._error(
                f"expects inputs of shape (batch, timesteps, features) with known features, got shape "
                f"{fmt_shape(input_shape)}; a recurrent layer after one that returns (batch, features) needs "
                "return_sequences=True on the layer before it"
            )

    # ----- what each recurrence says for itself (SimpleRNN, LSTM and GRU override these) -----------
    def _keras_bias(self) -> torch.Tensor:
        """The initial bias in Keras' layout."""
        return self.bias_initializer((self._gates * self.units,))

    def _has_bias_hh(self) -> bool:
        """Whether the recurrence keeps a second, recurrent bias (the GRU with reset_after)."""
        return False

    def _from_keras(self, kernel: Any, recurrent: Any, bias: Any) -> dict[str, torch.Tensor]:
        """Keras-layout weights to PyTorch's (`lstmkit.nn.convert`)."""
        raise NotImplementedError

    def _to_keras(self, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any) -> list[np.ndarray]:
        """PyTorch-layout weights to Keras' `get_weights()` list."""
        raise NotImplementedError

    def _keras_layout(self) -> list[torch.Tensor]:
        """Differentiable Keras-layout views of the parameters: kernel, recurrent kernel(, bias)."""
        tensors = [self.weight_ih.T, self.weight_hh.T]
        if self.use_bias:
            tensors.append(self.bias_ih)
        return tensors

    def _recur(self, args: tuple, states: list[torch.Tensor | None], common: dict[str, Any]
               ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Run the recurrence over the whole sequence: (output sequence, new states)."""
        raise NotImplementedError

    def _own_config(self) -> dict[str, Any]:
        """The config entries of this recurrence beyond the common ones."""
        return {}

    def build(self, input_shape: Shape) -> None:
        I, U, G = input_shape[-1], self.units, self._gates
        kernel = self.kernel_initializer((I, G * U))  # Keras' layout, so the fan rules are Keras'
        recurrent = self.recurrent_initializer((U, G * U))
        bias = self._keras_bias() if self.use_bias else None
        w = self._from_keras(kernel, recurrent, bias)
        self.weight_ih = nn.Parameter(w["weight_ih"], requires_grad=self.trainable)  # (G*U, I)
        self.weight_hh = nn.Parameter(w["weight_hh"], requires_grad=self.trainable)  # (G*U, U)
        self.bias_ih = nn.Parameter(w["bias_ih"], requires_grad=self.trainable) if self.use_bias else None
        self.bias_hh = nn.Parameter(w["bias_hh"], requires_grad=self.trainable) if self._has_bias_hh() else None
        self._weight_specs = [WeightSpec("kernel", "", True, self.kernel_regularizer, self.kernel_constraint),
                              WeightSpec("recurrent_kernel", "", True, self.recurrent_regularizer,
                                         self.recurrent_constraint)]
        if self.use_bias:
            self._weight_specs.append(WeightSpec("bias", "", True, self.bias_regularizer, self.bias_constraint))
        if self.stateful and input_shape[0] is not None:
            self.reset_state_size(input_shape[0])

    def _keras_weights(self) -> list[tuple[WeightSpec, torch.Tensor]]:
        """Differentiable Keras-layout views of the parameters (for regularizers and `weights`)."""
        return list(zip(self._weight_specs, self._keras_layout()))

    def get_weights(self) -> list[np.ndarray]:
        """[kernel, recurrent_kernel(, bias)] as Keras' `get_weights()` gives them."""
        self._require_built("get_weights")
        w_ih, w_hh, b_ih, b_hh = (None if p is None else p.detach().cpu()
                                  for p in (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh))
        return self._to_keras(w_ih, w_hh, b_ih, b_hh)

    def _assign_keras(self, values: list[torch.Tensor]) -> None:
        w = self._from_keras(*values, None) if len(values) == 2 else self._from_keras(*values)
        with torch.no_grad():
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                p = getattr(self, name)
                if p is not None:
                    p.copy_(w[name].to(p.device, p.dtype))

    def _on_trainable_change(self) -> None:
        for p in (getattr(self, n, None) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")):
            if p is not None:
                p.requires_grad_(self.trainable)

    # ----- states -----------------------------------------------------------------------------
    def reset_state_size(self, batch_size: int) -> None:
        self.states = [torch.zeros(batch_size, self.units, device=self._device()) for _ in range(self._n_states)]

    def reset_state(self, states: Any = None) -> None:
        """Zero the kept states of a stateful layer (or set them to `states`)."""
        if not self.stateful:
            raise self._error("reset_state() is only for stateful layers (stateful=True)")
        if states is None:
            if self.states is not None:
                self.states = [torch.zeros_like(s) for s in self.states]
            return
        states = [torch.as_tensor(np.asarray(s) if not isinstance(s, torch.Tensor) else s, dtype=torch.float32)
                  for s in (states if isinstance(states, (list, tuple)) else [states])]
        if len(states) != self._n_states or any(s.dim() != 2 or s.shape[1] != self.units for s in states):
            raise self._error(f"reset_state expects {self._n_states} arrays of shape (batch, {self.units}), "
                              f"got {[fmt_shape(tuple(s.shape)) for s in states]}")
        self.states = [s.to(self._device()) for s in states]

    def reset_states(self, states: Any = None) -> None:
        """Keras 2's name for `reset_state`."""
        self.reset_state(states)

    def _initial_states(self, B: int, initial_state: Any, like: torch.Tensor) -> list[torch.Tensor | None]:
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            if len(states) != self._n_states:
                raise self._error(f"initial_state must hold {self._n_states} tensors, got {len(states)}")
            out = []
            for s in states:
                s = torch.as_tensor(s, dtype=like.dtype, device=like.device)
                if tuple(s.shape) != (B, self.units):
                    raise self._error(f"each initial state must have shape ({B}, {self.units}), got "
                                      f"{fmt_shape(tuple(s.shape))}")
                out.append(s)
            return out
        if not self.stateful:
            return [None] * self._n_states
        if self.states is None:
            self.reset_state_size(B)
        if self.states[0].shape[0] != B:
            raise self._error(
                f"is stateful with batch size {self.states[0].shape[0]} but got a batch of {B} sequences; a stateful "
                "layer needs every batch to have the same size (fix the batch size with Input(batch_size=...) or "
                "batch_input_shape, use a number of samples divisible by batch_size, and shuffle=False)"
            )
        return [s.to(like.device) for s in self.states]

    def _dropout_masks(self, B: int, I: int, x: torch.Tensor, training: bool) -> tuple[Any, Any]:
        if not training or (self.dropout == 0 and self.recurrent_dropout == 0):
            return None, None
        if self.seed is not None and (self._generator is None or self._generator.device != x.device):
            self._generator = torch.Generator(device=x.device)
            self._generator.manual_seed(int(self.seed))
        inp = ops.dropout_mask(B, I, self.dropout, like=x, generator=self._generator)  # (B, I) or None
        rec = ops.dropout_mask(B, self.units, self.recurrent_dropout, like=x, generator=self._generator)  # (B, U)
        return inp, rec

    # ----- call -------------------------------------------------------------------------------
    def call(self, sequences: torch.Tensor, initial_state: Any = None, mask: torch.Tensor | None = None,
             training: bool = False) -> Any:
        x = sequences  # (B, T, I)
        if x.dim() != 3:
            raise self._error(f"expects inputs of shape (batch, timesteps, features), got {fmt_shape(tuple(x.shape))}")
        B, T, I = x.shape
        if I != self.weight_ih.shape[1]:
            raise self._error(f"was built for {self.weight_ih.shape[1]} input features but got an input of shape "
                              f"{fmt_shape(tuple(x.shape))}")
        if mask is not None:
            mask = torch.as_tensor(mask, device=x.device)
            if mask.dim() == 3 and mask.shape[-1] == 1:
                mask = mask[..., 0]
            if tuple(mask.shape) != (B, T):
                raise self._error(f"the mask must have shape ({B}, {T}) (batch, timesteps), got "
                                  f"{fmt_shape(tuple(mask.shape))}")
            mask = mask.bool()
        states = self._initial_states(B, initial_state, x)
        in_mask, rec_mask = self._dropout_masks(B, I, x, training)
        common = dict(mask=mask, reverse=self.go_backwards, activation=self._activation_arg,
                      input_dropout_mask=in_mask, recurrent_dropout_mask=rec_mask,
                      zero_output_for_mask=self.zero_output_for_mask, backend=self.backend)
        args = (x, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        out, new_states = self._recur(args, states, common)
        if self.stateful:
            self.states = [s.detach() for s in new_states]
        if self.return_sequences:
            output = out.flip(1) if self.go_backwards else out  # Keras: processing order
        else:
            output = out[:, 0] if self.go_backwards else out[:, -1]  # (B, U) the last step processed
        if self.return_state:
            return (output, *new_states)
        return output

    def compute_output_shape(self, input_shape: Shape) -> Any:
        B, T = input_shape[0], input_shape[1]
        out = (B, T, self.units) if self.return_sequences else (B, self.units)
        if self.return_state:
            return (out, *[(B, self.units)] * self._n_states)
        return out

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out_mask = mask if self.return_sequences else None
        if self.return_state:
            return [out_mask] + [None] * self._n_states
        return out_mask

    def get_config(self) -> dict[str, Any]:
        config = {
            **super().get_config(), "units": self.units,
            "activation": activations_mod.serialize(self.activation), "use_bias": self.use_bias,
            "kernel_initializer": initializers_mod.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers_mod.serialize(self.recurrent_initializer),
            "bias_initializer": initializers_mod.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers_mod.serialize(self.kernel_regularizer),
            "recurrent_regularizer": regularizers_mod.serialize(self.recurrent_regularizer),
            "bias_regularizer": regularizers_mod.serialize(self.bias_regularizer),
            "kernel_constraint": constraints_mod.serialize(self.kernel_constraint),
            "recurrent_constraint": constraints_mod.serialize(self.recurrent_constraint),
            "bias_constraint": constraints_mod.serialize(self.bias_constraint),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed,
            "return_sequences": self.return_sequences, "return_state": self.return_state,
            "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask, "backend": self.backend,
        }
        return {**config, **self._own_config()}

    def extra_repr(self) -> str:
        return f"name={self.name!r}, units={self.units}"


def _ops_activation(arg: Any, fn: Any) -> Any:
    """Pass lstmkit.ops a name it knows (fast backends need names), else the function."""
    if isinstance(arg, str) and arg in OPS_ACTIVATIONS:
        return arg
    if arg is None:
        return "linear"
    return fn


class SimpleRNN(RNN):
    """Elman RNN: h_t = activation(x_t · kernel + h_{t-1} · recurrent_kernel + bias)."""

    _gates, _n_states = 1, 1

    def __init__(self, units: int, activation: Any = "tanh", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None, kernel_constraint: Any = None,
                 recurrent_constraint: Any = None, bias_constraint: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(units, activation=activation, use_bias=use_bias, kernel_initializer=kernel_initializer,
                         recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                         kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                         kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                         bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
                         return_sequences=return_sequences, return_state=return_state, go_backwards=go_backwards,
                         stateful=stateful, unroll=unroll, seed=seed, **kwargs)

    def _from_keras(self, kernel: Any, recurrent: Any, bias: Any) -> dict[str, torch.Tensor]:
        return convert.simple_rnn_from_keras(kernel, recurrent, bias, dtype=torch.float32)

    def _to_keras(self, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any) -> list[np.ndarray]:
        return convert.simple_rnn_to_keras(w_ih, w_hh, b_ih)

    def _recur(self, args: tuple, states: list[torch.Tensor | None], common: dict[str, Any]
               ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        out, h = ops.simple_rnn(*args, h0=states[0], **common)
        return out, [h]


class LSTM(RNN):
    """Long short-term memory (Hochreiter & Schmidhuber 1997), gates i, f, c, o; equations in
    `lstmkit.ops.reference.lstm`. With `unit_forget_bias` the forget-gate bias starts at 1."""

    _gates, _n_states = 4, 2

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None, kernel_constraint: Any = None,
                 recurrent_constraint: Any = None, bias_constraint: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: int | None = None, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False,
                 unroll: bool = False, use_cudnn: Any = "auto", **kwargs: Any) -> None:
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, unit_forget_bias=unit_forget_bias,
                         kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                         bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                         kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                         bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
                         seed=seed, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, unroll=unroll, use_cudnn=use_cudnn, **kwargs)

    def _keras_bias(self) -> torch.Tensor:
        U = self.units
        if self.unit_forget_bias:  # Keras: the forget gate's bias starts at 1
            return torch.cat([self.bias_initializer((U,)), torch.ones(U), self.bias_initializer((2 * U,))])
        return super()._keras_bias()

    def _from_keras(self, kernel: Any, recurrent: Any, bias: Any) -> dict[str, torch.Tensor]:
        return convert.lstm_from_keras(kernel, recurrent, bias, dtype=torch.float32)

    def _to_keras(self, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any) -> list[np.ndarray]:
        return convert.lstm_to_keras(w_ih, w_hh, b_ih)

    def _recur(self, args: tuple, states: list[torch.Tensor | None], common: dict[str, Any]
               ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        out, h, c = ops.lstm(*args, h0=states[0], c0=states[1], recurrent_activation=self._recurrent_activation_arg,
                             **common)
        return out, [h, c]

    def _own_config(self) -> dict[str, Any]:
        return {"recurrent_activation": activations_mod.serialize(self.recurrent_activation),
                "unit_forget_bias": self.unit_forget_bias}


class GRU(RNN):
    """Gated recurrent unit (Cho et al. 2014), Keras gates z, r, h; `reset_after=True` (Keras 3's and
    PyTorch's equation) applies the reset gate after the recurrent matmul and has two biases."""

    _gates, _n_states = 3, 1

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, recurrent_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None, recurrent_constraint: Any = None,
                 bias_constraint: Any = None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 reset_after: bool = True, use_cudnn: Any = "auto", **kwargs: Any) -> None:
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation, use_bias=use_bias,
                         kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                         bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                         recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                         activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                         recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                         dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
                         return_sequences=return_sequences, return_state=return_state, go_backwards=go_backwards,
                         stateful=stateful, unroll=unroll, reset_after=reset_after, use_cudnn=use_cudnn, **kwargs)

    def _keras_bias(self) -> torch.Tensor:
        if self.reset_after:  # Keras: the input bias and the recurrent bias, stacked
            return self.bias_initializer((2, 3 * self.units))
        return super()._keras_bias()

    def _has_bias_hh(self) -> bool:
        return self.reset_after and self.use_bias

    def _from_keras(self, kernel: Any, recurrent: Any, bias: Any) -> dict[str, torch.Tensor]:
        return convert.gru_from_keras(kernel, recurrent, bias, reset_after=self.reset_after, dtype=torch.float32)

    def _to_keras(self, w_ih: Any, w_hh: Any, b_ih: Any, b_hh: Any) -> list[np.ndarray]:
        return convert.gru_to_keras(w_ih, w_hh, b_ih, b_hh, reset_after=self.reset_after)

    def _keras_layout(self) -> list[torch.Tensor]:
        swap = convert.reorder_gru_gates
        tensors = [swap(self.weight_ih, 0).T, swap(self.weight_hh, 0).T]
        if self.use_bias:
            b = swap(self.bias_ih, 0)
            tensors.append(torch.stack([b, swap(self.bias_hh, 0)]) if self.reset_after else b)
        return tensors

    def _recur(self, args: tuple, states: list[torch.Tensor | None], common: dict[str, Any]
               ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        out, h = ops.gru(*args, h0=states[0], recurrent_activation=self._recurrent_activation_arg,
                         reset_after=self.reset_after, **common)
        return out, [h]

    def _own_config(self) -> dict[str, Any]:
        return {"recurrent_activation": activations_mod.serialize(self.recurrent_activation),
                "reset_after": self.reset_after}
