"""Every run folder names its experiment (config.json), so the results script never guesses it."""

import json

import pytest

from lstmkit.experiments import EXPERIMENTS, experiment_config
from lstmkit.experiments.base import start_run
from lstmkit.experiments.configs import RunConfig


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_each_config_names_its_experiment_and_the_folder_records_it(name, tmp_path):
    config = experiment_config(name)(out=str(tmp_path / name))
    assert config.experiment == name
    written = json.loads((start_run(config) / "config.json").read_text())
    assert written["experiment"] == name and written["config"]["out"] == str(tmp_path / name)


def test_a_config_without_a_name_is_refused(tmp_path):
    with pytest.raises(ValueError, match="RunConfig names no experiment"):
        start_run(RunConfig(out=str(tmp_path)))
