"""The LSTM/GRU variants' training step on the CPU backend against the plain fused LSTM/GRU and a cell loop.

    python benchmarks/lstm_variants.py [--hidden 32 256] [--steps 100] [--repeats 3] [--no-record]

One training step (forward, a sum loss, backward) at the classic IMDB shape B=128, I=32 (T=100 by
default instead of 500, to keep the run short; the time per step of sequence is what compares) at
each --hidden, for: `lstmkit.nn.LSTM` plain (the fused CPU kernel) and with each variant (peephole,
layer_norm, zoneout_h/zoneout_c in training, learn_initial_state, and all of them together), and the
GRU plain, with layer_norm and with zoneout_h; beside each, the same model written the way users write
it today, an `nn.Module` with a Python loop over time and torch ops per step (`CellLoopLSTM`,
`CellLoopGRU` below, with autograd). Peers alternate inside every repeat; each figure is the median.
Goals (issue 19): each variant <= 1.3x the plain fused time, >= 5x faster than its cell loop.
One JSON line goes to benchmarks/results/lstm_variants.jsonl with the machine, versions and commit.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from common import append_jsonl, environment  # noqa: E402

import lstmkit.nn as lnn  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "lstm_variants.jsonl"
B, I = 128, 32  # the classic IMDB shape (Keras' imdb_lstm example: batch 128, embedding 32)


class CellLoopLSTM(nn.Module):
    """The LSTM variants as users write them today: per step W x + R h, the gates, the peepholes,
    LayerNorm modules, zoneout by Bernoulli masks, an initial-state parameter; a Python loop over time."""

    def __init__(self, H: int, *, peephole: bool = False, layer_norm: bool = False, zoneout: float = 0.0,
                 learn_initial_state: bool = False) -> None:
        super().__init__()
        self.H, self.zoneout = H, zoneout
        self.ih, self.hh = nn.Linear(I, 4 * H), nn.Linear(H, 4 * H, bias=False)
        self.peep = nn.Parameter(torch.randn(3, H) * 0.1) if peephole else None
        self.ln_ih = nn.LayerNorm(4 * H) if layer_norm else None
        self.ln_hh = nn.LayerNorm(4 * H) if layer_norm else None
        self.ln_c = nn.LayerNorm(H) if layer_norm else None
        self.h0 = nn.Parameter(torch.zeros(2, H)) if learn_initial_state else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        Bx, T, _ = x.shape
        H = self.H
        xw = self.ih(x)  # (B, T, 4H): the input projection in one matmul, as careful users do
        if self.ln_ih is not None:
            xw = self.ln_ih(xw)
        if self.h0 is not None:
            h, c = self.h0[0].expand(Bx, H), self.h0[1].expand(Bx, H)
        else:
            h, c = x.new_zeros(Bx, H), x.new_zeros(Bx, H)
        out = []
        for t in range(T):
            rh = self.hh(h)
            if self.ln_hh is not None:
                rh = self.ln_hh(rh)
            i, f, g, o = (xw[:, t] + rh).chunk(4, 1)
            if self.peep is not None:
                i, f = i + self.peep[0] * c, f + self.peep[1] * c
            i, f, g = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g)
            c_new = f * c + i * g
            if self.peep is not None:
                o = o + self.peep[2] * c_new
            h_new = torch.sigmoid(o) * torch.tanh(c_new if self.ln_c is None else self.ln_c(c_new))
            if self.zoneout and self.training:
                dh = (torch.rand(Bx, H) < self.zoneout).to(x.dtype)
                dc = (torch.rand(Bx, H) < self.zoneout).to(x.dtype)
                h_new, c_new = dh * h + (1 - dh) * h_new, dc * c + (1 - dc) * c_new
            h, c = h_new, c_new
            out.append(h)
        return torch.stack(out, 1), None  # (B, T, H)


class CellLoopGRU(nn.Module):
    """The GRU variants (reset_after, layer norm on both projections, zoneout on h) as a cell loop."""

    def __init__(self, H: int, *, layer_norm: bool = False, zoneout: float = 0.0) -> None:
        super().__init__()
        self.H, self.zoneout = H, zoneout
        self.ih, self.hh = nn.Linear(I, 3 * H), nn.Linear(H, 3 * H)
        self.ln_ih = nn.LayerNorm(3 * H) if layer_norm else None
        self.ln_hh = nn.LayerNorm(3 * H) if layer_norm else None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        Bx, T, _ = x.shape
        H = self.H
        xw = self.ih(x)  # (B, T, 3H)
        if self.ln_ih is not None:
            xw = self.ln_ih(xw)
        h = x.new_zeros(Bx, H)
        out = []
        for t in range(T):
            hw = self.hh(h) if self.ln_hh is None else self.ln_hh(self.hh(h))
            xr, xz, xn = xw[:, t].chunk(3, 1)
            hr, hz, hn = hw.chunk(3, 1)
            r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
            h_new = (1 - z) * torch.tanh(xn + r * hn) + z * h
            if self.zoneout and self.training:
                d = (torch.rand(Bx, H) < self.zoneout).to(x.dtype)
                h_new = d * h + (1 - d) * h_new
            h = h_new
            out.append(h)
        return torch.stack(out, 1), None


LSTM_VARIANTS = {
    "peephole": dict(peephole=True),
    "layer_norm": dict(layer_norm=True),
    "zoneout": dict(zoneout=0.1),
    "learn_initial_state": dict(learn_initial_state=True),
    "all": dict(peephole=True, layer_norm=True, zoneout=0.1, learn_initial_state=True),
}
GRU_VARIANTS = {"layer_norm": dict(layer_norm=True), "zoneout": dict(zoneout=0.1)}


def fused(kind: str, H: int, opts: dict) -> nn.Module:
    opts = dict(opts)
    z = opts.pop("zoneout", 0.0)
    if z:
        opts["zoneout_h"] = z
        if kind == "lstm":
            opts["zoneout_c"] = z
    cls = lnn.LSTM if kind == "lstm" else lnn.GRU
    return cls(I, H, batch_first=True, **opts)


def models(H: int) -> dict[str, nn.Module]:
    torch.manual_seed(0)
    nets: dict[str, nn.Module] = {"lstm plain: fused": fused("lstm", H, {})}
    for name, opts in LSTM_VARIANTS.items():
        nets[f"lstm {name}: fused"] = fused("lstm", H, opts)
        nets[f"lstm {name}: cell loop"] = CellLoopLSTM(H, **opts)
    nets["gru plain: fused"] = fused("gru", H, {})
    for name, opts in GRU_VARIANTS.items():
        nets[f"gru {name}: fused"] = fused("gru", H, opts)
        nets[f"gru {name}: cell loop"] = CellLoopGRU(H, **opts)
    for net in nets.values():
        net.train()
    return nets


def step(model: nn.Module, x: torch.Tensor) -> float:
    t0 = time.perf_counter()
    out, _ = model(x)
    out.sum().backward()
    return (time.perf_counter() - t0) * 1e3


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--hidden", type=int, nargs="+", default=[32, 256])
    p.add_argument("--steps", type=int, default=100, help="T (the IMDB example's 500 takes 5x as long)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--no-record", action="store_true", help="print only (a dirty tree is allowed)")
    args = p.parse_args()
    env = environment(for_record=not args.no_record)  # refuses a dirty tree before spending the time
    T = args.steps
    median_ms: dict[str, dict[str, float]] = {}
    ratios: dict[str, dict[str, dict[str, float]]] = {}
    for H in args.hidden:
        nets = models(H)
        x = torch.randn(B, T, I)
        for net in nets.values():  # warm-up: kernel load, allocator
            step(net, x[:, :8])
        times: dict[str, list[float]] = {name: [] for name in nets}
        for _ in range(args.repeats):
            for name, net in nets.items():
                net.zero_grad(set_to_none=True)
                times[name].append(step(net, x))
        row = {name: round(statistics.median(v), 2) for name, v in times.items()}
        median_ms[str(H)] = row
        ratios[str(H)] = {}
        for kind, variants in (("lstm", LSTM_VARIANTS), ("gru", GRU_VARIANTS)):
            plain = row[f"{kind} plain: fused"]
            for name in variants:
                f, loop = row[f"{kind} {name}: fused"], row[f"{kind} {name}: cell loop"]
                ratios[str(H)][f"{kind} {name}"] = {"vs plain fused": round(f / plain, 2),
                                                    "cell loop / fused": round(loop / f, 1)}
        print(f"H={H}, T={T}, B={B}, I={I}:")
        for name, ms in row.items():
            print(f"  {name:32s} {ms:9.1f} ms")
        for name, r in ratios[str(H)].items():
            ok = r["vs plain fused"] <= 1.3 and r["cell loop / fused"] >= 5
            print(f"  {name:24s} {r['vs plain fused']:5.2f}x the plain fused step, cell loop "
                  f"{r['cell loop / fused']:6.1f}x slower  {'goal met' if ok else 'goal MISSED'}", flush=True)
    if not args.no_record:
        append_jsonl(RESULTS, {"shape": {"B": B, "T": T, "I": I, "H": args.hidden}, "repeats": args.repeats,
                               "median_ms": median_ms, "ratios": ratios, "threads": torch.get_num_threads(),
                               "goals": {"vs plain fused": "<= 1.3", "cell loop / fused": ">= 5"},
                               "environment": env})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
