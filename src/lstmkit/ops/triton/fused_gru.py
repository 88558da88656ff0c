"""Fused GRU in Triton: a persistent forward kernel and a persistent reverse-time backward kernel.

Dimensions: B batch, T time, I input, H hidden (HP: H rounded up to a power of two >= 16).
The equations are `lstmkit.ops.reference.gru`'s (gates r, z, n; σ the recurrent activation):

    r = σ(x_r + R_r h + b_hr)          z = σ(x_z + R_z h + b_hz)
    n = tanh(x_n + r ⊙ (R_n h + b_hn))      reset_after=True (PyTorch)
    n = tanh(x_n + R_n (r ⊙ h) + b_hn)      reset_after=False (Cho et al.; one tile only)
    h' = (1 - z) ⊙ n + z ⊙ h

x_* = W_* x_t + b_i* for all steps comes from one matmul in torch, with b_hr, b_hz (and b_hn when
reset_after=False, where it sits outside the reset) folded in. See `fused_lstm` for the design.
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
def _load3(ptr, H, mask):
    """The three gate blocks r, z, n of one step, in fp32."""
    a = tl.load(ptr, mask=mask, other=0.0).to(tl.float32)
    b = tl.load(ptr + H, mask=mask, other=0.0).to(tl.float32)
    c = tl.load(ptr + 2 * H, mask=mask, other=0.0).to(tl.float32)
    return a, b, c


@triton.jit
def _gru_fwd_kernel(
    SYNC, s_start, s_stop,
    XW,  # (B, T, 3H) input projection with b_ih and the folded part of b_hh
    R,  # (3H, H) weight_hh, in the dot dtype
    BHN,  # (H,) b_hn, inside the reset (reset_after=True)
    DMR, MASK,  # (B, H) recurrent dropout mask, (B, T) uint8 mask
    HN,  # (B, H) fp32: initial state in, final state out
    HS,  # (B, T+1, H) dot dtype: the state sequence (see `_host.h_prev_sequence`)
    GATES,  # (B, T, 4H) fp32: r, z, n after their activations and hn = R_n h + b_hn (SAVE only)
    OUT,  # (B, T, H)
    B, T, H,
    HP: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr,
    ONE_TILE: tl.constexpr, BARRIER: tl.constexpr, REVERSE: tl.constexpr, HAS_MASK: tl.constexpr,
    HAS_DMR: tl.constexpr, ZERO_OUT: tl.constexpr, SAVE: tl.constexpr, STORE_HS: tl.constexpr,
    RESET_AFTER: tl.constexpr, HAS_BHN: tl.constexpr, ACT: tl.constexpr, RACT: tl.constexpr, PREC: tl.constexpr,
):
    tl.static_assert(RESET_AFTER or ONE_TILE, "reset_after=False needs the whole r ⊙ h in one program")
    pid_b = tl.program_id(0)
    pid_h = tl.program_id(1)
    rb = pid_b * BLOCK_B + tl.arange(0, BLOCK_B)  # (BB,) batch rows
    ru = pid_h * BLOCK_H + tl.arange(0, BLOCK_H)  # (BH,) this program's hidden units
    mb = rb < B
    mu = ru < H
    m2 = mb[:, None] & mu[None, :]
    rb64 = rb.to(tl.int64)
    DOT = R.dtype.element_ty
    xw_rows = XW + rb64[:, None] * (T * 3 * H) + ru[None, :]
    hs_rows = HS + rb64[:, None] * ((T + 1) * H)
    state = rb64[:, None] * H + ru[None, :]
    h = tl.load(HN + state, mask=m2, other=0.0)  # (BB, BH) fp32
    if HAS_DMR:
        dmr = tl.load(DMR + state, mask=m2, other=0.0).to(tl.float32)
    if HAS_BHN:
        b_hn = tl.load(BHN + ru, mask=mu, other=0.0).to(tl.float32)[None, :]
    if ONE_TILE:
        rk = tl.arange(0, HP)
        w_off = ru[None, :] * H + rk[:, None]  # R^T blocks [k, j] = R[g*H + j, k]
        w_mask = (rk < H)[:, None] & mu[None, :]
        R_r = tl.load(R + w_off, mask=w_mask, other=0.0)
        R_z = tl.load(R + H * H + w_off, mask=w_mask, other=0.0)
        R_n = tl.load(R + 2 * H * H + w_off, mask=w_mask, other=0.0)
    t0 = T - 1 - s_start if REVERSE else s_start
    n_r, n_z, n_n = _load3(xw_rows + t0 * 3 * H, H, m2)
    for s in range(s_start, s_stop):
        if REVERSE:
            t = T - 1 - s
            i_prev = t + 1
            i_cur = t
        else:
            t = s
            i_prev = t
            i_cur = t + 1
        x_r, x_z, x_n = n_r, n_z, n_n
        t_next = tl.minimum(tl.maximum(t - 1 if REVERSE else t + 1, 0), T - 1)  # past the end: a harmless re-read
        n_r, n_z, n_n = _load3(xw_rows + t_next * 3 * H, H, m2)
        if ONE_TILE:
            h_in = h
            if HAS_DMR:
                h_in = h_in * dmr
            h_dot = h_in.to(DOT)  # (BB, HP)
            a_r = tl.dot(h_dot, R_r, input_precision=PREC)
            a_z = tl.dot(h_dot, R_z, input_precision=PREC)
            r = activate(x_r + a_r, RACT)
            if RESET_AFTER:
                a_n = tl.dot(h_dot, R_n, input_precision=PREC)
            else:
                a_n = tl.dot((r * h_in).to(DOT), R_n, input_precision=PREC)
        else:
            a_r = tl.full((BLOCK_B, BLOCK_H), 0.0, tl.float32)
            a_z = tl.full((BLOCK_B, BLOCK_H), 0.0, tl.float32)
            a_n = tl.full((BLOCK_B, BLOCK_H), 0.0, tl.float32)
            for k0 in range(0, H, BLOCK_K):
                rk = k0 + tl.arange(0, BLOCK_K)
                mk = rk < H
                hk_mask = mb[:, None] & mk[None, :]
                # h_{t-1} of all units, written by every program of this row group at the step before
                h_dot = tl.load(hs_rows + i_prev * H + rk[None, :], mask=hk_mask, other=0.0, cache_modifier=".cg")
                if HAS_DMR:
                    h_dot = h_dot * tl.load(DMR + rb64[:, None] * H + rk[None, :], mask=hk_mask, other=0.0)
                h_dot = h_dot.to(DOT)  # (BB, BK)
                w_off = ru[None, :] * H + rk[:, None]
                w_mask = mk[:, None] & mu[None, :]
                a_r += tl.dot(h_dot, tl.load(R + w_off, mask=w_mask, other=0.0), input_precision=PREC)
                a_z += tl.dot(h_dot, tl.load(R + H * H + w_off, mask=w_mask, other=0.0), input_precision=PREC)
                a_n += tl.dot(h_dot, tl.load(R + 2 * H * H + w_off, mask=w_mask, other=0.0), input_precision=PREC)
            r = activate(x_r + a_r, RACT)
        z = activate(x_z + a_z, RACT)
        if RESET_AFTER:
            hn = a_n
            if HAS_BHN:
                hn = hn + b_hn
            n = activate(x_n + r * hn, ACT)
        else:
            n = activate(x_n + a_n, ACT)
        h_new = (1.0 - z) * n + z * h
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
            g_ptr = GATES + rb64[:, None] * (T * 4 * H) + t * 4 * H + ru[None, :]
            tl.store(g_ptr, r, mask=m2)
            tl.store(g_ptr + H, z, mask=m2)
            tl.store(g_ptr + 2 * H, n, mask=m2)
            if RESET_AFTER:
                tl.store(g_ptr + 3 * H, hn, mask=m2)
        if BARRIER:
            grid_sync(SYNC + pid_b, tl.num_programs(1) * (s - s_start + 1))
    tl.store(HN + state, h, mask=m2)


@triton.jit
def _gru_bwd_kernel(
    SYNC, p_start, p_stop,
    DY,  # (B, T, H) upstream gradient of the output
    RT,  # (H, 3H) weight_hh transposed, in the dot dtype: [k, g*H + j] = R[g*H + j, k]
    DMR, MASK, GATES, HS,  # as saved by the forward kernel
    DH,  # (B, H) fp32: gradient of h_n in, of h0 out
    DGX,  # (B, T, 3H) dot dtype out: gradients of the input-side pre-activations (r, z, n)
    DHN,  # (B, T, H) dot dtype out: gradient of hn = R_n h + b_hn (reset_after=True)
    B, T, H,
    HP: tl.constexpr, BLOCK_B: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_K: tl.constexpr,
    ONE_TILE: tl.constexpr, BARRIER: tl.constexpr, REVERSE: tl.constexpr, HAS_MASK: tl.constexpr,
    HAS_DMR: tl.constexpr, ZERO_OUT: tl.constexpr, RESET_AFTER: tl.constexpr,
    ACT: tl.constexpr, RACT: tl.constexpr, PREC: tl.constexpr,
):
    # Phases as in `fused_lstm._lstm_bwd_kernel`: (a) dh_{t-1} += (dg_rec R) ⊙ m_h from phase p-1's
    # gradients of the recurrent pre-activations (r, z, hn); (b) step p's cell gradients.
    tl.static_assert(RESET_AFTER or ONE_TILE, "reset_after=False needs the whole r ⊙ h in one program")
    pid_b = tl.program_id(0)
    pid_h = tl.program_id(1)
    rb = pid_b * BLOCK_B + tl.arange(0, BLOCK_B)
    ru = pid_h * BLOCK_H + tl.arange(0, BLOCK_H)
    mb = rb < B
    mu = ru < H
    m2 = mb[:, None] & mu[None, :]
    rb64 = rb.to(tl.int64)
    DOT = RT.dtype.element_ty
    g_rows = GATES + rb64[:, None] * (T * 4 * H) + ru[None, :]
    hs_rows = HS + rb64[:, None] * ((T + 1) * H) + ru[None, :]
    dgx_rows = DGX + rb64[:, None] * (T * 3 * H)
    dhn_rows = DHN + rb64[:, None] * (T * H)
    state = rb64[:, None] * H + ru[None, :]
    dh = tl.load(DH + state, mask=m2, other=0.0)
    if HAS_DMR:
        dmr = tl.load(DMR + state, mask=m2, other=0.0).to(tl.float32)
    if ONE_TILE:
        rj = tl.arange(0, HP)
        w_off = ru[None, :] * (3 * H) + rj[:, None]  # R blocks [j, k] = R[g*H + j, k]
        w_mask = (rj < H)[:, None] & mu[None, :]
        R_r = tl.load(RT + w_off, mask=w_mask, other=0.0)
        R_z = tl.load(RT + H + w_off, mask=w_mask, other=0.0)
        R_n = tl.load(RT + 2 * H + w_off, mask=w_mask, other=0.0)
    for p in range(p_start, p_stop):
        if not ONE_TILE:
            if p > 0:  # (a) for the step of phase p-1 (reset_after=True only)
                t_q = p - 1 if REVERSE else T - p
                acc = tl.full((BLOCK_B, BLOCK_H), 0.0, tl.float32)
                for j0 in range(0, H, BLOCK_K):
                    rj = j0 + tl.arange(0, BLOCK_K)
                    mj = rj < H
                    d_mask = mb[:, None] & mj[None, :]
                    w_off = ru[None, :] * (3 * H) + rj[:, None]  # contiguous along j
                    w_mask = mj[:, None] & mu[None, :]
                    # the gradients of all units, written by every program of this row group
                    d_r = tl.load(dgx_rows + t_q * 3 * H + rj[None, :], mask=d_mask, other=0.0, cache_modifier=".cg")
                    d_z = tl.load(dgx_rows + t_q * 3 * H + H + rj[None, :], mask=d_mask, other=0.0,
                                  cache_modifier=".cg")
                    d_hn = tl.load(dhn_rows + t_q * H + rj[None, :], mask=d_mask, other=0.0, cache_modifier=".cg")
                    acc += tl.dot(d_r, tl.load(RT + w_off, mask=w_mask, other=0.0), input_precision=PREC)
                    acc += tl.dot(d_z, tl.load(RT + H + w_off, mask=w_mask, other=0.0), input_precision=PREC)
                    acc += tl.dot(d_hn, tl.load(RT + 2 * H + w_off, mask=w_mask, other=0.0), input_precision=PREC)
                if HAS_DMR:
                    acc = acc * dmr
                dh = dh + acc  # masked rows wrote zero gradients, so they add nothing
        if p < T:  # (b)
            t = p if REVERSE else T - 1 - p
            i_prev = t + 1 if REVERSE else t
            dy = tl.load(DY + rb64[:, None] * (T * H) + t * H + ru[None, :], mask=m2, other=0.0).to(tl.float32)
            if HAS_MASK:
                m = (tl.load(MASK + rb64 * T + t, mask=mb, other=0) != 0)[:, None]
                if ZERO_OUT:
                    dy = tl.where(m, dy, 0.0)
            dh = dh + dy
            r, z, n = _load3(g_rows + t * 4 * H, H, m2)
            h_prev = tl.load(hs_rows + i_prev * H, mask=m2, other=0.0).to(tl.float32)
            d_n = dh * (1.0 - z) * dactivate(n, ACT)  # gradient of n's pre-activation
            d_z = dh * (h_prev - n) * dactivate(z, RACT)
            direct = dh * z  # through h' = ... + z ⊙ h
            if RESET_AFTER:
                hn = tl.load(g_rows + t * 4 * H + 3 * H, mask=m2, other=0.0)
                d_r = d_n * hn * dactivate(r, RACT)
                d_hn = d_n * r
            else:  # one tile only: n's matmul reads r ⊙ h_in, all units
                h_in = h_prev
                if HAS_DMR:
                    h_in = h_in * dmr
                d_rh = tl.dot(tl.where(m2, d_n, 0.0).to(DOT), R_n, input_precision=PREC)  # (BB, HP)
                if HAS_MASK:
                    d_rh = tl.where(m, d_rh, 0.0)
                d_r = d_rh * h_in * dactivate(r, RACT)
            if HAS_MASK:  # a masked step passes dh through unchanged
                d_r = tl.where(m, d_r, 0.0)
                d_z = tl.where(m, d_z, 0.0)
                d_n = tl.where(m, d_n, 0.0)
                dh = tl.where(m, direct, dh)
                if RESET_AFTER:
                    d_hn = tl.where(m, d_hn, 0.0)
            else:
                dh = direct
            d_r = d_r.to(DOT)
            d_z = d_z.to(DOT)
            dx_ptr = dgx_rows + t * 3 * H + ru[None, :]
            tl.store(dx_ptr, d_r, mask=m2)
            tl.store(dx_ptr + H, d_z, mask=m2)
            tl.store(dx_ptr + 2 * H, d_n.to(DOT), mask=m2)
            if RESET_AFTER:
                d_hn = d_hn.to(DOT)
                tl.store(dhn_rows + t * H + ru[None, :], d_hn, mask=m2)
            if ONE_TILE:  # (a) of this same step, on chip
                acc = tl.dot(d_r, R_r, input_precision=PREC)
                acc += tl.dot(d_z, R_z, input_precision=PREC)
                if RESET_AFTER:
                    acc += tl.dot(d_hn, R_n, input_precision=PREC)
                else:
                    acc += d_rh * r
                if HAS_DMR:
                    acc = acc * dmr
                dh = dh + acc
        if BARRIER:
            grid_sync(SYNC + pid_b, tl.num_programs(1) * (p - p_start + 1))
    tl.store(DH + state, dh, mask=m2)


def _fold_bias(bias_ih, bias_hh, H, reset_after):
    """The biases that go into the input projection; b_hn stays apart when it sits inside the reset."""
    if bias_hh is None or not reset_after:
        return _host.sum_biases(bias_ih, bias_hh), None
    rz = torch.cat([bias_hh[: 2 * H], bias_hh.new_zeros(H)])  # (3H,)
    return _host.sum_biases(bias_ih, rz), bias_hh[2 * H :].contiguous()


def _gru_forward(x_in, weight_ih, weight_hh, bias_ih, bias_hh, h0, mask, dm_h, reverse, reset_after, act, ract,
                 zero_out, save):
    B, T, _ = x_in.shape
    H = weight_hh.shape[1]
    dev, dt = x_in.device, x_in.dtype
    plan = _host.make_plan(B, H, 3, dt, dev)
    bias, b_hn = _fold_bias(bias_ih, bias_hh, H, reset_after)
    xw = torch.nn.functional.linear(x_in, weight_ih, bias).contiguous()  # (B, T, 3H)
    store_hs = save or not plan.one_tile
    hs = _host.empty((B, T + 1, H), dt, dev) if store_hs else xw
    if store_hs:
        hs[:, T if reverse else 0] = h0
    gates = _host.empty((B, T, 4 * H), torch.float32, dev) if save else xw
    out = _host.empty((B, T, H), dt, dev)
    hn = _host.fp32_state(h0)
    _host.launch_steps(
        _gru_fwd_kernel, plan, T,
        xw, weight_hh.contiguous(), _host.or_placeholder(b_hn, xw), _host.or_placeholder(dm_h, xw),
        _host.mask_bytes(mask, xw), hn, hs, gates, out, B, T, H,
        HP=plan.hp, BLOCK_B=plan.block_b, BLOCK_H=plan.block_h, BLOCK_K=plan.block_k,
        ONE_TILE=plan.one_tile, BARRIER=plan.barrier, REVERSE=reverse, HAS_MASK=mask is not None,
        HAS_DMR=dm_h is not None, ZERO_OUT=zero_out, SAVE=save, STORE_HS=store_hs,
        RESET_AFTER=reset_after, HAS_BHN=b_hn is not None, ACT=act, RACT=ract, PREC=_host.dot_precision(dt),
    )
    return out, hn, (hs, gates)


def _gru_backward(d_out, d_hn, weight_hh, mask, dm_h, gates, hs, reverse, reset_after, act, ract, zero_out):
    B, T, H = d_out.shape
    dev, dt = d_out.device, weight_hh.dtype
    plan = _host.make_plan(B, H, 3, dt, dev)
    dgx = _host.empty((B, T, 3 * H), dt, dev)
    dhn = _host.empty((B, T, H), dt, dev) if reset_after else dgx
    dh = _host.fp32_state(d_hn)
    _host.launch_steps(
        _gru_bwd_kernel, plan, T if plan.one_tile else T + 1,
        d_out.contiguous(), weight_hh.t().contiguous(), _host.or_placeholder(dm_h, dgx), _host.mask_bytes(mask, dgx),
        gates, hs, dh, dgx, dhn, B, T, H,
        HP=plan.hp, BLOCK_B=plan.block_b, BLOCK_H=plan.block_h, BLOCK_K=plan.block_k,
        ONE_TILE=plan.one_tile, BARRIER=plan.barrier, REVERSE=reverse, HAS_MASK=mask is not None,
        HAS_DMR=dm_h is not None, ZERO_OUT=zero_out, RESET_AFTER=reset_after, ACT=act, RACT=ract,
        PREC=_host.dot_precision(dt),
    )
    return dgx, dhn, dh


class _GRUFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight_ih, weight_hh, bias_ih, bias_hh, h0, mask, dm_x, dm_h,
                reverse, reset_after, act, ract, zero_out):
        x_in = _host.apply_input_dropout(x, dm_x)  # (B, T, I)
        save = any(ctx.needs_input_grad[:6])
        out, hn, (hs, gates) = _gru_forward(x_in, weight_ih, weight_hh, bias_ih, bias_hh, h0, mask, dm_h,
                                            reverse, reset_after, act, ract, zero_out, save)
        if save:
            ctx.save_for_backward(x_in, weight_ih, weight_hh, hs, gates, mask, dm_x, dm_h, x, bias_ih, bias_hh, h0)
        ctx.cfg = (reverse, reset_after, act, ract, zero_out, bias_ih is not None, bias_hh is not None)
        return out, hn.to(x.dtype)

    @staticmethod
    def backward(ctx, d_out, d_hn):
        x_in, weight_ih, weight_hh, hs, gates, mask, dm_x, dm_h, x, bias_ih, bias_hh, h0 = ctx.saved_tensors
        if recompute.needed(d_out, d_hn):  # create_graph, torch.func, batched gradients
            reverse, reset_after, act, ract, zero_out, *_ = ctx.cfg
            run = _host.reference_function("gru", reverse, act, ract, reset_after, zero_out, mask, dm_x, dm_h)
            grads = recompute.gradients(run, (x, weight_ih, weight_hh, bias_ih, bias_hh, h0, None),
                                        (*ctx.needs_input_grad[:6], False), (d_out, d_hn))
            return (*grads[:6], *(None,) * 8)
        reverse, reset_after, act, ract, zero_out, has_b_ih, has_b_hh = ctx.cfg
        need = ctx.needs_input_grad
        H = weight_hh.shape[1]
        dgx, dhn, dh0 = _gru_backward(d_out, d_hn, weight_hh, mask, dm_h, gates, hs, reverse, reset_after, act,
                                      ract, zero_out)
        dx, dw_ih = _host.input_grads(dgx, x_in, weight_ih, dm_x, need[0], need[1])
        dw_hh = db_hh = None
        d_rz = dgx[..., : 2 * H]  # (B, T, 2H)
        if need[2]:
            h_in = _host.h_prev_sequence(hs, reverse, dm_h)  # (B, T, H)
            if reset_after:
                d_n, n_operand = dhn, h_in
            else:
                d_n, n_operand = dgx[..., 2 * H :], (gates[..., :H] * h_in).to(h_in.dtype)  # r ⊙ h_in
            dw_hh = torch.cat([_host.matmul_steps(d_rz, h_in), _host.matmul_steps(d_n, n_operand)])  # (3H, H)
        db_ih = _host.sum_steps(dgx) if need[3] else None  # (3H,)
        if need[4]:
            db_hh = torch.cat([_host.sum_steps(d_rz), _host.sum_steps(dhn)]) if reset_after else _host.sum_steps(dgx)
        return (dx, dw_ih, dw_hh, db_ih if has_b_ih else None, db_hh if has_b_hh else None,
                dh0.to(x_in.dtype), None, None, None, None, None, None, None, None)


def run(call: RecurrenceCall) -> Outputs:
    """GRU over call.x (B, T, I) with the fused Triton kernels; the semantics of
    `lstmkit.ops.reference.gru`, for a call that `TritonBackend.supports`. Precision as `fused_lstm.run`."""
    act = _host.ACT_CODES[activation_name(call.activation) or ""]
    ract = _host.ACT_CODES[activation_name(call.recurrent_activation) or ""]
    args = _host.cast_all(_host.autocast_dtype(call.x), call.x, call.weight_ih, call.weight_hh, call.bias_ih,
                          call.bias_hh, call.h0, call.input_dropout_mask, call.recurrent_dropout_mask)
    x, weight_ih, weight_hh, bias_ih, bias_hh, h0, dm_x, dm_h = args
    assert x is not None
    with _host.autocast_off(x):
        out: Outputs = _GRUFunction.apply(x, weight_ih, weight_hh, bias_ih, bias_hh, h0, call.mask, dm_x, dm_h,
                                          call.reverse, call.reset_after, act, ract, call.zero_output_for_mask)
    return out
