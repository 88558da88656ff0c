"""Long-range memory: can SimpleRNN, LSTM, GRU and the layer-norm LSTM (`ln_lstm`) of the same hidden size carry
one symbol (or two numbers) across L distractor steps? One model per length, trained with Adam on fresh sequences.

Tasks (`lstmkit.insight.tasks`): `recall` (name the symbol shown at step 0 after L distractors;
chance = 1/symbols) and `adding` (Hochreiter & Schmidhuber 1997; solved = absolute error < 0.04).
Writes metrics.json ({"results": [{"model", "length", "accuracy", ...}]}) and memory.png.
"""

import json
import time
from dataclasses import asdict
from typing import Any

import torch

import lstmkit.nn
from lstmkit.experiments.base import open_run
from lstmkit.experiments.configs import MemoryConfig as Config
from lstmkit.experiments.reporting import console
from lstmkit.insight import tasks
from lstmkit.io import atomic_savefig, write_json
from lstmkit.runtime import resolve_device, set_seed

# (input size, hidden, backend) -> the recurrence; the sLSTM with 4 heads where hidden divides by 4 (default 32: 8 each)
MEMORY_EXTRA: dict[str, Any] = {
    "mingru": lambda i, h, backend: lstmkit.nn.MinGRU(i, h, batch_first=True),
    "minlstm": lambda i, h, backend: lstmkit.nn.MinLSTM(i, h, batch_first=True),
    "slstm": lambda i, h, backend: lstmkit.nn.SLSTM(i, h, num_heads=4 if h % 4 == 0 else 1, batch_first=True,
                                                    backend=backend),
}


@torch.no_grad()
def chrono_extra_(rnn: torch.nn.Module, kind: str, span: int) -> None:
    """Tallec & Ollivier's chrono biases (as tasks.chrono_init_ gives the LSTM and GRU) on issue 20's layers,
    u ~ U(1, span - 1) per unit: sLSTM and minLSTM forget bias log u, input bias -log u; minGRU update bias
    -log u (there h = (1 - z) h_prev + z h̃, so z near 1/u keeps h). Without them, from the layers' own
    U(±1/√H) init, all three (and lstmkit.nn.LSTM so initialised) stayed at chance on recall L = 25 after
    300 steps."""
    H = rnn.hidden_size
    for name, p in rnn.named_parameters():
        if not name.startswith("bias"):
            continue
        b = torch.log(torch.rand(H) * (span - 2) + 1)  # (H,)
        if kind == "mingru":
            p[:H] = -b  # blocks z, h̃
        else:  # sLSTM blocks i, f, z, o; minLSTM f, i, h̃
            f, i = (slice(H, 2 * H), slice(0, H)) if kind == "slstm" else (slice(0, H), slice(H, 2 * H))
            p[f], p[i] = b, -b


def build(config: Config, kind: str, length: int) -> tasks.MemoryModel:
    """The model of `kind`. "ln_lstm" is the LSTM that `kind="lstm"` draws from the same seed (same init, same
    weights) with layer norm added (`lstmkit.nn.LSTM(layer_norm=True)`: gains 1, biases 0), so the two differ
    by the normalisation alone."""
    in_size, out_size = tasks.model_outputs(config.task, config.symbols, config.distractors)
    model = tasks.MemoryModel("lstm" if kind in ("ln_lstm", *MEMORY_EXTRA) else kind, in_size, config.hidden, out_size,
                              init=config.init, backend=config.backend, chrono_span=length + 1)
    if kind == "ln_lstm":
        plain = model.rnn
        model.rnn = lstmkit.nn.LSTM(in_size, config.hidden, batch_first=True, backend=config.backend,
                                    layer_norm=True)
        missing, unexpected = model.rnn.load_state_dict(plain.state_dict(), strict=False)
        assert not unexpected and all(n.startswith("ln_") for n in missing)  # only the LN gains and biases are new
        model.kind = kind
    elif kind in MEMORY_EXTRA:  # issue 20: the same head on lstmkit.nn's MinGRU, MinLSTM or SLSTM (their own init)
        backend = config.backend if config.backend in ("reference", "cpu") else "auto"
        model.rnn = MEMORY_EXTRA[kind](in_size, config.hidden, backend)
        model.kind = kind
        if config.init == "chrono":
            chrono_extra_(model.rnn, kind, length + 1)
    return model


def chance(config: Config, val: tasks.Batch) -> dict[str, float]:
    """The score without memory: recall 1/symbols; adding, always predicting 0.5 (the target's mean)."""
    if config.task == "recall":
        return {"chance_accuracy": 1.0 / config.symbols}
    err = val.y - 0.5
    return {"chance_accuracy": float((err.abs() < tasks.ADDING_TOLERANCE).float().mean()),
            "chance_mse": float((err**2).mean())}


