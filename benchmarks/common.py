"""What every benchmark script records beside its figures: the machine, the versions, the commit."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent


def environment() -> dict[str, Any]:
    import lstmkit
    from lstmkit import ops
    from lstmkit.runtime import machine_info

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT,
                            check=False).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True,
                           cwd=ROOT, check=False).stdout.strip()
    return {**machine_info(), "lstmkit": lstmkit.__version__, "numpy": np.__version__,
            "commit": commit + ("+dirty" if dirty else ""), "torch_threads": torch.get_num_threads(),
            "backends": ops.backends(), "auto_backend": ops.select_backend("auto", torch.zeros(1, 1, 1)).name}


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line, rewriting the file atomically (never a half-written line)."""
    from lstmkit.io import atomic_write_text

    old = path.read_text() if path.exists() else ""
    atomic_write_text(path, old + json.dumps(record, sort_keys=True) + "\n")


def replace_section(path: Path, name: str, text: str) -> None:
    """Put `text` between the markers of section `name` in the Markdown file `path` (appended at the
    end the first time), leaving the rest of the file as it is; written atomically."""
    from lstmkit.io import atomic_write_text

    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    old = path.read_text() if path.exists() else ""
    block = f"{start}\n{text.rstrip()}\n{end}"
    if start in old and end in old:
        head, rest = old.split(start, 1)
        new = head + block + rest.split(end, 1)[1]
    else:
        new = (old.rstrip() + "\n\n" if old.strip() else "") + block + "\n"
    atomic_write_text(path, new)
