"""Keras 3's generic `RNN(cell)` and SimpleRNN, LSTM and GRU on it, running on `lstmkit.ops`.

`RNN(cell)` runs any cell that follows Keras' protocol (`call(inputs, states, training)`,
`state_size`, `output_size`, optionally `get_initial_state`), a list of cells meaning
`StackedRNNCells`, step by step in Python. Wrapping one of the built-in cells alone
(`SimpleRNNCell`, `LSTMCell`, `GRUCell`, what SimpleRNN, LSTM and GRU hold as `layer.cell`), it runs
lstmkit's fused recurrences instead (`backend="auto"`: the CPU kernel, Triton on CUDA), with the
cell's weights in PyTorch's layout as differentiable views of Keras' (`cell.torch_weights()`).

The weights are the cell's, in Keras' layout (kernel, recurrent_kernel, bias; GRU gates z, r, h), so
`weights`, `get_weights()`, `set_weights()`, regularizers, constraints and `summary()` are Keras';
the parameter counts are LSTM 4*(U*(I+U)+U), GRU 3*(U*(I+U)+2U) (reset_after) or 3*(U*(I+U)+U),
SimpleRNN U*(I+U)+U.

Keras semantics kept: inputs are cast to float32; a masked step carries output and state forward
(padding on either side), or outputs zeros with `zero_output_for_mask`; `go_backwards` returns the
sequence in processing order (reversed), as Keras; without `return_sequences` the output is the one
of the last step processed; dropout masks are drawn once per sequence and reused at every step
(shared by the gates, as Keras 3's cells do); `stateful` keeps the final states (detached) for the
next batch. One difference: with `recurrent_dropout`, Keras' GRUCell also multiplies the state that
the update gate carries over (`h = z * (h_prev * mask) + ...`); lstmkit masks only the state that
enters the recurrent matmul, as its fused kernels do (and as LSTMCell and SimpleRNNCell do in Keras).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lstmkit import ops
from lstmkit.keras.keras_tensor import Shape
from lstmkit.keras.layers.layer import Layer, fmt_shape
from lstmkit.keras.layers.recurrent_variants import (
    DEFAULTS,
    RecurrentVariants,
    check_options,
    config_entries,
    needs_weights,
    zoneout_kwargs,
)
from lstmkit.keras.layers.rnn_cells import (
    GRUCell,
    LSTMCell,
    SimpleRNNCell,
    StackedRNNCells,
    cell_from_config,
    check_cell,
    flatten_sizes,
    output_size,
    state_sizes,
    step,
)
from lstmkit.keras.registry import to_config

_FUSED = (SimpleRNNCell, LSTMCell, GRUCell)  # exactly these classes: a subclass may change the step


class RNN(Layer):
    """Keras' `RNN(cell)`: runs `cell` over the time axis of (batch, timesteps, features) inputs."""

    def __init__(self, cell: Any, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, backend: str = "auto", **kwargs: Any) -> None:
        kwargs.pop("implementation", None)  # Keras 2's choice of kernel; lstmkit.ops picks its own
        if kwargs.pop("time_major", False):
            raise ValueError("time_major=True is not supported: inputs are (batch, timesteps, features)")
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(list(cell))
        check_cell(cell, type(self).__name__)
        super().__init__(**kwargs)
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)  # accepted for Keras programs; the recurrence is the same either way
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.backend = backend
        self.supports_masking = True
        self.states: list[torch.Tensor] | None = None

    # ----- the cell's sizes -------------------------------------------------------------------
    @property
    def _state_sizes(self) -> list[int]:
        return state_sizes(self.cell)

    @property
    def _n_states(self) -> int:
        return len(self._state_sizes)

    @property
    def _output_size(self) -> int:
        return output_size(self.cell)

    def _sublayers(self) -> list[Layer]:
        return [self.cell] if isinstance(self.cell, Layer) else []

    # ----- building ---------------------------------------------------------------------------
    def _check_input_shape(self, input_shape: Any) -> None:
        if not isinstance(input_shape, tuple) or len(input_shape) != 3 or input_shape[-1] is None:
            raise self._error(
                f"expects inputs of shape (batch, timesteps, features) with known features, got shape "
                f"{fmt_shape(input_shape)}; a recurrent layer after one that returns (batch, features) needs "
                "return_sequences=True on the layer before it"
            )

    def build(self, input_shape: Shape) -> None:
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell._maybe_build((input_shape[0], input_shape[-1]))
        if self.stateful and input_shape[0] is not None:
            self.reset_state_size(input_shape[0])

    def _fused(self) -> bool:
        return type(self.cell) in _FUSED

    # ----- states -----------------------------------------------------------------------------
    def reset_state_size(self, batch_size: int) -> None:
        self.states = [torch.zeros(batch_size, s, device=self._device()) for s in self._state_sizes]

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
        sizes = self._state_sizes
        if len(states) != len(sizes) or any(s.dim() != 2 or s.shape[1] != n for s, n in zip(states, sizes)):
            raise self._error(f"reset_state expects {len(sizes)} arrays of shapes "
                              f"{[f'(batch, {n})' for n in sizes]}, got {[fmt_shape(tuple(s.shape)) for s in states]}")
        self.states = [s.to(self._device()) for s in states]

    def reset_states(self, states: Any = None) -> None:
        """Keras 2's name for `reset_state`."""
        self.reset_state(states)

    def _initial_states(self, B: int, initial_state: Any, like: torch.Tensor) -> list[torch.Tensor | None]:
        sizes = self._state_sizes
        if initial_state is not None:
            states = flatten_sizes(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            if len(states) != len(sizes):
                raise self._error(f"initial_state must hold {len(sizes)} tensors, got {len(states)}")
            out = []
            for s, n in zip(states, sizes):
                s = torch.as_tensor(s, dtype=like.dtype, device=like.device)
                if tuple(s.shape) != (B, n):
                    raise self._error(f"each initial state must have shape ({B}, {n}), got {fmt_shape(tuple(s.shape))}")
                out.append(s)
            return out
        if not self.stateful:
            return [None] * len(sizes)
        if self.states is None:
            self.reset_state_size(B)
        assert self.states is not None
        if self.states[0].shape[0] != B:
            raise self._error(
                f"is stateful with batch size {self.states[0].shape[0]} but got a batch of {B} sequences; a stateful "
                "layer needs every batch to have the same size (fix the batch size with Input(batch_size=...) or "
                "batch_input_shape, use a number of samples divisible by batch_size, and shuffle=False)"
            )
        return [s.to(like.device) for s in self.states]

    # ----- call -------------------------------------------------------------------------------
    def call(self, sequences: torch.Tensor, initial_state: Any = None, mask: torch.Tensor | None = None,
             training: bool = False) -> Any:
        x = sequences if sequences.is_floating_point() else sequences.float()  # Keras casts to the layer's dtype
        if x.dim() != 3:
            raise self._error(f"expects inputs of shape (batch, timesteps, features), got {fmt_shape(tuple(x.shape))}")
        B, T, I = x.shape
        built_for = self.cell._build_shape[-1] if isinstance(self.cell, Layer) and self.cell._build_shape else I
        if I != built_for:
            raise self._error(f"was built for {built_for} input features but got an input of shape "
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
        if callable(getattr(self.cell, "reset_dropout_masks", None)):
            self.cell.reset_dropout_masks()  # a new sequence: new dropout masks
        if self._fused():
            out, new_states = self._run_fused(x, states, mask, training)
            if mask is not None and not self.zero_output_for_mask:
                out = _zeros_before_first_step(out, mask, self.go_backwards)
        else:
            out, new_states = self._run_steps(x, states, mask, training)
        if self.stateful:
            self.states = [s.detach() for s in new_states]
        if self.return_sequences:
            output = out.flip(1) if self.go_backwards else out  # Keras: processing order
        else:
            output = out[:, 0] if self.go_backwards else out[:, -1]  # (B, U) the last step processed
        if self.return_state:
            return (output, *self._grouped(new_states))
        return output

    def _grouped(self, states: list[Any]) -> list[Any]:
        """Stacked cells return one list of states per cell, as Keras; others a flat list."""
        return self.cell.group(states) if isinstance(self.cell, StackedRNNCells) else states

    def _run_fused(self, x: torch.Tensor, states: list[torch.Tensor | None], mask: torch.Tensor | None,
                   training: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """One lstmkit.ops call over the whole sequence; outputs in input order."""
        cell = self.cell
        B, _, I = x.shape
        in_mask, rec_mask = cell.dropout_masks(B, I, x, training)
        common = dict(mask=mask, reverse=self.go_backwards, activation=cell.activation_arg,
                      input_dropout_mask=in_mask, recurrent_dropout_mask=rec_mask,
                      zero_output_for_mask=self.zero_output_for_mask, backend=self.backend)
        weights = cell.torch_weights()
        if x.dtype != weights[0].dtype:  # a mixed policy: the cell computes in the input's half precision
            weights = tuple(None if w is None else w.to(x.dtype) for w in weights)
        args = (x, *weights)
        if cell.kind == "lstm":
            out, h, c = ops.lstm(*args, h0=states[0], c0=states[1], recurrent_activation=cell.recurrent_activation_arg,
                                 **common, **self._variant_ops_kwargs(x, training))
            return out, [h, c]
        if cell.kind == "gru":
            out, h = ops.gru(*args, h0=states[0], recurrent_activation=cell.recurrent_activation_arg,
                             reset_after=cell.reset_after, **common, **self._variant_ops_kwargs(x, training))
            return out, [h]
        out, h = ops.simple_rnn(*args, h0=states[0], **common)
        return out, [h]

    def _variant_ops_kwargs(self, x: torch.Tensor, training: bool) -> dict[str, Any]:
        """The variants' keywords of lstmkit.ops (lstmkit's LSTM and GRU layers have them; RNN(cell) none)."""
        return {}

    def _run_steps(self, x: torch.Tensor, states: list[torch.Tensor | None], mask: torch.Tensor | None,
                   training: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The cell called at every step, in processing order; outputs in input order (as the fused path)."""
        B, T, _ = x.shape
        if any(s is None for s in states):
            init = getattr(self.cell, "get_initial_state", None)
            made = list(init(B)) if callable(init) else [x.new_zeros(B, n) for n in self._state_sizes]
            states = [m.to(x.device) if s is None else s for s, m in zip(states, made)]
        current: list[torch.Tensor] = [s for s in states if s is not None]
        outputs: list[torch.Tensor] = []
        previous: torch.Tensor | None = None  # the output carried over masked steps (zeros before the first)
        for t in (range(T - 1, -1, -1) if self.go_backwards else range(T)):
            y, new = step(self.cell, x[:, t], current, training)
            if mask is not None:
                keep = mask[:, t : t + 1]  # (B, 1): real steps take the new output and states
                carried = y.new_zeros(y.shape) if self.zero_output_for_mask or previous is None else previous
                y = torch.where(keep, y, carried)
                new = [torch.where(keep, n, s) for n, s in zip(new, current)]
            outputs.append(y)
            previous, current = y, new
        if self.go_backwards:
            outputs.reverse()  # input order, as the fused path returns it
        return torch.stack(outputs, dim=1), current

    def compute_output_shape(self, input_shape: Shape) -> Any:
        B, T = input_shape[0], input_shape[1]
        U = self._output_size
        out = (B, T, U) if self.return_sequences else (B, U)
        if self.return_state:
            return (out, *self._grouped([(B, n) for n in self._state_sizes]))
        return out

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out_mask = mask if self.return_sequences else None
        if self.return_state:
            return [out_mask] + [None] * len(self._grouped(list(range(self._n_states))))
        return out_mask

    # ----- config -----------------------------------------------------------------------------
    def _rnn_config(self) -> dict[str, Any]:
        return {"return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll,
                "zero_output_for_mask": self.zero_output_for_mask, "backend": self.backend}

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self._rnn_config(), "cell": to_config(self.cell)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RNN:
        config = dict(config)
        return cls(cell_from_config(config.pop("cell")), **config)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, cell={type(self.cell).__name__}"


def _zeros_before_first_step(out: torch.Tensor, mask: torch.Tensor, backwards: bool) -> torch.Tensor:
    """Keras' output at the masked steps before a row's first real step (in processing order) is zeros, not the
    initial state that lstmkit.ops carries there (they differ with an initial_state or a learned one)."""
    seen = mask.flip(1).cumsum(1).flip(1) if backwards else mask.cumsum(1)  # (B, T) real steps processed so far
    return out.masked_fill((seen == 0)[:, :, None], 0.0)  # (B, T, U)


# The layer options that are the cell's (Keras' LSTM, GRU and SimpleRNN read them through properties).
_CELL_OPTIONS = ("units", "activation", "recurrent_activation", "use_bias", "kernel_initializer",
                 "recurrent_initializer", "bias_initializer", "unit_forget_bias", "kernel_regularizer",
                 "recurrent_regularizer", "bias_regularizer", "kernel_constraint", "recurrent_constraint",
                 "bias_constraint", "dropout", "recurrent_dropout", "seed", "reset_after")


class _CellLayer(RNN):
    """SimpleRNN, LSTM and GRU: an RNN over the built-in cell made from the layer's own arguments."""

    cell_class: type = SimpleRNNCell
    cell_name = ""

    def __init__(self, cell_kwargs: dict[str, Any], layer_kwargs: dict[str, Any],
                 variants: dict[str, Any] | None = None) -> None:
        variants = check_options(self.cell_class.kind, {**DEFAULTS, **(variants or {})},
                                 bool(cell_kwargs.get("reset_after", True)))
        cell = self.cell_class(**cell_kwargs, name=self.cell_name, trainable=layer_kwargs.get("trainable", True))
        activity_regularizer = layer_kwargs.pop("activity_regularizer", None)
        has_cudnn = "use_cudnn" in layer_kwargs  # LSTM and GRU take it, SimpleRNN does not (as in Keras)
        use_cudnn = layer_kwargs.pop("use_cudnn", None)
        if has_cudnn and use_cudnn not in ("auto", True, False):
            raise ValueError(f"use_cudnn must be 'auto', True or False, got use_cudnn={use_cudnn!r}")
        super().__init__(cell, activity_regularizer=activity_regularizer, **layer_kwargs)
        if has_cudnn:  # kept (not in the config) for Keras programs; lstmkit.ops picks its own kernel
            self.use_cudnn = use_cudnn
        # lstmkit extensions (lstmkit.keras.layers.recurrent_variants); a plain layer has none of their weights
        self.variant_options = variants
        for name, value in variants.items():
            setattr(self, name, value)
        self.zoneout_generator: torch.Generator | None = None
        self._variant_weights = None if not needs_weights(variants) else RecurrentVariants(
            self.cell_class.kind, cell.units, variants["peephole"], variants["layer_norm"],
            variants["learn_initial_state"], kernel_initializer=cell.kernel_initializer)

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        if self._variant_weights is not None and not self._weight_specs:
            self._variant_weights.build(self)  # the layer's own weights, before its cell's

    def _initial_states(self, B: int, initial_state: Any, like: torch.Tensor) -> list[torch.Tensor | None]:
        states = super()._initial_states(B, initial_state, like)
        extra = self._variant_weights
        if extra is not None and extra.learn_initial_state and all(s is None for s in states):
            return list(extra.initial_states(self, B, like))
        return states

    def _variant_ops_kwargs(self, x: torch.Tensor, training: bool) -> dict[str, Any]:
        extra = self._variant_weights
        kw = {} if extra is None else extra.ops_kwargs(self, x.dtype)
        return {**kw, **zoneout_kwargs(self.variant_options, x, self.cell.units, training, self.zoneout_generator)}

    def __getattr__(self, name: str) -> Any:
        if name in _CELL_OPTIONS and "cell" in self.__dict__.get("_modules", {}):
            return getattr(self._modules["cell"], name)
        return super().__getattr__(name)

    def get_config(self) -> dict[str, Any]:
        cell = self.cell.get_config()
        for key in ("name", "trainable", "batch_input_shape"):
            cell.pop(key, None)
        config = {**Layer.get_config(self), **cell, **self._rnn_config(), **config_entries(self.variant_options)}
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RNN:
        return cls(**config)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, units={self.cell.units}"


def _split(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A layer's keyword arguments split into its cell's and its own."""
    cell = {k: kwargs.pop(k) for k in list(kwargs) if k in _CELL_OPTIONS}
    return cell, kwargs


class SimpleRNN(_CellLayer):
    """Elman RNN: h_t = activation(x_t · kernel + h_{t-1} · recurrent_kernel + bias)."""

    cell_class, cell_name = SimpleRNNCell, "simple_rnn_cell"

    def __init__(self, units: int, activation: Any = "tanh", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None, kernel_constraint: Any = None,
                 recurrent_constraint: Any = None, bias_constraint: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False, seed: int | None = None,
                 **kwargs: Any) -> None:
        cell, own = _split(dict(units=units, activation=activation, use_bias=use_bias,
                                kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                                bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
                                recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                                activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                                recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                                dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
                                return_sequences=return_sequences, return_state=return_state,
                                go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs))
        super().__init__(cell, own)


class LSTM(_CellLayer):
    """Long short-term memory (Hochreiter & Schmidhuber 1997), gates i, f, c, o; equations in
    `lstmkit.ops.reference.lstm`. With `unit_forget_bias` the forget-gate bias starts at 1.

    lstmkit extensions (not in Keras; `lstmkit.keras.layers.recurrent_variants`): `peephole`, `layer_norm`,
    `zoneout_h`, `zoneout_c`, `learn_initial_state`."""

    cell_class, cell_name = LSTMCell, "lstm_cell"

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 unit_forget_bias: bool = True, kernel_regularizer: Any = None, recurrent_regularizer: Any = None,
                 bias_regularizer: Any = None, activity_regularizer: Any = None, kernel_constraint: Any = None,
                 recurrent_constraint: Any = None, bias_constraint: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: int | None = None, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False,
                 unroll: bool = False, use_cudnn: Any = "auto", peephole: bool = False, layer_norm: bool = False,
                 zoneout_h: float = 0.0, zoneout_c: float = 0.0, learn_initial_state: bool = False,
                 **kwargs: Any) -> None:
        cell, own = _split(dict(units=units, activation=activation, recurrent_activation=recurrent_activation,
                                use_bias=use_bias, kernel_initializer=kernel_initializer,
                                recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                                unit_forget_bias=unit_forget_bias, kernel_regularizer=kernel_regularizer,
                                recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
                                activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
                                recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                                dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed,
                                return_sequences=return_sequences, return_state=return_state,
                                go_backwards=go_backwards, stateful=stateful, unroll=unroll, use_cudnn=use_cudnn,
                                **kwargs))
        super().__init__(cell, own, dict(peephole=peephole, layer_norm=layer_norm, zoneout_h=zoneout_h,
                                         zoneout_c=zoneout_c, learn_initial_state=learn_initial_state))


class GRU(_CellLayer):
    """Gated recurrent unit (Cho et al. 2014), Keras gates z, r, h; `reset_after=True` (Keras 3's and
    PyTorch's equation) applies the reset gate after the recurrent matmul and has two biases.

    lstmkit extensions (not in Keras; `lstmkit.keras.layers.recurrent_variants`): `layer_norm`
    (reset_after=True), `zoneout_h`, `learn_initial_state`."""

    cell_class, cell_name = GRUCell, "gru_cell"

    def __init__(self, units: int, activation: Any = "tanh", recurrent_activation: Any = "sigmoid",
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 recurrent_initializer: Any = "orthogonal", bias_initializer: Any = "zeros",
                 kernel_regularizer: Any = None, recurrent_regularizer: Any = None, bias_regularizer: Any = None,
                 activity_regularizer: Any = None, kernel_constraint: Any = None, recurrent_constraint: Any = None,
                 bias_constraint: Any = None, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 seed: int | None = None, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 reset_after: bool = True, use_cudnn: Any = "auto", layer_norm: bool = False,
                 zoneout_h: float = 0.0, learn_initial_state: bool = False, **kwargs: Any) -> None:
        variants = dict(layer_norm=layer_norm, zoneout_h=zoneout_h, learn_initial_state=learn_initial_state)
        variants.update({k: kwargs.pop(k) for k in ("peephole", "zoneout_c") if k in kwargs})  # refused by name
        cell, own = _split(dict(units=units, activation=activation, recurrent_activation=recurrent_activation,
                                use_bias=use_bias, kernel_initializer=kernel_initializer,
                                recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
                                kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                                bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
                                kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
                                bias_constraint=bias_constraint, dropout=dropout,
                                recurrent_dropout=recurrent_dropout, seed=seed, return_sequences=return_sequences,
                                return_state=return_state, go_backwards=go_backwards, stateful=stateful,
                                unroll=unroll, reset_after=reset_after, use_cudnn=use_cudnn, **kwargs))
        super().__init__(cell, own, variants)


__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "SimpleRNN", "SimpleRNNCell", "StackedRNNCells"]
