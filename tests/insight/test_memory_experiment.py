"""`lstmkit run memory` with tiny settings, in process: the files it writes and their content."""

import json

import pytest

from lstmkit.cli import main
from lstmkit.experiments import memory

TINY = ["--hidden", "6", "--steps", "4", "--batch-size", "8", "--eval-size", "40", "--eval-every", "2"]


def test_recall_run_writes_metrics_and_plot(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "memory", "--lengths", "3", "5", *TINY, "--symbols", "4", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    rows = metrics["results"]
    assert [(r["model"], r["length"]) for r in rows] == [(m, n) for n in (3, 5) for m in ("simple_rnn", "lstm", "gru", "ln_lstm")]
    for r in rows:
        assert 0.0 <= r["accuracy"] <= 1.0 and r["chance_accuracy"] == 0.25 and 1 <= r["steps"] <= 4
        # 40 held-out sequences: the accuracy is a whole number of them
        assert abs(r["accuracy"] * 40 - round(r["accuracy"] * 40)) < 1e-6
    assert (out / "memory.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "config.json").read_text())["config"]["lengths"] == [3, 5]
    assert "recall L=5" in capsys.readouterr().out


def test_adding_run_reports_mse_and_the_chance_baseline(tmp_path):
    out = tmp_path / "add"
    assert main(["run", "memory", "--task", "adding", "--model", "lstm", "--lengths", "12", *TINY,
                 "--out", str(out)]) == 0
    (row,) = json.loads((out / "metrics.json").read_text())["results"]
    assert row["model"] == "lstm" and row["length"] == 12
    assert row["mse"] == row["loss"] >= 0
    # predicting 0.5 always: E[((X1 + X2) / 4)^2] = 2 * (1/3) / 16 = 1/24 for X uniform on [-1, 1]
    assert abs(row["chance_mse"] - 1 / 24) < 0.02
    assert 0.0 <= row["chance_accuracy"] <= 1.0


def test_several_seeds_are_listed_and_summarised(tmp_path):
    out = tmp_path / "seeds"
    assert main(["run", "memory", "--model", "gru", "--lengths", "4", *TINY, "--seeds", "3", "--seed", "7",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    rows = metrics["results"]
    assert [(r["model"], r["length"], r["seed"]) for r in rows] == [("gru", 4, 7), ("gru", 4, 8), ("gru", 4, 9)]
    (summary,) = metrics["summary"]
    scores = [r["accuracy"] for r in rows]
    assert summary["seeds"] == 3 and summary["min"] == min(scores) and summary["max"] == max(scores)
    assert abs(summary["accuracy"] - sum(scores) / 3) < 1e-12
    assert (out / "memory.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_quick_config_runs_the_reduced_lengths():
    c = memory.Config(quick=True)
    assert c.lengths == [10, 60] and c.steps <= 200 and c.models == ["simple_rnn", "lstm", "gru", "ln_lstm"]
    assert memory.Config(task="adding").goal == 0.95 and memory.Config().goal == 0.99


@pytest.mark.parametrize(("args", "message"), [
    (["--lengths", "0"], "--lengths must be >= 1"),
    (["--task", "adding", "--lengths", "4"], "--lengths must be >= 6 for the adding task"),
    (["--hidden", "0"], "--hidden must be positive"),
    (["--seeds", "0"], "--seeds must be positive"),
    (["--limit", "0"], "--limit does not apply to the memory experiment"),
    (["--epochs", "0"], "--epochs does not apply to the memory experiment"),
])
def test_bad_settings_are_clear_errors(tmp_path, capsys, args, message):
    assert main(["run", "memory", *args, "--out", str(tmp_path / "x")]) == 2
    assert message in capsys.readouterr().err


def test_an_interrupted_run_resumes_with_the_finished_trainings_kept(tmp_path, monkeypatch):
    """Ctrl-C during the third training: the two finished stay, the rest train on --resume, and the
    results equal an uninterrupted run's (each training starts from its own seeds)."""
    from lstmkit.errors import RunInterrupted
    from lstmkit.insight import tasks

    args = ["--model", "gru", "--lengths", "3", "5", *TINY, "--seeds", "2"]
    assert main(["run", "memory", *args, "--out", str(tmp_path / "ref")]) == 0
    expected = json.loads((tmp_path / "ref" / "metrics.json").read_text())

    real_train, calls = tasks.train, []

    def train(*a, **kw):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_train(*a, **kw)

    monkeypatch.setattr(tasks, "train", train)
    with pytest.raises(RunInterrupted, match="keeps 2 finished training"):
        memory.run(memory.Config(model="gru", lengths=[3, 5], hidden=6, steps=4, batch_size=8, eval_size=40,
                                 eval_every=2, seeds=2, out=str(tmp_path / "cut")))  # the options of `args`
    monkeypatch.setattr(tasks, "train", real_train)
    trained = []
    monkeypatch.setattr(tasks, "train", lambda *a, **kw: trained.append(1) or real_train(*a, **kw))
    assert main(["run", "memory", "--resume", str(tmp_path / "cut")]) == 0
    assert len(trained) == 2  # only the two that had not finished
    got = json.loads((tmp_path / "cut" / "metrics.json").read_text())
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]  # noqa: E731
    assert strip(got["results"]) == strip(expected["results"]) and got["summary"] == expected["summary"]

