"""Fused LSTM in Triton: a persistent forward kernel and a persistent reverse-time backward kernel.

Dimensions: B batch, T time, I input, H hidden (HP: H rounded up to a power of two >= 16).
The equations are `lstmkit.ops.reference.lstm`'s (gates i, f, g, o; σ the recurrent activation):

    i, f, g, o = σ(x_i + R_i h), σ(x_f + R_f h), tanh(x_g + R_g h), σ(x_o + R_o h)
    c' = f ⊙ c + i ⊙ g
    h' = o ⊙ tanh(c')

where x_* = W_* x_t + b_i* + b_h* for all steps comes from one matmul in torch before the kernel.
The forward kernel loops over time inside the kernel with R on chip (or streamed, see `_host`),
the cell state and every accumulation in fp32; it saves the gate activations and the states for
the backward kernel, which produces the gate pre-activation gradients of every step; the weight
gradients are then large matmuls over all B*T steps in torch.
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
def _load4(ptr, H, mask):
    """The four gate blocks i, f, g, o of one step, in fp32."""
    a = tl.load(ptr, mask=mask, other=0.0).to(tl.float32)
    b = tl.load(ptr + H, mask=mask, other=0.0).to(tl.float32)
    c = tl.load(ptr + 2 * H, mask=mask, other=0.0).to(tl.float32)
    d = tl.load(ptr + 3 * H, mask=mask, other=0.0).to(tl.float32)
    return a, b, c, d


@triton.jit
def _lstm_fwd_kernel(
    SYNC, s_start, s_stop,
    XW,  # (B, T, 4H) input projection with both biases
    R,  # (4H, H) weight_hh, in the dot dtype
    DMR,  # (B, H) recurrent dropout mask
    MASK,  # (B, T) uint8, 1 = real step
    HN, CN,  # (B, H) fp32: initial states in, final states out
    HS,  # (B, T+1, H) dot dtype: the state sequence (see `_host.h_prev_sequence`)
    CS,  # (B, T+1, H) fp32: the cell state sequence, same layout (SAVE only)
    GATES,  # (B, T, 4H) fp32: i, f, g, o after their activations (SAVE only)
    OUT,  # (B, T, H) output
    B, T, H,
    HP: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr,
    ONE_TILE: tl.constexpr, BARRIER: tl.constexpr, REVERSE: tl.constexpr, HAS_MASK: tl.constexpr,
    HAS_DMR: tl.constexpr, ZERO_OUT: tl.constexpr, SAVE: tl.constexpr, STORE_HS: tl.constexpr,
    ACT: tl.constexpr, RACT: tl.constexpr, PREC: tl.constexpr,
):
    pid_b = tl.program_id(0)
    pid_h = tl.program_id(1)
    rb = pid_b * BLOCK_B + tl.arange(0, BLOCK_B)  # (BB,) batch rows
    ru = pid_h * BLOCK_H + tl.arange(0, BLOCK_H)  # (BH,) this program's hidden units
    mb = rb < B
    m2 = mb[:, None] & (ru < H)[None, :]  # (BB, BH)
    rb64 = rb.to(tl.int64)
    DOT = R.dtype.element_ty
    xw_rows = XW + rb64[:, None] * (T * 4 * H) + ru[None, :]
    hs_rows = HS + rb64[:, None] * ((T + 1) * H)
    state = rb64[:, None] * H + ru[None, :]
    h = tl.load(HN + state, mask=m2, other=0.0)  # (BB, BH) fp32
    c = tl.load(CN + state, mask=m2, other=0.0)
    if HAS_DMR:
        dmr = tl.load(DMR + state, mask=m2, other=0.0).to(tl.float32)
    if ONE_TILE:
        # R^T blocks [k, j] = R[g*H + j, k], loaded once and kept for all steps
        rk = tl.arange(0, HP)
        w_off = ru[None, :] * H + rk[:, None]
        w_mask = (rk < H)[:, None] & (ru < H)[None, :]
        R_i = tl.load(R + w_off, mask=w_mask, other=0.0)
        R_f = tl.load(R + H * H + w_off, mask=w_mask, other=0.0)
        R_g = tl.load(R + 2 * H * H + w_off, mask=w_mask, other=0.0)
        R_o = tl.load(R + 3 * H * H + w_off, mask=w_mask, other=0.0)
    # prefetch: the next step's input projection is loaded while this step computes
    t0 = T - 1 - s_start if REVERSE else s_start
    n_i, n_f, n_g, n_o = _load4(xw_rows + t0 * 4 * H, H, m2)
    for s in range(s_start, s_stop):
        if REVERSE:
            t = T - 1 - s
            i_prev = t + 1
            i_cur = t
        else:
            t = s
            i_prev = t
            i_cur = t + 1
        x_i, x_f, x_g, x_o = n_i, n_f, n_g, n_o
        t_next = tl.minimum(tl.maximum(t - 1 if REVERSE else t + 1, 0), T - 1)  # past the end: a harmless re-read
        n_i, n_f, n_g, n_o = _load4(xw_rows + t_next * 4 * H, H, m2)
        if ONE_TILE:
            h_in = h
            if HAS_DMR:
                h_in = h_in * dmr
            h_in = h_in.to(DOT)  # (BB, HP)
            a_i = tl.dot(h_in, R_i, input_precision=PREC)  # (BB, HP)
            a_f = tl.dot(h_in, R_f, input_precision=PREC)
            a_g = tl.dot(h_in, R_g, input_precision=PREC)
            a_o = tl.dot(h_in, R_o, input_precision=PREC)
        else:
            a_i = tl.full((BLOCK_B, BLOCK_H), 0.0, tl.float32)
            a_f = tl.full((BLOCK_B, BLOCK_H), 0.0, tl.float32)
            a_g = tl.full((BLOCK_B, BLOCK_H), 0.0, tl.float32)
            a_o = tl.full((BLOCK_B, BLOCK_H), 0.0, tl.float32)
            for k0 in range(0, H, BLOCK_K):
                rk = k0 + tl.arange(0, BLOCK_K)
                mk = rk < H
                hk_mask = mb[:, None] & mk[None, :]
                # h_{t-1} of all units, written by every program of this row group at the step before
                h_in = tl.load(hs_rows + i_prev * H + rk[None, :], mask=hk_mask, other=0.0, cache_modifier=".cg")
                if HAS_DMR:
                    h_in = h_in * tl.load(DMR + rb64[:, None] * H + rk[None, :], mask=hk_mask, other=0.0)
                h_in = h_in.to(DOT)  # (BB, BK)
                w_off = ru[None, :] * H + rk[:, None]
                w_mask = mk[:, None] & (ru < H)[None, :]
                a_i += tl.dot(h_in, tl.load(R + w_off, mask=w_mask, other=0.0), input_precision=PREC)
                a_f += tl.dot(h_in, tl.load(R + H * H + w_off, mask=w_mask, other=0.0), input_precision=PREC)
                a_g += tl.dot(h_in, tl.load(R + 2 * H * H + w_off, mask=w_mask, other=0.0), input_precision=PREC)
                a_o += tl.dot(h_in, tl.load(R + 3 * H * H + w_off, mask=w_mask, other=0.0), input_precision=PREC)
        i = activate(x_i + a_i, RACT)
        f = activate(x_f + a_f, RACT)
        g = activate(x_g + a_g, ACT)
        o = activate(x_o + a_o, RACT)
        c_new = f * c + i * g
        h_new = o * activate(c_new, ACT)
        y = h_new
        if HAS_MASK:
            m = (tl.load(MASK + rb64 * T + t, mask=mb, other=0) != 0)[:, None]  # (BB, 1)
            h = tl.where(m, h_new, h)
            c = tl.where(m, c_new, c)
            y = h
            if ZERO_OUT:
                y = tl.where(m, h, 0.0)
        else:
            h = h_new
            c = c_new
        tl.store(OUT + rb64[:, None] * (T * H) + t * H + ru[None, :], y.to(OUT.dtype.element_ty), mask=m2)
        if STORE_HS:
            tl.store(hs_rows + i_cur * H + ru[None, :], h.to(DOT), mask=m2)
        if SAVE:
            tl.store(CS + rb64[:, None] * ((T + 1) * H) + i_cur * H + ru[None, :], c, mask=m2)
            g_ptr = GATES + rb64[:, None] * (T * 4 * H) + t * 4 * H + ru[None, :]
            tl.store(g_ptr, i, mask=m2)
            tl.store(g_ptr + H, f, mask=m2)
            tl.store(g_ptr + 2 * H, g, mask=m2)
            tl.store(g_ptr + 3 * H, o, mask=m2)
        if BARRIER:
            grid_sync(SYNC + pid_b, tl.num_programs(1) * (s - s_start + 1))
    tl.store(HN + state, h, mask=m2)
    tl.store(CN + state, c, mask=m2)


@triton.jit
def _lstm_cell_bwd(dh, dc, g_ptr, c_ptr, c_prev_ptr, m2, H, ACT: tl.constexpr, RACT: tl.constexpr):
    """One step's gradients: from dh, dc (w.r.t. h_t, c_t) to the gate pre-activations and dc_{t-1}."""
    i, f, g, o = _load4(g_ptr, H, m2)
    c = tl.load(c_ptr, mask=m2, other=0.0)
    c_prev = tl.load(c_prev_ptr, mask=m2, other=0.0)
    tc = activate(c, ACT)
    dc_t = dc + dh * o * dactivate(tc, ACT)
    d_i = dc_t * g * dactivate(i, RACT)
    d_f = dc_t * c_prev * dactivate(f, RACT)
    d_g = dc_t * i * dactivate(g, ACT)
    d_o = dh * tc * dactivate(o, RACT)
    return d_i, d_f, d_g, d_o, dc_t * f


