"""The reference recurrences: the equations, one line each, looped over time with autograd.

Dimensions: B batch, T time, I input features, H hidden units, P projection size (LSTM and GRU).
Weights are in PyTorch's layout: `weight_ih` (G*H, I), `weight_hh` (G*H, H), gate blocks stacked
on the first axis, LSTM gates in the order i, f, g, o and GRU gates in the order r, z, n.

Every backend takes exactly these arguments, already validated by `lstmkit.ops.dispatch`:
  x                       (B, T, I) input, batch first
  h0 (and c0)             (B, H) initial state (P for the LSTM hidden state with projection; the GRU's
                          state stays H wide with a projection, see `gru`)
  mask                    (B, T) bool or None; True where a step is real. At a masked step the state
                          is carried forward unchanged, so padding may sit on either side.
  reverse                 run from t = T-1 down to 0; outputs stay aligned with the input positions
  input_dropout_mask      (B, I) or None: multiplies x at every step (variational dropout)
  recurrent_dropout_mask  (B, H) or None: multiplies h_prev in the recurrent matmul at every step
  zero_output_for_mask    at a masked step output zeros instead of the carried-forward output

`lstm` and `gru` also take the variants (peephole, layer norm, zoneout; equations in their docstrings,
helpers in `lstmkit.ops.variants`), keyword arguments that default to None; only this backend runs them.

The reference alone also takes `trace`: a dict that, when given, receives every step's gate
activations and states as (B, T, size) tensors aligned with the input positions (`lstmkit.insight`).

As the backend "reference" (`BACKEND`, registered in `lstmkit.ops.dispatch`) it runs every call on
every device and dtype; `backend="auto"` takes it where no faster backend supports the call.
"""

from __future__ import annotations

import torch

from lstmkit.ops.activations import Activation, get_activation
from lstmkit.ops.call import Outputs, RecurrenceCall
from lstmkit.ops.variants import Zoneout, layer_norm, step_zoneout, variant_kwargs, zoneout


def _time_steps(T: int, reverse: bool) -> range:
    return range(T - 1, -1, -1) if reverse else range(T)


def _input_projection(
    x: torch.Tensor, weight_ih: torch.Tensor, bias_ih: torch.Tensor | None, input_dropout_mask: torch.Tensor | None
) -> torch.Tensor:
    """x W^T + b for all steps in one matmul."""
    if input_dropout_mask is not None:
        x = x * input_dropout_mask[:, None, :]  # (B, T, I)
    xw = x @ weight_ih.T  # (B, T, G*H)
    if bias_ih is not None:
        xw = xw + bias_ih
    return xw


