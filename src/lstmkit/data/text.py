"""lstmkit's own text route: a tokenizer and a vocabulary, raw text -> padded id arrays.

    tokens = tokenize("I didn't like it.<br /><br />Not at all")   # ['i', "didn't", 'like', 'it', 'not', 'at', 'all']
    vocab = Vocabulary.build(map(tokenize, train_texts), max_tokens=20000)   # the training split only
    x = vocab.encode_texts(texts, maxlen=500, padding="pre")            # (N, 500) int32; 0 = padding, 1 = unknown

Ids: 0 is padding, 1 an unknown word, then the words by falling count (ties alphabetical), so
a vocabulary built from the same texts is always the same. `max_tokens` counts the two
reserved ids, so every id is below it (it can size an `Embedding(max_tokens, ...)`).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from lstmkit.data.sequence import pad_sequences

PAD, UNK = 0, 1
PAD_TOKEN, UNK_TOKEN = "<pad>", "<unk>"

_MARKUP = re.compile(r"<br\s*/?>", re.IGNORECASE)  # the IMDB texts keep their HTML line breaks
# a word: letters and digits (any script), with inner apostrophes kept ("didn't", "o'brien")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def tokenize(text: str) -> list[str]:
    """Lower-cased words of `text`: `<br />` tags and punctuation dropped, inner apostrophes kept."""
    return _WORD.findall(_MARKUP.sub(" ", text).lower())


class Vocabulary:
    """Word <-> id table with padding 0 and unknown 1; built on training text only."""

    def __init__(self, words: Sequence[str]) -> None:
        words = list(words)
        if PAD_TOKEN in words or UNK_TOKEN in words:
            raise ValueError(f"the words may not contain the reserved tokens {PAD_TOKEN!r} and {UNK_TOKEN!r}")
        self.itos: list[str] = [PAD_TOKEN, UNK_TOKEN, *words]
        self.stoi: dict[str, int] = {w: i for i, w in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise ValueError("the words of a Vocabulary must be distinct")

    @classmethod
    def build(cls, token_lists: Iterable[Sequence[str]], max_tokens: int | None = None, min_count: int = 1
              ) -> Vocabulary:
        """The most frequent words of `token_lists` (ties alphabetical), at most `max_tokens` ids in all.

        `max_tokens` includes the padding and unknown ids (so at least 2); `min_count` drops rarer words.
        """
        if max_tokens is not None and max_tokens < 2:
            raise ValueError(f"max_tokens must be None or at least 2 (padding and unknown), got {max_tokens}")
        if min_count < 1:
            raise ValueError(f"min_count must be at least 1, got {min_count}")
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        counts.pop(PAD_TOKEN, None)
        counts.pop(UNK_TOKEN, None)
        ranked = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        if max_tokens is not None:
            ranked = ranked[: max_tokens - 2]
        return cls(ranked)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: object) -> bool:
        return word in self.stoi

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} ids: {PAD_TOKEN}, {UNK_TOKEN}, {', '.join(self.itos[2:6])}, ...)"

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """The ids of `tokens`; words not in the vocabulary become 1 (unknown)."""
        get = self.stoi.get
        return [get(t, UNK) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The words of `ids`; padding (0) is skipped."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.itos):
                raise ValueError(f"id {i} is outside this vocabulary of {len(self.itos)} ids")
            if i != PAD:
                out.append(self.itos[i])
        return out

    def encode_texts(self, texts: Iterable[str], maxlen: int | None = None, padding: str = "pre",
                     truncating: str = "pre", dtype: Any = "int32") -> np.ndarray:
        """Tokenize, encode and pad `texts` into an `(N, maxlen)` array (0 = padding, 1 = unknown).

        `padding`/`truncating` as in `pad_sequences`: "pre" pads on the left and keeps the last
        `maxlen` tokens, "post" pads on the right and keeps the first.
        """
        return pad_sequences([self.encode(tokenize(t)) for t in texts], maxlen=maxlen, dtype=dtype,
                             padding=padding, truncating=truncating, value=PAD)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (`json.dumps` it) from which `from_json` rebuilds the same vocabulary."""
        return {"format": "lstmkit.Vocabulary/1", "tokenizer": "lstmkit.data.text.tokenize", "pad": PAD,
                "unk": UNK, "words": self.itos[2:]}

    @classmethod
    def from_json(cls, obj: dict[str, Any] | str) -> Vocabulary:
        """The vocabulary `to_json` described (the dict, or its JSON text)."""
        if isinstance(obj, str):
            obj = json.loads(obj)
        if not isinstance(obj, dict) or obj.get("format") != "lstmkit.Vocabulary/1":
            raise ValueError(f"not a saved lstmkit Vocabulary (expected format 'lstmkit.Vocabulary/1'), got "
                             f"{str(obj)[:80]!r}")
        return cls(obj["words"])
