"""Keras 2's `keras.preprocessing.text`: `Tokenizer`, `text_to_word_sequence`, `one_hot`, `hashing_trick`.

Keras 3 removed this module; its spelling is `keras.layers.TextVectorization` (in `lstmkit.keras.layers`), and
importing this module says so with a DeprecationWarning. The rules are those of Keras 2.x
(keras_preprocessing/text.py), kept exactly:
  text_to_word_sequence  lower (Python's str.lower), every character of `filters` becomes `split`, split on
                         `split`, empty pieces dropped.
  Tokenizer.fit_on_texts word_index ranks words by count, high to low, ties by first appearance (a stable
                         sort of the counts kept in first-seen order); index 0 is never a word; `oov_token`, when
                         given, takes index 1. `num_words` keeps the words of index < num_words when
                         converting (the index itself counts all words).
  sequences_to_matrix    (len(sequences), num_words or len(word_index) + 1) float64: "binary" 1, "count" c,
                         "freq" c / len(sequence), "tfidf" (1 + log c) * log(1 + documents / (1 + docs[j])).
  hashing_trick          hash(w) % (n - 1) + 1, so indices run 1..n-1; "md5" is int(md5(w).hexdigest(), 16).
`one_hot` differs on purpose: Keras 2 used Python's `hash`, which is salted per process (PYTHONHASHSEED), so
its indices changed from one run to the next and a saved model met other indices after a restart. lstmkit's
`one_hot` hashes with md5, as `hashing_trick(..., hash_function="md5")`: the same indices in every process.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

warnings.warn(
    "keras.preprocessing.text (Tokenizer, one_hot, hashing_trick, text_to_word_sequence) is Keras 2's API, "
    "removed in Keras 3; use keras.layers.TextVectorization (lstmkit.keras.layers.TextVectorization)",
    DeprecationWarning,
    stacklevel=2,
)

FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
MATRIX_MODES = ("binary", "count", "tfidf", "freq")


def text_to_word_sequence(input_text: str, filters: str = FILTERS, lower: bool = True, split: str = " ") -> list[str]:
    """`"Hello, World!"` -> `["hello", "world"]`."""
    if not isinstance(input_text, str):
        raise ValueError(f"text_to_word_sequence expects a str, got {type(input_text).__name__}: {input_text!r}")
    if lower:
        input_text = input_text.lower()
    table: dict[str, str | int | None] = {c: split for c in filters}
    input_text = input_text.translate(str.maketrans(table))
    return [w for w in input_text.split(split) if w]


def _md5(word: str) -> int:
    return int(hashlib.md5(word.encode()).hexdigest(), 16)


def hashing_trick(text: str, n: int, hash_function: Callable[[str], int] | str | None = None,
                  filters: str = FILTERS, lower: bool = True, split: str = " ",
                  analyzer: Callable[[str], list[str]] | None = None) -> list[int]:
    """Each word to `hash_function(word) % (n - 1) + 1` (indices 1..n-1; 0 stays free for padding).
    `hash_function` None is Python's `hash` (salted per process, as in Keras 2), "md5" a stable hash."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 2:
        raise ValueError(f"hashing_trick needs n >= 2 (indices run from 1 to n - 1), got n={n!r}")
    if hash_function is None:
        fn: Callable[[str], int] = hash
    elif hash_function == "md5":
        fn = _md5
    elif callable(hash_function):
        fn = hash_function
    else:
        raise ValueError(f"hash_function must be None, 'md5' or a callable, got {hash_function!r}")
    seq = text_to_word_sequence(text, filters=filters, lower=lower, split=split) if analyzer is None \
        else analyzer(text)
    return [fn(w) % (n - 1) + 1 for w in seq]


def one_hot(input_text: str, n: int, filters: str = FILTERS, lower: bool = True, split: str = " ",
            analyzer: Callable[[str], list[str]] | None = None) -> list[int]:
    """Words to indices in 1..n-1 by their md5 hash (Keras 2 used the per-process salted `hash`; see the
    module's docstring): `hashing_trick(text, n, hash_function="md5", ...)`."""
    return hashing_trick(input_text, n, hash_function="md5", filters=filters, lower=lower, split=split,
                         analyzer=analyzer)


