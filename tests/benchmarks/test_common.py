"""benchmarks/common.py refuses to record a figure from a tree with uncommitted changes."""

import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import common


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path):
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "t@example.invalid")
    git(tmp_path, "config", "user.name", "t")
    (tmp_path / "src.py").write_text("x = 1\n")
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "benchmarks" / "results" / "r.jsonl").write_text("{}\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "init")
    return tmp_path


def test_a_clean_tree_gives_its_commit(repo):
    assert common.clean_commit(repo) == git(repo, "rev-parse", "--short", "HEAD").strip()


def test_a_changed_or_new_file_is_refused_by_name(repo):
    (repo / "src.py").write_text("x = 2\n")
    (repo / "new.py").write_text("")
    with pytest.raises(common.DirtyTree, match=r"uncommitted changes: (new\.py, src\.py|src\.py, new\.py)"):
        common.clean_commit(repo)


def test_results_the_scripts_write_do_not_count(repo):
    (repo / "benchmarks" / "results" / "r.jsonl").write_text("{}\n{}\n")
    (repo / "docs").mkdir()
    (repo / "docs" / "benchmarks.md").write_text("table\n")
    assert common.dirty_files(repo) == []
