"""The CPU backend's time loops in plain PyTorch: the fallback when the compiled kernel is missing,
and the readable statement of what rnn_kernels.cpp computes (same buffers, same order).

Dimensions: B batch, T time, I input, H hidden, G gates (LSTM 4, GRU 3, SimpleRNN 1), K = I + H.
At step t the one recurrent matmul takes the row xh = [x_t ⊙ in_mask | h_prev ⊙ rec_mask] and the
weights W = [W_ih | W_hh] (G*H, K), so the input projection rides along with the recurrent matmul
and no (T, B, G*H) pre-activation buffer is written and read back. `forward(run)` fills Y, hN, cN
and, when `run.training`, the saved buffers (time-major (T, B, ·)); `backward(run)` fills dG (dGh),
dX, dh0, dc0. The weight gradients are left to the caller, as one matmul dG^T XH over all steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lstmkit.ops.activations import ACTIVATIONS

# The activations the kernel implements, by the codes of `enum Act` in rnn_kernels.cpp.
ACT_CODES = {"tanh": 0, "sigmoid": 1, "hard_sigmoid": 2, "relu": 3, "linear": 4}


def dact(name: str, y: torch.Tensor) -> torch.Tensor:
    """act'(x) written with the output y = act(x); the same conditions as torch's own backward."""
    if name == "tanh":
        return 1 - y * y
    if name == "sigmoid":
        return y * (1 - y)
    if name == "hard_sigmoid":
        return ((y > 0) & (y < 1)).to(y.dtype) / 6
    if name == "relu":
        return (y > 0).to(y.dtype)
    return torch.ones_like(y)


@dataclass
class Run:
    """Everything one call of the time loop reads and writes; mirrors `struct LkArgs`."""

    kind: str  # "lstm", "gru", "simple_rnn"
    reverse: bool
    act: str
    rec_act: str
    zero_output: bool
    reset_after: bool
    training: bool  # keep what the backward needs
    x: torch.Tensor  # (B, T, I), any strides
    in_mask: torch.Tensor | None  # (B, I)
    W: torch.Tensor  # (GH, K) = [W_ih | W_hh]
    bias: torch.Tensor | None  # (GH,) b_ih + b_hh (zeros without biases); GRU reset_after: b_ih + [b_hr, b_hz, 0]
    # (None in the backward, which reads none)
    b_hn: torch.Tensor | None  # (H,) GRU reset_after only
    h0: torch.Tensor  # (B, H)
    c0: torch.Tensor | None  # (B, H) LSTM
    rec_mask: torch.Tensor | None  # (B, H)
    mask: torch.Tensor | None  # (B, T) bool
    nthreads: int = 1  # threads splitting the batch (the compiled kernel); rows of db, dbh
    Y: torch.Tensor | None = None  # (B, T, H) out
    hN: torch.Tensor | None = None  # (B, H) out
    cN: torch.Tensor | None = None  # (B, H) out, LSTM
    XH: torch.Tensor | None = None  # (T, B, K) the matmul input of every step
    G: torch.Tensor | None = None  # (T, B, GH) the activated gates
    Hprev: torch.Tensor | None = None  # (T, B, H) GRU with rec_mask: h_prev
    C: torch.Tensor | None = None  # (T, B, H) LSTM cell state after each step
    TC: torch.Tensor | None = None  # (T, B, H) LSTM act(c_t)
    HN: torch.Tensor | None = None  # (T, B, H) GRU: R_n h_in + b_hn, or r ⊙ h_in without reset_after
    dY: torch.Tensor | None = None  # (B, T, H), any strides
    dhN: torch.Tensor | None = None
    dcN: torch.Tensor | None = None
    dG: torch.Tensor | None = None  # (T, B, GH) out: gradient of the gates' pre-activations
    dGh: torch.Tensor | None = None  # (T, B, GH) out, GRU reset_after: gradient of h_in W_hh^T + b_hh
    dX: torch.Tensor | None = None  # (B, T, I) out, if x needs it
    dh0: torch.Tensor | None = None
    dc0: torch.Tensor | None = None
    db: torch.Tensor | None = None  # (nthreads, GH) out: per-thread sums of dG; their sum is the bias gradient
    dbh: torch.Tensor | None = None  # (nthreads, GH) out, GRU reset_after: the same for dGh
    # The variants' path (`variant`; `variant_forward`/`variant_backward` below): x is the input projection
    # XW (B, T, GH), W is W_hh (GH, H), bias the GRU's b_hh or None, XH (T, B, H) holds h_in.
    variant: bool = False
    peep: torch.Tensor | None = None  # (3H,) p_i, p_f, p_o
    ln_hh_w: torch.Tensor | None = None  # (GH,) LN of h_in W_hh^T
    ln_hh_b: torch.Tensor | None = None
    ln_c_w: torch.Tensor | None = None  # (H,) LSTM: LN of c~
    ln_c_b: torch.Tensor | None = None
    zh: torch.Tensor | None = None  # (B, T, H) zoneout of h (a rate: broadcast, strides (0, 0, 1))
    zc: torch.Tensor | None = None  # (B, T, H) zoneout of c
    CT: torch.Tensor | None = None  # (T, B, H) LSTM: c~_t before zoneout
    UN: torch.Tensor | None = None  # (T, B, GH) LN_hh: the normalised h_in W_hh^T
    US: torch.Tensor | None = None  # (T, B) LN_hh: 1/sigma
    LC: torch.Tensor | None = None  # (T, B, H) LN_c: the normalised c~
    CS: torch.Tensor | None = None  # (T, B) LN_c: 1/sigma
    dpeep: torch.Tensor | None = None  # (nthreads, 3H) out
    dln_hh: torch.Tensor | None = None  # (nthreads, 2 GH) out: gain, bias
    dln_c: torch.Tensor | None = None  # (nthreads, 2 H) out


def gemm_tn(a: torch.Tensor, b: torch.Tensor, nthreads: int) -> torch.Tensor:
    """a^T b: the weight gradients over all steps (the compiled kernel's version flushes subnormals)."""
    return a.T @ b


def _steps(T: int, reverse: bool) -> list[int]:
    return list(range(T - 1, -1, -1)) if reverse else list(range(T))


def req(t: torch.Tensor | None, name: str) -> torch.Tensor:
    """A buffer of the Run that this kind of call must have (which ones exist depends on the kind)."""
    if t is None:
        raise ValueError(f"internal error: the CPU loops need run.{name} for this call")
    return t


def forward(run: Run) -> None:
    act, rec = ACTIVATIONS[run.act], ACTIVATIONS[run.rec_act]
    _, T, I = run.x.shape
    H = run.h0.shape[1]
    W, W_ih, W_hh = run.W, run.W[:, :I], run.W[:, I:]
    bias = req(run.bias, "bias")
    h = run.h0.clone()
    c = req(run.c0, "c0").clone() if run.kind == "lstm" else h.new_empty(0)  # the LSTM's cell state
    for t in _steps(T, run.reverse):
        m = None if run.mask is None else run.mask[:, t, None]  # (B, 1)
        x_t = run.x[:, t] if run.in_mask is None else run.x[:, t] * run.in_mask  # (B, I)
        h_in = h if run.rec_mask is None else h * run.rec_mask  # (B, H)
        if run.training:
            req(run.XH, "XH")[t] = torch.cat([x_t, h_in], dim=1)
            if run.Hprev is not None:
                req(run.Hprev, "Hprev")[t] = h
        if run.kind == "lstm":
            g = torch.addmm(bias, torch.cat([x_t, h_in], dim=1), W.T)  # (B, 4H)
            i, f, gg, o = rec(g[:, :H]), rec(g[:, H : 2 * H]), act(g[:, 2 * H : 3 * H]), rec(g[:, 3 * H :])
            g = torch.cat([i, f, gg, o], dim=1)
            c_new = f * c + i * gg
            tc = act(c_new)
            h_new = o * tc
            c = c_new if m is None else torch.where(m, c_new, c)
            if run.training:
                req(run.C, "C")[t], req(run.TC, "TC")[t] = c, tc
        elif run.kind == "gru":
            if run.reset_after:
                gx = torch.addmm(bias, x_t, W_ih.T)  # (B, 3H)
                hh = h_in @ W_hh.T
                rz = rec(gx[:, : 2 * H] + hh[:, : 2 * H])
                hn = hh[:, 2 * H :] + req(run.b_hn, "b_hn")  # R_n h + b_hn
                n = act(gx[:, 2 * H :] + rz[:, :H] * hn)
            else:
                rz = rec(torch.addmm(bias[: 2 * H], torch.cat([x_t, h_in], dim=1), W[: 2 * H].T))
                hn = rz[:, :H] * h_in  # r ⊙ h_in
                n = act(torch.addmm(bias[2 * H :], x_t, W_ih[2 * H :].T) + hn @ W_hh[2 * H :].T)
            if run.training:
                req(run.HN, "HN")[t] = hn
            g = torch.cat([rz, n], dim=1)  # (B, 3H)
            z = rz[:, H:]
            h_new = (1 - z) * n + z * h
        else:
            g = act(torch.addmm(bias, torch.cat([x_t, h_in], dim=1), W.T))  # (B, H)
            h_new = g
        if run.training:
            req(run.G, "G")[t] = g
        h = h_new if m is None else torch.where(m, h_new, h)
        req(run.Y, "Y")[:, t] = h if m is None or not run.zero_output else torch.where(m, h, torch.zeros_like(h))
    req(run.hN, "hN").copy_(h)
    if run.kind == "lstm":
        req(run.cN, "cN").copy_(c)


def backward(run: Run) -> None:
    B, T, I = run.x.shape
    H = run.h0.shape[1]
    W, W_ih, W_hh = run.W, run.W[:, :I], run.W[:, I:]
    dh = run.h0.new_zeros(B, H) if run.dhN is None else run.dhN.clone()
    dc = run.h0.new_empty(0)  # the LSTM's dL/dc
    if run.kind == "lstm":
        dc = run.h0.new_zeros(B, H) if run.dcN is None else run.dcN.clone()
    order = _steps(T, run.reverse)
    for s in range(T - 1, -1, -1):
        t = order[s]
        m = None if run.mask is None else run.mask[:, t, None]
        keep = None if m is None else m.to(dh.dtype)  # (B, 1): 1 at real steps, 0 at masked ones
        if run.dY is not None:
            dy = run.dY[:, t]
            dh = dh + (dy if keep is None or not run.zero_output else dy * keep)
        g, h_in = req(run.G, "G")[t], req(run.XH, "XH")[t, :, I:]
        dh_carry = None  # GRU: the part of dh_prev that flows through z ⊙ h_prev
        if run.kind == "lstm":
            i, f, gg, o = g.split(H, dim=1)
            tc = req(run.TC, "TC")[t]
            c_prev = req(run.C, "C")[order[s - 1]] if s > 0 else run.c0
            d = dc + dh * o * dact(run.act, tc)  # dL/dc_t
            dg = torch.cat([
                d * gg * dact(run.rec_act, i), d * c_prev * dact(run.rec_act, f),
                d * i * dact(run.act, gg), dh * tc * dact(run.rec_act, o)], dim=1)  # (B, 4H)
            dg = dg if keep is None else dg * keep
            dxh = dg @ W  # (B, K)
            dc = d * f if m is None else torch.where(m, d * f, dc)
        elif run.kind == "simple_rnn":
            dg = dh * dact(run.act, g)
            dg = dg if keep is None else dg * keep
            dxh = dg @ W
        else:
            r, z, n = g.split(H, dim=1)
            h_prev = req(run.Hprev, "Hprev")[t] if run.Hprev is not None else h_in
            dz = dh * (h_prev - n) * dact(run.rec_act, z)
            dpn = dh * (1 - z) * dact(run.act, n)
            dh_carry = dh * z
            if run.reset_after:
                dr = dpn * req(run.HN, "HN")[t] * dact(run.rec_act, r)
                dg = torch.cat([dr, dz, dpn], dim=1)  # (B, 3H)
                dgh = torch.cat([dr, dz, dpn * r], dim=1)
                if keep is not None:
                    dg, dgh = dg * keep, dgh * keep
                req(run.dGh, "dGh")[t] = dgh
                dxh = torch.cat([dg @ W_ih, dgh @ W_hh], dim=1)
            else:
                drh = dpn @ W_hh[2 * H :]  # d(r ⊙ h_in)  (B, H)
                dr = drh * h_in * dact(run.rec_act, r)
                dg = torch.cat([dr, dz, dpn], dim=1)
                dg = dg if keep is None else dg * keep
                dxh = dg[:, : 2 * H] @ W[: 2 * H]
                dxh[:, :I] += dg[:, 2 * H :] @ W_ih[2 * H :]
                dxh[:, I:] += drh * r
        req(run.dG, "dG")[t] = dg
        if run.dX is not None:
            req(run.dX, "dX")[:, t] = dxh[:, :I] if run.in_mask is None else dxh[:, :I] * run.in_mask
        dh_in = dxh[:, I:] if run.rec_mask is None else dxh[:, I:] * run.rec_mask
        new_dh = dh_in if dh_carry is None else dh_carry + dh_in
        dh = new_dh if m is None else torch.where(m, new_dh, dh)
    req(run.dh0, "dh0").copy_(dh)
    if run.kind == "lstm":
        req(run.dc0, "dc0").copy_(dc)
    req(run.db, "db").zero_()[0] = req(run.dG, "dG").sum((0, 1))
    if run.dbh is not None:
        req(run.dbh, "dbh").zero_()[0] = req(run.dGh, "dGh").sum((0, 1))


LN_EPS = 1e-5  # lstmkit.ops.variants.LN_EPS, as in rnn_kernels.cpp


def _ln_forward(u: torch.Tensor, gain: torch.Tensor, bias: torch.Tensor | None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(gain x̂ + bias, x̂, 1/σ) over the last axis (biased variance)."""
    mean = u.mean(-1, keepdim=True)
    rstd = 1 / torch.sqrt(((u - mean) ** 2).mean(-1, keepdim=True) + LN_EPS)  # (B, 1)
    xhat = (u - mean) * rstd
    return xhat * gain + (0 if bias is None else bias), xhat, rstd[:, 0]


def _ln_backward(dy: torch.Tensor, xhat: torch.Tensor, rstd: torch.Tensor, gain: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dx, dgain, dbias) summed over rows: dx = (1/σ)(dy γ - mean(dy γ) - x̂ mean(dy γ x̂))."""
    dyg = dy * gain
    dx = rstd[:, None] * (dyg - dyg.mean(-1, keepdim=True) - xhat * (dyg * xhat).mean(-1, keepdim=True))
    return dx, (dy * xhat).sum(0), dy.sum(0)


def _zone(z: torch.Tensor | None, t: int, like: torch.Tensor) -> torch.Tensor:
    return like.new_zeros(()) if z is None else z[:, t]


def variant_forward(run: Run) -> None:
    """The variants' forward (LSTM: peephole, LN_hh, LN_c, zoneout; GRU reset_after: LN_hh, zoneout)."""
    act, rec = ACTIVATIONS[run.act], ACTIVATIONS[run.rec_act]
    T = run.x.shape[1]
    H = run.h0.shape[1]
    lstm = run.kind == "lstm"
    h = run.h0.clone()
    c = req(run.c0, "c0").clone() if lstm else h.new_empty(0)
    for t in _steps(T, run.reverse):
        m = None if run.mask is None else run.mask[:, t, None]  # (B, 1)
        h_in = h if run.rec_mask is None else h * run.rec_mask  # (B, H)
        xw = run.x[:, t]  # (B, GH)
        u = h_in @ run.W.T  # (B, GH)
        if run.ln_hh_w is not None:
            u, un, us = _ln_forward(u, run.ln_hh_w, run.ln_hh_b)
        dzh = _zone(run.zh, t, h)
        if lstm:
            a = xw + u
            pi, pf, po = (run.peep.split(H) if run.peep is not None else (0, 0, 0))
            i, f = rec(a[:, :H] + pi * c), rec(a[:, H : 2 * H] + pf * c)
            gg = act(a[:, 2 * H : 3 * H])
            ct = f * c + i * gg  # c~
            o = rec(a[:, 3 * H :] + po * ct)
            lnc = ct
            if run.ln_c_w is not None:
                lnc, lc, cs = _ln_forward(ct, run.ln_c_w, run.ln_c_b)
            tc = act(lnc)
            g = torch.cat([i, f, gg, o], dim=1)
            h_new = dzh * h + (1 - dzh) * (o * tc)
            dzc = _zone(run.zc, t, c)
            c_new = dzc * c + (1 - dzc) * ct
            c = c_new if m is None else torch.where(m, c_new, c)
        else:
            hw = u if run.bias is None else u + run.bias  # (B, 3H)
            r = rec(xw[:, :H] + hw[:, :H])
            z = rec(xw[:, H : 2 * H] + hw[:, H : 2 * H])
            n = act(xw[:, 2 * H :] + r * hw[:, 2 * H :])
            g = torch.cat([r, z, n], dim=1)
            h_new = dzh * h + (1 - dzh) * ((1 - z) * n + z * h)
        if run.training:
            req(run.XH, "XH")[t] = h_in
            req(run.G, "G")[t] = g
            if run.Hprev is not None:
                run.Hprev[t] = h
            if run.ln_hh_w is not None:
                req(run.UN, "UN")[t], req(run.US, "US")[t] = un, us
            if lstm:
                req(run.C, "C")[t], req(run.CT, "CT")[t], req(run.TC, "TC")[t] = c, ct, tc
                if run.ln_c_w is not None:
                    req(run.LC, "LC")[t], req(run.CS, "CS")[t] = lc, cs
            else:
                req(run.HN, "HN")[t] = hw[:, 2 * H :]
        h = h_new if m is None else torch.where(m, h_new, h)
        req(run.Y, "Y")[:, t] = h if m is None or not run.zero_output else torch.where(m, h, torch.zeros_like(h))
    req(run.hN, "hN").copy_(h)
    if lstm:
        req(run.cN, "cN").copy_(c)


def variant_backward(run: Run) -> None:
    """The variants' backward: dG = dL/dXW, dGh = dL/d(h_in W_hh^T) (LN_hh, GRU), the per-thread sums."""
    B, T = run.x.shape[:2]
    H = run.h0.shape[1]
    lstm = run.kind == "lstm"
    dh = run.h0.new_zeros(B, H) if run.dhN is None else run.dhN.clone()
    dc = run.h0.new_zeros(B, H) if run.dcN is None or not lstm else run.dcN.clone()
    sums = {k: torch.zeros_like(v[0]) for k, v in (("dpeep", run.dpeep), ("dln_hh", run.dln_hh), ("dln_c", run.dln_c),
                                                  ("dbh", run.dbh)) if v is not None}
    order = _steps(T, run.reverse)
    for s in range(T - 1, -1, -1):
        t = order[s]
        m = None if run.mask is None else run.mask[:, t, None]
        keep = None if m is None else m.to(dh.dtype)  # (B, 1)
        if run.dY is not None:
            dy = run.dY[:, t]
            dh = dh + (dy if keep is None or not run.zero_output else dy * keep)
        g = req(run.G, "G")[t]
        dzh = _zone(run.zh, t, dh)
        dht = (1 - dzh) * dh  # dL/dh~
        if lstm:
            i, f, gg, o = g.split(H, dim=1)
            tc, ct = req(run.TC, "TC")[t], req(run.CT, "CT")[t]
            c_prev = req(run.C, "C")[order[s - 1]] if s > 0 else req(run.c0, "c0")
            pi, pf, po = (run.peep.split(H) if run.peep is not None else (0, 0, 0))
            dl = dht * o * dact(run.act, tc)
            dao = dht * tc * dact(run.rec_act, o)
            if run.ln_c_w is not None:
                dl, dgain, dbias = _ln_backward(dl * (keep if keep is not None else 1), req(run.LC, "LC")[t],
                                                req(run.CS, "CS")[t], run.ln_c_w)
                sums["dln_c"] += torch.cat([dgain, dbias])
            dzc = _zone(run.zc, t, dc)
            dct = dl + (1 - dzc) * dc + dao * po
            dai, daf = dct * gg * dact(run.rec_act, i), dct * c_prev * dact(run.rec_act, f)
            dg = torch.cat([dai, daf, dct * i * dact(run.act, gg), dao], dim=1)  # (B, 4H)
            dg = dg if keep is None else dg * keep
            new_dc = dzc * dc + dct * f + dai * pi + daf * pf
            dc = new_dc if m is None else torch.where(m, new_dc, dc)
            if run.peep is not None:
                sums["dpeep"] += torch.cat([(dg[:, :H] * c_prev).sum(0), (dg[:, H : 2 * H] * c_prev).sum(0),
                                            (dg[:, 3 * H :] * ct).sum(0)])
            du = dg
            dh_direct = dzh * dh
        else:
            r, z, n = g.split(H, dim=1)
            h_prev = req(run.Hprev, "Hprev")[t] if run.Hprev is not None else req(run.XH, "XH")[t]
            dz = dht * (h_prev - n) * dact(run.rec_act, z)
            dpn = dht * (1 - z) * dact(run.act, n)
            dr = dpn * req(run.HN, "HN")[t] * dact(run.rec_act, r)
            dg = torch.cat([dr, dz, dpn], dim=1)
            du = torch.cat([dr, dz, dpn * r], dim=1)
            if keep is not None:
                dg, du = dg * keep, du * keep
            sums["dbh"] += du.sum(0)
            dh_direct = dzh * dh + dht * z
        if run.ln_hh_w is not None:
            du, dgain, dbias = _ln_backward(du, req(run.UN, "UN")[t], req(run.US, "US")[t], run.ln_hh_w)
            sums["dln_hh"] += torch.cat([dgain, dbias])
        req(run.dG, "dG")[t] = dg
        if run.dGh is not None:
            run.dGh[t] = du
        dh_in = du @ run.W  # (B, H)
        dh_in = dh_in if run.rec_mask is None else dh_in * run.rec_mask
        new_dh = dh_direct + dh_in
        dh = new_dh if m is None else torch.where(m, new_dh, dh)
    req(run.dh0, "dh0").copy_(dh)
    if lstm:
        req(run.dc0, "dc0").copy_(dc)
    for name, total in sums.items():
        getattr(run, name).zero_()[0] = total


class PythonLoops:
    """These loops behind the interface of the compiled kernel (`build.Kernel`)."""

    @staticmethod
    def forward(run: Run) -> None:
        (variant_forward if run.variant else forward)(run)

    @staticmethod
    def backward(run: Run) -> None:
        (variant_backward if run.variant else backward)(run)

    @staticmethod
    def gemm_tn(a: torch.Tensor, b: torch.Tensor, nthreads: int) -> torch.Tensor:
        return gemm_tn(a, b, nthreads)


LOOPS = PythonLoops()
