"""Fused Elman RNN (SimpleRNN) in Triton: a persistent forward kernel and a persistent reverse-time
backward kernel.

Dimensions: B batch, T time, I input, H hidden (HP: H rounded up to a power of two >= 16).
The equation is `lstmkit.ops.reference.simple_rnn`'s:

    h' = tanh(x_t + R h)        x_t = W x_t + b_ih + b_hh for all steps, one matmul in torch

See `fused_lstm` for the design; this is the same with one gate block.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from lstmkit.ops import recompute
from lstmkit.ops.activations import activation_name
from lstmkit.ops.call import Outputs, RecurrenceCall
from lstmkit.ops.triton import _host
from lstmkit.ops.triton._device import activate, dactivate, grid_sync


@triton.jit
def _rnn_fwd_kernel(
    SYNC, s_start, s_stop,
    XW,  # (B, T, H) input projection with both biases
    R,  # (H, H) weight_hh, in the dot dtype
    DMR, MASK,  # (B, H) recurrent dropout mask, (B, T) uint8 mask
    HN,  # (B, H) fp32: initial state in, final state out
    HS,  # (B, T+1, H) dot dtype: the state sequence (see `_host.h_prev_sequence`)
    Y,  # (B, T, H) fp32: act(pre) of every step, for the backward (SAVE only)
    OUT,  # (B, T, H)
    B, T, H,
    HP: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr,
    ONE_TILE: tl.constexpr, BARRIER: tl.constexpr, REVERSE: tl.constexpr, HAS_MASK: tl.constexpr,
    HAS_DMR: tl.constexpr, ZERO_OUT: tl.constexpr, SAVE: tl.constexpr, STORE_HS: tl.constexpr,
    ACT: tl.constexpr, PREC: tl.constexpr,
):
    pid_b = tl.program_id(0)
    pid_h = tl.program_id(1)
    rb = pid_b * BLOCK_B + tl.arange(0, BLOCK_B)  # (BB,) batch rows
    ru = pid_h * BLOCK_H + tl.arange(0, BLOCK_H)  # (BH,) this program's hidden units
    mb = rb < B
    mu = ru < H
    m2 = mb[:, None] & mu[None, :]
    rb64 = rb.to(tl.int64)
    DOT = R.dtype.element_ty
    xw_rows = XW + rb64[:, None] * (T * H) + ru[None, :]
    hs_rows = HS + rb64[:, None] * ((T + 1) * H)
    state = rb64[:, None] * H + ru[None, :]
    h = tl.load(HN + state, mask=m2, other=0.0)  # (BB, BH) fp32
    if HAS_DMR:
        dmr = tl.load(DMR + state, mask=m2, other=0.0).to(tl.float32)
    if ONE_TILE:
        rk = tl.arange(0, HP)
        R_t = tl.load(R + ru[None, :] * H + rk[:, None], mask=(rk < H)[:, None] & mu[None, :], other=0.0)  # R^T
    t0 = T - 1 - s_start if REVERSE else s_start
    x_next = tl.load(xw_rows + t0 * H, mask=m2, other=0.0).to(tl.float32)
    for s in range(s_start, s_stop):
        if REVERSE:
            t = T - 1 - s
            i_prev = t + 1
            i_cur = t
        else:
            t = s
            i_prev = t
            i_cur = t + 1
        x = x_next
        t_next = tl.minimum(tl.maximum(t - 1 if REVERSE else t + 1, 0), T - 1)  # past the end: a harmless re-read
        x_next = tl.load(xw_rows + t_next * H, mask=m2, other=0.0).to(tl.float32)
        if ONE_TILE:
            h_in = h
            if HAS_DMR:
                h_in = h_in * dmr
            a = tl.dot(h_in.to(DOT), R_t, input_precision=PREC)  # (BB, HP)
        else:
            a = tl.full((BLOCK_B, BLOCK_H), 0.0, tl.float32)
            for k0 in range(0, H, BLOCK_K):
                rk = k0 + tl.arange(0, BLOCK_K)
                mk = rk < H
                hk_mask = mb[:, None] & mk[None, :]
                # h_{t-1} of all units, written by every program of this row group at the step before
                h_in = tl.load(hs_rows + i_prev * H + rk[None, :], mask=hk_mask, other=0.0, cache_modifier=".cg")
                if HAS_DMR:
                    h_in = h_in * tl.load(DMR + rb64[:, None] * H + rk[None, :], mask=hk_mask, other=0.0)
                w = tl.load(R + ru[None, :] * H + rk[:, None], mask=mk[:, None] & mu[None, :], other=0.0)
                a += tl.dot(h_in.to(DOT), w, input_precision=PREC)
        h_new = activate(x + a, ACT)
        y = h_new
        if HAS_MASK:
            m = (tl.load(MASK + rb64 * T + t, mask=mb, other=0) != 0)[:, None]  # (BB, 1)
            h = tl.where(m, h_new, h)
            y = h
            if ZERO_OUT:
                y = tl.where(m, h, 0.0)
        else:
            h = h_new
        tl.store(OUT + rb64[:, None] * (T * H) + t * H + ru[None, :], y.to(OUT.dtype.element_ty), mask=m2)
        if STORE_HS:
            tl.store(hs_rows + i_cur * H + ru[None, :], h.to(DOT), mask=m2)
        if SAVE:
            tl.store(Y + rb64[:, None] * (T * H) + t * H + ru[None, :], h_new, mask=m2)
        if BARRIER:
            grid_sync(SYNC + pid_b, tl.num_programs(1) * (s - s_start + 1))
    tl.store(HN + state, h, mask=m2)


@triton.jit
def _rnn_bwd_kernel(
    SYNC, p_start, p_stop,
    DY,  # (B, T, H) upstream gradient of the output
    RT,  # (H, H) weight_hh transposed, in the dot dtype: [k, j] = R[j, k]
    DMR, MASK, Y,  # as saved by the forward kernel
    DH,  # (B, H) fp32: gradient of h_n in, of h0 out
    DG,  # (B, T, H) dot dtype out: gradients of the pre-activations
    B, T, H,
    HP: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr,
    ONE_TILE: tl.constexpr, BARRIER: tl.constexpr, REVERSE: tl.constexpr, HAS_MASK: tl.constexpr,
    HAS_DMR: tl.constexpr, ZERO_OUT: tl.constexpr, ACT: tl.constexpr, PREC: tl.constexpr,
):
    # Phases as in `fused_lstm._lstm_bwd_kernel`.
    pid_b = tl.program_id(0)
    pid_h = tl.program_id(1)
    rb = pid_b * BLOCK_B + tl.arange(0, BLOCK_B)
    ru = pid_h * BLOCK_H + tl.arange(0, BLOCK_H)
    mb = rb < B
    mu = ru < H
    m2 = mb[:, None] & mu[None, :]
    rb64 = rb.to(tl.int64)
    DOT = RT.dtype.element_ty
    dg_rows = DG + rb64[:, None] * (T * H)
    state = rb64[:, None] * H + ru[None, :]
    dh = tl.load(DH + state, mask=m2, other=0.0)
    if HAS_DMR:
        dmr = tl.load(DMR + state, mask=m2, other=0.0).to(tl.float32)
    if ONE_TILE:
        rj = tl.arange(0, HP)
        R_b = tl.load(RT + ru[None, :] * H + rj[:, None], mask=(rj < H)[:, None] & mu[None, :], other=0.0)  # [j, k]
    for p in range(p_start, p_stop):
        if not ONE_TILE:
            if p > 0:  # (a) for the step of phase p-1
                t_q = p - 1 if REVERSE else T - p
                acc = tl.full((BLOCK_B, BLOCK_H), 0.0, tl.float32)
                for j0 in range(0, H, BLOCK_K):
                    rj = j0 + tl.arange(0, BLOCK_K)
                    mj = rj < H
                    # the gradients of all units, written by every program of this row group
                    d = tl.load(dg_rows + t_q * H + rj[None, :], mask=mb[:, None] & mj[None, :], other=0.0,
                                cache_modifier=".cg")
                    w = tl.load(RT + ru[None, :] * H + rj[:, None], mask=mj[:, None] & mu[None, :], other=0.0)
                    acc += tl.dot(d, w, input_precision=PREC)
                if HAS_DMR:
                    acc = acc * dmr
                dh = dh + acc  # masked rows wrote zero gradients, so they add nothing
        if p < T:  # (b)
            t = p if REVERSE else T - 1 - p
            dy = tl.load(DY + rb64[:, None] * (T * H) + t * H + ru[None, :], mask=m2, other=0.0).to(tl.float32)
            if HAS_MASK:
                m = (tl.load(MASK + rb64 * T + t, mask=mb, other=0) != 0)[:, None]
                if ZERO_OUT:
                    dy = tl.where(m, dy, 0.0)
            dh = dh + dy
            y = tl.load(Y + rb64[:, None] * (T * H) + t * H + ru[None, :], mask=m2, other=0.0)
            d = dh * dactivate(y, ACT)
            if HAS_MASK:  # a masked step passes dh through unchanged
                d = tl.where(m, d, 0.0)
                dh = tl.where(m, 0.0, dh)
            else:
                dh = tl.full((BLOCK_B, BLOCK_H), 0.0, tl.float32)
            d = d.to(DOT)
            tl.store(dg_rows + t * H + ru[None, :], d, mask=m2)
            if ONE_TILE:  # (a) of this same step, on chip
                acc = tl.dot(d, R_b, input_precision=PREC)
                if HAS_DMR:
                    acc = acc * dmr
                dh = dh + acc
        if BARRIER:
            grid_sync(SYNC + pid_b, tl.num_programs(1) * (p - p_start + 1))
    tl.store(DH + state, dh, mask=m2)


def _rnn_forward(x_in, weight_ih, weight_hh, bias, h0, mask, dm_h, reverse, act, zero_out, save):
    B, T, _ = x_in.shape
    H = weight_hh.shape[1]
    dev, dt = x_in.device, x_in.dtype
    plan = _host.make_plan(B, H, 1, dt, dev)
    xw = torch.nn.functional.linear(x_in, weight_ih, bias).contiguous()  # (B, T, H)
    store_hs = save or not plan.one_tile
    hs = _host.empty((B, T + 1, H), dt, dev) if store_hs else xw
    if store_hs:
        hs[:, T if reverse else 0] = h0
    y = _host.empty((B, T, H), torch.float32, dev) if save else xw
    out = _host.empty((B, T, H), dt, dev)
    hn = _host.fp32_state(h0)
    _host.launch_steps(
        _rnn_fwd_kernel, plan, T,
        xw, weight_hh.contiguous(), _host.or_placeholder(dm_h, xw), _host.mask_bytes(mask, xw), hn, hs, y, out,
        B, T, H,
        HP=plan.hp, BLOCK_B=plan.block_b, BLOCK_H=plan.block_h, BLOCK_K=plan.block_k,
        ONE_TILE=plan.one_tile, BARRIER=plan.barrier, REVERSE=reverse, HAS_MASK=mask is not None,
        HAS_DMR=dm_h is not None, ZERO_OUT=zero_out, SAVE=save, STORE_HS=store_hs, ACT=act,
        PREC=_host.dot_precision(dt),
    )
    return out, hn, (hs, y)


def _rnn_backward(d_out, d_hn, weight_hh, mask, dm_h, y, reverse, act, zero_out):
    B, T, H = d_out.shape
    dev, dt = d_out.device, weight_hh.dtype
    plan = _host.make_plan(B, H, 1, dt, dev)
    dg = _host.empty((B, T, H), dt, dev)
    dh = _host.fp32_state(d_hn)
    _host.launch_steps(
        _rnn_bwd_kernel, plan, T if plan.one_tile else T + 1,
        d_out.contiguous(), weight_hh.t().contiguous(), _host.or_placeholder(dm_h, dg), _host.mask_bytes(mask, dg),
        y, dh, dg, B, T, H,
        HP=plan.hp, BLOCK_B=plan.block_b, BLOCK_H=plan.block_h, BLOCK_K=plan.block_k,
        ONE_TILE=plan.one_tile, BARRIER=plan.barrier, REVERSE=reverse, HAS_MASK=mask is not None,
        HAS_DMR=dm_h is not None, ZERO_OUT=zero_out, ACT=act, PREC=_host.dot_precision(dt),
    )
    return dg, dh


class _SimpleRNNFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight_ih, weight_hh, bias_ih, bias_hh, h0, mask, dm_x, dm_h,
                reverse, act, zero_out):
        x_in = _host.apply_input_dropout(x, dm_x)  # (B, T, I)
        save = any(ctx.needs_input_grad[:6])
        out, hn, (hs, y) = _rnn_forward(x_in, weight_ih, weight_hh, _host.sum_biases(bias_ih, bias_hh), h0, mask,
                                        dm_h, reverse, act, zero_out, save)
        if save:
            ctx.save_for_backward(x_in, weight_ih, weight_hh, hs, y, mask, dm_x, dm_h, x, bias_ih, bias_hh, h0)
        ctx.cfg = (reverse, act, zero_out, bias_ih is not None, bias_hh is not None)
        return out, hn.to(x.dtype)

    @staticmethod
    def backward(ctx, d_out, d_hn):
        x_in, weight_ih, weight_hh, hs, y, mask, dm_x, dm_h, x, bias_ih, bias_hh, h0 = ctx.saved_tensors
        if recompute.needed(d_out, d_hn):  # create_graph, torch.func, batched gradients
            reverse, act, zero_out, *_ = ctx.cfg
            run = _host.reference_function("simple_rnn", reverse, act, _host.ACT_CODES["sigmoid"], True, zero_out,
                                           mask, dm_x, dm_h)
            grads = recompute.gradients(run, (x, weight_ih, weight_hh, bias_ih, bias_hh, h0, None),
                                        (*ctx.needs_input_grad[:6], False), (d_out, d_hn))
            return (*grads[:6], *(None,) * 6)
        reverse, act, zero_out, has_b_ih, has_b_hh = ctx.cfg
        need = ctx.needs_input_grad
        dg, dh0 = _rnn_backward(d_out, d_hn, weight_hh, mask, dm_h, y, reverse, act, zero_out)
        dx, dw_ih = _host.input_grads(dg, x_in, weight_ih, dm_x, need[0], need[1])
        dw_hh = _host.matmul_steps(dg, _host.h_prev_sequence(hs, reverse, dm_h)) if need[2] else None  # (H, H)
        db = _host.sum_steps(dg) if (need[3] or need[4]) else None  # (H,)
        return (dx, dw_ih, dw_hh, db if has_b_ih else None, db if has_b_hh else None,
                dh0.to(x_in.dtype), None, None, None, None, None, None)


def run(call: RecurrenceCall) -> Outputs:
    """Elman RNN over call.x (B, T, I) with the fused Triton kernels; the semantics of
    `lstmkit.ops.reference.simple_rnn`, for a call that `TritonBackend.supports`. Precision as `fused_lstm.run`."""
    act = _host.ACT_CODES[activation_name(call.activation) or ""]
    args = _host.cast_all(_host.autocast_dtype(call.x), call.x, call.weight_ih, call.weight_hh, call.bias_ih,
                          call.bias_hh, call.h0, call.input_dropout_mask, call.recurrent_dropout_mask)
    x, weight_ih, weight_hh, bias_ih, bias_hh, h0, dm_x, dm_h = args
    assert x is not None
    with _host.autocast_off(x):
        out: Outputs = _SimpleRNNFunction.apply(x, weight_ih, weight_hh, bias_ih, bias_hh, h0, call.mask, dm_x, dm_h,
                                                call.reverse, act, call.zero_output_for_mask)
    return out