@triton.jit
def _lstm_bwd_kernel(
    SYNC, p_start, p_stop,
    DY,  # (B, T, H) upstream gradient of the output
    RT,  # (H, 4H) weight_hh transposed, in the dot dtype: [k, g*H + j] = R[g*H + j, k]
    DMR, MASK, GATES, CS,  # as saved by the forward kernel
    DH, DC,  # (B, H) fp32: gradients of h_n, c_n in, of h0, c0 out
    DG,  # (B, T, 4H) dot dtype out: gradients of the gate pre-activations
    B, T, H,
    HP: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr,
    ONE_TILE: tl.constexpr, BARRIER: tl.constexpr, REVERSE: tl.constexpr, HAS_MASK: tl.constexpr,
    HAS_DMR: tl.constexpr, ZERO_OUT: tl.constexpr, ACT: tl.constexpr, RACT: tl.constexpr, PREC: tl.constexpr,
):
    # Phase p (0..T) of the split-H kernel: (a) finish dh_{t-1} of the step handled in phase p-1 from
    # the gate gradients all programs wrote there, dh += (dg R) ⊙ m_h; (b) step p's cell gradients.
    # The one-tile kernel does (b) then (a) of the same step with everything on chip.
    pid_b = tl.program_id(0)
    pid_h = tl.program_id(1)
    rb = pid_b * BLOCK_B + tl.arange(0, BLOCK_B)
    ru = pid_h * BLOCK_H + tl.arange(0, BLOCK_H)
    mb = rb < B
    m2 = mb[:, None] & (ru < H)[None, :]
    rb64 = rb.to(tl.int64)
    DOT = RT.dtype.element_ty
    g_rows = GATES + rb64[:, None] * (T * 4 * H) + ru[None, :]
    dg_rows = DG + rb64[:, None] * (T * 4 * H)
    cs_rows = CS + rb64[:, None] * ((T + 1) * H) + ru[None, :]
    state = rb64[:, None] * H + ru[None, :]
    dh = tl.load(DH + state, mask=m2, other=0.0)
    dc = tl.load(DC + state, mask=m2, other=0.0)
    if HAS_DMR:
        dmr = tl.load(DMR + state, mask=m2, other=0.0).to(tl.float32)
    if ONE_TILE:
        # R blocks [j, k] = R[g*H + j, k]: dh_{t-1} = sum_g dg_g R_g
        rj = tl.arange(0, HP)
        w_off = ru[None, :] * (4 * H) + rj[:, None]
        w_mask = (rj < H)[:, None] & (ru < H)[None, :]
        R_i = tl.load(RT + w_off, mask=w_mask, other=0.0)
        R_f = tl.load(RT + H + w_off, mask=w_mask, other=0.0)
        R_g = tl.load(RT + 2 * H + w_off, mask=w_mask, other=0.0)
        R_o = tl.load(RT + 3 * H + w_off, mask=w_mask, other=0.0)
    for p in range(p_start, p_stop):
        if not ONE_TILE:
            if p > 0:  # (a) for the step of phase p-1
                t_q = p - 1 if REVERSE else T - p
                acc = tl.full((BLOCK_B, BLOCK_H), 0.0, tl.float32)
                for j0 in range(0, H, BLOCK_K):
                    rj = j0 + tl.arange(0, BLOCK_K)
                    mj = rj < H
                    dg_ptr = dg_rows + t_q * 4 * H + rj[None, :]
                    dg_mask = mb[:, None] & mj[None, :]
                    w_off = ru[None, :] * (4 * H) + rj[:, None]  # contiguous along j
                    w_mask = mj[:, None] & (ru < H)[None, :]
                    # the gate gradients of all units, written by every program of this row group
                    for gate in tl.static_range(4):
                        dg = tl.load(dg_ptr + gate * H, mask=dg_mask, other=0.0, cache_modifier=".cg")
                        w = tl.load(RT + gate * H + w_off, mask=w_mask, other=0.0)
                        acc += tl.dot(dg, w, input_precision=PREC)
                if HAS_DMR:
                    acc = acc * dmr
                dh = dh + acc  # masked rows wrote dg = 0, so they add nothing
        if p < T:  # (b)
            t = p if REVERSE else T - 1 - p
            i_prev = t + 1 if REVERSE else t
            i_cur = t if REVERSE else t + 1
            dy = tl.load(DY + rb64[:, None] * (T * H) + t * H + ru[None, :], mask=m2, other=0.0).to(tl.float32)
            if HAS_MASK:
                m = (tl.load(MASK + rb64 * T + t, mask=mb, other=0) != 0)[:, None]
                if ZERO_OUT:
                    dy = tl.where(m, dy, 0.0)
            dh = dh + dy
            d_i, d_f, d_g, d_o, dc_new = _lstm_cell_bwd(
                dh, dc, g_rows + t * 4 * H, cs_rows + i_cur * H, cs_rows + i_prev * H, m2, H, ACT, RACT)
            if HAS_MASK:  # a masked step passes dh and dc through unchanged
                d_i = tl.where(m, d_i, 0.0)
                d_f = tl.where(m, d_f, 0.0)
                d_g = tl.where(m, d_g, 0.0)
                d_o = tl.where(m, d_o, 0.0)
                dc = tl.where(m, dc_new, dc)
                dh = tl.where(m, 0.0, dh)
            else:
                dc = dc_new
                dh = tl.full((BLOCK_B, BLOCK_H), 0.0, tl.float32)
            d_i = d_i.to(DOT)
            d_f = d_f.to(DOT)
            d_g = d_g.to(DOT)
            d_o = d_o.to(DOT)
            dg_ptr = dg_rows + t * 4 * H + ru[None, :]
            tl.store(dg_ptr, d_i, mask=m2)
            tl.store(dg_ptr + H, d_f, mask=m2)
            tl.store(dg_ptr + 2 * H, d_g, mask=m2)
            tl.store(dg_ptr + 3 * H, d_o, mask=m2)
            if ONE_TILE:  # (a) of this same step, on chip
                acc = tl.dot(d_i, R_i, input_precision=PREC)
                acc += tl.dot(d_f, R_f, input_precision=PREC)
                acc += tl.dot(d_g, R_g, input_precision=PREC)
                acc += tl.dot(d_o, R_o, input_precision=PREC)
                if HAS_DMR:
                    acc = acc * dmr
                dh = dh + acc
        if BARRIER:
            grid_sync(SYNC + pid_b, tl.num_programs(1) * (p - p_start + 1))
    tl.store(DH + state, dh, mask=m2)
    tl.store(DC + state, dc, mask=m2)


