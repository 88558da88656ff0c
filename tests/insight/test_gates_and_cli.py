"""Gate heatmaps and running predictions of a text model, the IMDB run-folder loader, and the
`lstmkit inspect gates|gradients` commands with tiny settings (in process)."""

import csv
import gzip
import json
import os
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch
from torch import nn

import lstmkit.nn
from lstmkit.cli import main
from lstmkit.data.imdb import keras_tokenize as tokenize
from lstmkit.data.imdb import make_encoder
from lstmkit.insight import gates_figure, load_imdb_run, probe, running_predictions
from lstmkit.insight import runs as runs_module
from lstmkit.insight.gates import pad_ids
from tests.insight.helpers import keras_facade

DATA = Path(os.environ.get("LSTMKIT_DATA_DIR", "/work/shared/data"))


class TextClassifier(nn.Module):
    """Embedding -> recurrence -> Dense(1, sigmoid) on the last step: the IMDB model's shape, tiny."""

    def __init__(self, kind="lstm", vocab=50, dim=4, hidden=6):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        cls = {"lstm": lstmkit.nn.LSTM, "gru": lstmkit.nn.GRU, "simple_rnn": lstmkit.nn.RNN}[kind]
        self.rnn = cls(dim, hidden, batch_first=True, backend="reference")
        self.out = nn.Linear(hidden, 1)

    def forward(self, ids):
        h, _ = self.rnn(self.emb(ids))  # (B, T, H)
        return torch.sigmoid(self.out(h[:, -1]))  # (B, 1)


def test_pad_ids_is_keras_pad_sequences():
    from keras.utils import pad_sequences

    for ids, maxlen in (([5, 6, 7], 6), ([5, 6, 7, 8, 9], 3), ([4], 1), ([1, 2], None)):
        expected = pad_sequences([ids], maxlen=maxlen)[0].tolist()
        assert pad_ids(ids, maxlen) == expected


def test_running_predictions_are_the_model_on_each_prefix():
    torch.manual_seed(0)
    model = TextClassifier()
    ids = [1, 7, 3, 9, 12, 4, 30]
    got = running_predictions(model, ids, maxlen=10)
    with torch.no_grad():
        expected = [float(model(torch.tensor([[0] * (10 - k) + ids[:k]]))) for k in range(1, 8)]
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert model.training  # the mode is restored
    logits = running_predictions(lambda x: torch.logit(model(x)), ids, maxlen=10, logits=True)
    np.testing.assert_allclose(logits, expected, rtol=1e-5)
    unpadded = running_predictions(model, ids)  # maxlen None: each prefix as it is
    with torch.no_grad():
        expected = [float(model(torch.tensor([ids[:k]]))) for k in range(1, 8)]
    np.testing.assert_allclose(unpadded, expected, rtol=1e-6)
    with pytest.raises(ValueError, match="one score per sequence, got 2"):
        running_predictions(lambda x: torch.zeros(x.shape[0], 2), ids)
    with pytest.raises(ValueError, match="empty sequence"):
        running_predictions(model, [])


@pytest.mark.parametrize(("kind", "panels"), [("lstm", "ifgoch"), ("gru", "rznh"), ("simple_rnn", "h")])
def test_gates_figure_shows_the_probed_values_per_token(kind, panels):
    torch.manual_seed(0)
    model = TextClassifier(kind)
    ids, tokens = [1, 5, 9, 2, 14], ["<start>", "a", "fine", "[zzz]", "film"]
    fig = gates_figure(model, ids, tokens, maxlen=8)
    heatmaps = [ax for ax in fig.axes if ax.images]
    assert [ax.get_ylabel() for ax in heatmaps] == list(panels)
    trace = probe(model, torch.tensor([[0, 0, 0, *ids]])).select()
    for ax, name in zip(heatmaps, panels):
        np.testing.assert_array_equal(ax.images[0].get_array(), trace[name][0, 3:].T.numpy())  # padding cut off
    line_ax = next(ax for ax in fig.axes if ax.lines and not ax.images and ax.get_visible())
    np.testing.assert_allclose(line_ax.lines[0].get_ydata(), running_predictions(model, ids, maxlen=8))
    assert [t.get_text() for t in line_ax.get_xticklabels()] == tokens


def test_gates_figure_keeps_the_last_maxlen_tokens_and_checks_lengths():
    model = TextClassifier()
    fig = gates_figure(model, [1, 2, 3, 4, 5, 6], list("abcdef"), maxlen=4)
    heat = next(ax for ax in fig.axes if ax.images)
    assert heat.images[0].get_array().shape == (6, 4)  # (H, T): the last 4 tokens, as pad_sequences keeps
    with pytest.raises(ValueError, match="same length, got 2 and 1"):
        gates_figure(model, [1, 2], ["a"])


