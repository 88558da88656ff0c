"""`lstmkit run imdb` with tiny settings, in process: every file a run writes and its content, the saved
model against the trained one, seeding, the raw-text source, `lstmkit inspect gates` on the folder, and
clear errors for bad options."""

import functools
import json
import math

import numpy as np
import pytest
import torch

from lstmkit.cli import main
from lstmkit.data import imdb as imdb_data
from lstmkit.data.text import Vocabulary, tokenize
from lstmkit.experiments import imdb
from lstmkit.insight.runs import load_imdb_run
from lstmkit.keras.layers import RNN, SLSTM, MinGRU, MinLSTM
from lstmkit.keras.models import load_model

PNG = b"\x89PNG\r\n\x1a\n"
# 40 training reviews (32 fit, 8 validate), 24 test reviews, 48 tokens each: a run takes about a second
TINY = ["--limit", "40", "--eval-limit", "24", "--maxlen", "48", "--batch-size", "16", "--units", "4", "--epochs", "1"]
_load_data = imdb_data.load_data


@functools.cache
def _cached_load_data(**kwargs):
    return _load_data(**kwargs)


@pytest.fixture(autouse=True)
def _keras_arrays_once(monkeypatch):
    # Preparing Keras' IMDB arrays takes ~4 s; they are read once here (tests/data checks them against Keras).
    monkeypatch.setattr(imdb_data, "load_data", lambda **kwargs: _cached_load_data(**kwargs))


@pytest.fixture
def built(monkeypatch):
    """The models `imdb.run` builds, kept so a test can compare the trained model with the saved one."""
    models, real_build = [], imdb.build

    def build(config):
        models.append(real_build(config))
        return models[-1]

    monkeypatch.setattr(imdb, "build", functools.update_wrapper(build, imdb.build))
    return models


def _run(out, *args):
    assert main(["run", "imdb", *TINY, *args, "--out", str(out)]) == 0
    return {name: json.loads((out / f"{name}.json").read_text()) for name in ("config", "history", "metrics",
                                                                            "encoding")}


def _whole(fraction, n):
    """An accuracy over n examples is a whole number of them."""
    return 0.0 <= fraction <= 1.0 and abs(fraction * n - round(fraction * n)) < 1e-4


def test_lstm_run_writes_every_file(tmp_path, built, capsys):
    out = tmp_path / "run"
    files = _run(out, "--model", "lstm", "--epochs", "2")
    config, history, metrics, encoding = (files[k] for k in ("config", "history", "metrics", "encoding"))
    assert config["config"]["model"] == "lstm" and config["config"]["limit"] == 40 and "torch" in config["machine"]

    assert set(history) == {"acc", "loss", "val_acc", "val_loss"} and all(len(v) == 2 for v in history.values())
    assert all(math.isfinite(v) and v > 0 for v in history["loss"] + history["val_loss"])
    assert all(_whole(a, 32) for a in history["acc"]) and all(_whole(a, 8) for a in history["val_acc"])

    best = int(np.argmax(history["val_acc"]))
    assert metrics["best_val_accuracy"] == history["val_acc"][best] and metrics["best_epoch"] == best + 1
    assert metrics["final_val_accuracy"] == history["val_acc"][-1]
    assert (metrics["train_examples"], metrics["val_examples"], metrics["test_examples"]) == (32, 8, 24)
    assert _whole(metrics["test_accuracy"], 24) and math.isfinite(metrics["test_loss"])
    assert len(metrics["epoch_seconds"]) == 2 and metrics["seconds_per_epoch"] > 0
    assert metrics["params"] == 4 * (4 * (32 + 4) + 4) + 10000 * 32 + 5  # LSTM(4) on 32 inputs, Embedding, Dense
    assert (metrics["model"], metrics["source"], metrics["epochs"]) == ("lstm", "indices", 2)

    assert encoding == {"source": "indices", "num_words": 10000, "maxlen": 48, "start_char": 1, "oov_char": 2,
                        "index_from": 3, "padding": "pre", "truncating": "pre"}
    assert (out / "curves.png").read_bytes()[:8] == PNG
    printed = capsys.readouterr().out
    assert "Epoch 2/2" in printed and "test accuracy" in printed and "best epoch" in printed

    # the saved model is the trained one: same predictions, and the test accuracy the run reported
    (trained,) = built
    saved = load_model(str(out / "model.keras"))
    x = np.random.default_rng(0).integers(0, 10000, size=(6, 48))
    np.testing.assert_array_equal(saved.predict(x, verbose=0), trained.predict(x, verbose=0))
    _, _, (x_test, y_test), _ = imdb.load(imdb.Config(**config["config"]))
    _, acc = saved.evaluate(x_test, y_test, verbose=0)
    assert acc == pytest.approx(metrics["test_accuracy"], abs=1e-6)


