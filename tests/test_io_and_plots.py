"""Files are written whole or not at all; curves are drawn from a history."""

import json
import os

import pytest

from lstmkit.io import atomic_write_bytes, atomic_write_text, write_json
from lstmkit.plots import plot_history


def test_atomic_write_keeps_the_old_file_when_the_write_fails(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    write_json(path, {"acc": 0.5})

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_json(path, {"acc": 0.9})
    assert json.loads(path.read_text()) == {"acc": 0.5}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]  # no temporary file left behind


def test_atomic_write_creates_folders_and_replaces(tmp_path):
    path = tmp_path / "a" / "b.txt"
    atomic_write_text(path, "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two"


def test_plot_history_writes_a_png(tmp_path):
    class History:
        def __init__(self):
            self.history = {"loss": [0.7, 0.5, 0.4], "val_loss": [0.69, 0.6, 0.55], "acc": [0.5, 0.7, 0.8],
                            "val_acc": [0.55, 0.65, 0.7]}

    path = plot_history(History(), tmp_path / "curves.png")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_plot_history_rejects_empty_and_wrong_input(tmp_path):
    with pytest.raises(ValueError, match="history is empty"):
        plot_history({}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="expected a history dict"):
        plot_history([1, 2], tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_atomic_write_gives_the_permissions_of_a_normal_file(tmp_path):
    old = os.umask(0o027)
    try:
        path = atomic_write_text(tmp_path / "a.json", "{}")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o640


def test_a_write_removes_the_temporaries_of_killed_writers(tmp_path):
    """A writer killed mid-write leaves `.NAME.PID.XXXX.tmp`; the next write of NAME removes it when
    that process is gone, and keeps the one of a writer still running."""
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)  # it has exited
    stale = tmp_path / f".metrics.json.{dead_pid}.abc123.tmp"
    stale.write_bytes(b"x" * 1000)
    running = tmp_path / f".metrics.json.{os.getppid()}.def456.tmp"  # our parent runs
    running.write_bytes(b"y")
    other = tmp_path / f".history.json.{dead_pid}.zzz.tmp"  # another file's: not this write's business
    other.write_bytes(b"z")
    write_json(tmp_path / "metrics.json", {"a": 1})
    assert not stale.exists() and running.exists() and other.exists()
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"a": 1}


def test_a_write_killed_midway_leaves_its_temporary_which_the_next_write_removes(tmp_path):
    import signal
    import subprocess
    import sys

    script = ("import os, signal, lstmkit.io as io\n"
              "real = os.replace\n"
              "def die(*a): os.kill(os.getpid(), signal.SIGKILL)\n"
              "os.replace = die\n"
              f"io.atomic_write_bytes({str(tmp_path / 'model.bin')!r}, b'0' * 100000)\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    left = list(tmp_path.glob(".model.bin.*.tmp"))
    assert len(left) == 1 and left[0].stat().st_size == 100000 and not (tmp_path / "model.bin").exists()
    atomic_write_bytes(tmp_path / "model.bin", b"whole")
    assert list(tmp_path.glob(".model.bin.*.tmp")) == [] and (tmp_path / "model.bin").read_bytes() == b"whole"