def _first_train_pos_review():
    """The review that Keras' imdb.npz holds first in x_train: train pos, lowest file name id_rating.txt."""
    with gzip.open(DATA / "imdb_reviews.csv.gz", "rt", encoding="utf-8", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "train" and r["label"] == "1"]
    return min(rows, key=lambda r: f"{r['id']}_{r['rating']}.txt")["text"]


def test_text_encoding_matches_the_keras_imdb_arrays():
    word_index = json.loads((DATA / "imdb_word_index.json").read_text())
    raw = make_encoder(word_index, num_words=None, start_char=None, oov_char=None)
    with np.load(DATA / "imdb.npz", allow_pickle=True) as d:
        first = list(d["x_train"][0])
    ids, shown = raw(_first_train_pos_review())
    assert ids == first  # raw word ranks, as the README documents the encoding
    assert shown == [w for w in shown if not w.startswith("[")]
    keras_like = make_encoder(word_index, num_words=10000, index_from=3)  # imdb.load_data(num_words=10000)
    ids, shown = keras_like("The film was zzqxv!")
    assert ids == [1, word_index["the"] + 3, word_index["film"] + 3, word_index["was"] + 3, 2]
    assert shown == ["<start>", "the", "film", "was", "[zzqxv]"]
    assert tokenize("Great<br />film,  GREAT") == ["great", "br", "film", "great"]


def _run_folder(tmp_path, encoding):
    run = tmp_path / "imdb-run"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"config": {"maxlen": 12}}))
    (run / "model.keras").write_bytes(b"stand-in")
    (run / "encoding.json").write_text(json.dumps(encoding))
    return run


def test_run_folder_loader_reads_the_encoding_and_opens_the_model(tmp_path):
    model = TextClassifier(vocab=12)
    run = _run_folder(tmp_path, {"source": "text", "maxlen": 12, "vocabulary": ["", "[UNK]", "good", "bad"]})
    opened = []
    loaded = load_imdb_run(run, model_loader=lambda p: opened.append(p) or model)
    assert opened == [run / "model.keras"] and loaded.model is model and loaded.maxlen == 12
    assert loaded.encode("Good, not BAD") == ([2, 1, 3], ["good", "[not]", "bad"])
    run2 = _run_folder(tmp_path / "b", {"source": "indices", "num_words": 100, "maxlen": 7, "index_from": 3})
    loaded = load_imdb_run(run2, model_loader=lambda p: model)
    assert loaded.encode("the")[0] == [1, json.loads((DATA / "imdb_word_index.json").read_text())["the"] + 3]


def test_run_folder_with_an_lstmkit_vocabulary_uses_its_tokenizer(tmp_path):
    from lstmkit.data.text import Vocabulary

    vocab = Vocabulary(["didn't", "like", "it"])  # ids 2, 3, 4 after <pad> and <unk>
    run = _run_folder(tmp_path, {"source": "text", "maxlen": 12, "vocabulary": vocab.to_json()})
    loaded = load_imdb_run(run, model_loader=lambda p: None)
    assert loaded.encode("I didn't like it.<br />") == ([1, 2, 3, 4], ["[i]", "didn't", "like", "it"])


def test_run_folder_errors_are_clear(tmp_path, capsys):
    with pytest.raises(ValueError, match="no run folder at"):
        load_imdb_run(tmp_path / "missing")
    (tmp_path / "config.json").write_text("{}")
    assert main(["inspect", "gates", "--run", str(tmp_path), "--text", "hi", "--out", str(tmp_path / "g.png")]) == 2
    err = capsys.readouterr().err
    assert "holds no saved model" in err and "model.keras" in err and "config.json" in err
    run = _run_folder(tmp_path / "c", {"source": "morse"})
    with pytest.raises(ValueError, match="unknown source 'morse'"):
        load_imdb_run(run, model_loader=lambda p: None)


