"""Keras 3's recurrent cells: SimpleRNNCell, LSTMCell, GRUCell, and StackedRNNCells.

A cell is one step of a recurrence: `call(inputs, states, training) -> (output, new_states)` with
`state_size` and `output_size`, as Keras' protocol has it, so `layers.RNN(cell)` runs any cell a user
writes. The three built-in cells hold their weights in Keras' layout (`kernel (I, G*U)`,
`recurrent_kernel (U, G*U)`, `bias`; gates LSTM i, f, c, o and GRU z, r, h) and give them to
lstmkit's fused recurrences in PyTorch's layout (`torch_weights`, differentiable), which is what
`RNN` runs when it wraps one of them alone; their per-step `call` is the same equation, used by
`StackedRNNCells`, by users stepping a cell by hand, and by subclasses that change the step.

Dropout as Keras' DropoutRNNCell: one mask for the inputs and one for the recurrent state, drawn
once per sequence (`RNN` resets them at each call) and shared by every gate.
"""

from __future__ import annotations

from typing import Any

import torch

from lstmkit import ops
from lstmkit.keras import activations as activations_mod
from lstmkit.keras import constraints as constraints_mod
from lstmkit.keras import initializers as initializers_mod
from lstmkit.keras import random as random_mod
from lstmkit.keras import regularizers as regularizers_mod
from lstmkit.keras.keras_tensor import Shape
from lstmkit.keras.layers.layer import LAYER_CLASSES, Layer
from lstmkit.keras.random import SeedGenerator, draw_seed
from lstmkit.keras.registry import resolve, to_config
from lstmkit.nn.convert import reorder_gru_gates
from lstmkit.ops.activations import ACTIVATIONS as OPS_ACTIVATIONS


def ops_activation(arg: Any, fn: Any) -> Any:
    """Pass lstmkit.ops a name it knows (fast backends need names), else the function."""
    if isinstance(arg, str) and arg in OPS_ACTIVATIONS:
        return arg
    if arg is None:
        return "linear"
    return fn


