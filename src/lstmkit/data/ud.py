"""Universal Dependencies English Web Treebank r2.16 (EWT): sentences with UPOS and XPOS tags.

    train = load("train")            # 12,544 sentences, 204,577 words
    train[0].words, train[0].upos    # ['Al', '-', 'Zaman', ...], ['PROPN', 'PUNCT', 'PROPN', ...]

Parsed with the `conllu` package. Only syntactic words are kept: multiword-token ranges
(`3-4`, whose parts follow as their own words) and empty nodes (`8.1`) are skipped, as the
treebank's own word counts do. Reads `en_ewt-ud-{split}.conllu.gz` or the plain `.conllu`; a word
line without the 10 tab-separated CoNLL-U columns is an error naming the file and the line.
Annotations CC BY-SA 4.0: cite "Universal Dependencies English Web Treebank v2.16".
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TextIO, cast

import conllu
from conllu.exceptions import ParseException

from lstmkit.data.cache import locate
from lstmkit.data.errors import DataError

SPLITS = ("train", "dev", "test")
UPOS_TAGS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
             "SCONJ", "SYM", "VERB", "X")
_FIELDS = ("id", "form", "lemma", "upos", "xpos")  # the first five CoNLL-U columns are all we read
COLUMNS = 10  # ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC


@dataclass(frozen=True)
class Sentence:
    """One sentence: its id, text and, per syntactic word, the form, UPOS and XPOS (Penn) tags."""

    sent_id: str
    text: str
    words: list[str]
    upos: list[str]
    xpos: list[str]

    def __len__(self) -> int:
        return len(self.words)


class _CheckedLines:
    """The lines of a CoNLL-U file for `conllu.parse_incr`, each word line checked to have the 10 columns
    (`conllu` itself reads a line of two columns as a word with no tags)."""

    def __init__(self, f: IO[str], file: Path) -> None:
        self.f, self.file = f, file

    def read(self, size: int = -1) -> str:  # parse_incr wants a file (it checks for read) and iterates over it
        return self.f.read(size)

    def __iter__(self) -> Iterator[str]:
        for number, line in enumerate(self.f, 1):
            text = line.rstrip("\r\n")
            columns = text.count("\t") + 1
            if columns != COLUMNS and text.strip() and not text.startswith("#"):
                raise DataError(f"{self.file}: line {number} is not a CoNLL-U word line: it has {columns} "
                                f"tab-separated column(s), expected {COLUMNS} (ID FORM LEMMA UPOS XPOS FEATS HEAD "
                                f"DEPREL DEPS MISC); it reads {text[:120]!r}")
            yield line


def load(split: str = "train", path: str | Path | None = None, limit: int | None = None) -> list[Sentence]:
    """The sentences of an EWT split (`train`, `dev` or `test`), or of the CoNLL-U file at `path`.

    `limit` stops after that many sentences (reading stops there too).
    """
    if path is None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
        file = locate(f"en_ewt-ud-{split}.conllu.gz")
    else:
        file = Path(path)
    opener = gzip.open if file.name.endswith(".gz") else open
    sentences: list[Sentence] = []
    try:
        with opener(file, "rt", encoding="utf-8") as f:
            for tokens in conllu.parse_incr(cast(TextIO, _CheckedLines(f, file)), fields=_FIELDS):
                if limit is not None and len(sentences) >= limit:
                    break
                words = [t for t in tokens if isinstance(t["id"], int)]  # ranges and empty nodes have tuple ids
                sentences.append(Sentence(
                    sent_id=tokens.metadata.get("sent_id", str(len(sentences) + 1)),
                    text=tokens.metadata.get("text", ""),
                    words=[t["form"] for t in words],
                    upos=[t["upos"] for t in words],
                    xpos=[t["xpos"] for t in words],
                ))
    except (OSError, EOFError, zlib.error, UnicodeDecodeError, ParseException) as e:
        raise DataError(f"{file} cannot be read as CoNLL-U ({type(e).__name__}: {e}). If it is a data file "
                        f"lstmkit found, delete it and run `lstmkit data fetch {file.name}`, or put a good copy "
                        "there by hand.") from None
    return sentences