def _carry(m: torch.Tensor | None, new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    return new if m is None else torch.where(m, new, old)


def _record(trace: dict | None, t: int, T: int, **values: torch.Tensor) -> None:
    if trace is None:
        return
    for name, v in values.items():
        trace.setdefault(name, [None] * T)[t] = v.detach()


def _finish(trace: dict | None) -> None:
    if trace is not None:
        for name in list(trace):
            if isinstance(trace[name], list):
                trace[name] = torch.stack(trace[name], dim=1)  # (B, T, size)


def _emit(m: torch.Tensor | None, h: torch.Tensor, zero_output_for_mask: bool) -> torch.Tensor:
    if m is None or not zero_output_for_mask:
        return h
    return torch.where(m, h, torch.zeros_like(h))


def lstm(
    x: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None,
    bias_hh: torch.Tensor | None,
    *,
    weight_hr: torch.Tensor | None,
    h0: torch.Tensor,
    c0: torch.Tensor,
    mask: torch.Tensor | None = None,
    reverse: bool = False,
    activation: str | Activation = "tanh",
    recurrent_activation: str | Activation = "sigmoid",
    input_dropout_mask: torch.Tensor | None = None,
    recurrent_dropout_mask: torch.Tensor | None = None,
    zero_output_for_mask: bool = False,
    trace: dict | None = None,
    weight_ci: torch.Tensor | None = None,
    weight_cf: torch.Tensor | None = None,
    weight_co: torch.Tensor | None = None,
    ln_ih_weight: torch.Tensor | None = None,
    ln_ih_bias: torch.Tensor | None = None,
    ln_hh_weight: torch.Tensor | None = None,
    ln_hh_bias: torch.Tensor | None = None,
    ln_c_weight: torch.Tensor | None = None,
    ln_c_bias: torch.Tensor | None = None,
    zoneout_h: Zoneout = None,
    zoneout_c: Zoneout = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """LSTM over a whole sequence. σ is `recurrent_activation`, tanh is `activation`:

        i_t = σ(W_i x_t + b_ii + R_i h_{t-1} + b_hi)        input gate
        f_t = σ(W_f x_t + b_if + R_f h_{t-1} + b_hf)        forget gate
        g_t = tanh(W_g x_t + b_ig + R_g h_{t-1} + b_hg)     candidate
        o_t = σ(W_o x_t + b_io + R_o h_{t-1} + b_ho)        output gate
        c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t                     cell state
        h_t = o_t ⊙ tanh(c_t)                               hidden state
        h_t = W_hr h_t                                       only with projection (weight_hr, P < H)

    Variants (`lstmkit.ops.variants`; each off when its tensors are None), in this order per step:
      layer norm (Ba, Kiros & Hinton 2016; haste's LayerNormLSTM), LN(v) = γ ⊙ (v - μ(v)) / √(σ²(v) + 1e-5) + β:
        a_t = LN_ih(W x_t) + LN_hh(R h_{t-1}) + b_ih + b_hh      each LN over the 4H vector, when given;
                                                                 i, f, g, o are σ, σ, tanh, σ of a_t's blocks
      peephole (Gers & Schmidhuber 2000), p_i, p_f, p_o = weight_ci, weight_cf, weight_co (H,):
        i_t = σ(a_i + p_i ⊙ c_{t-1}),  f_t = σ(a_f + p_f ⊙ c_{t-1}),  c̃_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
        o_t = σ(a_o + p_o ⊙ c̃_t)
      h̃_t = o_t ⊙ tanh(LN_c(c̃_t))                           LN_c over H (ln_c_weight, ln_c_bias), when given;
                                                             then W_hr with a projection
      zoneout (Krueger et al. 2016), d = zoneout_h / zoneout_c at step t (a 0/1 mask, or the rate p in eval):
        h_t = d^h ⊙ h_{t-1} + (1 - d^h) ⊙ h̃_t,   c_t = d^c ⊙ c_{t-1} + (1 - d^c) ⊙ c̃_t
    A masked (padding) step then carries h_{t-1}, c_{t-1} forward as without variants.

    Returns (output (B, T, P or H), h_n (B, P or H), c_n (B, H)).
    """
    act, rec_act = get_activation(activation), get_activation(recurrent_activation)
    T = x.shape[1]
    if ln_ih_weight is None:
        xw = _input_projection(x, weight_ih, bias_ih, input_dropout_mask)  # (B, T, 4H)
    else:
        xw = layer_norm(_input_projection(x, weight_ih, None, input_dropout_mask), ln_ih_weight, ln_ih_bias)
        xw = xw if bias_ih is None else xw + bias_ih  # (B, T, 4H)
    h_prev, c_prev = h0, c0
    outputs: dict[int, torch.Tensor] = {}
    for t in _time_steps(T, reverse):
        h_in = h_prev if recurrent_dropout_mask is None else h_prev * recurrent_dropout_mask
        gates = xw[:, t] + layer_norm(h_in @ weight_hh.T, ln_hh_weight, ln_hh_bias)  # (B, 4H)
        if bias_hh is not None:
            gates = gates + bias_hh
        i, f, g, o = gates.chunk(4, dim=1)  # 4 x (B, H)
        if weight_ci is not None:
            i = i + weight_ci * c_prev
        if weight_cf is not None:
            f = f + weight_cf * c_prev
        i = rec_act(i)
        f = rec_act(f)
        g = act(g)
        c = f * c_prev + i * g
        o = rec_act(o if weight_co is None else o + weight_co * c)
        h = o * act(layer_norm(c, ln_c_weight, ln_c_bias))
        if weight_hr is not None:
            h = h @ weight_hr.T  # (B, P)
        h = zoneout(step_zoneout(zoneout_h, t), h_prev, h)
        c = zoneout(step_zoneout(zoneout_c, t), c_prev, c)
        m = None if mask is None else mask[:, t, None]  # (B, 1)
        h_prev, c_prev = _carry(m, h, h_prev), _carry(m, c, c_prev)
        outputs[t] = _emit(m, h_prev, zero_output_for_mask)
        _record(trace, t, T, i=i, f=f, g=g, o=o, c=c_prev, h=h_prev)
    _finish(trace)
    return torch.stack([outputs[t] for t in range(T)], dim=1), h_prev, c_prev  # (B, T, H)


def gru(
    x: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None,
    bias_hh: torch.Tensor | None,
    *,
    h0: torch.Tensor,
    weight_hr: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    reverse: bool = False,
    activation: str | Activation = "tanh",
    recurrent_activation: str | Activation = "sigmoid",
    reset_after: bool = True,
    input_dropout_mask: torch.Tensor | None = None,
    recurrent_dropout_mask: torch.Tensor | None = None,
    zero_output_for_mask: bool = False,
    trace: dict | None = None,
    ln_ih_weight: torch.Tensor | None = None,
    ln_ih_bias: torch.Tensor | None = None,
    ln_hh_weight: torch.Tensor | None = None,
    ln_hh_bias: torch.Tensor | None = None,
    zoneout_h: Zoneout = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GRU over a whole sequence. σ is `recurrent_activation`, tanh is `activation`:

        r_t = σ(W_r x_t + b_ir + R_r h_{t-1} + b_hr)                  reset gate
        z_t = σ(W_z x_t + b_iz + R_z h_{t-1} + b_hz)                  update gate
        n_t = tanh(W_n x_t + b_in + r_t ⊙ (R_n h_{t-1} + b_hn))       reset_after=True (PyTorch, Keras 3 default)
        n_t = tanh(W_n x_t + b_in + R_n (r_t ⊙ h_{t-1}) + b_hn)       reset_after=False (Cho et al. 2014)
        h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}

    Variants (`lstmkit.ops.variants`; each off when its tensors are None):
      layer norm (haste's LayerNormGRU), each LN over the 3H vector, when given (LN_hh: reset_after only):
        [x_r, x_z, x_n] = LN_ih(W x_t) + b_ih,   [h_r, h_z, h_n] = LN_hh(R h_{t-1}) + b_hh
        r_t = σ(x_r + h_r),  z_t = σ(x_z + h_z),  n_t = tanh(x_n + r_t ⊙ h_n)
      h̃_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}
      zoneout (Krueger et al. 2016), d = zoneout_h at step t (a 0/1 mask, or the rate p in eval):
        h_t = d ⊙ h_{t-1} + (1 - d) ⊙ h̃_t
    A masked (padding) step then carries h_{t-1} forward as without variants.

    Projection (weight_hr (P, H), P < H; reset_after=True only; the GRU analogue of torch's LSTM proj_size and
    Kaldi's PGRU, Cheng et al. 2018): the state h_t stays H wide, the recurrence and the output read its projection
        y_t = W_hr h_t                                                 (B, P), the output at step t
    so R_r, R_z, R_n act on y_{t-1} = W_hr h_{t-1} (weight_hh (3H, P)) and the recurrent dropout mask (B, P)
    multiplies y_{t-1}; the rest is unchanged (layer norm of R y_{t-1}, zoneout of h). h_n is h_T (B, H), the
    whole state (y_T = W_hr h_T follows from it), so a call can resume from another's h_n.

    Returns (output (B, T, H, or P with a projection), h_n (B, H)).
    """
    act, rec_act = get_activation(activation), get_activation(recurrent_activation)
    T = x.shape[1]
    H = h0.shape[1]
    if ln_ih_weight is None:
        xw = _input_projection(x, weight_ih, bias_ih, input_dropout_mask)  # (B, T, 3H)
    else:
        xw = layer_norm(_input_projection(x, weight_ih, None, input_dropout_mask), ln_ih_weight, ln_ih_bias)
        xw = xw if bias_ih is None else xw + bias_ih  # (B, T, 3H)
    x_r, x_z, x_n = xw.split(H, dim=2)  # 3 x (B, T, H)
    R_rz, R_n = weight_hh[: 2 * H], weight_hh[2 * H :]  # (2H, H or P), (H, H or P)
    b_rz, b_n = (None, None) if bias_hh is None else (bias_hh[: 2 * H], bias_hh[2 * H :])
    h_prev = h0
    y_prev = h0 if weight_hr is None else h0 @ weight_hr.T  # (B, H or P): what the recurrence and the output read
    outputs: dict[int, torch.Tensor] = {}
    for t in _time_steps(T, reverse):
        h_in = y_prev if recurrent_dropout_mask is None else y_prev * recurrent_dropout_mask
        if ln_hh_weight is not None:  # LN needs the whole 3H projection, so reset_after=True (dispatch checks)
            hw = layer_norm(h_in @ weight_hh.T, ln_hh_weight, ln_hh_bias)  # (B, 3H)
            hw = hw if bias_hh is None else hw + bias_hh
            hr_r, hr_z, hn = hw.chunk(3, dim=1)  # 3 x (B, H)
        else:
            hr_rz = h_in @ R_rz.T  # (B, 2H)
            if b_rz is not None:
                hr_rz = hr_rz + b_rz
            hr_r, hr_z = hr_rz.chunk(2, dim=1)
        r = rec_act(x_r[:, t] + hr_r)
        z = rec_act(x_z[:, t] + hr_z)
        if ln_hh_weight is not None:
            n = act(x_n[:, t] + r * hn)
        elif reset_after:
            hn = h_in @ R_n.T  # (B, H)
            if b_n is not None:
                hn = hn + b_n
            n = act(x_n[:, t] + r * hn)
        else:
            hn = (r * h_in) @ R_n.T  # (B, H)
            if b_n is not None:
                hn = hn + b_n
            n = act(x_n[:, t] + hn)
        h = zoneout(step_zoneout(zoneout_h, t), h_prev, (1 - z) * n + z * h_prev)
        m = None if mask is None else mask[:, t, None]  # (B, 1)
        h_prev = _carry(m, h, h_prev)
        y_prev = h_prev if weight_hr is None else _carry(m, h @ weight_hr.T, y_prev)  # (B, P) with a projection
        outputs[t] = _emit(m, y_prev, zero_output_for_mask)
        _record(trace, t, T, r=r, z=z, n=n, h=h_prev)
    _finish(trace)
    return torch.stack([outputs[t] for t in range(T)], dim=1), h_prev


def simple_rnn(
    x: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor | None,
    bias_hh: torch.Tensor | None,
    *,
    h0: torch.Tensor,
    mask: torch.Tensor | None = None,
    reverse: bool = False,
    activation: str | Activation = "tanh",
    input_dropout_mask: torch.Tensor | None = None,
    recurrent_dropout_mask: torch.Tensor | None = None,
    zero_output_for_mask: bool = False,
    trace: dict | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Elman RNN over a whole sequence (`activation` is tanh or relu, or any other):

        h_t = tanh(W x_t + b_ih + R h_{t-1} + b_hh)

    Returns (output (B, T, H), h_n (B, H)).
    """
    act = get_activation(activation)
    T = x.shape[1]
    xw = _input_projection(x, weight_ih, bias_ih, input_dropout_mask)  # (B, T, H)
    h_prev = h0
    outputs: dict[int, torch.Tensor] = {}
    for t in _time_steps(T, reverse):
        h_in = h_prev if recurrent_dropout_mask is None else h_prev * recurrent_dropout_mask
        pre = xw[:, t] + h_in @ weight_hh.T  # (B, H)
        if bias_hh is not None:
            pre = pre + bias_hh
        h = act(pre)
        m = None if mask is None else mask[:, t, None]  # (B, 1)
        h_prev = _carry(m, h, h_prev)
        outputs[t] = _emit(m, h_prev, zero_output_for_mask)
        _record(trace, t, T, h=h_prev)
    _finish(trace)
    return torch.stack([outputs[t] for t in range(T)], dim=1), h_prev


def run(call: RecurrenceCall, trace: dict | None = None) -> Outputs:
    """The recurrence `call` describes; with `trace`, recording every step as the functions above do."""
    c = call
    if c.kind == "lstm":
        assert c.c0 is not None  # dispatch gives every LSTM call a c0
        return lstm(
            c.x, c.weight_ih, c.weight_hh, c.bias_ih, c.bias_hh, weight_hr=c.weight_hr, h0=c.h0, c0=c.c0, mask=c.mask,
            reverse=c.reverse, activation=c.activation, recurrent_activation=c.recurrent_activation,
            input_dropout_mask=c.input_dropout_mask, recurrent_dropout_mask=c.recurrent_dropout_mask,
            zero_output_for_mask=c.zero_output_for_mask, trace=trace, **variant_kwargs(c))
    if c.kind == "gru":
        return gru(
            c.x, c.weight_ih, c.weight_hh, c.bias_ih, c.bias_hh, h0=c.h0, weight_hr=c.weight_hr, mask=c.mask,
            reverse=c.reverse, activation=c.activation, recurrent_activation=c.recurrent_activation,
            reset_after=c.reset_after,
            input_dropout_mask=c.input_dropout_mask, recurrent_dropout_mask=c.recurrent_dropout_mask,
            zero_output_for_mask=c.zero_output_for_mask, trace=trace, **variant_kwargs(c))
    return simple_rnn(
        c.x, c.weight_ih, c.weight_hh, c.bias_ih, c.bias_hh, h0=c.h0, mask=c.mask, reverse=c.reverse,
        activation=c.activation, input_dropout_mask=c.input_dropout_mask,
        recurrent_dropout_mask=c.recurrent_dropout_mask, zero_output_for_mask=c.zero_output_for_mask, trace=trace)


class ReferenceBackend:
    """The equations above: every call, every device and dtype, with autograd for every gradient.

    Not `traceable`: `torch.jit.trace` would unroll its Python loop over the example's T steps."""

    name = "reference"
    auto_devices = None
    traceable = False
    variants = frozenset({"peephole", "layer_norm", "zoneout"})  # see lstmkit.ops.variants

    def supports(self, call: RecurrenceCall) -> str | None:
        return None

    def run(self, call: RecurrenceCall) -> Outputs:
        return run(call)


BACKEND = ReferenceBackend()
