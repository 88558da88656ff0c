"""`lstmkit export --run DIR --format onnx [--out PATH]` on a run folder holding model.keras, as
`lstmkit run imdb` and `lstmkit run temperature` write it."""

from __future__ import annotations

import json

import numpy as np
import torch

from lstmkit import keras
from lstmkit.cli import main
from tests.export.helpers import BATCHES, LENGTHS, assert_all_close, run, session


def make_run(path, model):
    path.mkdir()
    model.save(str(path / "model.keras"))
    (path / "config.json").write_text(json.dumps({"config": {"maxlen": 20}}))
    (path / "metrics.json").write_text(json.dumps({"val_accuracy": 0.5}))
    return path


def imdb_like():
    torch.manual_seed(0)
    return keras.Sequential([keras.Input((None,), dtype="int64"), keras.layers.Embedding(30, 4, mask_zero=True),
                             keras.layers.LSTM(5), keras.layers.Dense(1, activation="sigmoid")])


def test_export_writes_model_onnx_that_matches_the_saved_model(tmp_path, capsys):
    run_dir = make_run(tmp_path / "imdb", imdb_like())
    assert main(["export", "--run", str(run_dir), "--format", "onnx"]) == 0
    assert f"wrote {run_dir / 'model.onnx'}" in capsys.readouterr().out
    loaded = keras.models.load_model(str(run_dir / "model.keras"))
    sess = session(run_dir / "model.onnx")
    rng = np.random.default_rng(0)
    for B in BATCHES:
        for T in LENGTHS:
            x = rng.integers(1, 30, (B, T))
            x[-1, T // 2 + 1 :] = 0  # right padding on the last row
            with torch.no_grad():
                want = loaded(torch.as_tensor(x)).numpy()
            assert_all_close(run(sess, {"inputs": x}), [want], f"B={B} T={T}")


def test_out_names_the_file(tmp_path):
    run_dir = make_run(tmp_path / "run", imdb_like())
    target = tmp_path / "elsewhere.onnx"
    assert main(["export", "--run", str(run_dir), "--out", str(target)]) == 0
    assert target.is_file() and not (run_dir / "model.onnx").exists()


def test_a_model_that_cannot_be_exported_is_one_line_and_writes_nothing(tmp_path, capsys):
    model = keras.Sequential([keras.Input((None, 3)), keras.layers.Conv1D(2, 3), keras.layers.GRU(2)])
    run_dir = make_run(tmp_path / "run", model)
    assert main(["export", "--run", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lstmkit: error: layer 'conv1d") and "(Conv1D) has no exact ONNX export" in err
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.json", "metrics.json", "model.keras"]


def test_a_folder_without_model_keras_says_what_it_holds(tmp_path, capsys):
    run_dir = tmp_path / "pos"
    run_dir.mkdir()
    (run_dir / "model.safetensors").write_bytes(b"")
    assert main(["export", "--run", str(run_dir), "--format", "onnx"]) == 2
    err = capsys.readouterr().err
    assert "has no model.keras to export: it holds model.safetensors" in err
    assert main(["export", "--run", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
