"""Small slices of the real data in $LSTMKIT_DATA_DIR for the program tests (read, never copied)."""

import csv
import gzip
import os
from pathlib import Path

import numpy as np
import pytest


def data_dir() -> Path:
    where = os.environ.get("LSTMKIT_DATA_DIR")
    if not where or not Path(where, "imdb_reviews.csv.gz").is_file():
        pytest.skip("set LSTMKIT_DATA_DIR to the shared data folder (../shared/data)")
    return Path(where)


def reviews(split: str, per_class: int) -> list[tuple[str, int]]:
    """The first `per_class` negative and positive raw reviews of a split, as (text, label) pairs."""
    counts = {0: 0, 1: 0}
    out = []
    with gzip.open(data_dir() / "imdb_reviews.csv.gz", "rt", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            label = int(row["label"])
            if row["split"] == split and counts[label] < per_class:
                counts[label] += 1
                out.append((row["text"], label))
            if counts[0] == counts[1] == per_class:
                return out
    raise ValueError(f"imdb_reviews.csv.gz has fewer than {per_class} reviews per class in {split!r}")


def write_aclimdb(root: Path, per_class: dict[str, int]) -> Path:
    """aclImdb's layout (`<split>/{neg,pos}/<id>_<rating>.txt`) for the first reviews of each split."""
    counts: dict[tuple[str, int], int] = {}
    with gzip.open(data_dir() / "imdb_reviews.csv.gz", "rt", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            key = (row["split"], int(row["label"]))
            if row["split"] in per_class and counts.get(key, 0) < per_class[row["split"]]:
                counts[key] = counts.get(key, 0) + 1
                folder = root / "aclImdb" / row["split"] / ("pos" if key[1] else "neg")
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{row['id']}_{row['rating']}.txt").write_text(row["text"], encoding="utf-8")
    return root / "aclImdb"


def beijing_weather(rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `rows` hours of Beijing's weather: (rows, 4) features DEWP, TEMP, PRES, Iws and TEMP alone."""
    with gzip.open(data_dir() / "beijing_pm25_hourly.csv.gz", "rt", newline="") as f:
        reader = csv.DictReader(f)
        table = [[float(r[k]) for k in ("DEWP", "TEMP", "PRES", "Iws")] for _, r in zip(range(rows), reader)]
    raw = np.array(table)
    return raw, raw[:, 1].copy()


def ewt_pairs(n: int, max_chars: int = 20) -> list[tuple[str, str]]:
    """Short EWT dev sentences and their UPOS tags' first letters ("Thank you ." -> "V P P"): a real stand-in
    for keras-io's English-French pairs, which are not in the data folder."""
    pairs, words, tags = [], [], []
    with gzip.open(data_dir() / "en_ewt-ud-dev.conllu.gz", "rt", encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                sentence = " ".join(words)
                if 3 <= len(sentence) <= max_chars:
                    pairs.append((sentence, " ".join(t[0] for t in tags)))
                    if len(pairs) == n:
                        return pairs
                words, tags = [], []
            elif not line.startswith("#"):
                cols = line.split("\t")
                if "-" not in cols[0] and "." not in cols[0]:
                    words.append(cols[1])
                    tags.append(cols[3])
    raise ValueError(f"en_ewt-ud-dev has fewer than {n} sentences of {max_chars} characters or less")


__all__ = ["beijing_weather", "data_dir", "ewt_pairs", "reviews", "write_aclimdb"]