class _BuiltinCell(Layer):
    """What the three built-in cells share: Keras' arguments, weights, dropout masks and config."""

    kind = ""  # the lstmkit.ops recurrence: "simple_rnn", "lstm", "gru"
    gates = 1
    n_states = 1

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, recurrent_regularizer: Any = None, bias_regularizer: Any = None,
                 kernel_constraint: Any = None, recurrent_constraint: Any = None, bias_constraint: Any = None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, seed: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"{type(self).__name__}: units must be a positive integer, got {units!r}")
        for arg, p in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not 0.0 <= float(p) < 1.0:
                raise ValueError(f"{type(self).__name__}: {arg} must be in [0, 1) (1 would drop everything), "
                                 f"got {p}")
        self.units = units
        self.activation = activations_mod.get(activation)
        self.recurrent_activation = activations_mod.get(recurrent_activation)
        self.activation_arg = ops_activation(activation, self.activation)
        self.recurrent_activation_arg = ops_activation(recurrent_activation, self.recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers_mod.get(kernel_initializer)
        self.recurrent_initializer = initializers_mod.get(recurrent_initializer)
        self.bias_initializer = initializers_mod.get(bias_initializer)
        self.kernel_regularizer = regularizers_mod.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers_mod.get(recurrent_regularizer)
        self.bias_regularizer = regularizers_mod.get(bias_regularizer)
        self.kernel_constraint = constraints_mod.get(kernel_constraint)
        self.recurrent_constraint = constraints_mod.get(recurrent_constraint)
        self.bias_constraint = constraints_mod.get(bias_constraint)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.seed = seed
        # Keras' cells own a SeedGenerator; with a seed, each sequence's masks are drawn from its next state
        # (so its state, one of the layer's non-trainable variables, is where the dropout stream stands);
        # without one they come from torch's global generator, as Keras' torch backend draws them
        self.seed_generator = SeedGenerator(seed)
        self._masks: tuple[torch.Tensor | None, torch.Tensor | None] | None = None

    @property
    def state_size(self) -> Any:
        return [self.units] * self.n_states if self.n_states > 1 else self.units

    @property
    def output_size(self) -> int:
        return self.units

    # ----- weights, in Keras' layout
    def _bias_initializer(self) -> Any:
        return self.bias_initializer

    def _bias_shape(self) -> tuple[int, ...]:
        return (self.gates * self.units,)

    def build(self, input_shape: Shape) -> None:
        I, U, G = input_shape[-1], self.units, self.gates
        self.kernel = self.add_weight((I, G * U), self.kernel_initializer, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint, name="kernel")
        self.recurrent_kernel = self.add_weight((U, G * U), self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint, name="recurrent_kernel")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(self._bias_shape(), self._bias_initializer(),
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                                        name="bias")

    def _weights(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(kernel, recurrent_kernel, bias) as tensors (parameters)."""
        return (self._stored(self._weight_specs[0]), self._stored(self._weight_specs[1]),
                self._stored(self._weight_specs[2]) if self.use_bias else None)

    def torch_weights(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """(weight_ih, weight_hh, bias_ih, bias_hh) in PyTorch's layout, differentiable views of the weights."""
        kernel, recurrent, bias = self._weights()
        return kernel.T, recurrent.T, bias, None

    # ----- dropout
    def get_initial_state(self, batch_size: int) -> list[torch.Tensor]:
        return [torch.zeros(batch_size, self.units, device=self._device()) for _ in range(self.n_states)]

    def reset_dropout_masks(self) -> None:
        self._masks = None

    def dropout_masks(self, batch: int, features: int, like: torch.Tensor, training: bool
                      ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The input and recurrent masks of this sequence: drawn at its first step, reused at every other."""
        if not training or (self.dropout == 0 and self.recurrent_dropout == 0):
            return None, None
        if self._masks is None or self._masks_stale(batch, like):
            generator = None
            if self.seed is not None:
                first, second = draw_seed(self.seed_generator)
                generator = torch.Generator(device=like.device)
                generator.manual_seed((first + second) & 0xFFFFFFFF)
            self._masks = (ops.dropout_mask(batch, features, self.dropout, like=like, generator=generator),
                           ops.dropout_mask(batch, self.units, self.recurrent_dropout, like=like,
                                            generator=generator))
        return self._masks

    def _masks_stale(self, batch: int, like: torch.Tensor) -> bool:
        assert self._masks is not None
        m = next((t for t in self._masks if t is not None), None)
        return m is None or m.shape[0] != batch or m.device != like.device

    # ----- one step, in Keras' layout
    def _step_inputs(self, inputs: torch.Tensor, states: Any, training: bool
                     ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        states = list(states) if isinstance(states, (list, tuple)) else [states]
        if len(states) != self.n_states:
            raise self._error(f"takes {self.n_states} state tensor(s), got {len(states)}")
        x = torch.as_tensor(inputs) if not isinstance(inputs, torch.Tensor) else inputs
        x = x.float() if not x.is_floating_point() else x
        for s in states:
            if s.dim() != 2 or s.shape[1] != self.units or s.shape[0] != x.shape[0]:
                raise self._error(f"states must be ({x.shape[0]}, {self.units}) for inputs of shape "
                                  f"{tuple(x.shape)}, got {tuple(s.shape)}")
        in_mask, rec_mask = self.dropout_masks(x.shape[0], x.shape[-1], x, training)
        if in_mask is not None:
            x = x * in_mask
        if rec_mask is not None:
            states = [states[0] * rec_mask, *states[1:]]
        return x, states

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units,
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
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed}

    def extra_repr(self) -> str:
        return f"name={self.name!r}, units={self.units}"


class SimpleRNNCell(_BuiltinCell):
    """h = activation(x · kernel + h_prev · recurrent_kernel + bias)."""

    kind, gates, n_states = "simple_rnn", 1, 1

    def __init__(self, units: int, activation: Any = "tanh", **kwargs: Any) -> None:
        super().__init__(units, activation=activation, **kwargs)

    def call(self, inputs: Any, states: Any, training: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x, (h,) = self._step_inputs(inputs, states, training)
        kernel, recurrent, bias = self._weights()
        z = x @ kernel + h @ recurrent
        out = self.activation(z + bias if bias is not None else z)
        return out, [out]


class LSTMCell(_BuiltinCell):
    """i, f, c, o = rec_act, rec_act, act, rec_act of x · kernel + h · recurrent_kernel + bias;
    c' = f c + i c~, h' = o act(c'). With `unit_forget_bias` the forget gate's bias starts at 1."""

    kind, gates, n_states = "lstm", 4, 2

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 unit_forget_bias: bool = True, **kwargs: Any) -> None:
        kwargs.pop("implementation", None)  # Keras 2's choice of kernel
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_initializer(self) -> Any:
        if not self.unit_forget_bias:
            return self.bias_initializer
        U, init = self.units, self.bias_initializer

        def forget_one(shape: tuple[int, ...], dtype: Any = None) -> torch.Tensor:  # Keras' unit_forget_bias
            return torch.cat([init((U,)), torch.ones(U), init((2 * U,))])

        return forget_one

    def call(self, inputs: Any, states: Any, training: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x, (h, c) = self._step_inputs(inputs, states, training)
        kernel, recurrent, bias = self._weights()
        z = x @ kernel + h @ recurrent
        if bias is not None:
            z = z + bias
        i, f, g, o = z.chunk(4, dim=-1)
        ra = self.recurrent_activation
        c = ra(f) * c + ra(i) * self.activation(g)
        h = ra(o) * self.activation(c)
        return h, [h, c]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "recurrent_activation": activations_mod.serialize(self.recurrent_activation),
                "unit_forget_bias": self.unit_forget_bias}


class GRUCell(_BuiltinCell):
    """Gates z, r, h. reset_after=True (Keras 3's default, PyTorch's equation): h~ = act(x W_h + b_h +
    r (h W_rh + b_rh)); reset_after=False: h~ = act(x W_h + (r h) W_rh + b_h); h' = z h + (1 - z) h~."""

    kind, gates, n_states = "gru", 3, 1

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 reset_after: bool = True, **kwargs: Any) -> None:
        kwargs.pop("implementation", None)
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self) -> tuple[int, ...]:
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)  # input and recurrent biases

    def torch_weights(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        kernel, recurrent, bias = self._weights()
        w_ih, w_hh = reorder_gru_gates(kernel, 1).T, reorder_gru_gates(recurrent, 1).T
        if bias is None:
            return w_ih, w_hh, None, None
        if self.reset_after:
            return w_ih, w_hh, reorder_gru_gates(bias[0], 0), reorder_gru_gates(bias[1], 0)
        return w_ih, w_hh, reorder_gru_gates(bias, 0), None

    def call(self, inputs: Any, states: Any, training: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x, (h_in,) = self._step_inputs(inputs, states, training)
        h = states[0] if isinstance(states, (list, tuple)) else states  # z mixes the state without its dropout
        kernel, recurrent, bias = self._weights()
        U, ra = self.units, self.recurrent_activation
        if self.reset_after:
            bx, bh = (bias[0], bias[1]) if bias is not None else (0.0, 0.0)
            mx, mh = x @ kernel + bx, h_in @ recurrent + bh
            z = ra(mx[:, :U] + mh[:, :U])
            r = ra(mx[:, U : 2 * U] + mh[:, U : 2 * U])
            hh = self.activation(mx[:, 2 * U :] + r * mh[:, 2 * U :])
        else:
            mx = x @ kernel + (bias if bias is not None else 0.0)
            z = ra(mx[:, :U] + h_in @ recurrent[:, :U])
            r = ra(mx[:, U : 2 * U] + h_in @ recurrent[:, U : 2 * U])
            hh = self.activation(mx[:, 2 * U :] + (r * h_in) @ recurrent[:, 2 * U :])
        out = z * h + (1 - z) * hh
        return out, [out]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "recurrent_activation": activations_mod.serialize(self.recurrent_activation),
                "reset_after": self.reset_after}


class DropoutRNNCell:
    """Keras' mixin for a user's cell with dropout: `get_dropout_mask(step_input)` and
    `get_recurrent_dropout_mask(state)` give one mask per sequence (drawn at the first step with
    `keras.random.dropout` from the cell's `seed_generator`, then reused); `RNN` resets them after each
    call. The cell sets `dropout`, `recurrent_dropout` and `seed_generator` itself, as in Keras; a cell
    with `dropout_mask_count = n` gets a list of n masks (one per gate)."""

    def _create_dropout_mask(self, step_input: Any, rate: float) -> Any:
        generator = getattr(self, "seed_generator", None)
        if not isinstance(generator, SeedGenerator):
            raise ValueError(f"{type(self).__name__}: a DropoutRNNCell needs a `seed_generator` attribute (a "
                             f"keras.random.SeedGenerator), got {type(generator).__name__}")
        ones = torch.ones_like(torch.as_tensor(step_input))
        count = getattr(self, "dropout_mask_count", None)
        if count is None:
            return random_mod.dropout(ones, rate=rate, seed=generator)
        return [random_mod.dropout(ones, rate=rate, seed=generator) for _ in range(int(count))]

    def get_dropout_mask(self, step_input: Any) -> Any:
        if getattr(self, "_dropout_mask", None) is None and self.dropout > 0:  # type: ignore[attr-defined]
            self._dropout_mask = self._create_dropout_mask(step_input, self.dropout)  # type: ignore[attr-defined]
        return getattr(self, "_dropout_mask", None)

    def get_recurrent_dropout_mask(self, step_input: Any) -> Any:
        if getattr(self, "_recurrent_dropout_mask", None) is None and self.recurrent_dropout > 0:  # type: ignore[attr-defined]
            self._recurrent_dropout_mask = self._create_dropout_mask(
                step_input, self.recurrent_dropout)  # type: ignore[attr-defined]
        return getattr(self, "_recurrent_dropout_mask", None)

    def reset_dropout_mask(self) -> None:
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self) -> None:
        self._recurrent_dropout_mask = None

    def reset_dropout_masks(self) -> None:
        """Both masks (what lstmkit's `RNN` calls at each new sequence)."""
        self.reset_dropout_mask()
        self.reset_recurrent_dropout_mask()


def check_cell(cell: Any, owner: str) -> None:
    """Keras' cell protocol: a `call(inputs, states)` and a `state_size`; else a clear error."""
    if not callable(getattr(cell, "call", None)) or not hasattr(cell, "state_size"):
        raise ValueError(f"{owner}: a cell needs a call(inputs, states) method and a state_size attribute "
                         f"(Keras' RNN cell protocol), got {type(cell).__name__}")


def flatten_sizes(size: Any) -> list[Any]:
    return [s for item in size for s in flatten_sizes(item)] if isinstance(size, (list, tuple)) else [size]


def state_sizes(cell: Any) -> list[int]:
    """The cell's state sizes as a flat list of ints (Keras allows an int, a list, or for stacked cells a
    list of each cell's)."""
    size = cell.state_size
    sizes = flatten_sizes(size)
    for s in sizes:
        if not isinstance(s, int) or s <= 0:
            raise ValueError(f"{type(cell).__name__}.state_size must be positive integers, got {size!r}")
    return sizes


def output_size(cell: Any) -> int:
    size = getattr(cell, "output_size", None)
    return int(size) if size is not None else state_sizes(cell)[0]


class StackedRNNCells(Layer):
    """Cells applied one after another at each step: the output of one is the input of the next; the
    states are every cell's, in order (Keras' `RNN([cell1, cell2])`)."""

    def __init__(self, cells: list[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not cells:
            raise ValueError("StackedRNNCells needs at least one cell")
        for cell in cells:
            check_cell(cell, "StackedRNNCells")
        self.cells = torch.nn.ModuleList(cells) if all(isinstance(c, torch.nn.Module) for c in cells) else cells

    def _sublayers(self) -> list[Layer]:
        return [c for c in self.cells if isinstance(c, Layer)]

    @property
    def state_size(self) -> list[Any]:
        """Each cell's state size, in order (Keras: `[[4, 4], 3]` for an LSTMCell(4) and a GRUCell(3))."""
        return [cell.state_size for cell in self.cells]

    def group(self, states: list[Any]) -> list[Any]:
        """A flat list of every cell's states (or their shapes) as one entry per cell, as Keras returns them: a
        list, or the state itself for a cell whose one state Keras starts bare (an int state_size and no
        get_initial_state, as a user's cell often has)."""
        out, i = [], 0
        for cell in self.cells:
            n = len(state_sizes(cell))
            bare = n == 1 and isinstance(cell.state_size, int) and not callable(getattr(cell, "get_initial_state",
                                                                                        None))
            out.append(states[i] if bare else list(states[i : i + n]))
            i += n
        return out

    @property
    def output_size(self) -> int:
        return output_size(self.cells[-1])

    def build(self, input_shape: Shape) -> None:
        shape = input_shape
        for cell in self.cells:
            if isinstance(cell, Layer) and not cell.built:
                cell._maybe_build(shape)
            shape = (shape[0], output_size(cell))

    def get_initial_state(self, batch_size: int) -> list[torch.Tensor]:
        states = []
        for cell in self.cells:
            if callable(getattr(cell, "get_initial_state", None)):
                states.extend(cell.get_initial_state(batch_size))
            else:
                states.extend(torch.zeros(batch_size, s, device=self._device()) for s in state_sizes(cell))
        return states

    def reset_dropout_masks(self) -> None:
        for cell in self.cells:
            if callable(getattr(cell, "reset_dropout_masks", None)):
                cell.reset_dropout_masks()

    def call(self, inputs: Any, states: Any, training: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
        states = list(states)
        new_states: list[torch.Tensor] = []
        x = inputs
        for cell in self.cells:
            n = len(state_sizes(cell))
            own, states = states[:n], states[n:]
            x, out_states = step(cell, x, own, training)
            new_states.extend(out_states)
        return x, new_states

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(),
                "cells": [to_config(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> StackedRNNCells:
        config = dict(config)
        cells = [cell_from_config(c) for c in config.pop("cells")]
        return cls(cells, **config)


def cell_from_config(spec: dict[str, Any]) -> Any:
    return resolve(spec, LAYER_CLASSES, "cell").from_config(dict(spec["config"]))


def step(cell: Any, x: torch.Tensor, states: list[torch.Tensor], training: bool
         ) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One step of any cell, with its `training` argument if it takes one; the states as a list."""
    if isinstance(cell, Layer) and not cell.built:
        cell._maybe_build((x.shape[0], x.shape[-1]), device=x.device)
    takes_training = "training" in _parameters(type(cell).call)
    # a list even for one state, as Keras passes it: a cell that reads `states[0]` must get (B, U), not row 0
    states = list(states)
    out = cell.call(x, states, training=training) if takes_training else cell.call(x, states)
    if not isinstance(out, (list, tuple)) or len(out) != 2:
        raise ValueError(f"{type(cell).__name__}.call must return (output, new_states), got {type(out).__name__}")
    output, new = out
    new = list(new) if isinstance(new, (list, tuple)) else [new]
    if len(new) != len(states):
        raise ValueError(f"{type(cell).__name__}.call returned {len(new)} state(s); its state_size says "
                         f"{len(states)}")
    for s, size in zip(new, state_sizes(cell)):
        if tuple(s.shape) != (x.shape[0], size):
            raise ValueError(f"{type(cell).__name__}.call returned a state of shape {tuple(s.shape)}; its "
                             f"state_size says ({x.shape[0]}, {size})")
    return output, new


_PARAMS: dict[Any, frozenset[str]] = {}


def _parameters(fn: Any) -> frozenset[str]:
    import inspect

    if fn not in _PARAMS:
        _PARAMS[fn] = frozenset(inspect.signature(fn).parameters)
    return _PARAMS[fn]
