"""What every benchmark script records beside its figures: the machine, the versions, the commit,
and the one JSON-lines writer.

A figure belongs to a commit only if the tree that ran it was that commit and nothing else, so
`environment()` refuses a tree with uncommitted changes (DirtyTree, naming the files) and
`append_jsonl` refuses a record whose environment did not pass that check. 63 of the first 108
recorded lines said `+dirty`: figures that no commit can reproduce.

The device machine runs a copy of the working tree without `.git`. There the check reads a stamp
written here by `python benchmarks/common.py stamp` (it refuses a dirty tree too): the commit and
the sha256 of every tracked file, compared file by file with the copy. Carry the stamp along:
`run(command="bash benchmarks/gpu_all.sh", carry=[".tree.json"])`.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STAMP = ".tree.json"  # git-ignored, so writing it leaves the tree clean

# What the scripts themselves write: results and the documents they fill. A change anywhere else
# means the figures would not belong to the commit they name.
WRITTEN_BY_BENCHMARKS = ("benchmarks/results/", "docs/")
# Without git: where an extra file could change what runs, and what never counts as a change there
CODE_DIRS = ("src", "benchmarks")
NOT_SOURCE = ("__pycache__", ".egg-info")


class DirtyTree(RuntimeError):
    """The tree has uncommitted changes: a figure recorded now would name a commit it did not run."""


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], capture_output=True, text=True, cwd=root, check=True).stdout


def is_git_checkout(root: Path = ROOT) -> bool:
    return (root / ".git").exists()  # a folder in a clone, a file in a worktree


def dirty_files(root: Path = ROOT) -> list[str]:
    """Paths with uncommitted changes (untracked files too), outside what the benchmarks write."""
    out = _git(root, "status", "--porcelain", "--untracked-files=all")
    paths = [line[3:].split(" -> ")[-1].strip('"') for line in out.splitlines() if line.strip()]
    return [p for p in paths if not p.startswith(WRITTEN_BY_BENCHMARKS)]


def _refuse(dirty: list[str], how: str) -> DirtyTree:
    shown = ", ".join(dirty[:10]) + (f" and {len(dirty) - 10} more" if len(dirty) > 10 else "")
    return DirtyTree(f"refusing to record a result from a tree with uncommitted changes: {shown}. {how}")


def clean_commit(root: Path = ROOT) -> str:
    """The commit a git checkout is at; raises DirtyTree, naming the files, when there are uncommitted changes."""
    dirty = dirty_files(root)
    if dirty:
        raise _refuse(dirty, "Commit them (or run from a clean clone: git clone . /tmp/clean) first.")
    return _git(root, "rev-parse", "--short", "HEAD").strip()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_stamp(root: Path = ROOT) -> Path:
    """Stamp a clean checkout (refuses a dirty one) so that a copy of it without .git can prove it is that commit."""
    commit = clean_commit(root)
    tracked = [p for p in _git(root, "ls-files", "-z").split("\0") if p and not p.startswith(WRITTEN_BY_BENCHMARKS)]
    files = {p: _sha256(root / p) for p in tracked if (root / p).is_file()}
    path = root / STAMP
    path.write_text(json.dumps({"commit": commit, "files": files}, sort_keys=True) + "\n")
    return path


def stamped_commit(root: Path) -> str:
    """The commit a copy without .git is at, checked against its stamp; raises DirtyTree naming what differs."""
    stamp_path = root / STAMP
    if not stamp_path.is_file():
        raise DirtyTree(f"{root} is not a git checkout and has no {STAMP}, so no commit can be named for its "
                        f"figures: run `python benchmarks/common.py stamp` in the clean checkout and carry {STAMP}")
    stamp = json.loads(stamp_path.read_text())
    files: dict[str, str] = stamp["files"]
    changed = sorted(p for p, digest in files.items() if not (root / p).is_file() or _sha256(root / p) != digest)
    extra = sorted(
        rel for d in CODE_DIRS if (root / d).is_dir() for f in (root / d).rglob("*") if f.is_file()
        for rel in [f.relative_to(root).as_posix()]
        if rel not in files and not rel.startswith(WRITTEN_BY_BENCHMARKS) and not any(n in rel for n in NOT_SOURCE))
    if changed or extra:
        raise _refuse(changed + extra, f"They differ from commit {stamp['commit']} stamped in {STAMP}.")
    return str(stamp["commit"])


def tree_commit(root: Path = ROOT, *, for_record: bool = True) -> str:
    """The commit the tree is; for a record (the default) a dirty tree raises DirtyTree. Not for a
    record (printing only, `--no-record`) a dirty tree is named `<commit>+dirty`."""
    if for_record:
        return clean_commit(root) if is_git_checkout(root) else stamped_commit(root)
    if not is_git_checkout(root):
        try:
            return stamped_commit(root)
        except DirtyTree:
            return "unknown+dirty"
    commit = _git(root, "rev-parse", "--short", "HEAD").strip()
    return commit + ("+dirty" if dirty_files(root) else "")


def environment(*, for_record: bool = True, root: Path = ROOT) -> dict[str, Any]:
    """The machine, the versions and the commit. Call it before the measurement, not after: it
    raises DirtyTree on a tree with uncommitted changes (unless `for_record=False`), and the figures
    belong to the tree as it was when the code was loaded."""
    import numpy as np
    import torch

    import lstmkit
    from lstmkit import ops
    from lstmkit.runtime import machine_info

    commit = tree_commit(root, for_record=for_record)
    return {**machine_info(), "lstmkit": lstmkit.__version__, "numpy": np.__version__,
            "commit": commit, "clean": not commit.endswith("+dirty"), "torch_threads": torch.get_num_threads(),
            "backends": ops.backends(), "auto_backend": ops.select_backend("auto", torch.zeros(1, 1, 1)).name}


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line, rewriting the file atomically (never a half-written line). Refuses a
    record whose "environment" is not `environment()`'s from a clean tree. The tree is not looked at
    again here: on a shared checkout someone else's edit during a long run would throw the run away,
    although the code measured was the clean commit loaded at the start."""
    from lstmkit.io import atomic_write_text

    env = record.get("environment")
    if not isinstance(env, dict) or env.get("clean") is not True or not env.get("commit"):
        commit = env.get("commit") if isinstance(env, dict) else None
        raise DirtyTree(f"refusing to append to {path}: a record needs the 'environment' of "
                        f"environment() from a clean tree, got commit {commit!r} "
                        f"({'no environment' if not isinstance(env, dict) else 'clean: ' + repr(env.get('clean'))})")
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


if __name__ == "__main__":
    if sys.argv[1:] != ["stamp"]:
        raise SystemExit("usage: python benchmarks/common.py stamp   (write .tree.json for a copy without .git)")
    print(f"wrote {write_stamp()}")
