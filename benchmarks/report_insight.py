"""Rewrite the memory table of docs/insight.md from the newest full runs recorded by
benchmarks/insight_memory.py (benchmarks/results/insight_memory.jsonl), one table per task.

    python benchmarks/report_insight.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, replace_section

DOC = ROOT / "docs" / "insight.md"
RESULTS = ROOT / "benchmarks" / "results" / "insight_memory.jsonl"


def main() -> int:
    rows = [json.loads(x) for x in RESULTS.read_text().splitlines() if x.strip()]
    newest = {}
    for r in rows:
        if not r["config"].get("quick"):
            newest[r["config"]["task"]] = r
    lines = []
    for task, r in sorted(newest.items(), key=lambda kv: kv[0] != "recall"):
        c = r["config"]
        seeds = c.get("seeds") or 1
        groups: dict[tuple[str, int], list[float]] = {}
        for x in r["results"]:
            groups.setdefault((x["model"], x["length"]), []).append(x["accuracy"])
        lengths = sorted({n for _, n in groups})
        models = [m for m in ("simple_rnn", "lstm", "gru") if any(k[0] == m for k in groups)]
        chance = r["results"][0]["chance_accuracy"]
        score = "held-out accuracy" if task == "recall" else "share of held-out sequences with |error| < 0.04"
        e = r["environment"]
        lines += [f"**{task}** ({score}; chance {chance:.3f}; hidden {c['hidden']}, init {c['init']}, at most "
                  f"{c['steps']} steps of batch {c['batch_size']}, Adam lr {c['lr']}, "
                  f"{seeds} seed{'s' if seeds > 1 else ''}{', mean (min to max)' if seeds > 1 else ''}; "
                  f"`{r['command']}`, {e['processor']}, torch {e['torch']}, commit {e['commit']}, {e['date']}):", "",
                  "| L | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
        for n in lengths:
            cells = []
            for m in models:
                v = groups[(m, n)]
                mean = sum(v) / len(v)
                cells.append(f"{mean:.3f}" + (f" ({min(v):.2f} to {max(v):.2f})" if len(v) > 1 else ""))
            lines.append(f"| {n} | " + " | ".join(cells) + " |")
        lines.append("")
    replace_section(DOC, "memory", "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
