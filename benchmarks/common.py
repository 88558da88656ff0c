"""What every benchmark script records beside its figures: the machine, the versions, the commit."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent


# What the scripts themselves write: results and the documents they fill. A change anywhere else
# means the figures would not belong to the commit they name.
WRITTEN_BY_BENCHMARKS = ("benchmarks/results/", "docs/")


class DirtyTree(RuntimeError):
    """The tree has uncommitted changes: a figure recorded now would name a commit it did not run."""


def dirty_files(root: Path = ROOT) -> list[str]:
    """Paths with uncommitted changes (untracked files too), outside what the benchmarks write."""
    out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], capture_output=True, text=True,
                         cwd=root, check=True).stdout
    paths = [line[3:].split(" -> ")[-1].strip('"') for line in out.splitlines() if line.strip()]
    return [p for p in paths if not p.startswith(WRITTEN_BY_BENCHMARKS)]


def clean_commit(root: Path = ROOT) -> str:
    """The commit the tree is at; raises DirtyTree, naming the files, when there are uncommitted changes."""
    dirty = dirty_files(root)
    if dirty:
        shown = ", ".join(dirty[:10]) + (f" and {len(dirty) - 10} more" if len(dirty) > 10 else "")
        raise DirtyTree(f"refusing to record a result from a tree with uncommitted changes: {shown}. "
                        "Commit them (or run from a clean clone) first.")
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=root,
                          check=True).stdout.strip()


def environment() -> dict[str, Any]:
    """The machine, the versions and the commit; raises DirtyTree on a tree with uncommitted changes."""
    import lstmkit
    from lstmkit import ops
    from lstmkit.runtime import machine_info

    commit = clean_commit()
    return {**machine_info(), "lstmkit": lstmkit.__version__, "numpy": np.__version__,
            "commit": commit, "torch_threads": torch.get_num_threads(),
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
