"""Kill and resume: `lstmkit run` killed with SIGKILL between two checkpoints, then `--resume`, ends with
the weights, history and metrics of an uninterrupted run, bit for bit (shuffled windows, dropout and
recurrent dropout on, early stopping's state carried); SIGINT ends a run with one line and status 130.

Each run is its own `lstmkit` process, as a user's would be."""

import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import h5py
import pytest
import torch

# gru-dropout: GRU(dropout=0.2, recurrent_dropout=0.2); the training windows are reshuffled every epoch
RUN = ["run", "temperature", "--model", "gru-dropout", "--limit", "6000", "--epochs", "5", "--lookback", "24",
       "--units", "16", "--patience", "2"]
TIMINGS = {"seconds_per_epoch"}  # the one thing a resumed run cannot share with an uninterrupted one


@pytest.fixture
def env():
    data = os.environ.get("LSTMKIT_DATA_DIR")
    if not data or not (Path(data) / "beijing_pm25_hourly.csv.gz").is_file():
        pytest.skip("set LSTMKIT_DATA_DIR to the shared data folder to run the temperature experiment")
    return {**os.environ, "LSTMKIT_DATA_DIR": str(Path(data).resolve()), "COLUMNS": "120"}


def lstmkit(*args):
    return [sys.executable, "-m", "lstmkit.cli", *args]


def finished(out: Path) -> dict:
    files = {name: json.loads((out / f"{name}.json").read_text()) for name in ("history", "metrics")}
    with zipfile.ZipFile(out / "model.keras") as z:
        with h5py.File(io.BytesIO(z.read("model.weights.h5")), "r") as f:  # Keras 3's weights layout
            files["weights"] = {}
            f.visititems(lambda name, d: files["weights"].__setitem__(name, torch.as_tensor(d[()]))
                         if isinstance(d, h5py.Dataset) else None)
    return files


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended (status {proc.returncode}) before {path} appeared: "
                                 f"{proc.stderr.read()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{path} did not appear within {timeout} s")
        time.sleep(0.005)


def test_sigkill_then_resume_is_bit_identical(env, tmp_path):
    ref, cut = tmp_path / "ref", tmp_path / "cut"
    subprocess.run(lstmkit(*RUN, "--out", str(ref)), env=env, check=True, capture_output=True, timeout=300)

    proc = subprocess.Popen(lstmkit(*RUN, "--out", str(cut)), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    checkpoint = tmp_path / "cut.partial" / "checkpoint" / "checkpoint.safetensors"
    wait_for(checkpoint, proc)  # the first epoch is kept: kill in the second
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not cut.exists() and not (tmp_path / "cut.partial" / "metrics.json").exists()  # cut short indeed

    refused = subprocess.run(lstmkit(*RUN, "--out", str(cut)), env=env, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "--resume" in refused.stderr and "Traceback" not in refused.stderr

    subprocess.run(lstmkit("run", "temperature", "--resume", str(cut)), env=env, check=True, capture_output=True,
                   timeout=300)
    assert not (tmp_path / "cut.partial").exists() and not (cut / "checkpoint").exists()
    a, b = finished(ref), finished(cut)
    assert b["history"] == a["history"]
    assert {k: v for k, v in b["metrics"].items() if k not in TIMINGS} == \
        {k: v for k, v in a["metrics"].items() if k not in TIMINGS}
    assert len(b["metrics"]["seconds_per_epoch"]) == len(a["metrics"]["seconds_per_epoch"])
    assert b["weights"].keys() == a["weights"].keys()
    for name, value in a["weights"].items():
        assert b["weights"][name].equal(value), name


def test_ctrl_c_is_one_line_and_status_130(env, tmp_path):
    out = tmp_path / "run"
    long_run = [*RUN[:RUN.index("--epochs")], "--epochs", "200", "--no-early-stopping"]  # cannot end first
    proc = subprocess.Popen(lstmkit(*long_run, "--out", str(out)), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    wait_for(tmp_path / "run.partial" / "checkpoint" / "checkpoint.safetensors", proc)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert lines[-1].startswith("lstmkit: interrupted by SIGINT;") and f"--resume {out}" in lines[-1]
    assert "Traceback" not in stderr
    marker = json.loads((tmp_path / "run.partial" / "interrupted.json").read_text())
    assert marker["signal"] == "SIGINT" and marker["epochs_done"] >= 1
