"""ConvLSTM1D and ConvLSTM2D (Shi et al. 2015): an LSTM whose input and recurrent transforms are
convolutions, as Keras 3 defines them (keras/src/layers/rnn/conv_lstm.py).

Dimensions: B batch, T time, C input channels, F filters, S the spatial sizes of an input frame,
S' those of the state (what the input convolution makes of S). With `*` a convolution, one step is

    z       = x_t * kernel + bias + h_{t-1} * recurrent_kernel      # (B, 4F, *S'), gates i, f, c, o
    i, f, o = recurrent_activation(z_i), recurrent_activation(z_f), recurrent_activation(z_o)
    c_t     = f ⊙ c_{t-1} + i ⊙ activation(z_c)
    h_t     = o ⊙ activation(c_t)

The input convolution takes the layer's strides, padding and dilation_rate; the recurrent one is always
stride 1, "same" padding, no dilation (Keras' `recurrent_conv`), so the state keeps the shape S'. The
weights are Keras': kernel (*kernel_size, C, 4F), recurrent_kernel (*kernel_size, F, 4F), bias (4F,)
(its forget quarter starts at 1 with `unit_forget_bias`); torch's conv reads them as permuted views
(4F, C, *kernel_size). The input convolution does not depend on the state, so the layer runs it once
over all B*T frames before the loop over time.

Dropout as Keras' ConvLSTMCell: four input masks (one per gate, each the shape of an input frame) and
four state masks, drawn once per call and used at every step; the four masked copies go through one
grouped convolution (groups=4). Masks (B, T) carry output and states over masked steps, `go_backwards`
returns the sequence in processing order and `stateful` keeps the final states, as `RNN` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from lstmkit.keras import activations as activations_mod
from lstmkit.keras import constraints as constraints_mod
from lstmkit.keras import initializers as initializers_mod
from lstmkit.keras import regularizers as regularizers_mod
from lstmkit.keras.keras_tensor import Shape
from lstmkit.keras.layers.conv import (
    _check_format,
    _one,
    check_padding,
    check_strides_dilation,
    convolve,
    ntuple,
    spatial_shape,
)
from lstmkit.keras.layers.layer import Layer, fmt_shape
from lstmkit.keras.layers.recurrent import RNN

_AXES = {1: "steps", 2: "rows, cols", 3: "dim1, dim2, dim3"}


def _conv_options(owner: str, rank: int, kernel_size: Any, strides: Any, padding: Any, data_format: Any,
                  dilation_rate: Any) -> tuple[tuple[int, ...], tuple[int, ...], str, str, tuple[int, ...]]:
    """Keras' checks of the convolution arguments, with errors naming `owner`."""
    kernel = ntuple(kernel_size, rank, f"{owner}: kernel_size")
    stride = ntuple(strides, rank, f"{owner}: strides")
    dilation = ntuple(dilation_rate, rank, f"{owner}: dilation_rate")
    check_strides_dilation(stride, dilation, owner)
    return kernel, stride, check_padding(padding, owner), _check_format(data_format), dilation


def _rate(p: Any, name: str, owner: str) -> float:
    if not 0.0 <= float(p) < 1.0:
        raise ValueError(f"{owner}: {name} must be in [0, 1) (1 would drop everything), got {p}")
    return float(p)


