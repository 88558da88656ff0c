"""The `lstmkit` command: version, help, and clear errors for bad commands."""

import signal
import subprocess
import sys

import pytest

import lstmkit
import lstmkit.cli as cli
from lstmkit.cli import main
from lstmkit.data.errors import DataError
from lstmkit.errors import FileFormatError, LstmkitError, RunInterrupted


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"lstmkit {lstmkit.__version__}"


def test_console_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "lstmkit.cli", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"lstmkit {lstmkit.__version__}"


def test_unknown_command_prints_usage(capsys):
    assert main(["frobnicate"]) == 2
    assert "lstmkit run EXPERIMENT" in capsys.readouterr().out


def test_unknown_experiment_is_a_clear_error(capsys):
    assert main(["run", "nonesuch"]) == 2
    err = capsys.readouterr().err
    assert "unknown experiment 'nonesuch'" in err and "imdb" in err and "Traceback" not in err


def test_bench_prints_the_side_by_side_table_and_writes_json(tmp_path, capsys):
    import json

    out = tmp_path / "bench.json"
    assert main(["bench", "--kinds", "lstm,simple_rnn", "--shapes", "3,4,2,5;2,3,3,4", "--repeats", "2",
                 "--device", "cpu", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| lstm | 3, 4, 2, 5 | float32 | cpu |" in printed and "torch.nn train ms" in printed
    results = json.loads(out.read_text())["results"]
    assert [(r["kind"], tuple(r["shape"])) for r in results] == [
        ("lstm", (3, 4, 2, 5)), ("simple_rnn", (3, 4, 2, 5)), ("lstm", (2, 3, 3, 4)), ("simple_rnn", (2, 3, 3, 4))]
    for r in results:
        assert len(r["all_ms"]["ours_train"]) == 2 and r["ms"]["torch_train"] > 0
        assert r["ratio_train"] == round(r["ms"]["ours_train"] / r["ms"]["torch_train"], 3)
        assert r["max_abs_diff"] < 1e-5  # same weights, same answer as torch.nn


def test_bench_rejects_bad_shapes_and_kinds(capsys):
    assert main(["bench", "--shapes", "1,2,3"]) == 2
    assert "four positive integers B,T,I,H, got '1,2,3'" in capsys.readouterr().err
    assert main(["bench", "--kinds", "lstm,tree", "--shapes", "2,2,2,2"]) == 2
    assert "unknown kinds ['tree']" in capsys.readouterr().err


def test_run_without_an_experiment(capsys):
    assert main(["run", "--help"]) == 0  # asked for: the experiments on stdout
    assert "experiments: imdb, memory, pos, temperature" in capsys.readouterr().out
    assert main(["run"]) == 2  # forgot the experiment: a usage error on stderr
    assert "usage: lstmkit run EXPERIMENT" in capsys.readouterr().err


def _failing(monkeypatch, error):
    """Make `lstmkit bench` raise `error` (a command that fails in a known way, without running anything)."""

    def bench(argv):
        raise error

    monkeypatch.setitem(cli.COMMANDS, "bench", bench)


def test_lstmkit_errors_are_one_line_and_status_2(monkeypatch, capsys):
    for error, line in [(FileFormatError("/runs/a/model.keras", "a damaged zip archive (Bad CRC-32)"),
                         "lstmkit: error: /runs/a/model.keras: a damaged zip archive (Bad CRC-32)"),
                        (LstmkitError("something named\n  over two lines"),
                         "lstmkit: error: something named over two lines"),
                        (DataError("Could not download x.csv"), "lstmkit: error: Could not download x.csv"),
                        (FileNotFoundError("no model file at /runs/b/model.keras"),
                         "lstmkit: error: no model file at /runs/b/model.keras")]:
        _failing(monkeypatch, error)
        assert main(["bench"]) == 2
        captured = capsys.readouterr()
        assert captured.err.splitlines() == [line] and captured.out == ""
        for argv in (["--debug", "bench"], ["bench", "--debug"]):  # --debug: the traceback, before or after
            with pytest.raises(type(error)):
                main(argv)


def test_interrupts_are_one_line_with_the_signal_status(monkeypatch, capsys):
    _failing(monkeypatch, RunInterrupted(signal.SIGTERM, "interrupted by SIGTERM; out keeps 1 finished epoch(s)"))
    assert main(["bench"]) == 143
    assert capsys.readouterr().err.splitlines() == ["lstmkit: interrupted by SIGTERM; out keeps 1 finished epoch(s)"]
    _failing(monkeypatch, KeyboardInterrupt())
    assert main(["bench"]) == 130
    assert capsys.readouterr().err.splitlines() == ["lstmkit: interrupted"]
    with pytest.raises(KeyboardInterrupt):
        main(["--debug", "bench"])


def test_other_exceptions_still_show_their_traceback(monkeypatch):
    _failing(monkeypatch, RuntimeError("a bug"))
    with pytest.raises(RuntimeError, match="a bug"):
        main(["bench"])
