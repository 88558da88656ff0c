"""lstmkit's tokenizer and Vocabulary: ids, ordering, limits, padding sides, saving."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lstmkit.data.text import PAD, UNK, Vocabulary, tokenize


@pytest.mark.parametrize("text, tokens", [
    ("I didn't like it.<br /><br />Not at ALL!", ["i", "didn't", "like", "it", "not", "at", "all"]),
    ("O'Brien's film (1999) -- 7/10", ["o'brien's", "film", "1999", "7", "10"]),
    ("Bad<br/>worse<BR>worst", ["bad", "worse", "worst"]),
    ("snake_case and 'quoted'", ["snake", "case", "and", "quoted"]),
    ("Amélie, naïve café", ["amélie", "naïve", "café"]),
    ("", []),
])
def test_tokenize(text, tokens):
    assert tokenize(text) == tokens


def test_build_orders_by_count_then_alphabet_and_reserves_0_and_1():
    vocab = Vocabulary.build([["b", "a", "c", "a"], ["c", "d", "a"]])
    assert vocab.itos == ["<pad>", "<unk>", "a", "c", "b", "d"]  # a x3, c x2, then b and d (x1) alphabetically
    assert (vocab.stoi["<pad>"], vocab.stoi["<unk>"]) == (PAD, UNK) == (0, 1)
    assert len(vocab) == 6 and "a" in vocab and "z" not in vocab


def test_max_tokens_counts_the_reserved_ids_and_min_count_drops_rare_words():
    texts = [["a"] * 5 + ["b"] * 4 + ["c"] * 3 + ["d"]]
    assert Vocabulary.build(texts, max_tokens=4).itos == ["<pad>", "<unk>", "a", "b"]
    assert Vocabulary.build(texts, min_count=3).itos == ["<pad>", "<unk>", "a", "b", "c"]
    with pytest.raises(ValueError, match="max_tokens must be None or at least 2"):
        Vocabulary.build(texts, max_tokens=1)


def test_encode_maps_unknown_words_to_1_and_decode_skips_padding():
    vocab = Vocabulary(["good", "film"])
    assert vocab.encode(["a", "good", "film", "indeed"]) == [UNK, 2, 3, UNK]
    assert vocab.decode([0, 0, 2, 1, 3]) == ["good", "<unk>", "film"]
    with pytest.raises(ValueError, match="id 4 is outside this vocabulary of 4 ids"):
        vocab.decode([4])


def test_a_word_seen_only_outside_the_training_texts_is_unknown():
    train = ["A fine film", "a dull film"]
    vocab = Vocabulary.build(map(tokenize, train))
    x = vocab.encode_texts(["a brilliant film"], maxlen=3)
    np.testing.assert_array_equal(x, [[vocab.stoi["a"], UNK, vocab.stoi["film"]]])


@pytest.mark.parametrize("padding, truncating, expected", [
    ("pre", "pre", [[0, 0, 2, 3], [3, 4, 5, 6]]),
    ("post", "pre", [[2, 3, 0, 0], [3, 4, 5, 6]]),
    ("pre", "post", [[0, 0, 2, 3], [2, 3, 4, 5]]),
    ("post", "post", [[2, 3, 0, 0], [2, 3, 4, 5]]),
])
def test_encode_texts_pads_and_cuts_on_either_side(padding, truncating, expected):
    vocab = Vocabulary(["one", "two", "three", "four", "five"])  # ids 2..6
    x = vocab.encode_texts(["one two", "one two three four five"], maxlen=4, padding=padding, truncating=truncating)
    assert x.dtype == np.int32
    np.testing.assert_array_equal(x, expected)


def test_json_round_trip():
    vocab = Vocabulary.build([tokenize("the cat sat on the mat with the hat")], max_tokens=5)
    again = Vocabulary.from_json(json.dumps(vocab.to_json()))
    assert again.itos == vocab.itos
    assert Vocabulary.from_json(vocab.to_json()).stoi == vocab.stoi
    with pytest.raises(ValueError, match="not a saved lstmkit Vocabulary"):
        Vocabulary.from_json({"words": ["a"]})


def test_reserved_or_repeated_words_are_refused():
    with pytest.raises(ValueError, match="reserved tokens"):
        Vocabulary(["<unk>"])
    with pytest.raises(ValueError, match="must be distinct"):
        Vocabulary(["a", "a"])
