"""Open an IMDB run folder (written by `lstmkit run imdb`) as a model plus the text encoding it was trained with.

What the folder is expected to hold (the interface with `lstmkit.experiments.imdb`):
  model.keras             the model saved by lstmkit.keras `model.save`, opened with
                          `lstmkit.keras.models.load_model`
  encoding.json           {"source": "indices", "num_words", "maxlen", "index_from"}: Keras' IMDB word
                          index (`imdb_word_index.json` in $LSTMKIT_DATA_DIR) shifted by index_from,
                          start_char 1, oov_char 2, as `imdb.load_data` encodes; or
                          {"source": "text", "maxlen", "vocabulary"}: lstmkit.data.text's saved
                          `Vocabulary` (read with its tokenizer), or a list (id = position, "[UNK]"
                          for unknown words, like Keras' TextVectorization) or a {word: id} dict
  config.json             {"config": {...}}: num_words and maxlen are read from it when encoding.json
                          is absent (defaults 10000 and 500)
A file that cannot be read as described raises `lstmkit.errors.FileFormatError` naming it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lstmkit.data.imdb import make_encoder
from lstmkit.errors import FileFormatError, LstmkitError

MODEL_FILES = ("model.keras", "model.safetensors")


@dataclass
class TextModel:
    """A text classifier and how to turn a text into the ids it reads."""

    model: Any
    encode: Callable[[str], tuple[list[int], list[str]]]  # text -> (ids, the token shown for each id)
    maxlen: int | None


def _keras_word_index() -> dict[str, int]:
    from lstmkit.data import imdb

    return imdb.get_word_index()


def _load_model(path: Path) -> Any:
    try:
        from lstmkit.keras.models import load_model
    except ImportError as e:
        raise ValueError(f"{path} is a saved lstmkit.keras model, but lstmkit.keras.models.load_model "
                         f"cannot be imported here ({e})") from e
    return load_model(str(path))


def _vocabulary_encoder(vocab: Any) -> Callable[[str], tuple[list[int], list[str]]]:
    """A learned vocabulary: lstmkit's saved `Vocabulary` (with its own tokenizer), or a list (id =
    position) or {word: id} dict read with Keras' tokenization; unknown words map to the unknown id."""
    if isinstance(vocab, dict) and "format" in vocab:
        from lstmkit.data.text import UNK, Vocabulary
        from lstmkit.data.text import tokenize as lstmkit_tokenize

        table = Vocabulary.from_json(vocab)

        def encode(text: str) -> tuple[list[int], list[str]]:
            words = lstmkit_tokenize(text)
            ids = table.encode(words)
            return ids, [w if i != UNK else f"[{w}]" for w, i in zip(words, ids)]

        return encode
    if isinstance(vocab, list):
        vocab = {str(w): i for i, w in enumerate(vocab)}
    if not isinstance(vocab, dict) or not vocab:
        raise ValueError(f"'vocabulary' must be a saved Vocabulary, a list or a dict, got {type(vocab).__name__}")
    oov = next((vocab[k] for k in ("[UNK]", "<unk>", "<oov>") if k in vocab), 1)
    return make_encoder(vocab, num_words=None, start_char=None, oov_char=oov, index_from=0)


def load_imdb_run(run_dir: str | os.PathLike, model_loader: Callable[[Path], Any] | None = None) -> TextModel:
    """The model of an IMDB run folder and its text encoder (see the module docstring for the files).

    `model_loader` (default: `lstmkit.keras.models.load_model`) opens the model file found."""
    run = Path(run_dir)
    if not run.is_dir():
        raise ValueError(f"no run folder at {run}: expected the --out folder of `lstmkit run imdb`")
    found = [run / name for name in MODEL_FILES if (run / name).exists()]
    if not found:
        have = sorted(p.name for p in run.iterdir())
        raise ValueError(f"{run} holds no saved model: expected one of {', '.join(MODEL_FILES)} written by "
                         f"`lstmkit run imdb`; the folder has {have or 'nothing'}")
    source = run / "encoding.json"
    enc = _read_json(source)
    if not enc:
        source = run / "config.json"
        config = _read_json(source)
        config = config.get("config", config)
        if not isinstance(config, dict):
            raise FileFormatError(source, f"its 'config' must be a JSON object, got {type(config).__name__}")
        enc = {"source": "indices", **config}
    try:
        encode, maxlen = _encoder(enc)
    except LstmkitError:
        raise
    except (ValueError, KeyError, TypeError) as e:  # the file's values, not its JSON, are wrong
        raise FileFormatError(source, f"not a text encoding lstmkit can use ({type(e).__name__}: {e})") from None
    model = (model_loader or _load_model)(found[0])
    return TextModel(model, encode, maxlen)


def _encoder(enc: dict[str, Any]) -> tuple[Callable[[str], tuple[list[int], list[str]]], int | None]:
    """The text encoder and maxlen an encoding.json (or a run's config) describes."""
    if enc.get("source", "indices") == "text":
        encode = _vocabulary_encoder(enc.get("vocabulary"))
    elif enc.get("source", "indices") == "indices":
        encode = make_encoder(_keras_word_index(), num_words=enc.get("num_words", 10000),
                              start_char=enc.get("start_char", 1), oov_char=enc.get("oov_char", 2),
                              index_from=int(enc.get("index_from", 3)))
    else:
        raise ValueError(f"unknown source {enc.get('source')!r}, expected 'indices' or 'text'")
    maxlen = enc.get("maxlen", 500)
    return encode, None if maxlen is None else int(maxlen)


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise FileFormatError(path, f"not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise FileFormatError(path, f"must hold a JSON object, got {type(data).__name__}")
    return data