def summarize(results: list[dict]) -> list[dict]:
    """Per (model, length): the mean score over the seeds, its min and max, and the number of seeds."""
    groups: dict[tuple[str, int], list[float]] = {}
    for r in results:
        groups.setdefault((r["model"], r["length"]), []).append(r["accuracy"])
    return [{"model": m, "length": n, "accuracy": sum(v) / len(v), "min": min(v), "max": max(v), "seeds": len(v)}
            for (m, n), v in groups.items()]


def memory_figure(results: list[dict], config: Config):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"simple_rnn": "tab:red", "lstm": "tab:blue", "gru": "tab:green", "ln_lstm": "tab:purple",
              "mingru": "tab:olive", "minlstm": "tab:cyan", "slstm": "tab:orange"}
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for kind in config.models:
        rows = sorted((r for r in summarize(results) if r["model"] == kind), key=lambda r: r["length"])
        xs = [r["length"] for r in rows]
        label = kind if config.seeds == 1 else f"{kind} (mean of {config.seeds} seeds, band: min to max)"
        ax.plot(xs, [r["accuracy"] for r in rows], "o-", color=colors[kind], label=label)
        if config.seeds > 1:
            ax.fill_between(xs, [r["min"] for r in rows], [r["max"] for r in rows], color=colors[kind], alpha=0.15)
    lengths = sorted({r["length"] for r in results})
    ax.plot(lengths, [results[0]["chance_accuracy"]] * len(lengths) if config.task == "recall"
            else [next(r for r in results if r["length"] == n)["chance_accuracy"] for n in lengths],
            "k:", label="chance")
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(lengths, [str(n) for n in lengths])
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("distractor steps L")
    ax.set_ylabel("held-out accuracy" if config.task == "recall" else "fraction with |error| < 0.04")
    ax.set_title(f"{config.task}: hidden {config.hidden}, init {config.init}, <= {config.steps} steps "
                 f"of batch {config.batch_size}" + (f", {config.seeds} seeds" if config.seeds > 1 else ""), fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    return fig


def run(config: Config) -> dict:
    resolve_device(config.device)  # fails early and clearly when cuda is asked for and absent
    with open_run(config) as run:
        return _run(run)


def _run(run: Any) -> dict:
    """Each (length, model, seed) trains from its own seeds: a resumed run keeps the finished ones
    (`checkpoint/results.json`) and trains the rest, as an uninterrupted run would."""
    config, out = run.config, run.out  # a resumed run's own options
    set_seed(config.seed)
    device = resolve_device(config.device)
    done_path = run.checkpoint_dir / "results.json"
    done: list[dict] = json.loads(done_path.read_text()) if run.resumed and done_path.exists() else []
    run.unit, run.epochs_done = "training", len(done)
    results: list[dict] = []
    started = time.perf_counter()
    for length in config.lengths:
        gen_val = torch.Generator().manual_seed(config.seed + 1_000_003 * length)  # held out: its own stream
        val = tasks.make_batch(config.task, config.eval_size, length, config.symbols, config.distractors, gen_val)
        base = chance(config, val)
        val = tasks.Batch(val.x.to(device), val.y.to(device))
        for kind, seed in [(k, config.seed + s) for k in config.models for s in range(config.seeds)]:
            if len(results) < len(done):  # finished before the interruption
                results.append(done[len(results)])
                continue
            torch.manual_seed(seed)
            model = build(config, kind, length).to(device)
            t0 = time.perf_counter()
            history = tasks.train(
                model, config.task, length, config.steps, batch_size=config.batch_size, lr=config.lr,
                symbols=config.symbols, distractors=config.distractors, val=val, eval_every=config.eval_every,
                target=config.goal, generator=torch.Generator().manual_seed(seed + length), device=device,
            )
            loss, score = tasks.evaluate(model, config.task, val)
            row = {"model": kind, "length": length, "seed": seed, "accuracy": score, "loss": loss,
                   "steps": history["step"][-1] if history["step"] else 0,
                   "seconds": round(time.perf_counter() - t0, 2), **base}
            if config.task == "adding":
                row["mse"] = loss
            results.append(row)
            write_json(done_path, results)
            run.epochs_done = len(results)
            console.print(f"{config.task} L={length:<4} {kind:<10} score {score:.3f} (chance "
                          f"{base['chance_accuracy']:.3f}) after {row['steps']} steps, {row['seconds']:.1f} s")
    metrics = {"task": config.task, "results": results, "summary": summarize(results),
               "seconds": round(time.perf_counter() - started + sum(r["seconds"] for r in done), 1),
               "config": asdict(config)}
    write_json(out / "metrics.json", metrics)
    import matplotlib.pyplot as plt

    fig = memory_figure(results, config)
    try:
        atomic_savefig(fig, out / "memory.png", dpi=110)
    finally:
        plt.close(fig)
    return metrics