def test_inspect_gates_reads_the_run_folder(tmp_path):
    out = tmp_path / "run"
    _run(out, "--model", "lstm")
    png = tmp_path / "gates.png"
    assert main(["inspect", "gates", "--run", str(out), "--text", "a great movie", "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == PNG
    # the folder's encoding is Keras' word index shifted by 3 after the start mark, as the model was trained
    word_index = imdb_data.get_word_index()
    ids, shown = load_imdb_run(out).encode("a great movie")
    assert ids == [1, *(word_index[w] + 3 for w in ("a", "great", "movie"))] and shown[1:] == ["a", "great", "movie"]


@pytest.mark.parametrize("model", imdb.MODELS)
def test_every_model_trains_saves_and_reloads(tmp_path, built, model):
    out = tmp_path / model
    metrics = _run(out, "--model", model, "--backend", "reference")["metrics"]
    assert metrics["model"] == model and _whole(metrics["test_accuracy"], 24)
    assert 0.0 <= metrics["best_val_accuracy"] <= 1.0 and metrics["best_epoch"] == 1
    (trained,) = built
    assert metrics["params"] == sum(p.numel() for p in trained.parameters())
    saved = load_model(str(out / "model.keras"))
    recurrent = [m for m in saved.modules() if isinstance(m, (RNN, MinGRU, MinLSTM, SLSTM))]
    assert bool(recurrent) == (model != "conv1d")
    assert all(m.backend == "reference" for m in recurrent if isinstance(m, (RNN, SLSTM)))  # MinGRU/MinLSTM: none
    x = np.random.default_rng(1).integers(0, 10000, size=(5, 48))
    np.testing.assert_array_equal(saved.predict(x, verbose=0), trained.predict(x, verbose=0))


def test_same_seed_same_results_and_another_seed_differs(tmp_path):
    def results(name, seed):
        files = _run(tmp_path / name, "--model", "gru", "--epochs", "2", "--seed", str(seed))
        timing = ("epoch_seconds", "seconds_per_epoch")
        return files["history"], {k: v for k, v in files["metrics"].items() if k not in timing}

    first, again, other = results("a", 7), results("b", 7), results("c", 8)
    assert first == again
    assert first[0]["loss"] != other[0]["loss"]


def test_text_source_builds_its_vocabulary_on_the_training_part_only(tmp_path):
    out = tmp_path / "text"
    files = _run(out, "--source", "text", "--num-words", "20000")
    encoding, metrics = files["encoding"], files["metrics"]
    assert (encoding["source"], encoding["maxlen"], metrics["source"]) == ("text", 48, "text")

    # the same reviews as imdb.load_text_data: both splits shuffled by RandomState(113), train first
    train, _ = imdb_data.read_reviews()
    train = train.take(np.random.RandomState(113).permutation(len(train)))
    tokens = [tokenize(t) for t in train.texts[:40]]
    expected = Vocabulary.build(tokens[:32], max_tokens=20000)
    vocab = Vocabulary.from_json(encoding["vocabulary"])
    assert vocab.itos == expected.itos
    held_out_only = {w for t in tokens[32:] for w in t} - {w for t in tokens[:32] for w in t}
    assert held_out_only and not held_out_only & set(vocab.itos)  # validation words stay unknown

    assert metrics["train_examples"] == 32 and _whole(metrics["test_accuracy"], 24)
    ids, _ = load_imdb_run(out).encode(train.texts[0])
    assert ids == vocab.encode(tokens[0])
    png = tmp_path / "gates.png"
    assert main(["inspect", "gates", "--run", str(out), "--text", "a great movie", "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == PNG


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "conv1d", "--maxlen", "40"], "--maxlen must be at least 41 for the conv1d model"),
    (["--model", "conv1d-lstm", "--maxlen", "10"], "--maxlen must be at least 11 for the conv1d-lstm model"),
    (["--limit", "1"], "--limit 1 with --validation-split 0.2 leaves no review for training or none for validation"),
    (["--validation-split", "1"], "--validation-split must be in (0, 1), got 1.0"),
    (["--num-words", "3"], "--num-words must be above 3"),
    (["--epochs", "0"], "--epochs must be at least 1, got 0"),
    (["--eval-limit", "0"], "--eval-limit must be at least 1 test review"),
    (["--backend", "fastest"], "--backend must be 'auto' or one of"),
])
def test_bad_settings_are_clear_errors(tmp_path, capsys, args, message):
    out = tmp_path / "x"
    assert main(["run", "imdb", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()  # refused before anything is written


@pytest.mark.parametrize(("args", "message"), [
    (["--model", "transformer"], "invalid choice: 'transformer'"),
    (["--source", "csv"], "invalid choice: 'csv'"),
    (["--maxlen", "many"], "invalid int value: 'many'"),
])
def test_bad_option_values_are_refused_by_the_parser(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "imdb", *args, "--out", str(tmp_path / "x")])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without CUDA")
def test_cuda_without_a_gpu_is_a_clear_error(tmp_path, capsys):
    assert main(["run", "imdb", *TINY, "--device", "cuda", "--out", str(tmp_path / "x")]) == 2
    assert "no CUDA device is available" in capsys.readouterr().err


def test_an_interrupted_run_resumes_bit_identical(tmp_path, monkeypatch):
    """Ctrl-C in the second of three epochs (two batches each), then --resume: the history, metrics and
    weights of an uninterrupted run, exactly (shuffled batches; the checkpoint holds every generator)."""
    from lstmkit.errors import RunInterrupted
    from lstmkit.keras.models import training

    args = [*TINY[: TINY.index("--epochs")], "--epochs", "3", "--batch-size", "16"]
    assert main(["run", "imdb", *args, "--out", str(tmp_path / "ref")]) == 0
    real_step, steps = training.Trainer._train_step, []

    def step(self, batch):
        steps.append(1)
        if len(steps) == 3:  # the first batch of the second epoch
            raise KeyboardInterrupt
        return real_step(self, batch)

    monkeypatch.setattr(training.Trainer, "_train_step", step)
    config = imdb.Config(limit=40, eval_limit=24, maxlen=48, batch_size=16, units=4, epochs=3,
                         out=str(tmp_path / "cut"))  # the options of `args`
    with pytest.raises(RunInterrupted, match="keeps 1 finished epoch"):
        imdb.run(config)
    monkeypatch.setattr(training.Trainer, "_train_step", real_step)
    assert main(["run", "imdb", "--resume", str(tmp_path / "cut")]) == 0
    for name in ("history", "metrics"):
        a, b = (json.loads((tmp_path / run / f"{name}.json").read_text()) for run in ("ref", "cut"))
        for timing in ("epoch_seconds", "seconds_per_epoch"):
            a.pop(timing, None), b.pop(timing, None)
        assert a == b, name
    ref, cut = (load_model(str(tmp_path / run / "model.keras")) for run in ("ref", "cut"))
    for (name, a), (_, b) in zip(ref.state_dict().items(), cut.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
