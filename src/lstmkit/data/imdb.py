"""IMDB movie-review sentiment (Maas et al. 2011): Keras' word indices, and the raw text.

    (x_train, y_train), (x_test, y_test) = load_data(num_words=10000)          # exactly Keras'
    word_index = get_word_index()                                              # word -> rank (add 3)
    (x_train, y_train), (x_test, y_test), vocab = load_text_data(max_tokens=10000, maxlen=500)

`load_data` follows `keras.datasets.imdb.load_data` step by step (vectorised with NumPy, same
results): each split is shuffled by one `np.random.RandomState(seed)` (train first), every rank is
shifted by `index_from`, `start_char` is prepended, sequences with `len >= maxlen` are dropped, and
ids outside `[skip_top, num_words)` become `oov_char` (or are dropped when it is None). As in
Keras, `num_words=None` means "the largest id present", which itself then counts as out of range.

`load_text_data` is lstmkit's own route from `imdb_reviews.csv.gz` (the 50,000 labelled reviews):
`lstmkit.data.text.tokenize`, a `Vocabulary` built on the training split only, then padding.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import json
import pickle
import re
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lstmkit.data.cache import locate, search_dirs
from lstmkit.data.convert import REVIEW_COLUMNS
from lstmkit.data.errors import DataError
from lstmkit.data.npz import load_npz
from lstmkit.data.sequence import pad_sequences
from lstmkit.data.text import Vocabulary, tokenize

Split = tuple[np.ndarray, np.ndarray]


def _resolve(path: str | Path, default: str) -> Path:
    """The registry file for the default name; otherwise a path, or a file name in the data folders."""
    if str(path) == default:
        return locate(default)
    p = Path(path).expanduser()
    if p.is_file():
        return p
    if p.name == str(path):
        for folder in search_dirs():
            if (folder / p.name).is_file():
                return folder / p.name
    raise DataError(f"{path} was not found (as a path, or in {' or '.join(map(str, search_dirs()))}); "
                    f"leave the argument at its default {default!r} to use the known file")


def _flatten(seqs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All ids in one array (int64) and each sequence's length."""
    lengths = np.fromiter(map(len, seqs), dtype=np.int64, count=len(seqs))
    flat = np.fromiter(itertools.chain.from_iterable(seqs), dtype=np.int64, count=int(lengths.sum()))
    return flat, lengths


