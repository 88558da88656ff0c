"""Shared by the insight benchmarks: append one result as a JSON line with the machine and versions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

import lstmkit
from lstmkit import ops
from lstmkit.experiments.base import machine_info
from lstmkit.io import atomic_write_text

RESULTS = Path(__file__).parent / "results"


def environment() -> dict[str, Any]:
    """The machine, the library versions, the git commit and the recurrence backends present."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, check=False).stdout.strip()
    except OSError:
        commit = ""
    return {**machine_info(), "lstmkit": lstmkit.__version__, "numpy": np.__version__, "commit": commit,
            "backends": ops.backends(), "auto_backend_cpu": ops.select_backend("auto", torch.zeros(1, 1, 1)).name}


def append_result(file: str, record: dict[str, Any]) -> Path:
    """Append `record` (plus the command line and environment) to benchmarks/results/`file`, written whole."""
    path = RESULTS / file
    line = json.dumps({"command": " ".join(sys.argv), **record, "environment": environment()}, sort_keys=True)
    old = path.read_text() if path.exists() else ""
    return atomic_write_text(path, old + line + "\n")
