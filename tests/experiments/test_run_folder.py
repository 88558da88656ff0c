"""The run folder: every run names its experiment; a run is written into OUT.partial and renamed to OUT
when it ends; re-runs are refused without --overwrite or --resume; SIGINT and SIGTERM end a run with
one line, a marker and exit status 130/143; --resume reads the interrupted run's options."""

import json
import os
import signal

import pytest

from lstmkit.errors import RunInterrupted
from lstmkit.experiments import EXPERIMENTS, experiment_config
from lstmkit.experiments.base import open_run, partial_folder
from lstmkit.experiments.configs import ImdbConfig, RunConfig


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_each_config_names_its_experiment_and_the_folder_records_it(name, tmp_path):
    config = experiment_config(name)(out=str(tmp_path / name))
    assert config.experiment == name
    with open_run(config) as run:
        assert run.out == tmp_path / f"{name}.partial" and not (tmp_path / name).exists()
        written = json.loads((run.out / "config.json").read_text())
    assert written["experiment"] == name and written["config"]["out"] == str(tmp_path / name)
    assert (tmp_path / name / "config.json").is_file() and not run.out.exists()


def test_a_config_without_a_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match="RunConfig names no experiment"), open_run(RunConfig(out=str(tmp_path))):
        pass


def _finished(tmp_path, **options):
    config = ImdbConfig(out=str(tmp_path / "run"), **options)
    with open_run(config) as run:
        (run.out / "metrics.json").write_text("{}")
    return tmp_path / "run"


def test_a_finished_run_is_not_overwritten_without_overwrite(tmp_path):
    target = _finished(tmp_path)
    with pytest.raises(ValueError, match=r"already holds a finished run: give --overwrite"):
        open_run(ImdbConfig(out=str(target))).__enter__()
    assert not partial_folder(target).exists()


def test_overwrite_keeps_the_old_run_until_the_new_one_ends(tmp_path):
    target = _finished(tmp_path, units=4)
    with open_run(ImdbConfig(out=str(target), units=8, overwrite=True)) as run:
        assert json.loads((target / "config.json").read_text())["config"]["units"] == 4  # still the old run
        (run.out / "new.txt").write_text("new")
    assert json.loads((target / "config.json").read_text())["config"]["units"] == 8
    assert (target / "new.txt").is_file() and not (target / "metrics.json").exists()  # nothing of the old run mixed in
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no partial or replaced folder left behind


def test_ctrl_c_leaves_a_marker_and_the_old_run_untouched(tmp_path):
    target = _finished(tmp_path)
    with pytest.raises(RunInterrupted) as info, open_run(ImdbConfig(out=str(target), overwrite=True)) as run:
        run.epochs_done = 3
        raise KeyboardInterrupt
    assert info.value.exit_status == 130
    assert str(info.value) == (f"interrupted by SIGINT; {run.out} keeps 3 finished epoch(s); continue with: "
                               f"lstmkit run imdb --resume {target}")
    marker = json.loads((run.out / "interrupted.json").read_text())
    assert marker["signal"] == "SIGINT" and marker["epochs_done"] == 3
    assert (target / "metrics.json").is_file()  # the finished run it was to replace is still there
    with pytest.raises(ValueError, match=r"an unfinished run of .* \(interrupted by SIGINT after 3 finished "
                                         r"epoch\(s\)\): give --resume"):
        open_run(ImdbConfig(out=str(tmp_path / "run"))).__enter__()


def test_sigterm_ends_the_run_with_status_143(tmp_path):
    with pytest.raises(RunInterrupted) as info, open_run(ImdbConfig(out=str(tmp_path / "run"))):
        os.kill(os.getpid(), signal.SIGTERM)
    assert info.value.exit_status == 143 and "interrupted by SIGTERM" in str(info.value)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back


def test_a_failure_is_marked_and_propagates(tmp_path):
    with pytest.raises(ZeroDivisionError), open_run(ImdbConfig(out=str(tmp_path / "run"))) as run:
        1 / 0  # noqa: B018
    marker = json.loads((run.out / "interrupted.json").read_text())
    assert marker["reason"] == "failed" and marker["error"].startswith("ZeroDivisionError")
    assert not (tmp_path / "run").exists()


def test_resume_takes_the_interrupted_runs_options(tmp_path):
    target = tmp_path / "run"
    with pytest.raises(RunInterrupted), open_run(ImdbConfig(out=str(target), units=8, epochs=3)):
        raise KeyboardInterrupt
    with open_run(ImdbConfig(resume=str(target))) as run:  # nothing else given: the saved options
        assert run.resumed and run.config.units == 8 and run.config.epochs == 3 and run.config.resume is None
        assert run.out == partial_folder(target) and not (run.out / "interrupted.json").exists()
    assert (target / "config.json").is_file() and not (target / "interrupted.json").exists()


def test_resume_refuses_contradicting_options_and_nothing_to_resume(tmp_path):
    target = tmp_path / "run"
    with pytest.raises(RunInterrupted), open_run(ImdbConfig(out=str(target), units=8)):
        raise KeyboardInterrupt
    with pytest.raises(ValueError, match=r"--units 16 contradicts the interrupted run's 8"):
        open_run(ImdbConfig(resume=str(target), units=16)).__enter__()
    with pytest.raises(ValueError, match=r"is a run of 'imdb', not 'pos'"):
        open_run(experiment_config("pos")(resume=str(target))).__enter__()
    with pytest.raises(ValueError, match=r"nothing to resume"):
        open_run(ImdbConfig(resume=str(tmp_path / "other"))).__enter__()
    done = _finished(tmp_path / "b")
    with pytest.raises(ValueError, match=r"holds a finished run: nothing to resume"):
        open_run(ImdbConfig(resume=str(done))).__enter__()
