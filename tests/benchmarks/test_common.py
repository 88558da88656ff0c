"""benchmarks/common.py refuses to record a figure from a tree with uncommitted changes."""

import shutil
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


def test_environment_refuses_a_dirty_tree_and_names_it_when_only_printing(repo):
    (repo / "src.py").write_text("x = 2\n")
    with pytest.raises(common.DirtyTree, match=r"uncommitted changes: src\.py\. Commit them"):
        common.environment(root=repo)
    env = common.environment(root=repo, for_record=False)  # --no-record: prints only
    assert env["commit"].endswith("+dirty") and env["clean"] is False


def test_the_writer_takes_only_a_record_from_a_clean_tree(repo):
    results = repo / "benchmarks" / "results" / "r.jsonl"
    env = common.environment(root=repo)
    assert env["clean"] is True and env["commit"] == git(repo, "rev-parse", "--short", "HEAD").strip()
    common.append_jsonl(results, {"x": 1, "environment": env})
    assert results.read_text().splitlines()[-1].startswith('{"environment"')
    before = results.read_text()
    (repo / "src.py").write_text("x = 2\n")
    dirty = common.environment(root=repo, for_record=False)
    for record, why in [({"x": 1}, "no environment"), ({"x": 1, "environment": dirty}, "clean: False"),
                        ({"x": 1, "environment": {"commit": "abc1234+dirty"}}, "clean: None")]:
        with pytest.raises(common.DirtyTree, match=f"refusing to append to .*r.jsonl.*{why}"):
            common.append_jsonl(results, record)
    assert results.read_text() == before  # nothing written


def test_a_copy_without_git_is_checked_against_the_stamp(repo, tmp_path_factory):
    (repo / ".gitignore").write_text("/.tree.json\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "ignore the stamp")
    (repo / "src").mkdir()
    (repo / "src" / "m.py").write_text("y = 1\n")
    with pytest.raises(common.DirtyTree, match=r"src/m\.py"):
        common.write_stamp(repo)  # a dirty tree gets no stamp
    git(repo, "add", "src/m.py")
    git(repo, "commit", "-qm", "m")
    head = git(repo, "rev-parse", "--short", "HEAD").strip()
    common.write_stamp(repo)
    assert common.dirty_files(repo) == []  # the stamp is ignored: writing it leaves the tree clean

    copy = tmp_path_factory.mktemp("device") / "tree"
    shutil.copytree(repo, copy, ignore=shutil.ignore_patterns(".git"))  # what the device machine gets
    assert not common.is_git_checkout(copy)
    assert common.tree_commit(copy) == head
    (copy / "src" / "__pycache__").mkdir()
    (copy / "src" / "__pycache__" / "m.pyc").write_bytes(b"\0")  # a byproduct, not a change
    assert common.tree_commit(copy) == head

    (copy / "src" / "m.py").write_text("y = 2\n")
    (copy / "src" / "new.py").write_text("")
    with pytest.raises(common.DirtyTree, match=rf"src/m\.py, src/new\.py\. They differ from commit {head}"):
        common.tree_commit(copy)
    assert common.tree_commit(copy, for_record=False) == "unknown+dirty"
    (copy / common.STAMP).unlink()
    with pytest.raises(common.DirtyTree, match=r"not a git checkout and has no \.tree\.json"):
        common.tree_commit(copy)


def test_the_stamp_is_ignored_in_this_repository():
    # read .gitignore itself: CI may test a copy of the tree that is no git checkout
    ignored = (common.ROOT / ".gitignore").read_text().splitlines()
    assert f"/{common.STAMP}" in ignored, f"{common.STAMP} must be in .gitignore, or writing it would dirty the tree"