def _lstm_forward(x_in, weight_ih, weight_hh, bias, h0, c0, mask, dm_h, reverse, act, ract, zero_out, save):
    """Launch the forward kernel. Returns out, h_n, c_n (fp32) and the saved tensors."""
    B, T, _ = x_in.shape
    H = weight_hh.shape[1]
    dev, dt = x_in.device, x_in.dtype
    plan = _host.make_plan(B, H, 4, dt, dev)
    xw = torch.nn.functional.linear(x_in, weight_ih, bias).contiguous()  # (B, T, 4H)
    first = T if reverse else 0
    store_hs = save or not plan.one_tile
    hs = _host.empty((B, T + 1, H), dt, dev) if store_hs else xw
    if store_hs:
        hs[:, first] = h0
    cs = _host.empty((B, T + 1, H), torch.float32, dev) if save else xw
    gates = _host.empty((B, T, 4 * H), torch.float32, dev) if save else xw
    if save:
        cs[:, first] = c0
    out = _host.empty((B, T, H), dt, dev)
    hn, cn = _host.fp32_state(h0), _host.fp32_state(c0)
    _host.launch_steps(
        _lstm_fwd_kernel, plan, T,
        xw, weight_hh.contiguous(), _host.or_placeholder(dm_h, xw), _host.mask_bytes(mask, xw),
        hn, cn, hs, cs, gates, out, B, T, H,
        HP=plan.hp, BLOCK_B=plan.block_b, BLOCK_H=plan.block_h, BLOCK_K=plan.block_k,
        ONE_TILE=plan.one_tile, BARRIER=plan.barrier, REVERSE=reverse, HAS_MASK=mask is not None,
        HAS_DMR=dm_h is not None, ZERO_OUT=zero_out, SAVE=save, STORE_HS=store_hs,
        ACT=act, RACT=ract, PREC=_host.dot_precision(dt),
    )
    return out, hn, cn, (hs, cs, gates)


