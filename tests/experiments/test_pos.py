"""`lstmkit run pos` with tiny settings, in process: every file a run writes and its content, the saved
tagger against the trained one, seeding, XPOS, the batching and encoding helpers, clear errors."""

import functools
import json
import math

import numpy as np
import pytest
import torch

from lstmkit.cli import main
from lstmkit.data import ud
from lstmkit.experiments import pos

PNG = b"\x89PNG\r\n\x1a\n"
# 24 training sentences, 16 dev and 16 test sentences, a small two-layer tagger: a run takes about a second
TINY = ["--limit", "24", "--eval-limit", "16", "--batch-size", "8", "--word-dim", "8", "--char-dim", "4",
        "--char-hidden", "4", "--hidden", "8", "--epochs", "1"]


@pytest.fixture
def built(monkeypatch):
    """The taggers `pos.run` builds, kept so a test can compare the trained one with the saved one."""
    models, real_build = [], pos.build

    def build(config, enc):
        models.append(real_build(config, enc))
        return models[-1]

    monkeypatch.setattr(pos, "build", functools.update_wrapper(build, pos.build))
    return models


def _run(out, *args):
    assert main(["run", "pos", *TINY, *args, "--out", str(out)]) == 0
    return {name: json.loads((out / f"{name}.json").read_text()) for name in ("config", "history", "metrics",
                                                                            "encoding", "model")}


def _tokens(split, n):
    return sum(len(s) for s in ud.load(split, limit=n))


def test_run_writes_every_file(tmp_path, built, capsys):
    out = tmp_path / "run"
    files = _run(out, "--epochs", "2")
    config, history, metrics, encoding = (files[k] for k in ("config", "history", "metrics", "encoding"))
    assert config["config"]["limit"] == 24 and config["config"]["tags"] == "upos" and "torch" in config["machine"]

    assert set(history) == {"acc", "loss", "val_acc", "val_loss"} and all(len(v) == 2 for v in history.values())
    assert all(math.isfinite(v) and v > 0 for v in history["loss"] + history["val_loss"])
    assert all(0.0 <= a <= 1.0 for a in history["acc"] + history["val_acc"])

    dev_tokens, test_tokens = _tokens("dev", 16), _tokens("test", 16)
    best = int(np.argmax(history["val_acc"]))
    assert metrics["best_val_accuracy"] == metrics["dev_accuracy"] == history["val_acc"][best]
    assert metrics["best_epoch"] == best + 1 and metrics["final_val_accuracy"] == history["val_acc"][-1]
    assert (metrics["dev_tokens"], metrics["test_tokens"]) == (dev_tokens, test_tokens)
    assert (metrics["train_sentences"], metrics["train_tokens"]) == (24, _tokens("train", 24))
    right = metrics["test_accuracy"] * test_tokens
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and abs(right - round(right)) < 1e-6
    assert 0.0 <= metrics["test_oov_accuracy"] <= 1.0 and math.isfinite(metrics["test_loss"])
    assert len(metrics["epoch_seconds"]) == 2 and metrics["seconds_per_epoch"] > 0
    assert (metrics["model"], metrics["tags"], metrics["epochs"]) == ("bilstm", "upos", 2)

    train = ud.load("train", limit=24)
    assert encoding["tags"] == list(ud.UPOS_TAGS)
    assert encoding["words"] == sorted({w.lower() for s in train for w in s.words})  # training words only
    assert set(encoding["chars"]) <= {c for s in train for w in s.words for c in w}
    assert files["model"]["tags"] == list(ud.UPOS_TAGS) and files["model"]["n_words"] == len(encoding["words"]) + 2
    for png in ("curves.png", "confusion.png"):
        assert (out / png).read_bytes()[:8] == PNG
    printed = capsys.readouterr().out
    assert "Epoch 2/2" in printed and "test accuracy" in printed

    # the saved tagger is the trained one (its best dev epoch): same scores, same test accuracy
    (trained,) = built
    saved, enc = pos.load_tagger(out)
    test = pos.encode(pos.load_split("test", "upos", 16), enc)
    words, chars, _ = next(pos.batches(test, 16))
    trained.eval()
    with torch.no_grad():
        torch.testing.assert_close(saved(words, chars), trained(words, chars), rtol=0, atol=0)
    assert pos.evaluate(saved, test, 8, torch.device("cpu")).accuracy == metrics["test_accuracy"]
    dev = pos.encode(pos.load_split("dev", "upos", 16), enc)
    assert pos.evaluate(saved, dev, 8, torch.device("cpu")).accuracy == metrics["best_val_accuracy"]
    # tag() gives each sentence its tags, in the input order
    sentences = ud.load("test", limit=16)
    predicted = pos.tag(saved, enc, [s.words for s in sentences], batch_size=5)
    assert [len(p) for p in predicted] == [len(s) for s in sentences]
    right = sum(p == g for s, tags in zip(sentences, predicted) for p, g in zip(tags, s.upos))
    assert right / test_tokens == pytest.approx(metrics["test_accuracy"], abs=1e-12)


def test_same_seed_same_results_and_another_seed_differs(tmp_path):
    def results(name, seed):
        files = _run(tmp_path / name, "--epochs", "2", "--seed", str(seed))
        timing = ("epoch_seconds", "seconds_per_epoch")
        return files["history"], {k: v for k, v in files["metrics"].items() if k not in timing}

    first, again, other = results("a", 5), results("b", 5), results("c", 6)
    assert first == again
    assert first[0]["loss"] != other[0]["loss"]


