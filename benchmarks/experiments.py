"""Full runs of the `lstmkit run` experiments, recorded: runs the command, then appends the run's
metrics.json with its config, machine and versions to benchmarks/results/experiments.jsonl and
rewrites the experiments section of docs/results.md from the newest record per configuration.

    python benchmarks/experiments.py imdb --model stacked-lstm --out runs/imdb-stacked-lstm
    python benchmarks/experiments.py temperature --model gru --out runs/temperature-gru
    python benchmarks/experiments.py pos --out runs/pos
    python benchmarks/experiments.py --from-run runs/imdb-lstm       # record a finished run
    python benchmarks/experiments.py --report                        # only rewrite the section

Runs that used --limit or fewer epochs than the experiment's default are recorded but listed apart.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, append_jsonl, environment, replace_section

RESULTS = ROOT / "benchmarks" / "results" / "experiments.jsonl"
DOC = ROOT / "docs" / "results.md"
# copied from a run folder by hand (cp runs/.../forecast.png docs/img/...), shown under each table
PICTURES = {"temperature": ("img/temperature_forecast_gru.png", "GRU forecast of a test fortnight, 24 h ahead"),
            "pos": ("img/pos_confusion.png", "UPOS confusion matrix of the tagger on the test set"),
            "imdb": ("img/imdb_lstm_curves.png", "IMDB LSTM: loss and accuracy per epoch")}
GOALS = {"imdb": "best val acc: SimpleRNN >= 0.85, LSTM >= 0.89, BiLSTM >= 0.88 (the book)",
         "temperature": "best recurrent model >= 10% lower test MAE than the baseline",
         "pos": ">= 0.95 UPOS test accuracy"}


def record(out: Path, seconds: float | None, command: str, env: dict[str, Any]) -> dict[str, Any]:
    metrics = json.loads((out / "metrics.json").read_text())
    config = json.loads((out / "config.json").read_text())
    if "experiment" not in config:
        raise SystemExit(f"{out / 'config.json'} names no experiment (written before run folders recorded it); "
                         "re-run it with `lstmkit run`")
    row = {"experiment": config["experiment"],
           "config": config["config"], "run_machine": config.get("machine"), "metrics": metrics,
           "wall_seconds": seconds, "command": command, "environment": env}
    append_jsonl(RESULTS, row)
    return row


def _fmt(v: Any, spec: str = ".4f") -> str:
    if isinstance(v, list):  # per-epoch values: their median
        v = sorted(v)[len(v) // 2] if v else None
    return "-" if v is None else (format(v, spec) if isinstance(v, (float, int)) else str(v))


def report() -> None:
    rows = [json.loads(x) for x in RESULTS.read_text().splitlines() if x.strip()] if RESULTS.exists() else []
    latest: dict[tuple, dict] = {}
    for r in rows:
        c = r["config"]
        key = (r["experiment"], c.get("model"), c.get("source"), c.get("horizon"), c.get("tags"), c.get("epochs"),
               c.get("limit"))
        latest[key] = r
    lines = ["## The `lstmkit run` experiments", "",
             "Recorded by `benchmarks/experiments.py` in `benchmarks/results/experiments.jsonl` (config, machine, "
             "versions, commit). Time per epoch is wall time on the machine named, which is shared with other work.",
             ""]

    def machine(r: dict) -> str:
        e = r["environment"]
        return f"{e['processor']}, {e['torch_threads']} threads, torch {e['torch']}, commit {e['commit']}, {e['date']}"

    for exp in ("imdb", "temperature", "pos"):
        mine = [r for r in latest.values() if r["experiment"] == exp]
        if not mine:
            continue
        lines += [f"### {exp}", "", f"Goal: {GOALS[exp]}.", ""]
        if exp == "imdb":
            lines += ["| model | source | epochs | train reviews | best val acc (epoch) | test acc | s/epoch | "
                      "machine |", "|---|---|---|---|---|---|---|---|"]
            for r in sorted(mine, key=lambda r: (r["config"]["limit"] is not None, r["config"]["model"])):
                m, c = r["metrics"], r["config"]
                lines.append(f"| {c['model']} | {c.get('source', 'indices')} | {c['epochs']} | "
                             f"{m.get('train_examples', '-')} | {_fmt(m.get('best_val_accuracy'))} "
                             f"({m.get('best_epoch', '-')}) | {_fmt(m.get('test_accuracy'))} | "
                             f"{_fmt(m.get('seconds_per_epoch'), '.1f')} | {machine(r)} |")
        elif exp == "temperature":
            lines += ["| model | horizon (h) | epochs run (best) | val MAE °C | test MAE °C | baseline test MAE °C | "
                      "vs baseline | s/epoch | machine |", "|---|---|---|---|---|---|---|---|---|"]
            for r in sorted(mine, key=lambda r: (r["config"].get("horizon", 24), r["config"]["model"])):
                m, c = r["metrics"], r["config"]
                gain = m.get("improvement_vs_baseline")
                run = "-" if not m.get("epochs_run") else f"{m['epochs_run']} ({m.get('best_epoch')})"
                lines.append(f"| {c['model']} | {c.get('horizon')} | {run} | {_fmt(m.get('val_mae'), '.3f')} | "
                             f"{_fmt(m.get('test_mae'), '.3f')} | {_fmt(m.get('baseline_test_mae'), '.3f')} | "
                             f"{'-' if gain is None else f'{100 * gain:+.1f}%'} | "
                             f"{_fmt(m.get('seconds_per_epoch'), '.1f')} | {machine(r)} |")
        else:
            lines += ["| model | tags | epochs | train sentences | best dev acc (epoch) | test acc | s/epoch | "
                      "machine |", "|---|---|---|---|---|---|---|---|"]
            for r in mine:
                m, c = r["metrics"], r["config"]
                lines.append(f"| {c['model']} | {m.get('tags')} | {c['epochs']} | {m.get('train_sentences')} | "
                             f"{_fmt(m.get('dev_accuracy'))} ({m.get('best_epoch')}) | "
                             f"{_fmt(m.get('test_accuracy'))} | {_fmt(m.get('seconds_per_epoch'), '.1f')} | "
                             f"{machine(r)} |")
        picture = PICTURES.get(exp)
        if picture and (DOC.parent / picture[0]).exists():
            lines += ["", f"![{picture[1]}]({picture[0]})"]
        lines.append("")
    replace_section(DOC, "experiments", "\n".join(lines))


def main(argv: list[str]) -> int:
    if argv == ["--report"]:
        report()
        return 0
    if argv[:1] == ["--from-run"]:
        out = Path(argv[1])
        record(out, None, f"recorded from {out}", environment())
        report()
        return 0
    from lstmkit.cli import main as cli

    if "--out" not in argv:
        print("give --out DIR so the run can be recorded", file=sys.stderr)
        return 2
    out = Path(argv[argv.index("--out") + 1])
    env = environment()  # before the run: a dirty tree refuses before hours of training, not after
    t0 = time.perf_counter()
    rc = cli(["run", *argv])
    if rc != 0:
        return rc
    record(out, time.perf_counter() - t0, "lstmkit run " + " ".join(argv), env)
    report()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