def _lstm_backward(d_out, d_hn, d_cn, weight_hh, mask, dm_h, gates, cs, reverse, act, ract, zero_out):
    """Launch the backward kernel. Returns dg (B, T, 4H), dh0, dc0 (fp32)."""
    B, T, H = d_out.shape
    dev, dt = d_out.device, weight_hh.dtype
    plan = _host.make_plan(B, H, 4, dt, dev)
    dg = _host.empty((B, T, 4 * H), dt, dev)
    dh, dc = _host.fp32_state(d_hn), _host.fp32_state(d_cn)
    phases = T if plan.one_tile else T + 1
    _host.launch_steps(
        _lstm_bwd_kernel, plan, phases,
        d_out.contiguous(), weight_hh.t().contiguous(), _host.or_placeholder(dm_h, dg), _host.mask_bytes(mask, dg),
        gates, cs, dh, dc, dg, B, T, H,
        HP=plan.hp, BLOCK_B=plan.block_b, BLOCK_H=plan.block_h, BLOCK_K=plan.block_k,
        ONE_TILE=plan.one_tile, BARRIER=plan.barrier, REVERSE=reverse, HAS_MASK=mask is not None,
        HAS_DMR=dm_h is not None, ZERO_OUT=zero_out, ACT=act, RACT=ract, PREC=_host.dot_precision(dt),
    )
    return dg, dh, dc


