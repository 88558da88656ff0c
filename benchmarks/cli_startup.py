"""How long the `lstmkit` command takes to answer its help and version, beside `import torch`, one run.

    python benchmarks/cli_startup.py [--repeats 15]

Each command runs as a fresh process (`python -m lstmkit.cli ...`, as the console script does), the
peers alternate inside every repeat, and each figure is the median wall-clock time. One JSON line
goes to benchmarks/results/cli_startup.jsonl with the machine, versions and commit.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from common import append_jsonl, environment  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "cli_startup.jsonl"
COMMANDS = {
    "lstmkit --help": [sys.executable, "-m", "lstmkit.cli", "--help"],
    "lstmkit --version": [sys.executable, "-m", "lstmkit.cli", "--version"],
    "lstmkit run imdb --help": [sys.executable, "-m", "lstmkit.cli", "run", "imdb", "--help"],
    "lstmkit bench --help": [sys.executable, "-m", "lstmkit.cli", "bench", "--help"],
    "python -c 'import torch'": [sys.executable, "-c", "import torch"],
    "python -c 'pass'": [sys.executable, "-c", "pass"],
}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=15)
    args = p.parse_args()
    env = environment()  # refuses a dirty tree before spending the time; the figures belong to this tree
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):
        for name, cmd in COMMANDS.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            times[name].append((time.perf_counter() - t0) * 1e3)
    ms = {name: round(statistics.median(v), 1) for name, v in times.items()}
    append_jsonl(RESULTS, {"repeats": args.repeats, "median_ms": ms,
                           "all_ms": {k: [round(t, 1) for t in v] for k, v in times.items()},
                           "environment": env})
    width = max(map(len, ms))
    for name, v in ms.items():
        print(f"{name:{width}s}  {v:8.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
