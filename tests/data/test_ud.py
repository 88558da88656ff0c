"""UD English EWT: the treebank's sentence and word counts, its 17 UPOS tags, and the rules for
multiword tokens and empty nodes."""

from __future__ import annotations

import gzip
import re

import pytest

from lstmkit.data import ud
from lstmkit.data.errors import DataError


@pytest.fixture
def real_data(shared_data, monkeypatch):
    monkeypatch.setenv("LSTMKIT_DATA_DIR", str(shared_data))


@pytest.mark.parametrize("split, sentences, words", [
    ("train", 12_544, 204_577), ("dev", 2_001, 25_147), ("test", 2_077, 25_094),
])  # the treebank's stats.xml, as in the shared README
def test_counts(real_data, split, sentences, words):
    data = ud.load(split)
    assert len(data) == sentences
    assert sum(len(s) for s in data) == words
    assert all(len(s.words) == len(s.upos) == len(s.xpos) for s in data)
    if split == "train":
        assert {t for s in data for t in s.upos} == set(ud.UPOS_TAGS)
        assert len({t for s in data for t in s.xpos}) == 49


def test_first_dev_sentence(real_data):
    first = ud.load("dev", limit=1)
    assert len(first) == 1
    s = first[0]
    assert s.text == "From the AP comes this story :"
    assert s.words == ["From", "the", "AP", "comes", "this", "story", ":"]
    assert s.upos == ["ADP", "DET", "PROPN", "VERB", "DET", "NOUN", "PUNCT"]
    assert s.xpos == ["IN", "DT", "NNP", "VBZ", "DT", "NN", ":"]
    assert s.sent_id.endswith("-0001")


SNIPPET = """# sent_id = a-1
# text = I can't go.
1	I	I	PRON	PRP	_	3	nsubj	_	_
2-3	can't	_	_	_	_	_	_	_	_
2	ca	can	AUX	MD	_	4	aux	_	_
3	n't	not	PART	RB	_	4	advmod	_	_
4	go	go	VERB	VB	_	0	root	_	_
4.1	gone	go	VERB	VBN	_	_	_	4:conj	_
5	.	.	PUNCT	.	_	4	punct	_	_

"""


@pytest.mark.parametrize("name", ["s.conllu", "s.conllu.gz"])
def test_ranges_and_empty_nodes_are_skipped(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(gzip.compress(SNIPPET.encode()) if name.endswith(".gz") else SNIPPET.encode())
    [s] = ud.load(path=path)
    assert s.words == ["I", "ca", "n't", "go", "."]
    assert s.upos == ["PRON", "AUX", "PART", "VERB", "PUNCT"]
    assert (s.sent_id, s.text) == ("a-1", "I can't go.")


def test_bad_split_and_broken_file(tmp_path):
    with pytest.raises(ValueError, match="split must be one of train, dev, test, got 'valid'"):
        ud.load("valid")
    path = tmp_path / "cut.conllu.gz"
    path.write_bytes(gzip.compress(SNIPPET.encode() * 50)[:-40])
    with pytest.raises(DataError, match="cannot be read as CoNLL-U"):
        ud.load(path=path)


@pytest.mark.parametrize("bad, columns", [("1\tI", 2), ("1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_", 9),
                                          ("1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_\textra", 11)],
                         ids=["2-columns", "9-columns", "11-columns"])
def test_a_word_line_without_the_ten_columns_is_refused_with_its_line(tmp_path, bad, columns):
    lines = SNIPPET.splitlines()
    lines[2] = bad  # the first word line, line 3 of the file
    path = tmp_path / "bad.conllu"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf"^{re.escape(str(path))}: line 3 is not a CoNLL-U word line: it has "
                                        rf"{columns} tab-separated column\(s\), expected 10 .* it reads "
                                        + re.escape(repr(bad))):
        ud.load(path=path)


def test_windows_line_ends_are_read(tmp_path):
    path = tmp_path / "crlf.conllu"
    path.write_bytes(SNIPPET.replace("\n", "\r\n").encode())
    [s] = ud.load(path=path)
    assert s.upos == ["PRON", "AUX", "PART", "VERB", "PUNCT"]