class _LSTMFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight_ih, weight_hh, bias_ih, bias_hh, h0, c0, mask, dm_x, dm_h,
                reverse, act, ract, zero_out):
        x_in = _host.apply_input_dropout(x, dm_x)  # (B, T, I)
        save = any(ctx.needs_input_grad[:7])
        out, hn, cn, (hs, cs, gates) = _lstm_forward(
            x_in, weight_ih, weight_hh, _host.sum_biases(bias_ih, bias_hh), h0, c0, mask, dm_h,
            reverse, act, ract, zero_out, save)
        if save:
            ctx.save_for_backward(x_in, weight_ih, weight_hh, hs, cs, gates, mask, dm_x, dm_h, x, bias_ih, bias_hh,
                                  h0, c0)
        ctx.cfg = (reverse, act, ract, zero_out, bias_ih is not None, bias_hh is not None)
        return out, hn.to(x.dtype), cn.to(x.dtype)

    @staticmethod
    def backward(ctx, d_out, d_hn, d_cn):
        x_in, weight_ih, weight_hh, hs, cs, gates, mask, dm_x, dm_h, x, bias_ih, bias_hh, h0, c0 = ctx.saved_tensors
        if recompute.needed(d_out, d_hn, d_cn):  # create_graph, torch.func, batched gradients
            reverse, act, ract, zero_out, *_ = ctx.cfg
            run = _host.reference_function("lstm", reverse, act, ract, True, zero_out, mask, dm_x, dm_h)
            grads = recompute.gradients(run, (x, weight_ih, weight_hh, bias_ih, bias_hh, h0, c0),
                                        ctx.needs_input_grad[:7], (d_out, d_hn, d_cn))
            return (*grads, *(None,) * 7)
        reverse, act, ract, zero_out, has_b_ih, has_b_hh = ctx.cfg
        need = ctx.needs_input_grad
        dg, dh0, dc0 = _lstm_backward(d_out, d_hn, d_cn, weight_hh, mask, dm_h, gates, cs, reverse, act, ract, zero_out)
        dx, dw_ih = _host.input_grads(dg, x_in, weight_ih, dm_x, need[0], need[1])
        dw_hh = _host.matmul_steps(dg, _host.h_prev_sequence(hs, reverse, dm_h)) if need[2] else None  # (4H, H)
        db = _host.sum_steps(dg) if (need[3] or need[4]) else None  # (4H,)
        return (dx, dw_ih, dw_hh, db if has_b_ih else None, db if has_b_hh else None,
                dh0.to(x_in.dtype), dc0.to(x_in.dtype), None, None, None, None, None, None, None)


