"""Long-range memory: can SimpleRNN, LSTM and GRU of the same hidden size carry one symbol (or two
numbers) across L distractor steps? One model per length, trained with Adam on fresh sequences.

Tasks (`lstmkit.insight.tasks`): `recall` (name the symbol shown at step 0 after L distractors;
chance = 1/symbols) and `adding` (Hochreiter & Schmidhuber 1997; solved = absolute error < 0.04).
Writes metrics.json ({"results": [{"model", "length", "accuracy", ...}]}) and memory.png.
"""

# No `from __future__ import annotations` here: lstmkit.cli reads the field types (list[int]) at run time.
import time
from dataclasses import asdict, dataclass, field

import torch

from lstmkit.experiments.base import RunConfig, start_run
from lstmkit.experiments.reporting import console
from lstmkit.insight import tasks
from lstmkit.io import atomic_savefig, write_json
from lstmkit.runtime import resolve_device, set_seed


@dataclass
class Config(RunConfig):
    experiment = "memory"
    model: str = field(default="all", metadata={"choices": ["all", *tasks.MODELS], "help": "which recurrence"})
    epochs: int = field(default=1, metadata={"help": "unused: training runs --steps batches of fresh sequences"})
    batch_size: int = 64
    task: str = field(default="recall", metadata={"choices": list(tasks.TASKS), "help": "recall the first symbol, "
                                                  "or the adding problem"})
    lengths: list[int] = field(default_factory=lambda: [25, 50, 100, 200, 500],
                               metadata={"help": "numbers of distractor steps L"})
    hidden: int = field(default=32, metadata={"help": "hidden units, the same for every model"})
    steps: int = field(default=300, metadata={"help": "training batches per model and length (at most)"})
    lr: float = 1e-2
    init: str = field(default="chrono", metadata={"choices": list(tasks.INITS), "help": "keras: glorot/orthogonal, "
                      "forget bias 1; chrono: Keras' plus gate biases with time scales up to L (Tallec & Ollivier "
                      "2018); torch: U(+-1/sqrt(H))"})
    symbols: int = field(default=8, metadata={"help": "recall: label symbols (chance = 1/symbols)"})
    distractors: int = field(default=8, metadata={"help": "recall: distractor symbols"})
    eval_size: int = field(default=1000, metadata={"help": "held-out sequences per length"})
    eval_every: int = 25
    target: float | None = field(default=None, metadata={"help": "stop training once the held-out score reaches "
                                                         "this (default 0.99 recall, 0.95 adding)"})
    seeds: int = field(default=1, metadata={"help": "train each (model, length) from this many seeds (seed, "
                                            "seed+1, ...); metrics.json lists every run and a summary per pair"})
    quick: bool = field(default=False, metadata={"help": "lengths 10 and 60, at most 200 steps: under a minute"})
    out: str = "runs/memory"

    def __post_init__(self) -> None:
        if self.quick:
            self.lengths, self.steps, self.eval_size = [10, 60], min(self.steps, 200), min(self.eval_size, 500)
        if not self.lengths:
            raise ValueError("--lengths needs at least one length")
        minimum = 1 if self.task == "recall" else 6
        bad = [n for n in self.lengths if n < minimum]
        if bad:
            raise ValueError(f"--lengths must be >= {minimum} for the {self.task} task, got {bad}")
        for name in ("hidden", "steps", "batch_size", "eval_size", "eval_every", "seeds"):
            if getattr(self, name) < (0 if name == "steps" else 1):
                raise ValueError(f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)}")

    @property
    def models(self) -> list[str]:
        return list(tasks.MODELS) if self.model == "all" else [self.model]

    @property
    def goal(self) -> float:
        return self.target if self.target is not None else (0.99 if self.task == "recall" else 0.95)


def build(config: Config, kind: str, length: int) -> tasks.MemoryModel:
    in_size, out_size = tasks.model_outputs(config.task, config.symbols, config.distractors)
    return tasks.MemoryModel(kind, in_size, config.hidden, out_size, init=config.init, backend=config.backend,
                             chrono_span=length + 1)


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

    colors = {"simple_rnn": "tab:red", "lstm": "tab:blue", "gru": "tab:green"}
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
    set_seed(config.seed)
    device = resolve_device(config.device)
    out = start_run(config)
    results: list[dict] = []
    started = time.perf_counter()
    for length in config.lengths:
        gen_val = torch.Generator().manual_seed(config.seed + 1_000_003 * length)  # held out: its own stream
        val = tasks.make_batch(config.task, config.eval_size, length, config.symbols, config.distractors, gen_val)
        base = chance(config, val)
        val = tasks.Batch(val.x.to(device), val.y.to(device))
        for kind, seed in [(k, config.seed + s) for k in config.models for s in range(config.seeds)]:
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
            console.print(f"{config.task} L={length:<4} {kind:<10} score {score:.3f} (chance "
                          f"{base['chance_accuracy']:.3f}) after {row['steps']} steps, {row['seconds']:.1f} s")
    metrics = {"task": config.task, "results": results, "summary": summarize(results),
               "seconds": round(time.perf_counter() - started, 1), "config": asdict(config)}
    write_json(out / "metrics.json", metrics)
    import matplotlib.pyplot as plt

    fig = memory_figure(results, config)
    try:
        atomic_savefig(fig, out / "memory.png", dpi=110)
    finally:
        plt.close(fig)
    return metrics
