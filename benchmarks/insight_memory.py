"""The memory experiment as a benchmark: runs `lstmkit run memory` with the given options and appends
its results to benchmarks/results/insight_memory.jsonl (with the machine and versions).

    python benchmarks/insight_memory.py --quick --out runs/memory-quick
    python benchmarks/insight_memory.py --out runs/memory --task recall          # the full lengths
    python benchmarks/insight_memory.py ... --copy-plot docs/img/memory_recall.png
    python benchmarks/insight_memory.py --from-run runs/memory   # record a finished `lstmkit run memory`
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from insight_record import append_result, environment

from lstmkit.cli import main


def run(argv: list[str]) -> int:
    copy_to = None
    if "--copy-plot" in argv:
        k = argv.index("--copy-plot")
        copy_to, argv = argv[k + 1], argv[:k] + argv[k + 2 :]
    if "--from-run" in argv:
        out = Path(argv[argv.index("--from-run") + 1])
        env = environment()
    elif "--out" in argv:
        out = Path(argv[argv.index("--out") + 1])
        env = environment()  # before the run: a dirty tree refuses before the training, not after
        status = main(["run", "memory", *argv])
        if status:
            return status
    else:
        raise SystemExit("give --out DIR (the run folder to write) or --from-run DIR (one already written)")
    metrics = json.loads((out / "metrics.json").read_text())
    run_machine = json.loads((out / "config.json").read_text())["machine"]  # where the run itself ran
    append_result("insight_memory.jsonl", {"benchmark": "memory", "task": metrics["task"], "run_folder": str(out),
                                           "seconds": metrics["seconds"], "config": metrics["config"],
                                           "results": metrics["results"], "run_machine": run_machine}, env)
    if copy_to:
        shutil.copyfile(out / "memory.png", copy_to)
    return 0


if __name__ == "__main__":
    raise SystemExit(run(sys.argv[1:]))