def run(call: RecurrenceCall) -> Outputs:
    """LSTM over call.x (B, T, I) with the fused Triton kernels; the semantics of
    `lstmkit.ops.reference.lstm`, for a call that `TritonBackend.supports`.

    Runs in x's dtype (fp32, bf16, fp16; under `torch.autocast` in the autocast dtype) with the cell
    state and accumulations in fp32; fp32 dots are exact unless `torch.backends.cuda.matmul.allow_tf32`.
    """
    act = _host.ACT_CODES[activation_name(call.activation) or ""]
    ract = _host.ACT_CODES[activation_name(call.recurrent_activation) or ""]
    args = _host.cast_all(_host.autocast_dtype(call.x), call.x, call.weight_ih, call.weight_hh, call.bias_ih,
                          call.bias_hh, call.h0, call.c0, call.input_dropout_mask, call.recurrent_dropout_mask)
    x, weight_ih, weight_hh, bias_ih, bias_hh, h0, c0, dm_x, dm_h = args
    assert x is not None
    with _host.autocast_off(x):
        out: Outputs = _LSTMFunction.apply(x, weight_ih, weight_hh, bias_ih, bias_hh, h0, c0, call.mask, dm_x, dm_h,
                                           call.reverse, act, ract, call.zero_output_for_mask)
    return out
