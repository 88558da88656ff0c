"""benchmarks/experiments.py records the experiment a run folder names, never one guessed from its metrics."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import experiments

CLEAN_ENV = {"commit": "abc1234", "clean": True}  # what environment() gives on a clean tree


def run_folder(path: Path, config: dict, metrics: dict) -> Path:
    path.mkdir()
    (path / "config.json").write_text(json.dumps(config))
    (path / "metrics.json").write_text(json.dumps(metrics))
    return path


def test_the_name_comes_from_the_run_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(experiments, "RESULTS", tmp_path / "experiments.jsonl")
    # metrics that the old guess took for a temperature run: the recorded name wins
    out = run_folder(tmp_path / "run", {"experiment": "pos", "config": {"model": "bilstm", "horizon": 24}},
                     {"baseline_test_mae": 1.0})
    row = experiments.record(out, 1.5, "lstmkit run pos", CLEAN_ENV)
    assert row["experiment"] == "pos"
    assert json.loads(experiments.RESULTS.read_text())["experiment"] == "pos"


def test_a_folder_naming_no_experiment_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(experiments, "RESULTS", tmp_path / "experiments.jsonl")
    out = run_folder(tmp_path / "old", {"config": {"model": "lstm"}}, {"test_accuracy": 0.8})
    with pytest.raises(SystemExit, match="names no experiment"):
        experiments.record(out, None, "recorded from old", CLEAN_ENV)
    assert not experiments.RESULTS.exists()