def test_xpos_tags_cover_every_gold_tag(tmp_path):
    files = _run(tmp_path / "xpos", "--tags", "xpos", "--backend", "reference")
    gold = {t for split, n in (("train", 24), ("dev", 16), ("test", 16)) for s in ud.load(split, limit=n)
            for t in s.xpos}
    assert set(files["encoding"]["tags"]) == gold and "NN" in gold
    assert files["metrics"]["tags"] == "xpos" and 0.0 <= files["metrics"]["test_accuracy"] <= 1.0
    assert files["metrics"]["test_tokens"] == _tokens("test", 16)  # no gold tag left unscored


def test_batches_cover_every_sentence_once_with_padding_ignored():
    sents = [(["A"] * n, ["NOUN"] * n) for n in (3, 1, 5, 2, 4, 5, 1)]
    enc = pos.build_encoding(sents, list(ud.UPOS_TAGS), max_chars=4)
    data = pos.encode(sents, enc)
    seen = []
    for words, chars, tags in pos.batches(data, 3, np.random.default_rng(0)):
        lengths = (words != pos.PAD).sum(1)
        assert (tags != pos.IGNORE).sum(1).tolist() == lengths.tolist()
        assert chars.shape[:2] == words.shape and ((chars[..., 0] != pos.PAD) == (words != pos.PAD)).all()
        seen += lengths.tolist()
    assert sorted(seen) == [1, 1, 2, 3, 4, 5, 5]
    first = [w.shape[1] for w, _, _ in pos.batches(data, 3)]
    assert first == [2, 5, 5]  # without a generator: by length (1 1 2 | 3 4 5 | 5), in order


def test_long_words_keep_their_first_and_last_characters():
    enc = pos.build_encoding([(["x"], ["X"])], ["X"], max_chars=6)
    assert enc.clip("walking") == "waling" and enc.clip("internationalization") == "intion"
    assert enc.clip("short") == "short" and enc.clip("sixsix") == "sixsix"
    odd = pos.build_encoding([(["x"], ["X"])], ["X"], max_chars=5)
    assert odd.clip("unbelievable") == "unble"  # 2 first, 3 last


def test_load_tagger_needs_a_run_folder(tmp_path):
    with pytest.raises(ValueError, match=r"lacks model\.safetensors: expected the --out folder of `lstmkit run pos`"):
        pos.load_tagger(tmp_path)


@pytest.mark.parametrize(("args", "message"), [
    (["--limit", "0"], "--limit must be at least 1 sentence, got 0"),
    (["--eval-limit", "0"], "--eval-limit must be at least 1 sentence, got 0"),
    (["--epochs", "0"], "--epochs must be at least 1, got 0"),
    (["--dropout", "1"], "--dropout must be in [0, 1), got 1.0"),
    (["--word-dropout", "-0.5"], "--word-dropout must be >= 0, got -0.5"),
    (["--hidden", "0"], "--hidden must be at least 1, got 0"),
    (["--lr", "0"], "--lr must be positive"),
    (["--backend", "fastest"], "--backend must be 'auto' or one of"),
])
def test_bad_settings_are_clear_errors(tmp_path, capsys, args, message):
    out = tmp_path / "x"
    assert main(["run", "pos", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()  # refused before anything is written


def test_unknown_tag_set_is_refused_by_the_parser(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["run", "pos", "--tags", "ner", "--out", str(tmp_path / "x")])
    assert exit_info.value.code == 2 and "invalid choice: 'ner'" in capsys.readouterr().err


def test_an_interrupted_run_resumes_bit_identical(tmp_path, monkeypatch):
    """Ctrl-C in the validation of the second of three epochs, then --resume: the tagger's own loop
    checkpoints the weights, Adam's state, the batch generator and every global generator."""
    from lstmkit.errors import RunInterrupted

    args = [*TINY[: TINY.index("--epochs")], "--epochs", "3"]
    assert main(["run", "pos", *args, "--out", str(tmp_path / "ref")]) == 0
    real_evaluate, calls = pos.evaluate, []

    def evaluate(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_evaluate(*a, **kw)

    monkeypatch.setattr(pos, "evaluate", evaluate)
    config = pos.Config(limit=24, eval_limit=16, batch_size=8, word_dim=8, char_dim=4, char_hidden=4, hidden=8,
                        epochs=3, out=str(tmp_path / "cut"))  # the options of `args`
    with pytest.raises(RunInterrupted, match="keeps 1 finished epoch"):
        pos.run(config)
    monkeypatch.setattr(pos, "evaluate", real_evaluate)
    assert main(["run", "pos", "--resume", str(tmp_path / "cut")]) == 0
    for name in ("history", "metrics"):
        a, b = (json.loads((tmp_path / run / f"{name}.json").read_text()) for run in ("ref", "cut"))
        for timing in ("epoch_seconds", "seconds_per_epoch"):
            a.pop(timing, None), b.pop(timing, None)
        assert a == b, name
    from safetensors.torch import load_file

    ref, cut = (load_file(str(tmp_path / run / "model.safetensors")) for run in ("ref", "cut"))
    assert ref.keys() == cut.keys() and all(torch.equal(ref[k], cut[k]) for k in ref)


def test_a_weights_file_with_keys_missing_is_named(tmp_path):
    from safetensors.torch import load_file, save_file

    from lstmkit.errors import FileFormatError

    _run(tmp_path / "run")
    path = tmp_path / "run" / "model.safetensors"
    weights = load_file(str(path))
    dropped = sorted(weights)[0]
    del weights[dropped]
    save_file(weights, str(path))
    with pytest.raises(FileFormatError, match=rf"model\.safetensors: .*missing \['{dropped}'\]"):
        pos.load_tagger(tmp_path / "run")
