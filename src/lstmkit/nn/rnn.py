"""`LSTM`, `GRU` and `RNN`: drop-in replacements for their `torch.nn` namesakes, on `lstmkit.ops`.

Each subclasses `torch.nn.RNNBase`, whose constructor makes the parameters (the same names, shapes,
initialisation, `_flat_weights`, `all_weights`, argument checks and repr as torch's modules), and
replaces its forward. Not `torch.nn.LSTM`/`GRU`/`RNN` themselves: torch.compile (Dynamo) refuses any
instance of those three ("Attempted to wrap RNN, GRU, or LSTM") unless a process-wide experimental
flag is set, and compiling lstmkit's modules with fullgraph=True matters more than `isinstance`
against the leaf classes; `isinstance(m, torch.nn.RNNBase)` holds. Same call
signature and return values as torch's, so `load_state_dict` works both ways. What torch lacks
comes as keyword-only extras: `backend=`, `recurrent_dropout=`, activations, `reset_after=` (GRU),
and `mask=` / `lengths=` at call time. Shape errors are `lstmkit.errors.ShapeError`, both a
ValueError and torch's RuntimeError, with torch's phrase.

Two things torch's modules do not have (issue 19; parameters made by `lstmkit.nn.widths`):
  GRU(..., proj_size=P)   the projected GRU (equations in `lstmkit.ops.reference.gru`): the state h stays H
                          wide, the output and the recurrence read y = W_hr h (P wide); weight_hr_l{k} (P, H)
                          and weight_hh_l{k} (3H, P) as torch's LSTM names them. Unlike the LSTM's projected
                          h_n, the GRU's h_n and hx are (L*D, B, H): the whole state, from which y follows.
  hidden_size=[H_0, ..., H_{L-1}]   one width per layer (a list as long as num_layers); layer k reads layer
                          k-1's output (D * H_{k-1}, or D * P with a projection). The final states of layers of
                          different widths do not stack into one tensor, so a module made with a list takes and
                          returns them as lists of L*D tensors in torch's order (k = layer * D + direction):
                          h_n = [(B, width of layer k's state)] (unbatched: (width,)), and for the LSTM the
                          pair (h_n, c_n) of two such lists; `hx` takes the same form. h_n[-1] is then the top
                          layer's last direction, as torch's h_n[-1]. state_dict names are torch's.

Dimensions: B batch, T time, I input features, H hidden units, P projection, L layers, D directions.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from lstmkit import ops
from lstmkit.errors import ShapeError
from lstmkit.nn.variants import VariantOptions
from lstmkit.nn.widths import check_proj_size, layer_widths, make_parameters
from lstmkit.ops.activations import Activation
from lstmkit.ops.checks import normalize_mask, quiet_under_jit_trace

# torch's stacked states, or (per-layer widths) lists of L*D states
State = (torch.Tensor | tuple[torch.Tensor, torch.Tensor]
         | list[torch.Tensor] | tuple[list[torch.Tensor], list[torch.Tensor]])


class LayerWeights(NamedTuple):
    """The parameters of one layer and direction (torch's names without the `_l{k}[_reverse]` suffix)."""

    weight_ih: torch.Tensor
    weight_hh: torch.Tensor
    bias_ih: torch.Tensor | None
    bias_hh: torch.Tensor | None
    weight_hr: torch.Tensor | None


class _Extras(VariantOptions):
    """What lstmkit adds to a torch.nn recurrent module: a forward on `lstmkit.ops`, its keywords."""

    _kind: str = ""  # "LSTM", "GRU" or "RNN"
    # set by torch's constructor
    input_size: int
    hidden_size: int  # a list when made with one width per layer (VariantOptions._layer_hidden reads it)
    num_layers: int
    bias: bool
    batch_first: bool
    dropout: float
    bidirectional: bool
    proj_size: int
    training: bool

    def _set_extras(self, backend: str, recurrent_dropout: float, activation: str | Activation,
                    recurrent_activation: str | Activation) -> None:
        if not 0.0 <= float(recurrent_dropout) < 1.0:  # a state multiplied by 0 / (1 - 1) at every step
            raise ValueError(f"recurrent_dropout must be in [0, 1) (1 would drop the whole state at every step), "
                             f"got {recurrent_dropout}")
        self.backend = backend
        self.recurrent_dropout = float(recurrent_dropout)
        self.activation = activation
        self.recurrent_activation = recurrent_activation

    def flatten_parameters(self) -> None:
        """Accepted for drop-in compatibility; lstmkit keeps no flat cuDNN buffer."""

    def _remake_parameters(self, widths: list[int], per_layer: bool, proj_size: int, device: Any,
                           dtype: torch.dtype | None) -> None:
        """Per-layer widths or the GRU's projection: the weights torch's constructor cannot make (`lstmkit.nn.widths`),
        initialised as torch's (per layer: U(-1/√H_k, 1/√H_k)). `per_layer`: `hidden_size` was given as a list, and
        stays one (the states then are lists, even when the widths are equal); else it stays torch's int."""
        self.proj_size = proj_size
        if per_layer:
            setattr(self, "hidden_size", list(widths))  # noqa: B010 (torch's RNNBase declares it an int)
        make_parameters(self, widths, {"device": device, "dtype": dtype})  # type: ignore[arg-type]
        self.reset_parameters()

    def __prepare_scriptable__(self) -> nn.Module:
        """torch.jit.script: a clear error. TorchScript cannot compile lstmkit's forward (keyword-only
        arguments, a dispatch in Python), and in torch 2.13 scripting torch.nn's own LSTM/GRU/RNN ends
        in "'RecursiveScriptModule' object has no attribute 'forward'", so there is no twin to hand
        it either."""
        raise RuntimeError(
            f"torch.jit.script cannot compile lstmkit.nn.{type(self).__name__} (TorchScript is deprecated and cannot "
            "compile its forward). Use torch.export.export or torch.compile, which keep lstmkit's ops and a dynamic "
            "sequence length; torch.jit.trace works on the CPU backend")

    def extra_repr(self) -> str:
        s = nn.RNNBase.extra_repr(self)  # type: ignore[arg-type]
        if self.recurrent_dropout:
            s += f", recurrent_dropout={self.recurrent_dropout}"
        if self.backend != "auto":
            s += f", backend={self.backend!r}"
        return s + self._variants_repr()

    # -- the recurrence of one layer and direction, implemented per mode ---------------------------
    def _run(
        self, x: torch.Tensor, w: LayerWeights, h0: torch.Tensor, c0: torch.Tensor | None,
        mask: torch.Tensor | None, reverse: bool, rec_mask: torch.Tensor | None, **variant: Any,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError

    def _layer_weights(self, layer: int, direction: int) -> LayerWeights:
        sfx = f"_l{layer}" + ("_reverse" if direction else "")
        return LayerWeights(getattr(self, "weight_ih" + sfx), getattr(self, "weight_hh" + sfx),
                            *(getattr(self, n + sfx, None) for n in ("bias_ih", "bias_hh", "weight_hr")))

    def _check_state(self, s: Any, shape: tuple[int, ...], name: str, phrase: str, x: torch.Tensor,
                     form: str = "(layers*directions, batch, size)") -> torch.Tensor:
        if not isinstance(s, torch.Tensor):
            raise ValueError(f"{name} must be a tensor of shape {shape}, got {type(s).__name__}")
        if tuple(s.shape) != shape:
            raise ShapeError(f"{phrase.format(shape, list(s.shape))}: {name} must be {form} = {shape}")
        if s.dtype != x.dtype or s.device != x.device:
            raise ValueError(
                f"{name} has dtype {s.dtype} on {s.device} but the input has dtype {x.dtype} on {x.device}"
            )
        return s

    @quiet_under_jit_trace
    def forward(
        self,
        input: torch.Tensor | PackedSequence,
        hx: State | None = None,
        *,
        mask: torch.Tensor | None = None,
        lengths: torch.Tensor | list[int] | None = None,
    ) -> tuple[torch.Tensor | PackedSequence, State]:
        """Run over `input` (T, B, I), (B, T, I) with batch_first, unbatched (T, I), or a PackedSequence.

        `mask` (B, T) bool (True = real step) or `lengths` (B,) mark padding on either side; at a
        masked step the state is carried forward and the output is zero, as for packed input.
        Returns (output, h_n) for GRU/RNN and (output, (h_n, c_n)) for LSTM, shaped as torch's.
        """
        packed_input = input if isinstance(input, PackedSequence) else None
        if packed_input is not None:
            if mask is not None or lengths is not None:
                raise ValueError("a PackedSequence carries its own lengths; do not pass mask= or lengths=")
            x, packed_lengths = pad_packed_sequence(packed_input, batch_first=True)  # (B, T, I), batch order
            lengths = packed_lengths
            batched = True
        else:
            if not isinstance(input, torch.Tensor):
                raise ValueError(f"input must be a tensor or a PackedSequence, got {type(input).__name__}")
            if input.dim() not in (2, 3):
                raise ShapeError(
                    f"{self._kind}: Expected input to be 2D or 3D, got {input.dim()}D instead: "
                    f"{type(self).__name__} takes (T, B, I), or (B, T, I) with batch_first, or unbatched (T, I); "
                    f"got shape {tuple(input.shape)}"
                )
            batched = input.dim() == 3
            x = input if not batched else (input if self.batch_first else input.transpose(0, 1))
            if not batched:
                x = x.unsqueeze(0)  # (1, T, I)
        if x.shape[-1] != self.input_size:
            raise ShapeError(
                f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got {x.shape[-1]}: "
                f"{type(self).__name__} was made for {self.input_size} features per step"
            )
        if x.shape[1] == 0:
            raise ShapeError(f"Expected sequence length to be larger than 0 in RNN: {type(self).__name__} got an "
                             f"input of shape {tuple(input.shape)} with no time step")  # type: ignore[union-attr]
        B = x.shape[0]
        D = 2 if self.bidirectional else 1
        h0_all, c0_all = self._initial_states(hx, B, D, x, batched)
        if mask is not None and not batched:
            raise ValueError("mask= needs batched input")
        # In eval mode dropout is off; the recurrent masks are drawn once per sequence (Gal & Ghahramani).
        rec_p = self.recurrent_dropout if self.training else 0.0
        layer_input = x
        h_n: list[torch.Tensor] = []
        c_n: list[torch.Tensor] = []
        step_mask = normalize_mask(mask, lengths, B, x.shape[1], x.device)
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                k = layer * D + d
                rec_mask = ops.dropout_mask(B, self._out_width(layer), rec_p, like=x) if rec_p else None
                out, h, c = self._run(
                    layer_input, self._layer_weights(layer, d), h0_all[k],
                    None if c0_all is None else c0_all[k], step_mask, bool(d), rec_mask,
                    **self._variant_kwargs(layer, d, layer_input),
                )
                outs.append(out)
                h_n.append(h)
                if c is not None:
                    c_n.append(c)
            layer_input = outs[0] if D == 1 else torch.cat(outs, dim=2)  # (B, T, D*Hr)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = nn.functional.dropout(layer_input, self.dropout, training=True)
        output: torch.Tensor | PackedSequence = layer_input  # (B, T, D*Hr)
        if packed_input is not None:
            order = packed_input.sorted_indices
            out_sorted = layer_input if order is None else layer_input.index_select(0, order)
            len_sorted = packed_lengths if order is None else packed_lengths.index_select(0, order.cpu())
            data = pack_padded_sequence(out_sorted, len_sorted, batch_first=True, enforce_sorted=True).data
            output = PackedSequence(data, packed_input.batch_sizes, packed_input.sorted_indices,
                                    packed_input.unsorted_indices)
        elif not batched:
            output = layer_input.squeeze(0)  # (T, D*Hr)
        elif not self.batch_first:
            output = layer_input.transpose(0, 1)  # (T, B, D*Hr)
        return output, self._final_states(h_n, c_n, batched)

    def _final_states(self, h_n: list[torch.Tensor], c_n: list[torch.Tensor], batched: bool) -> State:
        """h_n (and c_n) stacked as torch's, (L*D, B, size) ((L*D, size) unbatched); with per-layer widths the
        lists of the L*D states, (B, size) ((size,) unbatched) each."""
        if self._per_layer():
            hs, cs = ((h_n, c_n) if batched else ([h.squeeze(0) for h in h_n], [c.squeeze(0) for c in c_n]))
            return (hs, cs) if c_n else hs
        h_stack = torch.stack(h_n)  # (L*D, B, Hr)
        c_stack = torch.stack(c_n) if c_n else None  # (L*D, B, H)
        if not batched:
            h_stack = h_stack.squeeze(1)
            c_stack = c_stack.squeeze(1) if c_stack is not None else None
        return h_stack if c_stack is None else (h_stack, c_stack)

    def _initial_states(
        self, hx: State | None, B: int, D: int, x: torch.Tensor, batched: bool
    ) -> tuple[torch.Tensor | list[torch.Tensor], torch.Tensor | list[torch.Tensor] | None]:
        """h0 and c0 (LSTM; else None), indexed by k = layer * D + direction: (B, width) each."""
        LD = self.num_layers * D
        is_lstm = self._kind == "LSTM"
        if hx is None and self.learn_initial_state:
            return self._learned_initial_states(B)
        if self._per_layer():
            return self._per_layer_initial_states(hx, B, D, x, batched)
        Hr = self._state_width(0)
        if hx is None:
            return x.new_zeros(LD, B, Hr), (x.new_zeros(LD, B, self._layer_hidden(0)) if is_lstm else None)
        h0: Any
        c0: Any
        if is_lstm:
            if not (isinstance(hx, tuple | list) and len(hx) == 2):
                raise ValueError("LSTM expects hx as a tuple (h_0, c_0)")
            h0, c0 = hx
        else:
            if not isinstance(hx, torch.Tensor):
                raise ValueError(f"{self._kind} expects hx as a tensor, got {type(hx).__name__}")
            h0, c0 = hx, None
        want = 3 if batched else 2
        given = [s for s in (h0, c0) if s is not None]
        if all(isinstance(s, torch.Tensor) for s in given) and any(s.dim() != want for s in given):
            form = "batched 3-D" if batched else "unbatched 2-D"
            if is_lstm:
                phrase = (f"For {form} input, hx and cx should also be {want}-D but got "
                          f"({h0.dim()}-D, {c0.dim()}-D) tensors")
            else:
                phrase = f"For {form} input, hx should also be {want}-D but got {h0.dim()}-D tensor"
            raise ShapeError(f"{phrase}: the state of {form} input is "
                             f"({'layers*directions, batch, size' if batched else 'layers*directions, size'}), "
                             f"got {' and '.join(str(tuple(s.shape)) for s in given)}")
        if not batched:
            h0 = h0.unsqueeze(1)
            c0 = c0.unsqueeze(1) if c0 is not None else None
        phrase = "Expected hidden[0] size {}, got {}" if is_lstm else "Expected hidden size {}, got {}"
        h0 = self._check_state(h0, (LD, B, Hr), "h_0", phrase, x)
        if c0 is not None:
            c0 = self._check_state(c0, (LD, B, self._layer_hidden(0)), "c_0", "Expected hidden[1] size {}, got {}", x)
        return h0, c0

    def _per_layer_initial_states(
        self, hx: State | None, B: int, D: int, x: torch.Tensor, batched: bool
    ) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
        """hx of a module with per-layer widths: lists of L*D states (see the module docstring), checked."""
        LD, is_lstm = self.num_layers * D, self._kind == "LSTM"
        if hx is None:
            return ([x.new_zeros(B, self._state_width(k // D)) for k in range(LD)],
                    [x.new_zeros(B, self._layer_hidden(k // D)) for k in range(LD)] if is_lstm else None)
        what = f"{type(self).__name__}(hidden_size={self.hidden_size})"
        if is_lstm and not (isinstance(hx, tuple | list) and len(hx) == 2):
            raise ValueError(f"{what} expects hx as a tuple (h_0, c_0) of two lists of {LD} tensors (one per layer "
                             "and direction)")
        groups: Any = {"h_0": hx[0], "c_0": hx[1]} if is_lstm else {"h_0": hx}
        out: list[list[torch.Tensor]] = []
        for name, states in groups.items():
            if not isinstance(states, list | tuple) or len(states) != LD:
                got = f"{len(states)} of them" if isinstance(states, list | tuple) else f"a {type(states).__name__}"
                raise ValueError(f"{what}: {name} must be a list of num_layers * num_directions = {LD} tensors, one "
                                 f"per layer and direction (k = layer * {D} + direction; layers of different widths "
                                 f"do not stack into one tensor), got {got}")
            checked = []
            for k, s in enumerate(states):
                size = self._layer_hidden(k // D) if name == "c_0" else self._state_width(k // D)
                want = 2 if batched else 1
                if isinstance(s, torch.Tensor) and s.dim() != want:
                    raise ShapeError(f"For {'batched 3-D' if batched else 'unbatched 2-D'} input, each {name}[k] "
                                     f"should be {want}-D but {name}[{k}] is {s.dim()}-D of shape {tuple(s.shape)}")
                if isinstance(s, torch.Tensor) and not batched:
                    s = s.unsqueeze(0)  # (1, size)
                checked.append(self._check_state(s, (B, size), f"{name}[{k}]", "Expected hidden size {}, got {}", x,
                                                 form=f"(batch, width of layer {k // D}'s state)"))
            out.append(checked)
        return out[0], (out[1] if is_lstm else None)


def _first(hidden_size: Any, widths: list[int] | None) -> int:
    """The width torch's constructor makes (and checks): hidden_size, or the first layer's of a list."""
    return hidden_size if widths is None else widths[0]


_PROJ_SIZE_ERROR = "proj_size argument is only supported for LSTM, not RNN or GRU"  # torch's words


class LSTM(_Extras, nn.RNNBase):
    """Drop-in `torch.nn.LSTM` (gates i, f, g, o; equations in `lstmkit.ops.reference.lstm`).

    Keyword-only extras: `backend`, `recurrent_dropout`, `activation`, `recurrent_activation`, and the
    variants `peephole`, `layer_norm`, `zoneout_h`, `zoneout_c`, `learn_initial_state` (their parameters and
    semantics in `lstmkit.nn.variants`). `hidden_size` may list one width per layer (module docstring).
    """

    _kind = "LSTM"

    def __init__(
        self,
        input_size: int,
        hidden_size: int | list[int],
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: Any = None,
        dtype: torch.dtype | None = None,
        *,
        backend: str = "auto",
        recurrent_dropout: float = 0.0,
        activation: str | Activation = "tanh",
        recurrent_activation: str | Activation = "sigmoid",
        peephole: bool = False,
        layer_norm: bool = False,
        zoneout_h: float = 0.0,
        zoneout_c: float = 0.0,
        learn_initial_state: bool = False,
    ) -> None:
        widths = layer_widths(hidden_size, num_layers)
        if widths is not None:
            check_proj_size(proj_size, widths)
        nn.RNNBase.__init__(self, "LSTM", input_size, _first(hidden_size, widths), num_layers, bias,
                            batch_first, dropout, bidirectional, proj_size, device, dtype)
        if widths is not None:
            self._remake_parameters(widths, True, proj_size, device, dtype)
        self._set_extras(backend, recurrent_dropout, activation, recurrent_activation)
        self._set_variants(peephole=peephole, layer_norm=layer_norm, zoneout_h=zoneout_h, zoneout_c=zoneout_c,
                           learn_initial_state=learn_initial_state, device=device, dtype=dtype)

    def _run(
        self, x: torch.Tensor, w: LayerWeights, h0: torch.Tensor, c0: torch.Tensor | None,
        mask: torch.Tensor | None, reverse: bool, rec_mask: torch.Tensor | None, **variant: Any,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        return ops.lstm(
            x, w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh, weight_hr=w.weight_hr,
            h0=h0, c0=c0, mask=mask, reverse=reverse, activation=self.activation,
            recurrent_activation=self.recurrent_activation, recurrent_dropout_mask=rec_mask,
            zero_output_for_mask=True, backend=self.backend, **variant,
        )


class GRU(_Extras, nn.RNNBase):
    """Drop-in `torch.nn.GRU` (gates r, z, n; equations in `lstmkit.ops.reference.gru`).

    Keyword-only extras: `backend`, `recurrent_dropout`, `activation`, `recurrent_activation`, and
    `reset_after` (True: PyTorch's equation; False: Cho et al.'s, reset applied before the matmul), `proj_size`
    (the projected GRU, reset_after=True; module docstring), and the variants `layer_norm` (reset_after=True),
    `zoneout_h`, `learn_initial_state` (see `lstmkit.nn.variants`). `hidden_size` may list one width per layer.
    """

    _kind = "GRU"

    def __init__(
        self,
        input_size: int,
        hidden_size: int | list[int],
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: torch.dtype | None = None,
        *,
        reset_after: bool = True,
        proj_size: int = 0,
        backend: str = "auto",
        recurrent_dropout: float = 0.0,
        activation: str | Activation = "tanh",
        recurrent_activation: str | Activation = "sigmoid",
        layer_norm: bool = False,
        zoneout_h: float = 0.0,
        learn_initial_state: bool = False,
        **unexpected: Any,
    ) -> None:
        if "peephole" in unexpected or "zoneout_c" in unexpected:
            raise ValueError(f"GRU has no cell state: {next(iter(unexpected))}= is an LSTM option")
        if unexpected:
            raise TypeError(f"GRU.__init__() got an unexpected keyword argument {next(iter(unexpected))!r}")
        if layer_norm and not reset_after:
            raise ValueError("GRU(layer_norm=True) needs reset_after=True: with reset_after=False the reset gate "
                             "enters before the recurrent matmul, so there is no 3H projection of h to normalise")
        widths = layer_widths(hidden_size, num_layers)
        check_proj_size(proj_size, widths or ([hidden_size] if isinstance(hidden_size, int) and hidden_size > 0 else
                                              [proj_size + 1]))  # a bad hidden_size: torch's check below
        if proj_size and not reset_after:
            raise ValueError("GRU(proj_size=...) needs reset_after=True: with reset_after=False the reset gate "
                             "(hidden_size wide) would multiply the projected state (proj_size wide) before the matmul")
        nn.RNNBase.__init__(self, "GRU", input_size, _first(hidden_size, widths), num_layers, bias,
                            batch_first, dropout, bidirectional, device=device, dtype=dtype)
        if widths is not None or proj_size:
            self._remake_parameters(widths or [self._layer_hidden(0)] * num_layers, widths is not None, proj_size,
                                    device, dtype)
        self.reset_after = reset_after
        self._set_extras(backend, recurrent_dropout, activation, recurrent_activation)
        self._set_variants(peephole=False, layer_norm=layer_norm, zoneout_h=zoneout_h, zoneout_c=0.0,
                           learn_initial_state=learn_initial_state, device=device, dtype=dtype)

    def _run(
        self, x: torch.Tensor, w: LayerWeights, h0: torch.Tensor, c0: torch.Tensor | None,
        mask: torch.Tensor | None, reverse: bool, rec_mask: torch.Tensor | None, **variant: Any,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        out, h = ops.gru(
            x, w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh, h0=h0, weight_hr=w.weight_hr, mask=mask, reverse=reverse,
            activation=self.activation, recurrent_activation=self.recurrent_activation,
            reset_after=self.reset_after, recurrent_dropout_mask=rec_mask, zero_output_for_mask=True,
            backend=self.backend, **variant,
        )
        return out, h, None


class RNN(_Extras, nn.RNNBase):
    """Drop-in `torch.nn.RNN` (Elman; `nonlinearity` "tanh" or "relu").

    Keyword-only extras: `backend`, `recurrent_dropout`. `hidden_size` may list one width per layer.
    """

    _kind = "RNN"

    def __init__(
        self,
        input_size: int,
        hidden_size: int | list[int],
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: Any = None,
        dtype: torch.dtype | None = None,
        *,
        backend: str = "auto",
        recurrent_dropout: float = 0.0,
        **unexpected: Any,
    ) -> None:
        if "proj_size" in unexpected:
            raise ValueError(_PROJ_SIZE_ERROR + " (lstmkit.nn.GRU has proj_size too; the RNN has none)")
        if unexpected:
            raise TypeError(f"RNN.__init__() got an unexpected keyword argument {next(iter(unexpected))!r}")
        if nonlinearity not in ("tanh", "relu"):  # torch's words
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        widths = layer_widths(hidden_size, num_layers)
        nn.RNNBase.__init__(self, "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                            _first(hidden_size, widths), num_layers, bias, batch_first, dropout,
                            bidirectional, device=device, dtype=dtype)
        if widths is not None:
            self._remake_parameters(widths, True, 0, device, dtype)
        self.nonlinearity = nonlinearity
        self._set_extras(backend, recurrent_dropout, nonlinearity, "sigmoid")

    def _run(
        self, x: torch.Tensor, w: LayerWeights, h0: torch.Tensor, c0: torch.Tensor | None,
        mask: torch.Tensor | None, reverse: bool, rec_mask: torch.Tensor | None, **variant: Any,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        out, h = ops.simple_rnn(
            x, w.weight_ih, w.weight_hh, w.bias_ih, w.bias_hh, h0=h0, mask=mask, reverse=reverse,
            activation=self.nonlinearity, recurrent_dropout_mask=rec_mask, zero_output_for_mask=True,
            backend=self.backend,
        )
        return out, h, None


SimpleRNN = RNN
