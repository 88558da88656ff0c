"""Rewrite the CPU section of docs/benchmarks.md from the newest records of benchmarks/cpu_recurrence.py
and benchmarks/cpu_imdb_epoch.py (one run each), with the goals of the CPU issue marked met or not.

    python benchmarks/report_cpu.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, replace_section

DOC = ROOT / "docs" / "benchmarks.md"
RESULTS = ROOT / "benchmarks" / "results"
EPOCH_GOAL = {"lstm": 8.0, "gru": 8.0, "simplernn": 4.0}  # seconds per epoch at 32 units


def _latest(path: Path, key: tuple[str, ...]) -> list[dict]:
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []
    newest: dict[tuple, dict] = {}
    for r in rows:
        newest[tuple(r[k] for k in key)] = r
    return list(newest.values())


def _mark(ok: bool) -> str:
    return "met" if ok else "**not met**"


def main() -> int:
    rec = _latest(RESULTS / "cpu_recurrence.jsonl", ("kind", "H", "B", "T", "I"))
    epoch = _latest(RESULTS / "cpu_imdb_epoch.jsonl", ("kind", "units"))
    lines = ["## CPU", "", "Issue 6: the fused CPU backend (`src/lstmkit/ops/cpu.py`, `src/lstmkit/ops/_cpu/`), chosen "
             "by `backend=\"auto\"` for CPU tensors.", ""]
    if rec:
        e = rec[0]["environment"]
        lines += [
            "### The recurrence alone (`benchmarks/cpu_recurrence.py`)", "",
            f"Machine: {e['processor']}, {e['torch_threads']} threads, torch {e['torch']}, commit {e['commit']}, "
            f"{e['date']}; other jobs on the machine paused during the run. Batch 128, 500 steps, input 32, float32; "
            "train = forward + backward of `output.sum()`; median of 7 alternating repeats (ms). Goals: train <= 0.5x "
            "torch.nn, forward no slower than torch.nn.", "",
            "| kind | hidden | lstmkit fwd | torch.nn fwd | ratio | lstmkit train | torch.nn train | ratio | "
            "train goal | fwd goal |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in sorted(rec, key=lambda r: (r["H"], ["lstm", "gru", "simple_rnn"].index(r["kind"]))):
            ms = r["ms"]
            lines.append(f"| {r['kind']} | {r['H']} | {ms['ours_fwd']:.1f} | {ms['torch_fwd']:.1f} | "
                         f"{r['ratio_fwd']:.2f} | {ms['ours_train']:.1f} | {ms['torch_train']:.1f} | "
                         f"{r['ratio_train']:.2f} | {_mark(r['ratio_train'] <= 0.5)} | "
                         f"{_mark(r['ratio_fwd'] <= 1.0)} |")
    if epoch:
        e = epoch[0]["environment"]
        v = epoch[0].get("keras_tensorflow_versions", {})
        lines += [
            "", "### The whole classic IMDB model (`benchmarks/cpu_imdb_epoch.py`)", "",
            f"Embedding(10000, 32) -> LSTM/GRU/SimpleRNN(units) -> Dense(1, sigmoid), rmsprop, batch 128, length 500; "
            f"seconds per epoch of 20,000 reviews from timed fits of 10 batches (32 units, median of 3) or 5 batches "
            f"(128 and 256 units, median of 2). Keras {v.get('keras', '?')} with TensorFlow "
            f"{v.get('tensorflow', '?')} (CPU) in its own virtual environment, same run. Machine: {e['processor']}, "
            f"{e['torch_threads']} threads, torch {e['torch']}, commit {e['commit']}, {e['date']}. Goals: at 32 units "
            "LSTM and GRU <= 8 s, SimpleRNN <= 4 s; everywhere >= 2.5x faster than Keras with TensorFlow.", "",
            "| model | units | lstmkit s/epoch | Keras + TF s/epoch | speed-up | goal |", "|---|---|---|---|---|---|"]
        for r in sorted(epoch, key=lambda r: (r["units"], ["lstm", "gru", "simplernn"].index(r["kind"]))):
            s, tf = r["lstmkit_s_per_epoch"], r.get("keras_tensorflow_s_per_epoch")
            ok = tf is not None and tf / s >= 2.5
            if r["units"] == 32:
                ok = ok and s <= EPOCH_GOAL[r["kind"]]
            lines.append(f"| {r['kind']} | {r['units']} | {s:.2f} | {'-' if tf is None else f'{tf:.2f}'} | "
                         f"{'-' if tf is None else f'{tf / s:.2f}x'} | {_mark(ok)} |")
    replace_section(DOC, "cpu", "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