def _unflatten(flat: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """An object array of Python int lists (what Keras returns)."""
    values = flat.tolist()
    ends = np.cumsum(lengths).tolist()
    out = np.empty(len(lengths), dtype=object)
    start = 0
    for i, end in enumerate(ends):
        out[i] = values[start:end]
        start = end
    return out


def _prepare(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
             num_words: int | None, skip_top: int, maxlen: int | None, seed: int, start_char: int | None,
             oov_char: int | None, index_from: int) -> tuple[Split, Split]:
    """Keras' IMDB procedure on raw word ranks (see the module docstring)."""
    rng = np.random.RandomState(seed)
    splits = []
    for x, y in ((x_train, y_train), (x_test, y_test)):
        order = np.arange(len(x))
        rng.shuffle(order)
        flat, lengths = _flatten(x[order])
        y = np.asarray(y)[order]
        flat = flat + index_from
        if start_char is not None:  # one start_char before each sequence
            starts = np.cumsum(lengths + 1) - (lengths + 1)  # where each sequence begins once lengthened
            with_start = np.full(len(flat) + len(lengths), start_char, dtype=np.int64)
            body = np.ones(len(with_start), dtype=bool)
            body[starts] = False
            with_start[body] = flat
            flat, lengths = with_start, lengths + 1
        if maxlen:
            keep = lengths < maxlen
            flat, lengths, y = flat[np.repeat(keep, lengths)], lengths[keep], y[keep]
        splits.append([flat, lengths, y])
    if maxlen and (len(splits[0][1]) == 0 or len(splits[1][1]) == 0):
        raise ValueError(f"After filtering for sequences shorter than maxlen={maxlen}, no sequence was kept. "
                         "Increase maxlen.")
    if not num_words:
        num_words = max(int(s[0].max()) for s in splits if len(s[0]))
    for s in splits:
        flat, lengths = s[0], s[1]
        in_range = (flat >= skip_top) & (flat < num_words)
        if oov_char is not None:
            s[0] = np.where(in_range, flat, oov_char)
        else:
            owner = np.repeat(np.arange(len(lengths)), lengths)  # the sequence each id belongs to
            s[0], s[1] = flat[in_range], np.bincount(owner[in_range], minlength=len(lengths))
    (f_tr, l_tr, y_tr), (f_te, l_te, y_te) = splits
    return (_unflatten(f_tr, l_tr), y_tr), (_unflatten(f_te, l_te), y_te)


def load_data(path: str = "imdb.npz", num_words: int | None = None, skip_top: int = 0, maxlen: int | None = None,
              seed: int = 113, start_char: int | None = 1, oov_char: int | None = 2, index_from: int = 3
              ) -> tuple[Split, Split]:
    """`keras.datasets.imdb.load_data`: `(x_train, y_train), (x_test, y_test)`, 25,000 reviews each.

    x are object arrays of lists of word ids, y int64 labels (1 = positive). `path`: the default
    finds `imdb.npz` (in `$LSTMKIT_DATA_DIR`, the cache, or downloaded from Keras' address);
    another value is a path or a file name in those folders.
    """
    file = _resolve(path, "imdb.npz")
    try:
        arrays = load_npz(file)
        x_train, y_train, x_test, y_test = (arrays[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile, pickle.UnpicklingError) as e:
        raise DataError(f"{file} cannot be read as the IMDB arrays ({type(e).__name__}: {e}). Delete it and run "
                        "`lstmkit data fetch imdb.npz`, or put a good copy there by hand.") from None
    return _prepare(x_train, y_train, x_test, y_test, num_words, skip_top, maxlen, seed, start_char, oov_char,
                    index_from)


def get_word_index(path: str = "imdb_word_index.json") -> dict[str, int]:
    """`keras.datasets.imdb.get_word_index`: word -> rank (1 = most frequent); add `index_from` (3)
    to match the ids of `load_data`."""
    file = _resolve(path, "imdb_word_index.json")
    try:
        with open(file, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise DataError(f"{file} cannot be read as the IMDB word index ({type(e).__name__}: {e}). Delete it and "
                        "run `lstmkit data fetch imdb_word_index.json`, or put a good copy there by hand.") from None


@dataclass
class Reviews:
    """Labelled reviews of one split: raw texts (with `<br />`), labels (1 = pos), ratings and ids."""

    texts: list[str]
    labels: np.ndarray  # (N,) int64
    ratings: np.ndarray  # (N,) int64, 1-4 or 7-10
    ids: np.ndarray  # (N,) int64, from the aclImdb file name

    def __len__(self) -> int:
        return len(self.texts)

    def take(self, index: np.ndarray | list[int]) -> Reviews:
        """The reviews at `index`, in that order."""
        index = np.asarray(index, dtype=np.int64)
        return Reviews([self.texts[i] for i in index.tolist()], self.labels[index], self.ratings[index],
                       self.ids[index])


def read_reviews(path: str | Path | None = None) -> tuple[Reviews, Reviews]:
    """The train and test reviews of `imdb_reviews.csv.gz` (or a plain csv, or the file at `path`), in file
    order: negative reviews first, then positive, each by id."""
    file = locate("imdb_reviews.csv.gz") if path is None else Path(path)
    opener = gzip.open if file.name.endswith(".gz") else open
    columns: dict[str, tuple[list, list, list, list]] = {"train": ([], [], [], []), "test": ([], [], [], [])}
    try:
        with opener(file, "rt", encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            header = tuple(next(reader, ()))
            if header != REVIEW_COLUMNS:
                raise ValueError(f"its header is {list(header)}, not {list(REVIEW_COLUMNS)}")
            for row in reader:
                if len(row) != 5 or row[0] not in columns or row[1] not in ("0", "1"):
                    raise ValueError(f"line {reader.line_num} is not split,label,rating,id,text: {str(row)[:80]}")
                texts, labels, ratings, ids = columns[row[0]]
                texts.append(row[4])
                labels.append(int(row[1]))
                ratings.append(int(row[2]))
                ids.append(int(row[3]))
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError, csv.Error) as e:
        raise DataError(f"{file} cannot be read as the IMDB reviews ({type(e).__name__}: {e}). Delete it and run "
                        "`lstmkit data fetch imdb_reviews.csv.gz`, or put a good copy there by hand.") from None
    train, test = (Reviews(t, np.array(lab, dtype=np.int64), np.array(r, dtype=np.int64), np.array(i, dtype=np.int64))
                   for t, lab, r, i in (columns["train"], columns["test"]))
    return train, test


def encode_reviews(train: Reviews, test: Reviews, max_tokens: int | None = 20000, maxlen: int | None = 500,
                   padding: str = "pre", truncating: str = "pre", min_count: int = 1, seed: int | None = 113
                   ) -> tuple[Split, Split, Vocabulary]:
    """Padded id arrays and labels for both splits, with a vocabulary built on `train` only.

    Each split is shuffled by one `np.random.RandomState(seed)` (train first) as Keras does, so that a
    `validation_split` taken from the end holds both classes; `seed=None` keeps the file order.
    """
    if seed is not None:
        rng = np.random.RandomState(seed)
        train, test = (s.take(rng.permutation(len(s))) for s in (train, test))
    train_tokens = [tokenize(t) for t in train.texts]
    vocab = Vocabulary.build(train_tokens, max_tokens=max_tokens, min_count=min_count)

    def pad(tokens: list[list[str]]) -> np.ndarray:
        return pad_sequences([vocab.encode(t) for t in tokens], maxlen=maxlen, padding=padding, truncating=truncating)

    x_train = pad(train_tokens)
    x_test = pad([tokenize(t) for t in test.texts])
    return (x_train, train.labels), (x_test, test.labels), vocab


def load_text_data(max_tokens: int | None = 20000, maxlen: int | None = 500, padding: str = "pre",
                   truncating: str = "pre", min_count: int = 1, seed: int | None = 113, path: str | Path | None = None
                   ) -> tuple[Split, Split, Vocabulary]:
    """Raw IMDB text -> `(x_train, y_train), (x_test, y_test), vocab` with lstmkit's tokenizer.

    x are `(N, maxlen)` int32 arrays (0 = padding, 1 = unknown word, ids below `max_tokens`), y int64.
    See `encode_reviews` for the arguments; `path` reads another reviews csv.
    """
    train, test = read_reviews(path)
    return encode_reviews(train, test, max_tokens=max_tokens, maxlen=maxlen, padding=padding,
                          truncating=truncating, min_count=min_count, seed=seed)


# ----- texts to Keras' word-index ids ------------------------------------------------------------
# Keras' Tokenizer / text_to_word_sequence default filters, which the IMDB word index was built with
_FILTERS = re.compile(r"[!\"#$%&()*+,\-./:;<=>?@\[\\\]^_`{|}~\t\n]")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def keras_tokenize(text: str) -> list[str]:
    """How the Keras IMDB word index was built: ASCII lowercasing, Keras' filter characters to spaces,
    split on spaces (so "<br />" gives the word "br", which the index has)."""
    return [w for w in _FILTERS.sub(" ", text.translate(_ASCII_LOWER)).split(" ") if w]


def make_encoder(word_index: dict[str, int], *, num_words: int | None = 10000, start_char: int | None = 1,
                 oov_char: int | None = 2, index_from: int = 0) -> Callable[[str], tuple[list[int], list[str]]]:
    """An encoder like `imdb.load_data`'s: id = word_index[word] + index_from; ids >= num_words and unknown
    words become `oov_char` (dropped when None); `start_char` first. OOV tokens are shown in brackets."""

    def encode(text: str) -> tuple[list[int], list[str]]:
        ids: list[int] = [] if start_char is None else [start_char]
        shown: list[str] = [] if start_char is None else ["<start>"]
        for word in keras_tokenize(text):
            i = word_index.get(word)
            i = None if i is None else i + index_from
            if i is None or (num_words is not None and i >= num_words):
                if oov_char is None:
                    continue
                ids.append(oov_char)
                shown.append(f"[{word}]")
            else:
                ids.append(i)
                shown.append(word)
        return ids, shown

    return encode
