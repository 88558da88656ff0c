"""Keras 2's `keras.preprocessing.text` in lstmkit.keras. Keras 3 has no Tokenizer, so the expected values are
derived by hand from Keras 2's rules (keras_preprocessing/text.py): words ranked by count, ties by first
appearance, index 0 never a word, the OOV token at 1, `num_words` keeping indices below it, and the matrix
formulas. `one_hot` hashes with md5 (Keras 2's salted `hash` changed per process)."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

with warnings.catch_warnings():  # the import's DeprecationWarning is tested on its own below
    warnings.simplefilter("ignore", DeprecationWarning)
    text = importlib.import_module("lstmkit.keras.preprocessing.text")

TEXTS = ["The cat sat on the mat.", "The dog sat.", "A cat!"]
# counts the 3, cat 2, sat 2, on 1, mat 1, dog 1, a 1; first seen in that order
WORD_INDEX = {"the": 1, "cat": 2, "sat": 3, "on": 4, "mat": 5, "dog": 6, "a": 7}


def test_import_warns_with_the_keras_3_spelling():
    sys.modules.pop("lstmkit.keras.preprocessing.text")
    with pytest.warns(DeprecationWarning, match=r"keras\.layers\.TextVectorization"):
        again = importlib.import_module("lstmkit.keras.preprocessing.text")
    assert again.Tokenizer.__name__ == "Tokenizer"
    import lstmkit.keras

    assert lstmkit.keras.preprocessing.text is again


def test_text_to_word_sequence():
    assert text.text_to_word_sequence("Hello, World!\tIt's  here.\n") == ["hello", "world", "it's", "here"]
    assert text.text_to_word_sequence("A,B;c", filters=";", lower=False, split=",") == ["A", "B", "c"]


def test_fit_on_texts_ranks_by_count_then_first_appearance():
    tok = text.Tokenizer()
    tok.fit_on_texts(TEXTS)
    assert tok.word_index == WORD_INDEX
    assert tok.index_word == {i: w for w, i in WORD_INDEX.items()}
    assert list(tok.word_counts.items()) == [("the", 3), ("cat", 2), ("sat", 1 + 1), ("on", 1), ("mat", 1),
                                             ("dog", 1), ("a", 1)]
    assert dict(tok.word_docs) == {"the": 2, "cat": 2, "sat": 2, "on": 1, "mat": 1, "dog": 1, "a": 1}
    assert dict(tok.index_docs) == {1: 2, 2: 2, 3: 2, 4: 1, 5: 1, 6: 1, 7: 1}
    assert tok.document_count == 3
    ties = text.Tokenizer()
    ties.fit_on_texts(["zebra apple", "apple zebra"])  # a tie: zebra was seen first, not sorted by letter
    assert ties.word_index == {"zebra": 1, "apple": 2}


def test_texts_to_sequences_num_words_and_oov():
    tok = text.Tokenizer(num_words=4)
    tok.fit_on_texts(TEXTS)
    assert tok.texts_to_sequences(["the cat sat on the mat", "dog unknown"]) == [[1, 2, 3, 1], []]
    oov = text.Tokenizer(num_words=4, oov_token="<OOV>")
    oov.fit_on_texts(TEXTS)
    assert oov.word_index == {"<OOV>": 1, **{w: i + 1 for w, i in WORD_INDEX.items()}}
    # kept: indices < 4 (the 2, cat 3); sat (4), on, mat and the unknown word become 1
    assert oov.texts_to_sequences(["the cat sat on the mat unknown"]) == [[2, 3, 1, 1, 2, 1, 1]]
    assert oov.sequences_to_texts([[2, 3, 4, 99]]) == ["the cat <OOV> <OOV>"]
    plain = text.Tokenizer()
    plain.fit_on_texts(TEXTS)
    assert plain.sequences_to_texts(plain.texts_to_sequences(["The mat, the cat!"])) == ["the mat the cat"]


def test_char_level():
    tok = text.Tokenizer(char_level=True)
    tok.fit_on_texts(["aab", "B a"])  # characters as they are (filters not applied), lowered
    assert tok.word_index == {"a": 1, "b": 2, " ": 3}
    assert tok.texts_to_sequences(["ba!"]) == [[2, 1]]


def test_sequences_to_matrix_modes():
    tok = text.Tokenizer()
    tok.fit_on_texts(TEXTS)  # 3 documents; index_docs 1: 2, 2: 2, 3: 2
    seqs = [[1, 1, 2], [3], []]
    width = len(WORD_INDEX) + 1
    binary = np.zeros((3, width))
    binary[0, [1, 2]] = 1
    binary[1, 3] = 1
    np.testing.assert_array_equal(tok.sequences_to_matrix(seqs, mode="binary"), binary)
    count = binary.copy()
    count[0, 1] = 2
    np.testing.assert_array_equal(tok.sequences_to_matrix(seqs, mode="count"), count)
    freq = np.zeros((3, width))
    freq[0, 1], freq[0, 2], freq[1, 3] = 2 / 3, 1 / 3, 1.0
    np.testing.assert_allclose(tok.sequences_to_matrix(seqs, mode="freq"), freq, rtol=1e-15)
    idf = np.log(1 + 3 / (1 + 2))  # every word here is in 2 of the 3 documents
    tfidf = np.zeros((3, width))
    tfidf[0, 1], tfidf[0, 2], tfidf[1, 3] = (1 + np.log(2)) * idf, idf, idf
    np.testing.assert_allclose(tok.sequences_to_matrix(seqs, mode="tfidf"), tfidf, rtol=1e-15)
    np.testing.assert_array_equal(tok.texts_to_matrix(["the the cat", "sat", ""], mode="count"), count)
    narrow = text.Tokenizer(num_words=3)
    narrow.fit_on_texts(TEXTS)
    np.testing.assert_array_equal(narrow.texts_to_matrix(["the sat cat cat"], mode="count"), [[0, 1, 2]])


def test_fit_on_sequences_counts_documents():
    tok = text.Tokenizer(num_words=5)
    tok.fit_on_sequences([[1, 1, 2], [2, 3]])
    assert tok.document_count == 2
    assert dict(tok.index_docs) == {1: 1, 2: 2, 3: 1}
    expected = np.zeros((1, 5))
    expected[0, 2] = np.log(1 + 2 / (1 + 2))
    np.testing.assert_allclose(tok.sequences_to_matrix([[2]], mode="tfidf"), expected, rtol=1e-15)


def test_to_json_round_trip():
    tok = text.Tokenizer(num_words=5, oov_token="<OOV>")
    tok.fit_on_texts(TEXTS)
    payload = tok.to_json()
    spec = json.loads(payload)
    assert spec["class_name"] == "Tokenizer"
    assert json.loads(spec["config"]["word_index"])["the"] == 2  # Keras 2's layout: dictionaries as JSON strings
    back = text.tokenizer_from_json(payload)
    assert back.word_index == tok.word_index
    assert back.index_word == tok.index_word and all(isinstance(k, int) for k in back.index_word)
    assert list(back.word_counts) == list(tok.word_counts)
    assert back.num_words == 5 and back.oov_token == "<OOV>" and back.document_count == 3
    docs = ["the cat sat", "a dog on a mat"]
    np.testing.assert_array_equal(back.texts_to_matrix(docs, mode="tfidf"), tok.texts_to_matrix(docs, mode="tfidf"))
    with pytest.raises(ValueError, match="not a Tokenizer's JSON"):
        text.tokenizer_from_json('{"class_name": "Tokenizer"}')


def _md5_index(word: str, n: int) -> int:
    return int(hashlib.md5(word.encode()).hexdigest(), 16) % (n - 1) + 1


def test_hashing_trick_and_one_hot():
    words = ["hello", "world", "hello"]
    assert text.hashing_trick("Hello world, hello", 10, hash_function="md5") == [_md5_index(w, 10) for w in words]
    assert text.hashing_trick("Hello world, hello", 10) == [hash(w) % 9 + 1 for w in words]  # Keras 2's default
    assert text.hashing_trick("a b", 7, hash_function=len) == [len("a") % 6 + 1] * 2
    assert text.one_hot("Hello world, hello", 10) == [_md5_index(w, 10) for w in words]
    many = text.one_hot(" ".join(f"w{i}" for i in range(500)), 5)
    assert set(many) == {1, 2, 3, 4}  # 0 is never used: it is left for padding


def test_one_hot_is_the_same_in_every_process_and_import_of_keras_does_not_load_text():
    script = ("import sys, lstmkit.keras as K; print('lstmkit.keras.preprocessing.text' in sys.modules); "
              "from lstmkit.keras.preprocessing.text import one_hot; print(one_hot('The quick brown fox', 1000))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True,
                         timeout=120).stdout.splitlines()
    assert out[0] == "False"
    assert out[1] == str(text.one_hot("The quick brown fox", 1000))


def test_bad_input():
    tok = text.Tokenizer()
    with pytest.raises(ValueError, match="fit on some text data first"):
        tok.sequences_to_matrix([[1]])
    with pytest.raises(ValueError, match="Fit the Tokenizer on some data before using tfidf mode"):
        text.Tokenizer(num_words=3).sequences_to_matrix([[1]], mode="tfidf")
    tok.fit_on_texts(TEXTS)
    with pytest.raises(ValueError, match=r"Unknown vectorization mode: 'onehot'"):
        tok.texts_to_matrix(["the"], mode="onehot")
    with pytest.raises(ValueError, match="takes a list of texts, got one str"):
        tok.fit_on_texts("the cat")
    with pytest.raises(ValueError, match=r"expects texts as str .* got int"):
        tok.texts_to_sequences([3])
    with pytest.raises(ValueError, match="n >= 2"):
        text.hashing_trick("a", 1)
    with pytest.raises(TypeError, match="Unrecognized keyword arguments"):
        text.Tokenizer(num_word=10)