def _to_first(t: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """(N, *S, C) -> (N, C, *S) when channels_last."""
    return t.movedim(-1, 1) if channels_last else t


def _to_format(t: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """(N, C, *S) -> (N, *S, C) when channels_last."""
    return t.movedim(1, -1) if channels_last else t


class ConvLSTMCell(Layer):
    """One ConvLSTM step over frames of rank `rank`: `call(inputs, [h, c]) -> (h, [h, c])`, all in the
    cell's data format. The equations are in this module's docstring."""

    def __init__(self, rank: int, filters: int, kernel_size: int | tuple, strides: int | tuple = 1,
                 padding: str = "valid", data_format: str | None = None, dilation_rate: int | tuple = 1,
                 activation: Any = "tanh", recurrent_activation: Any = "sigmoid", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", unit_forget_bias: bool = True, kernel_regularizer: Any = None,
                 recurrent_regularizer: Any = None, bias_regularizer: Any = None, kernel_constraint: Any = None,
                 recurrent_constraint: Any = None, bias_constraint: Any = None, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        owner = type(self).__name__
        if rank not in (1, 2, 3):
            raise ValueError(f"{owner}: rank must be 1, 2 or 3, got {rank!r}")
        self.rank = rank
        self.filters = _one(filters, f"{owner}: filters")
        (self.kernel_size, self.strides, self.padding, self.data_format,
         self.dilation_rate) = _conv_options(owner, rank, kernel_size, strides, padding, data_format, dilation_rate)
        self.activation = activations_mod.get(activation)
        self.recurrent_activation = activations_mod.get(recurrent_activation)
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
        self.dropout = _rate(dropout, "dropout", owner)
        self.recurrent_dropout = _rate(recurrent_dropout, "recurrent_dropout", owner)
        self.seed = seed
        self.state_size = -1  # Keras' value: the states are feature maps, not vectors
        self._generator: torch.Generator | None = None
        self._masks: tuple[torch.Tensor | None, torch.Tensor | None] | None = None
        self._frame: tuple[int, ...] | None = None  # (C, *S) of the frames it was built for

    @property
    def _channels_last(self) -> bool:
        return self.data_format == "channels_last"

    # ----- shapes
    def _check_input_shape(self, input_shape: Any) -> None:
        if not isinstance(input_shape, tuple) or len(input_shape) != self.rank + 2:
            raise self._error(f"expects frames of rank {self.rank + 2} (batch, ...), got {fmt_shape(input_shape)}")
        channels, spatial = self._split(input_shape)
        if channels is None or None in spatial:
            raise self._error(f"needs known channels and spatial sizes (as Keras), got {fmt_shape(input_shape)}")
        if 0 in self._state_spatial(spatial):
            raise self._error(f"a frame of {fmt_shape(spatial)} is smaller than the kernel {self.kernel_size} "
                              f"(dilation {self.dilation_rate})")

    def _split(self, frame_shape: tuple) -> tuple[Any, tuple]:
        """(channels, spatial sizes) of a (batch, ...) frame shape."""
        if self._channels_last:
            return frame_shape[-1], tuple(frame_shape[1:-1])
        return frame_shape[1], tuple(frame_shape[2:])

    def _state_spatial(self, spatial: tuple) -> tuple:
        return spatial_shape(spatial, self.kernel_size, self.strides, self.padding, self.dilation_rate)

    def state_shape(self, frame_shape: tuple | None = None) -> tuple:
        """The shape of h and c without the batch, in the data format (S' from the frames built for)."""
        if frame_shape is None:
            if self._frame is None:
                raise self._error("is not built: its state shape is not known yet")
            spatial = self._frame[1:]
        else:
            spatial = self._split(frame_shape)[1]
        out = self._state_spatial(spatial)
        return (*out, self.filters) if self._channels_last else (self.filters, *out)

    def build(self, input_shape: Shape) -> None:
        channels, spatial = self._split(input_shape)
        self._frame = (channels, *spatial)
        F, k = self.filters, self.kernel_size
        self.kernel = self.add_weight((*k, channels, 4 * F), self.kernel_initializer,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint,
                                      name="kernel")
        self.recurrent_kernel = self.add_weight((*k, F, 4 * F), self.recurrent_initializer,
                                                regularizer=self.recurrent_regularizer,
                                                constraint=self.recurrent_constraint, name="recurrent_kernel")
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight((4 * F,), self._bias_initializer(), regularizer=self.bias_regularizer,
                                        constraint=self.bias_constraint, name="bias")

    def _bias_initializer(self) -> Any:
        if not self.unit_forget_bias:
            return self.bias_initializer
        F, init = self.filters, self.bias_initializer

        def forget_one(shape: tuple[int, ...], dtype: Any = None) -> torch.Tensor:  # Keras' unit_forget_bias
            return torch.cat([init((F,)), torch.ones(F), init((2 * F,))])

        return forget_one

    # ----- the two convolutions and the gates, on channels-first tensors
    def _torch_kernel(self, kernel: torch.Tensor) -> torch.Tensor:
        """(*k, in, 4F) -> torch's (4F, in, *k)."""
        r = self.rank
        return kernel.permute(r + 1, r, *range(r))

    def input_conv(self, x: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """x (N, C, *S) -> x * kernel + bias (N, 4F, *S'); with `masks` (N, 4C, *S), gate g sees x ⊙ masks_g."""
        weight = self._torch_kernel(self.kernel)  # (4F, C, *k)
        if masks is None:
            return convolve(x, weight, self.bias, self.strides, self.padding, self.dilation_rate)
        x = x.repeat(1, 4, *([1] * self.rank)) * masks  # (N, 4C, *S): gate g's copy in channels g*C:(g+1)*C
        return convolve(x, weight, self.bias, self.strides, self.padding, self.dilation_rate, groups=4)

    def recurrent_conv(self, h: torch.Tensor, masks: torch.Tensor | None = None) -> torch.Tensor:
        """h (N, F, *S') -> h * recurrent_kernel (N, 4F, *S'): stride 1, "same", no dilation (Keras')."""
        weight = self._torch_kernel(self.recurrent_kernel)  # (4F, F, *k)
        ones = (1,) * self.rank
        if masks is None:
            return convolve(h, weight, None, ones, "same", ones)
        h = h.repeat(1, 4, *ones) * masks  # (N, 4F, *S')
        return convolve(h, weight, None, ones, "same", ones, groups=4)

    def gates(self, z: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z (N, 4F, *S') and c_prev -> (h, c), the module docstring's last three lines."""
        z_i, z_f, z_c, z_o = z.chunk(4, dim=1)
        ra = self.recurrent_activation
        c = ra(z_f) * c + ra(z_i) * self.activation(z_c)
        h = ra(z_o) * self.activation(c)
        return h, c

    # ----- dropout
    def reset_dropout_masks(self) -> None:
        self._masks = None

    def dropout_masks(self, batch: int, like: torch.Tensor, training: bool
                      ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(input masks (B, 4C, *S), state masks (B, 4F, *S')), channels first, of 0 and 1/(1-p): drawn on
        first use after `reset_dropout_masks`, then reused (once per sequence, as Keras)."""
        if not training or (self.dropout == 0 and self.recurrent_dropout == 0):
            return None, None
        if self._masks is None or self._masks_stale(batch, like):
            if self.seed is not None and (self._generator is None or self._generator.device != like.device):
                self._generator = torch.Generator(device=like.device)
                self._generator.manual_seed(int(self.seed))
            assert self._frame is not None
            channels, spatial = self._frame[0], self._frame[1:]
            state = self._state_spatial(spatial)
            self._masks = (self._mask((batch, 4 * channels, *spatial), self.dropout, like),
                           self._mask((batch, 4 * self.filters, *state), self.recurrent_dropout, like))
        return self._masks

    def _mask(self, shape: tuple, p: float, like: torch.Tensor) -> torch.Tensor | None:
        if p == 0:
            return None
        keep = torch.rand(shape, device=like.device, generator=self._generator) >= p
        return keep.to(like.dtype) / (1.0 - p)

    def _masks_stale(self, batch: int, like: torch.Tensor) -> bool:
        assert self._masks is not None
        m = next((t for t in self._masks if t is not None), None)
        return m is None or m.shape[0] != batch or m.device != like.device

    # ----- Keras' cell protocol
    def get_initial_state(self, batch_size: int) -> list[torch.Tensor]:
        shape = (batch_size, *self.state_shape())
        return [torch.zeros(shape, device=self._device()) for _ in range(2)]

    def call(self, inputs: Any, states: Any, training: bool = False) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = inputs if isinstance(inputs, torch.Tensor) else torch.as_tensor(np.asarray(inputs), dtype=torch.float32)
        x = x if x.is_floating_point() else x.float()
        if not isinstance(states, (list, tuple)) or len(states) != 2:
            raise self._error("takes two states [h, c]")
        frame = self._frame
        if x.dim() != self.rank + 2 or (self._split(tuple(x.shape))[0], *self._split(tuple(x.shape))[1]) != frame:
            raise self._error(f"was built for frames of {frame} (channels, *spatial), got {fmt_shape(tuple(x.shape))}")
        expected = (x.shape[0], *self.state_shape())
        h, c = (torch.as_tensor(s, dtype=x.dtype, device=x.device) for s in states)
        for s in (h, c):
            if tuple(s.shape) != expected:
                raise self._error(f"states must have shape {fmt_shape(expected)}, got {fmt_shape(tuple(s.shape))}")
        cl = self._channels_last
        in_masks, rec_masks = self.dropout_masks(x.shape[0], x, training)
        z = self.input_conv(_to_first(x, cl), in_masks) + self.recurrent_conv(_to_first(h, cl), rec_masks)
        h, c = self.gates(z, _to_first(c, cl))
        h, c = _to_format(h, cl), _to_format(c, cl)
        return h, [h, c]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **_options_config(self)}

    def extra_repr(self) -> str:
        return f"name={self.name!r}, filters={self.filters}, kernel_size={self.kernel_size}"


def _options_config(cell: ConvLSTMCell) -> dict[str, Any]:
    return {"filters": cell.filters, "kernel_size": cell.kernel_size, "strides": cell.strides,
            "padding": cell.padding, "data_format": cell.data_format, "dilation_rate": cell.dilation_rate,
            "activation": activations_mod.serialize(cell.activation),
            "recurrent_activation": activations_mod.serialize(cell.recurrent_activation), "use_bias": cell.use_bias,
            "kernel_initializer": initializers_mod.serialize(cell.kernel_initializer),
            "recurrent_initializer": initializers_mod.serialize(cell.recurrent_initializer),
            "bias_initializer": initializers_mod.serialize(cell.bias_initializer),
            "unit_forget_bias": cell.unit_forget_bias,
            "kernel_regularizer": regularizers_mod.serialize(cell.kernel_regularizer),
            "recurrent_regularizer": regularizers_mod.serialize(cell.recurrent_regularizer),
            "bias_regularizer": regularizers_mod.serialize(cell.bias_regularizer),
            "kernel_constraint": constraints_mod.serialize(cell.kernel_constraint),
            "recurrent_constraint": constraints_mod.serialize(cell.recurrent_constraint),
            "bias_constraint": constraints_mod.serialize(cell.bias_constraint),
            "dropout": cell.dropout, "recurrent_dropout": cell.recurrent_dropout, "seed": cell.seed}


# The layer options that are the cell's (read through the layer, as Keras' properties do).
_CELL_OPTIONS = ("filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate", "activation",
                 "recurrent_activation", "use_bias", "kernel_initializer", "recurrent_initializer",
                 "bias_initializer", "unit_forget_bias", "kernel_regularizer", "recurrent_regularizer",
                 "bias_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint", "dropout",
                 "recurrent_dropout", "seed")


class ConvLSTM(RNN):
    """Keras' N-D ConvLSTM: a `ConvLSTMCell` run over the time axis of (batch, time, *frame) inputs.

    An `RNN` for `isinstance`, `Model.reset_states()` and `reset_state()`; it runs its own loop, since
    its states are feature maps (B, *S', F) rather than the (B, units) vectors `RNN` handles.
    """

    def __init__(self, rank: int, filters: int, kernel_size: int | tuple, strides: int | tuple = 1,
                 padding: str = "valid", data_format: str | None = None, dilation_rate: int | tuple = 1,
                 activation: Any = "tanh", recurrent_activation: Any = "sigmoid", use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", recurrent_initializer: Any = "orthogonal",
                 bias_initializer: Any = "zeros", unit_forget_bias: bool = True, kernel_regularizer: Any = None,
                 recurrent_regularizer: Any = None, bias_regularizer: Any = None, activity_regularizer: Any = None,
                 kernel_constraint: Any = None, recurrent_constraint: Any = None, bias_constraint: Any = None,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, seed: int | None = None,
                 return_sequences: bool = False, return_state: bool = False, go_backwards: bool = False,
                 stateful: bool = False, **kwargs: Any) -> None:
        owner = type(self).__name__
        _conv_options(owner, rank, kernel_size, strides, padding, data_format, dilation_rate)  # errors name the layer
        _rate(dropout, "dropout", owner)
        _rate(recurrent_dropout, "recurrent_dropout", owner)
        cell = ConvLSTMCell(rank, filters, kernel_size, strides=strides, padding=padding, data_format=data_format,
                            dilation_rate=dilation_rate, activation=activation,
                            recurrent_activation=recurrent_activation, use_bias=use_bias,
                            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
                            bias_initializer=bias_initializer, unit_forget_bias=unit_forget_bias,
                            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
                            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                            recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
                            dropout=dropout, recurrent_dropout=recurrent_dropout, seed=seed, name="conv_lstm_cell",
                            trainable=kwargs.get("trainable", True))
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful, activity_regularizer=activity_regularizer,
                         **kwargs)
        self.rank = rank

    def __getattr__(self, name: str) -> Any:
        if name in _CELL_OPTIONS and "cell" in self.__dict__.get("_modules", {}):
            return getattr(self._modules["cell"], name)
        return super().__getattr__(name)

    @property
    def _channels_last(self) -> bool:
        return self.cell.data_format == "channels_last"

    def _fused(self) -> bool:
        return False

    # ----- building
    def _layout(self) -> str:
        axes = _AXES[self.rank]
        return f"(batch, time, {axes}, channels)" if self._channels_last else f"(batch, time, channels, {axes})"

    def _check_input_shape(self, input_shape: Any) -> None:
        if not isinstance(input_shape, tuple) or len(input_shape) != self.rank + 3:
            raise self._error(f"expects inputs of shape {self._layout()}, got {fmt_shape(input_shape)}")
        try:
            self.cell._check_input_shape((input_shape[0], *input_shape[2:]))
        except ValueError as e:
            raise self._error(f"{e}; input shape {fmt_shape(input_shape)}") from None

    def build(self, input_shape: Shape) -> None:
        if not self.cell.built:
            self.cell._maybe_build((input_shape[0], *input_shape[2:]))
        if self.stateful and input_shape[0] is not None:
            self.reset_state_size(input_shape[0])

    # ----- states, in the layer's data format
    def reset_state_size(self, batch_size: int) -> None:
        self.states = self.cell.get_initial_state(batch_size)

    def reset_state(self, states: Any = None) -> None:
        """Zero the kept states of a stateful layer (or set them to `states`, [h, c])."""
        if not self.stateful:
            raise self._error("reset_state() is only for stateful layers (stateful=True)")
        if states is None:
            if self.states is not None:
                self.states = [torch.zeros_like(s) for s in self.states]
            return
        states = [torch.as_tensor(np.asarray(s) if not isinstance(s, torch.Tensor) else s, dtype=torch.float32)
                  for s in (states if isinstance(states, (list, tuple)) else [states])]
        shape = self.cell.state_shape()
        if len(states) != 2 or any(tuple(s.shape[1:]) != shape or s.shape[0] != states[0].shape[0] for s in states):
            raise self._error(f"reset_state expects two arrays [h, c] of shape (batch, {', '.join(map(str, shape))}), "
                              f"got {[fmt_shape(tuple(s.shape)) for s in states]}")
        self.states = [s.to(self._device()) for s in states]

    def _initial_states(self, B: int, initial_state: Any, like: torch.Tensor) -> list[torch.Tensor]:
        expected = (B, *self.cell.state_shape())
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            if len(states) != 2:
                raise self._error(f"initial_state must hold two tensors [h, c], got {len(states)}")
            out = [torch.as_tensor(np.asarray(s) if not isinstance(s, torch.Tensor) else s, dtype=like.dtype,
                                   device=like.device) for s in states]
            for s in out:
                if tuple(s.shape) != expected:
                    raise self._error(f"each initial state must have shape {fmt_shape(expected)}, got "
                                      f"{fmt_shape(tuple(s.shape))}")
            return out
        if not self.stateful:
            return [like.new_zeros(expected) for _ in range(2)]
        if self.states is None:
            self.reset_state_size(B)
        assert self.states is not None
        if self.states[0].shape[0] != B:
            raise self._error(
                f"is stateful with batch size {self.states[0].shape[0]} but got a batch of {B} sequences; a stateful "
                "layer needs every batch to have the same size (fix it with Input(batch_size=...) or "
                "batch_input_shape, use a number of samples divisible by batch_size, and shuffle=False)"
            )
        return [s.to(like.device) for s in self.states]

    # ----- call
    def call(self, sequences: torch.Tensor, initial_state: Any = None, mask: torch.Tensor | None = None,
             training: bool = False) -> Any:
        x = sequences if sequences.is_floating_point() else sequences.float()  # Keras casts to the layer's dtype
        if x.dim() != self.rank + 3:
            raise self._error(f"expects inputs of shape {self._layout()}, got {fmt_shape(tuple(x.shape))}")
        B, T = x.shape[:2]
        cell, cl = self.cell, self._channels_last
        frame = (cell._split(tuple(x.shape[1:]))[0], *cell._split(tuple(x.shape[1:]))[1])
        if frame != cell._frame:
            raise self._error(f"was built for frames of {cell._frame} (channels, *spatial) but got an input of "
                              f"shape {fmt_shape(tuple(x.shape))}")
        if mask is not None:
            mask = torch.as_tensor(mask, device=x.device)
            if mask.dim() == 3 and mask.shape[-1] == 1:
                mask = mask[..., 0]
            if tuple(mask.shape) != (B, T):
                raise self._error(f"the mask must have shape ({B}, {T}) (batch, time), got "
                                  f"{fmt_shape(tuple(mask.shape))}")
            mask = mask.bool()
        h, c = (_to_first(s, cl) for s in self._initial_states(B, initial_state, x))  # (B, F, *S')
        cell.reset_dropout_masks()  # a new sequence: new dropout masks
        in_masks, rec_masks = cell.dropout_masks(B, x, training)
        frames = _to_first(x.flatten(0, 1), cl)  # (B*T, C, *S)
        if in_masks is not None:
            in_masks = in_masks.repeat_interleave(T, dim=0)  # (B*T, 4C, *S): every step of a sequence alike
        zx = cell.input_conv(frames, in_masks)  # (B*T, 4F, *S')
        zx = zx.unflatten(0, (B, T))  # (B, T, 4F, *S')
        outputs: list[torch.Tensor] = []
        previous: torch.Tensor | None = None  # the output carried over masked steps (zeros before the first)
        for t in (range(T - 1, -1, -1) if self.go_backwards else range(T)):
            y, c_new = cell.gates(zx[:, t] + cell.recurrent_conv(h, rec_masks), c)
            h_new = y
            if mask is not None:
                keep = mask[:, t].view(B, *([1] * (y.dim() - 1)))  # (B, 1, ...): real steps take the new values
                carried = y.new_zeros(y.shape) if self.zero_output_for_mask or previous is None else previous
                y = torch.where(keep, y, carried)
                h_new, c_new = torch.where(keep, h_new, h), torch.where(keep, c_new, c)
            outputs.append(y)
            previous, h, c = y, h_new, c_new
        cell.reset_dropout_masks()
        h, c = _to_format(h, cl), _to_format(c, cl)
        if self.stateful:
            self.states = [h.detach(), c.detach()]
        if self.return_sequences:  # processing order, as Keras
            output = _to_format(torch.stack(outputs, dim=1).flatten(0, 1), cl).unflatten(0, (B, T))
        else:
            output = _to_format(outputs[-1], cl)
        if self.return_state:
            return output, h, c
        return output

    def compute_output_shape(self, input_shape: Shape) -> Any:
        B, T = input_shape[0], input_shape[1]
        state = (B, *self.cell.state_shape((B, *input_shape[2:])))
        out = (B, T, *state[1:]) if self.return_sequences else state
        return (out, state, state) if self.return_state else out

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        out_mask = mask if self.return_sequences else None
        return [out_mask, None, None] if self.return_state else out_mask

    # ----- config: Keras' keys (the cell's options flat, no "cell")
    def get_config(self) -> dict[str, Any]:
        return {**Layer.get_config(self), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards, "stateful": self.stateful,
                "unroll": self.unroll, "zero_output_for_mask": self.zero_output_for_mask,
                **_options_config(self.cell),
                "activity_regularizer": regularizers_mod.serialize(self.activity_regularizer)}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> ConvLSTM:
        return cls(**config)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, filters={self.cell.filters}, kernel_size={self.cell.kernel_size}"


class ConvLSTM1D(ConvLSTM):
    """ConvLSTM over (batch, time, steps, channels) inputs (or channels_first); Keras' arguments and
    defaults, those of `ConvLSTM` after `rank`."""

    def __init__(self, filters: int, kernel_size: int | tuple, **kwargs: Any) -> None:
        super().__init__(1, filters, kernel_size, **kwargs)


class ConvLSTM2D(ConvLSTM):
    """ConvLSTM over (batch, time, rows, cols, channels) inputs (or channels_first); Keras' arguments and
    defaults, those of `ConvLSTM` after `rank`."""

    def __init__(self, filters: int, kernel_size: int | tuple, **kwargs: Any) -> None:
        super().__init__(2, filters, kernel_size, **kwargs)