class Tokenizer:
    """Keras 2's text tokenizer: `fit_on_texts(texts)`, then `texts_to_sequences` / `texts_to_matrix`."""

    def __init__(self, num_words: int | None = None, filters: str = FILTERS, lower: bool = True, split: str = " ",
                 char_level: bool = False, oov_token: str | None = None,
                 analyzer: Callable[[str], list[str]] | None = None, **kwargs: Any) -> None:
        if "nb_words" in kwargs:  # Keras 1's name, which Keras 2 still took with a warning
            warnings.warn("The `nb_words` argument in `Tokenizer` has been renamed `num_words`.", stacklevel=2)
            num_words = kwargs.pop("nb_words")
        document_count = kwargs.pop("document_count", 0)
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments: {kwargs}")
        if num_words is not None and (not isinstance(num_words, int) or isinstance(num_words, bool) or num_words < 0):
            raise ValueError(f"Tokenizer: num_words must be None or a non-negative integer, got {num_words!r}")
        self.word_counts: dict[str, int] = OrderedDict()
        self.word_docs: dict[str, int] = defaultdict(int)
        self.filters = filters
        self.split = split
        self.lower = lower
        self.num_words = num_words
        self.document_count = document_count
        self.char_level = char_level
        self.oov_token = oov_token
        self.index_docs: dict[int, int] = defaultdict(int)
        self.word_index: dict[str, int] = {}
        self.index_word: dict[int, str] = {}
        self.analyzer = analyzer

    def _words(self, text: Any) -> list[str]:
        if self.char_level or isinstance(text, list):
            if self.lower:
                text = [t.lower() for t in text] if isinstance(text, list) else text.lower()
            return list(text)
        if not isinstance(text, str):
            raise ValueError(f"Tokenizer expects texts as str (or lists of words), got {type(text).__name__}: "
                             f"{text!r}")
        if self.analyzer is not None:
            return list(self.analyzer(text))
        return text_to_word_sequence(text, filters=self.filters, lower=self.lower, split=self.split)

    @staticmethod
    def _texts(texts: Any, what: str) -> Iterable[Any]:
        if isinstance(texts, str):
            raise ValueError(f"Tokenizer.{what} takes a list of texts, got one str; wrap it: [{texts[:40]!r}]")
        out: Iterable[Any] = texts
        return out

    def fit_on_texts(self, texts: Iterable[Any]) -> None:
        """Count words (and the documents holding them) and rank them into `word_index`."""
        for text in self._texts(texts, "fit_on_texts"):
            self.document_count += 1
            seq = self._words(text)
            for w in seq:
                self.word_counts[w] = self.word_counts.get(w, 0) + 1
            for w in set(seq):
                self.word_docs[w] += 1
        ranked = sorted(self.word_counts.items(), key=lambda wc: wc[1], reverse=True)  # stable: ties by first seen
        vocabulary = ([] if self.oov_token is None else [self.oov_token]) + [w for w, _ in ranked]
        self.word_index = {w: i for i, w in enumerate(vocabulary, start=1)}
        self.index_word = {i: w for w, i in self.word_index.items()}
        for w, c in self.word_docs.items():
            self.index_docs[self.word_index[w]] = c

    def fit_on_sequences(self, sequences: Iterable[Iterable[int]]) -> None:
        """Document frequencies from index sequences (for tfidf matrices without texts)."""
        sequences = list(sequences)
        self.document_count += len(sequences)
        for seq in sequences:
            for i in set(seq):
                self.index_docs[i] += 1

    def texts_to_sequences_generator(self, texts: Iterable[Any]) -> Iterator[list[int]]:
        oov_index = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        for text in self._texts(texts, "texts_to_sequences"):
            vect = []
            for w in self._words(text):
                i = self.word_index.get(w)
                if i is not None and not (self.num_words and i >= self.num_words):
                    vect.append(i)
                elif oov_index is not None:
                    vect.append(oov_index)
            yield vect

    def texts_to_sequences(self, texts: Iterable[Any]) -> list[list[int]]:
        """Each text as the indices of its words; unknown words (and those of index >= num_words) dropped,
        or given the OOV index when there is an oov_token."""
        return list(self.texts_to_sequences_generator(texts))

    def sequences_to_texts_generator(self, sequences: Iterable[Iterable[int]]) -> Iterator[str]:
        oov_index = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        for seq in sequences:
            words = []
            for num in seq:
                word = self.index_word.get(int(num))
                if word is not None and not (self.num_words and num >= self.num_words):
                    words.append(word)
                elif oov_index is not None:
                    words.append(self.index_word[oov_index])
            yield " ".join(words)

    def sequences_to_texts(self, sequences: Iterable[Iterable[int]]) -> list[str]:
        return list(self.sequences_to_texts_generator(sequences))

    def texts_to_matrix(self, texts: Iterable[Any], mode: str = "binary") -> np.ndarray:
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def sequences_to_matrix(self, sequences: Iterable[Iterable[int]], mode: str = "binary") -> np.ndarray:
        """(len(sequences), num_words) float64; columns past num_words are left out."""
        if mode not in MATRIX_MODES:
            raise ValueError(f"Unknown vectorization mode: {mode!r}; expected one of {MATRIX_MODES}")
        if not self.num_words:
            if not self.word_index:
                raise ValueError("Specify a dimension (`num_words` argument), or fit on some text data first.")
            num_words = len(self.word_index) + 1
        else:
            num_words = self.num_words
        if mode == "tfidf" and not self.document_count:
            raise ValueError("Fit the Tokenizer on some data before using tfidf mode.")
        sequences = list(sequences)
        x = np.zeros((len(sequences), num_words))
        for i, seq in enumerate(sequences):
            seq = list(seq)
            if not seq:
                continue
            counts: dict[int, int] = defaultdict(int)
            for j in seq:
                if j < num_words:
                    counts[int(j)] += 1
            for j, c in counts.items():
                if mode == "count":
                    x[i, j] = c
                elif mode == "freq":
                    x[i, j] = c / len(seq)
                elif mode == "binary":
                    x[i, j] = 1
                else:  # tfidf: Wikipedia's weighting scheme 2, as Keras 2
                    tf = 1 + np.log(c)
                    idf = np.log(1 + self.document_count / (1 + self.index_docs.get(j, 0)))
                    x[i, j] = tf * idf
        return x

    def get_config(self) -> dict[str, Any]:
        """Keras 2's config: the dictionaries as JSON strings (their int keys become strings)."""
        return {
            "num_words": self.num_words,
            "filters": self.filters,
            "lower": self.lower,
            "split": self.split,
            "char_level": self.char_level,
            "oov_token": self.oov_token,
            "document_count": self.document_count,
            "word_counts": json.dumps(self.word_counts),
            "word_docs": json.dumps(self.word_docs),
            "index_docs": json.dumps(self.index_docs),
            "index_word": json.dumps(self.index_word),
            "word_index": json.dumps(self.word_index),
        }

    def to_json(self, **kwargs: Any) -> str:
        """`{"class_name": "Tokenizer", "config": ...}` as JSON; `tokenizer_from_json` reads it back."""
        if self.analyzer is not None:
            raise ValueError("Tokenizer.to_json: a tokenizer with an analyzer function cannot be written as JSON "
                             "(the function is code); rebuild it with the same analyzer instead")
        return json.dumps({"class_name": type(self).__name__, "config": self.get_config()}, **kwargs)


def tokenizer_from_json(json_string: str) -> Tokenizer:
    """The Tokenizer that `Tokenizer.to_json()` wrote (Keras 2's files too)."""
    try:
        spec = json.loads(json_string)
        config = dict(spec["config"])
        word_counts = json.loads(config.pop("word_counts"))
        word_docs = json.loads(config.pop("word_docs"))
        index_docs = {int(k): v for k, v in json.loads(config.pop("index_docs")).items()}
        index_word = {int(k): v for k, v in json.loads(config.pop("index_word")).items()}
        word_index = json.loads(config.pop("word_index"))
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as e:
        raise ValueError(f"tokenizer_from_json: not a Tokenizer's JSON ({type(e).__name__}: {e})") from None
    tokenizer = Tokenizer(**config)
    tokenizer.word_counts = OrderedDict(word_counts)
    tokenizer.word_docs = defaultdict(int, word_docs)
    tokenizer.index_docs = defaultdict(int, index_docs)
    tokenizer.word_index = word_index
    tokenizer.index_word = index_word
    return tokenizer


__all__ = ["Tokenizer", "hashing_trick", "one_hot", "text_to_word_sequence", "tokenizer_from_json"]
