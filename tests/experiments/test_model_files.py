"""The model files an experiment writes (`reporting.save_model`) read back, and damaged ones named with their fault."""

import re

import pytest
import torch

from lstmkit.errors import FileFormatError
from lstmkit.experiments.reporting import load_model_files, save_model


def _saved(tmp_path):
    state = {"rnn.weight_ih_l0": torch.arange(6.0).reshape(2, 3), "out.bias": torch.ones(1)}
    save_model(state, {"config": {"hidden": 2}}, tmp_path / "model")
    return state


def test_the_files_read_back(tmp_path):
    state = _saved(tmp_path)
    weights, config = load_model_files(tmp_path / "model")
    assert config == {"config": {"hidden": 2}} and weights.keys() == state.keys()
    for name, value in state.items():
        torch.testing.assert_close(weights[name], value)


@pytest.mark.parametrize("name, data, fault", [
    ("model.safetensors", b"\x10" + b"\0" * 7 + b"{not json}......", "not a readable safetensors file"),
    ("model.json", b'{"config": ', "not valid JSON"),
    ("model.json", b"[1, 2]", "must hold a JSON object, got list"),
], ids=["garbage-safetensors", "broken-json", "json-list"])
def test_damaged_files_are_named_with_their_fault(tmp_path, name, data, fault):
    _saved(tmp_path)
    (tmp_path / name).write_bytes(data)
    with pytest.raises(FileFormatError, match=f"^{re.escape(str(tmp_path / name))}: {fault}"):
        load_model_files(tmp_path / "model")


def test_a_missing_file_is_named(tmp_path):
    _saved(tmp_path)
    (tmp_path / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "model.safetensors"))):
        load_model_files(tmp_path / "model")
