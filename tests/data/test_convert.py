"""Archives into the files lstmkit reads: aclImdb reviews into the csv (byte for byte as the shared
file), and a member out of a zip."""

from __future__ import annotations

import csv
import gzip
import io
import zipfile

import pytest

from lstmkit.data.convert import aclimdb_to_csv, extract_member
from lstmkit.data.errors import DataError
from tests.data.samples import aclimdb_tar


@pytest.fixture(scope="module")
def shared_csv_lines(shared_data) -> list[bytes]:
    return gzip.decompress((shared_data / "imdb_reviews.csv.gz").read_bytes()).split(b"\n")


def test_aclimdb_reviews_become_the_shared_csv_lines(shared_csv_lines, tmp_path):
    header, rows = shared_csv_lines[0], shared_csv_lines[1:]
    # rows of every split and label, with and without quoting, ids 9 and 10 of train-neg (numeric order)
    picked = [rows[i] for i in (9, 10, 27, 56, 12_500, 12_511, 25_000, 25_004, 37_500, 49_999)]
    reviews = []
    for line in picked:
        split, label, rating, review_id, text = next(csv.reader(io.StringIO(line.decode("utf-8"))))
        reviews.append((split, "pos" if label == "1" else "neg", int(review_id), int(rating), text))
    reviews.reverse()  # the archive's order must not matter
    archive = tmp_path / "aclImdb_v1.tar.gz"
    archive.write_bytes(aclimdb_tar(reviews, extra={"aclImdb/train/unsup/0_0.txt": "no label",
                                                    "aclImdb/train/labeledBow.feat": "1:1"}))
    out = aclimdb_to_csv(archive, tmp_path / "imdb_reviews.csv")
    assert out.parent == tmp_path and out.name != "imdb_reviews.csv"  # a temp file; the caller moves it
    assert out.read_bytes() == b"\n".join([header, *picked]) + b"\n"


def test_a_broken_archive_is_a_data_error(tmp_path):
    archive = tmp_path / "aclImdb_v1.tar.gz"
    archive.write_bytes(aclimdb_tar([("train", "pos", 1, 8, "x" * 5000)])[:-300])
    with pytest.raises(DataError, match=r"not a readable aclImdb_v1\.tar\.gz"):
        aclimdb_to_csv(archive, tmp_path / "imdb_reviews.csv")
    assert [p.name for p in tmp_path.iterdir()] == ["aclImdb_v1.tar.gz"]


def test_extract_member_finds_it_in_a_folder_and_skips_macos_copies(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("__MACOSX/data/._jena.csv", b"resource fork")
        z.writestr("data/jena.csv", b"the data")
    out = extract_member(archive, "jena.csv", tmp_path / "jena.csv")
    assert out.read_bytes() == b"the data"


def test_extract_member_names_what_the_zip_holds(tmp_path):
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("other.csv", b"x")
    with pytest.raises(DataError, match=r"holds no jena.csv \(it has: other.csv\)"):
        extract_member(archive, "jena.csv", tmp_path / "jena.csv")