def test_inspect_gates_command_writes_the_png(tmp_path, monkeypatch, capsys):
    # lstmkit.keras's load_model is tested with lstmkit.keras; here the folder's model is a torch module
    model = TextClassifier(vocab=12)
    monkeypatch.setattr(runs_module, "_load_model", lambda path: model)
    run = _run_folder(tmp_path, {"source": "text", "maxlen": 12, "vocabulary": ["", "[UNK]", "good", "bad"]})
    out = tmp_path / "gates.png"
    assert main(["inspect", "gates", "--run", str(run), "--text", "good good bad", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote {out}" in capsys.readouterr().out


def test_inspect_gates_on_a_saved_keras_facade_model(tmp_path):
    layers, models = keras_facade()
    model = models.Sequential([layers.Input(shape=(12,), dtype="int32"), layers.Embedding(12, 4), layers.LSTM(5),
                               layers.Dense(1, activation="sigmoid")])
    run = tmp_path / "run"
    run.mkdir()
    model.save(str(run / "model.keras"))
    (run / "encoding.json").write_text(json.dumps({"source": "text", "maxlen": 12,
                                                   "vocabulary": ["", "[UNK]", "good", "bad"]}))
    out = tmp_path / "g.png"
    assert main(["inspect", "gates", "--run", str(run), "--text", "good bad", "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_inspect_gradients_command_writes_the_png_and_numbers(tmp_path, capsys):
    out = tmp_path / "grad.png"
    args = ["inspect", "gradients", "--out", str(out), "--length", "4", "--steps", "2", "--hidden", "4",
            "--batch-size", "8"]
    assert main(args) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = json.loads(out.with_suffix(".json").read_text())
    assert set(data["flows"]) == {"simple_rnn", "lstm", "gru"}
    for stages in data["flows"].values():
        assert set(stages) == {"init", "trained"}
        for flow in stages.values():
            assert flow["distance"] == [4, 3, 2, 1, 0]  # T = L + 1 = 5 steps
            assert len(flow["dh"]) == len(flow["dx"]) == 5 and min(flow["dh"]) > 0
    assert main(["inspect", "gradients", "--out", str(out), "--length", "0"]) == 2
    assert "--length must be >= 1" in capsys.readouterr().err


def _saved_run(folder):
    """A run folder with a tiny lstmkit.keras model saved the way `lstmkit run imdb` saves it."""
    layers, models = keras_facade()
    model = models.Sequential([layers.Input(shape=(12,), dtype="int32"), layers.Embedding(12, 4), layers.LSTM(5),
                               layers.Dense(1, activation="sigmoid")])
    folder.mkdir(parents=True)
    model.save(str(folder / "model.keras"))
    (folder / "encoding.json").write_text(json.dumps({"source": "text", "maxlen": 12,
                                                      "vocabulary": ["", "[UNK]", "good", "bad"]}))
    return folder


def _damage_weights_crc(path):
    import zipfile

    with zipfile.ZipFile(path) as z:
        info = z.getinfo("model.weights.h5")
    raw = bytearray(path.read_bytes())
    raw[info.header_offset + 30 + len(info.filename) + 100] ^= 0xFF  # inside the stored member: its CRC fails
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("damage, names, fault", [
    (lambda run: _damage_weights_crc(run / "model.keras"), "model.keras", "a damaged zip archive (Bad CRC-32"),
    (lambda run: (run / "model.keras").write_bytes(b"PK\x03\x04 cut short"), "model.keras", "not a zip archive"),
    (lambda run: (run / "encoding.json").write_text('{"source": "text", '), "encoding.json", "not valid JSON"),
    (lambda run: (run / "encoding.json").write_text('{"source": "text", "maxlen": "long", "vocabulary": ["a"]}'),
     "encoding.json", "not a text encoding lstmkit can use"),
], ids=["bad-crc", "not-a-zip", "broken-json", "bad-maxlen"])
def test_inspect_gates_on_a_damaged_run_is_one_line_naming_the_file(tmp_path, capsys, damage, names, fault):
    run = _saved_run(tmp_path / "run")
    damage(run)
    args = ["inspect", "gates", "--run", str(run), "--text", "good bad", "--out", str(tmp_path / "g.png")]
    assert main(args) == 2
    captured = capsys.readouterr()
    assert len(captured.err.splitlines()) == 1 and "Traceback" not in captured.err
    assert captured.err.startswith(f"lstmkit: error: {run / names}") and fault in captured.err
    assert not (tmp_path / "g.png").exists()
    with pytest.raises(ValueError, match="^" + re.escape(f"{run / names}")):  # --debug: the error itself
        main(["--debug", *args])


def test_the_lstmkit_command_on_a_damaged_run_prints_one_line(tmp_path):
    import subprocess
    import sys

    run = _saved_run(tmp_path / "run")
    _damage_weights_crc(run / "model.keras")
    done = subprocess.run([sys.executable, "-m", "lstmkit.cli", "inspect", "gates", "--run", str(run), "--text", "good",
                           "--out", str(tmp_path / "g.png")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [f"lstmkit: error: {run / 'model.keras'}: a damaged zip archive (Bad CRC-32 "
                                        "for file 'model.weights.h5')"]
