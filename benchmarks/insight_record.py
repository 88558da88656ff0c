"""Shared by the insight benchmarks: append one result as a JSON line with the machine and versions."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import append_jsonl, environment

__all__ = ["append_result", "environment"]

RESULTS = Path(__file__).parent / "results"


def append_result(file: str, record: dict[str, Any], env: dict[str, Any]) -> Path:
    """Append `record` (plus the command line and `env`, `environment()` taken before the run) to
    benchmarks/results/`file`, written whole."""
    path = RESULTS / file
    append_jsonl(path, {"command": " ".join(sys.argv), **record, "environment": env})
    return path
