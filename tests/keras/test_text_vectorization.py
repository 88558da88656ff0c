"""TextVectorization, StringLookup and IntegerLookup on Keras 3.15.1 (which needs TensorFlow for them) and on
lstmkit.keras (which does not): the same texts give the same vocabularies and the same outputs.

Expected values are derived from Keras' rules (vocabulary by count high to low, ties by token high to low;
index 0 the mask "", 1 the OOV "[UNK]" in int mode), and the IMDB tests compare both libraries directly on
raw reviews. Keras 3.15.1 on torch returns int64 for multi_hot/count/one_hot where lstmkit returns float32
(what Dense takes), so values are compared, and lstmkit's dtypes are checked on their own."""

from __future__ import annotations

import csv
import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.keras.conftest import keras_with_tensorflow, to_numpy

TEXTS = ["b a c a", "a b", "c", ""]  # counts a 3, b 2, c 2: the b/c tie goes to the higher token, c


@pytest.fixture(params=["keras", "lstmkit"])
def K(request):
    """Keras (skipped without TensorFlow, which its text layers need) or lstmkit.keras."""
    if request.param == "keras":
        return keras_with_tensorflow()
    import lstmkit.keras

    return lstmkit.keras


@pytest.fixture
def keras_and_lstmkit():
    import lstmkit.keras

    return keras_with_tensorflow(), lstmkit.keras


def _is_lstmkit(K) -> bool:
    return K.__name__.startswith("lstmkit")


def _vocab(layer, include_special_tokens=True) -> list:
    """get_vocabulary() as plain Python values (Keras returns np.str_ / np.int64 items)."""
    return [v.item() if isinstance(v, np.generic) else v for v in layer.get_vocabulary(include_special_tokens)]


@pytest.fixture(scope="module")
def imdb_reviews() -> list[str]:
    """300 raw reviews: the first 150 negative and the first 150 positive of the train split."""
    data = os.environ.get("LSTMKIT_DATA_DIR")
    path = Path(data) / "imdb_reviews.csv.gz" if data else None
    if path is None or not path.exists():
        pytest.skip("set LSTMKIT_DATA_DIR to the shared data folder (imdb_reviews.csv.gz)")
    neg, pos = [], []
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            bucket = neg if row["label"] == "0" else pos
            if len(bucket) < 150:
                bucket.append(row["text"])
            if len(pos) == 150:
                break
    return neg + pos


# ----- TextVectorization: vocabulary and int output ---------------------------------------------------
def test_vocabulary_order_and_int_output(K):
    v = K.layers.TextVectorization()
    v.adapt(TEXTS)
    assert _vocab(v) == ["", "[UNK]", "a", "c", "b"]
    assert v.vocabulary_size() == 5
    assert _vocab(v, include_special_tokens=False) == ["a", "c", "b"]
    out = v(["a c d a", "b"])  # unknown "d" is 1; the short row is padded with 0 to the longest
    np.testing.assert_array_equal(to_numpy(out), [[2, 3, 1, 2], [4, 0, 0, 0]])
    assert out.dtype == torch.int64


def test_max_tokens_counts_the_special_tokens(K):
    v = K.layers.TextVectorization(max_tokens=4)
    v.adapt(TEXTS)
    assert _vocab(v) == ["", "[UNK]", "a", "c"]
    np.testing.assert_array_equal(to_numpy(v(["b c"])), [[1, 3]])


@pytest.mark.parametrize(("standardize", "tokens"), [
    ("lower_and_strip_punctuation", ["École", "world", "lété", "hello"]),  # ASCII letters only are lowered
    ("lower", ["École", "world!", "l'été", "hello,"]),
    ("strip_punctuation", ["ÉCOLE", "lété", "WORLD", "Hello"]),  # code points: lower case after upper
    (None, ["ÉCOLE", "l'été", "WORLD!", "Hello,"]),
])
def test_standardize(K, standardize, tokens):
    v = K.layers.TextVectorization(standardize=standardize)
    v.adapt(["Hello, WORLD! ÉCOLE l'été"])  # each token once: the order is the tokens', high to low
    assert _vocab(v, include_special_tokens=False) == tokens


def test_callable_standardize_gets_numpy_strings(K):
    seen = []

    def upper(x):
        seen.append(type(x))
        return np.char.upper(x)

    v = K.layers.TextVectorization(standardize=upper)
    v.adapt(["ab cd", "ab"])
    assert _vocab(v) == ["", "[UNK]", "AB", "CD"]
    assert seen and all(t is np.ndarray for t in seen)


def test_split_on_ascii_whitespace_only(K):
    v = K.layers.TextVectorization(standardize=None)
    v.adapt(["  a\tb\nc\x0bd\x0ce\rf  g\xa0h x\x1cy "])  # U+00A0 and U+001C are not split on (TensorFlow's rule)
    assert sorted(_vocab(v, include_special_tokens=False)) == ["a", "b", "c", "d", "e", "f", "g\xa0h", "x\x1cy"]


def test_split_character_and_none(K):
    chars = K.layers.TextVectorization(split="character", standardize=None)
    chars.adapt(["abca", "été"])  # a and é twice: é (U+00E9) is the higher
    assert _vocab(chars, include_special_tokens=False) == ["é", "a", "t", "c", "b"]
    np.testing.assert_array_equal(to_numpy(chars(["ab", "t"])), [[3, 6], [4, 0]])
    whole = K.layers.TextVectorization(split=None)
    whole.adapt(np.array(["b a", "a b", "c", "A B"]))  # "a b" twice after lowering
    assert _vocab(whole) == ["", "[UNK]", "a b", "c", "b a"]
    np.testing.assert_array_equal(to_numpy(whole(np.array([["a b"], ["z"]]))), [[2], [1]])


def test_ngrams(K):
    v = K.layers.TextVectorization(ngrams=2)
    v.adapt(TEXTS)
    assert _vocab(v) == ["", "[UNK]", "a", "c", "b", "c a", "b a", "a c", "a b"]
    # unigrams first, then bigrams: a c d a | "a c" "c d" "d a"
    np.testing.assert_array_equal(to_numpy(v(["a c d a", "b"])), [[2, 3, 1, 2, 7, 1, 1], [4, 0, 0, 0, 0, 0, 0]])
    only_bigrams = K.layers.TextVectorization(ngrams=(2,))
    only_bigrams.adapt(TEXTS)
    assert _vocab(only_bigrams, include_special_tokens=False) == ["c a", "b a", "a c", "a b"]


@pytest.mark.parametrize(("length", "expected"), [(3, [[2, 3, 1], [4, 0, 0]]), (6, [[2, 3, 1, 2, 0, 0], [4, 0, 0, 0, 0, 0]])])
def test_output_sequence_length_pads_and_cuts_at_the_end(K, length, expected):
    v = K.layers.TextVectorization(output_sequence_length=length, vocabulary=["a", "c", "b"])
    np.testing.assert_array_equal(to_numpy(v(["a c d a", "b"])), expected)
    assert tuple(v.compute_output_shape((None,))) == (None, length)


@pytest.mark.parametrize("batch", [
    ["a c", "b"],
    np.array(["a c", "b"]),
    np.array([["a c"], ["b"]]),
    np.array([b"a c", b"b"]),
    np.array(["a c", "b"], dtype=object),
])
def test_inputs_lists_and_arrays(K, batch):
    v = K.layers.TextVectorization(vocabulary=["a", "c", "b"])
    np.testing.assert_array_equal(to_numpy(v(batch)), [[2, 3], [4, 0]])


# ----- bag-of-words modes -----------------------------------------------------------------------------
def test_multi_hot_and_count(K):
    for mode, expected in (("multi_hot", [[1, 1, 1, 0], [0, 0, 0, 1]]), ("count", [[1, 2, 1, 0], [0, 0, 0, 1]])):
        v = K.layers.TextVectorization(output_mode=mode)
        v.adapt(TEXTS)
        assert _vocab(v) == ["[UNK]", "a", "c", "b"]  # no mask token outside "int"
        out = v(["a c d a", "b"])
        np.testing.assert_array_equal(to_numpy(out), expected)
        assert tuple(v.compute_output_shape((None,))) == (None, 4)
        if _is_lstmkit(K):
            assert out.dtype == torch.float32


def test_pad_to_max_tokens(K):
    v = K.layers.TextVectorization(output_mode="multi_hot", max_tokens=6, pad_to_max_tokens=True)
    v.adapt(TEXTS)
    np.testing.assert_array_equal(to_numpy(v(["b"])), [[0, 0, 0, 1, 0, 0]])
    assert tuple(v.compute_output_shape((None,))) == (None, 6)


def test_tf_idf(K):
    v = K.layers.TextVectorization(output_mode="tf_idf")
    v.adapt(TEXTS)  # 4 documents; a in 2, c in 2, b in 2
    idf = np.log(1 + 4 / (1 + 2))
    expected = np.array([[1 * idf, 2 * idf, 1 * idf, 0], [0, 0, 0, idf]], np.float32)
    torch.testing.assert_close(torch.as_tensor(to_numpy(v(["a c d a", "b"]))), torch.from_numpy(expected))


def test_tf_idf_with_given_weights(K):
    v = K.layers.TextVectorization(output_mode="tf_idf", vocabulary=["a", "b"], idf_weights=[0.5, 1.5])
    out = to_numpy(v(["a a b z"]))  # OOV weight: the mean 1.0
    torch.testing.assert_close(torch.as_tensor(out), torch.tensor([[1.0, 1.0, 1.5]]))
    assert _vocab(v) == ["[UNK]", "a", "b"]


def test_vocabulary_argument_list_and_file(K, tmp_path):
    given = K.layers.TextVectorization(vocabulary=["earth", "wind", "and", "fire"], output_sequence_length=4)
    assert _vocab(given) == ["", "[UNK]", "earth", "wind", "and", "fire"]
    path = tmp_path / "vocab.txt"
    path.write_text("earth\nwind\nand\nfire\n", encoding="utf-8")
    from_file = K.layers.TextVectorization(vocabulary=str(path), output_sequence_length=4)
    batch = ["Fire and wind, moon!"]
    np.testing.assert_array_equal(to_numpy(from_file(batch)), [[5, 4, 3, 1]])
    np.testing.assert_array_equal(to_numpy(given(batch)), [[5, 4, 3, 1]])
    with_specials = K.layers.TextVectorization()
    with_specials.set_vocabulary(["", "[UNK]", "x", "y"])  # leading special tokens are recognised
    assert _vocab(with_specials) == ["", "[UNK]", "x", "y"]
    assert with_specials.vocabulary_size() == 4


# ----- bad input ----------------------------------------------------------------------------------------
def test_bad_arguments_are_refused(K):
    with pytest.raises(ValueError, match="output_mode"):
        K.layers.TextVectorization(output_mode="bag")
    with pytest.raises(ValueError, match="output_sequence_length"):
        K.layers.TextVectorization(output_mode="multi_hot", output_sequence_length=10)
    with pytest.raises(ValueError, match="standardize"):
        K.layers.TextVectorization(standardize="upper")
    with pytest.raises(ValueError, match="repeated"):
        K.layers.TextVectorization(vocabulary=["a", "a"])
    v = K.layers.TextVectorization()
    with pytest.raises(ValueError, match="last shape dimension must be 1"):
        v(np.array([["a", "b"]]))


def test_non_string_input_names_what_came():
    import lstmkit.keras as K

    v = K.layers.TextVectorization(vocabulary=["a"])
    with pytest.raises(ValueError, match=r"expects strings .* got an array of dtype int64"):
        v(np.array([1, 2]))
    with pytest.raises(ValueError, match="got a torch tensor"):
        v(torch.zeros(2))
    with pytest.raises(ValueError, match=r"got int values such as 3"):
        v(["a", 3])
    with pytest.raises(ValueError, match="Cannot adapt layer"):
        v.adapt(["a b"])  # a given vocabulary is static, as in Keras


# ----- adapt on datasets ------------------------------------------------------------------------------
def test_adapt_on_an_iterable_of_batches_equals_adapt_on_the_list(K, imdb_reviews):
    texts = imdb_reviews[:60]
    whole = K.layers.TextVectorization(max_tokens=300, output_mode="tf_idf")
    whole.adapt(texts)

    def batches():
        for i in range(0, len(texts), 16):
            yield np.array(texts[i:i + 16])

    batched = K.layers.TextVectorization(max_tokens=300, output_mode="tf_idf")
    batched.adapt(batches())
    assert _vocab(batched) == _vocab(whole)
    torch.testing.assert_close(torch.as_tensor(to_numpy(batched(texts[:5]))), torch.as_tensor(to_numpy(whole(texts[:5]))))
    steps = K.layers.TextVectorization()
    steps.adapt(batches(), steps=1)  # only the first batch
    first = K.layers.TextVectorization()
    first.adapt(texts[:16])
    assert _vocab(steps) == _vocab(first)


def test_adapt_refuses_x_y_batches_with_the_way_out():
    import lstmkit.keras as K

    v = K.layers.TextVectorization()
    pairs = [(np.array(["a b", "c"]), np.array([0, 1]))]
    with pytest.raises(ValueError, match=r"adapt on the inputs only, e.g. `layer.adapt\(ds.map\(lambda x, y: x\)\)`"):
        v.adapt(iter(pairs))


# ----- IMDB: Keras and lstmkit side by side --------------------------------------------------------------
@pytest.mark.parametrize(("kwargs", "exact"), [
    ({"max_tokens": 2000, "output_sequence_length": 120}, True),
    ({"max_tokens": 3000, "output_mode": "multi_hot", "ngrams": 2}, True),
    ({"max_tokens": 1500, "output_mode": "count"}, True),
    ({"max_tokens": 2500, "output_mode": "tf_idf", "ngrams": 2}, False),
    ({"split": "character", "standardize": "lower", "output_sequence_length": 300}, True),
], ids=["int", "multi_hot-bigrams", "count", "tf_idf-bigrams", "characters"])
def test_imdb_reviews_match_keras(keras_and_lstmkit, imdb_reviews, kwargs, exact):
    keras, lk = keras_and_lstmkit
    ours, theirs = lk.layers.TextVectorization(**kwargs), keras.layers.TextVectorization(**kwargs)
    ours.adapt(imdb_reviews[:250])
    theirs.adapt(np.array(imdb_reviews[:250]))
    assert _vocab(ours) == _vocab(theirs)
    held_out = imdb_reviews[250:]
    got, want = to_numpy(ours(held_out)), to_numpy(theirs(np.array(held_out)))
    assert got.shape == want.shape
    if exact:
        np.testing.assert_array_equal(got, want)
    else:  # float32 idf products; the OOV slot's mean is summed in another order
        torch.testing.assert_close(torch.as_tensor(got), torch.as_tensor(want).float())


def test_imdb_config_matches_keras_keys(keras_and_lstmkit, imdb_reviews):
    keras, lk = keras_and_lstmkit
    ours, theirs = lk.layers.TextVectorization(max_tokens=500), keras.layers.TextVectorization(max_tokens=500)
    for layer in (ours, theirs):
        layer.adapt(imdb_reviews[:50])
    ours_config, theirs_config = ours.get_config(), theirs.get_config()
    assert set(theirs_config) - {"dtype"} <= set(ours_config)
    for key in ("max_tokens", "standardize", "split", "ngrams", "output_mode", "output_sequence_length",
                "pad_to_max_tokens", "vocabulary_size"):
        assert ours_config[key] == theirs_config[key], key


# ----- config, models, saving ----------------------------------------------------------------------------
def test_from_config_restores_the_adapted_vocabulary(imdb_reviews):
    import lstmkit.keras as K

    v = K.layers.TextVectorization(max_tokens=400, output_mode="tf_idf", ngrams=(1, 2))
    v.adapt(imdb_reviews[:80])
    clone = K.layers.TextVectorization.from_config(v.get_config())
    assert clone.get_vocabulary() == v.get_vocabulary()
    torch.testing.assert_close(clone(imdb_reviews[80:90]), v(imdb_reviews[80:90]), rtol=0, atol=0)
    clone.adapt(["a b"])  # an adapted vocabulary stays adaptable after the round trip
    assert clone.get_vocabulary() == ["[UNK]", "b", "a b", "a"]


def test_sequential_model_on_raw_text_and_save_load(tmp_path, imdb_reviews):
    import lstmkit.keras as K

    v = K.layers.TextVectorization(max_tokens=1000, output_sequence_length=50)
    v.adapt(imdb_reviews[:100])
    model = K.Sequential([v, K.layers.Embedding(1000, 8), K.layers.LSTM(4), K.layers.Dense(1)])
    texts = np.array(imdb_reviews[100:104])
    out = model(texts)
    assert tuple(out.shape) == (4, 1)
    embedding, lstm, dense = model.layers[1:]
    by_hand = dense(lstm(embedding(v(texts))))
    torch.testing.assert_close(out, by_hand, rtol=0, atol=0)
    path = tmp_path / "text_model.keras"
    model.save(path)
    loaded = K.models.load_model(path)
    assert loaded.layers[0].get_vocabulary() == v.get_vocabulary()
    torch.testing.assert_close(loaded(list(texts)), out, rtol=0, atol=0)


def test_functional_model_with_a_string_input(tmp_path):
    import lstmkit.keras as K

    v = K.layers.TextVectorization(output_mode="tf_idf")
    v.adapt(TEXTS)
    inputs = K.Input(shape=(1,), dtype="string")
    outputs = K.layers.Dense(2, kernel_initializer="ones")(v(inputs))
    model = K.Model(inputs, outputs)
    raw = np.array([["a c d a"], ["b"]])
    out = model(raw)
    torch.testing.assert_close(out, v(raw).sum(dim=1, keepdim=True).expand(2, 2))
    path = tmp_path / "tf_idf.keras"
    model.save(path)
    torch.testing.assert_close(K.models.load_model(path)(raw), out, rtol=0, atol=0)


def test_other_layers_still_refuse_strings():
    import lstmkit.keras as K

    model = K.Sequential([K.layers.Dense(1)])
    with pytest.raises(ValueError, match="dtype <U"):
        model(np.array([["a"]]))


# ----- StringLookup / IntegerLookup ---------------------------------------------------------------------
def test_string_lookup_modes(K):
    data = np.array([["a", "z"], ["c", "b"]])
    expected = {
        "int": [[1, 0], [2, 3]],
        "one_hot": [[[0, 1, 0, 0], [1, 0, 0, 0]], [[0, 0, 1, 0], [0, 0, 0, 1]]],
        "multi_hot": [[1, 1, 0, 0], [0, 0, 1, 1]],
        "count": [[1, 1, 0, 0], [0, 0, 1, 1]],
    }
    for mode, want in expected.items():
        layer = K.layers.StringLookup(output_mode=mode)
        layer.adapt(["b", "a", "a", "c"])
        assert _vocab(layer) == ["[UNK]", "a", "c", "b"]
        np.testing.assert_array_equal(to_numpy(layer(data)), want)


def test_string_lookup_mask_and_no_oov(K):
    layer = K.layers.StringLookup(vocabulary=["a", "b"], mask_token="")
    assert _vocab(layer) == ["", "[UNK]", "a", "b"]
    np.testing.assert_array_equal(to_numpy(layer(np.array(["", "b", "q"]))), [0, 3, 1])
    strict = K.layers.StringLookup(vocabulary=["a", "b"], num_oov_indices=0)
    np.testing.assert_array_equal(to_numpy(strict(np.array(["b", "a"]))), [1, 0])
    # Keras on torch raises with an empty message; lstmkit says what Keras says on TensorFlow
    with pytest.raises(ValueError if _is_lstmkit(K) else Exception, match="num_oov_indices=0" if _is_lstmkit(K) else None):
        strict(np.array(["q"]))


def test_string_lookup_invert():
    import lstmkit.keras as K

    layer = K.layers.StringLookup(vocabulary=["a", "b"], invert=True, mask_token="")
    np.testing.assert_array_equal(layer(np.array([[0, 1, 2, 3, 9]])), [["", "[UNK]", "a", "b", "[UNK]"]])


def test_integer_lookup(K):
    layer = K.layers.IntegerLookup()
    layer.adapt(np.array([5, 5, 3, 7, 0, -1]))  # -1 is the OOV token, left out of the vocabulary
    assert _vocab(layer) == [-1, 5, 7, 3, 0]
    np.testing.assert_array_equal(to_numpy(layer(np.array([5, 3, 9, -1, 0]))), [1, 3, 0, 0, 4])
    two_oov = K.layers.IntegerLookup(vocabulary=[12, 36], num_oov_indices=2)
    np.testing.assert_array_equal(to_numpy(two_oov(np.array([12, 7, 8, 36]))), [2, 1, 0, 3])  # 7 % 2, 8 % 2
    inverse = K.layers.IntegerLookup(vocabulary=[12, 36, 1138, 42], invert=True)
    np.testing.assert_array_equal(to_numpy(inverse(np.array([0, 1, 2, 5]))), [-1, 12, 36, -1])
    masked = K.layers.IntegerLookup(vocabulary=[12, 36], mask_token=0)
    np.testing.assert_array_equal(to_numpy(masked(np.array([[0, 36, 12, 99]]))), [[0, 3, 2, 1]])


def test_integer_lookup_tf_idf_documents_are_rows(K):
    layer = K.layers.IntegerLookup(output_mode="tf_idf")
    layer.adapt(np.array([[1, 1, 2], [2, 3, 3]]))  # 2 documents: 1 in 1, 2 in 2, 3 in 1
    assert _vocab(layer) == [-1, 3, 2, 1]  # counts 2, 2, 2: ties high to low
    idf1, idf2 = np.log(1 + 2 / 2), np.log(1 + 2 / 3)
    want = np.array([[0, 0, idf2, 2 * idf1]], np.float32)
    torch.testing.assert_close(torch.as_tensor(to_numpy(layer(np.array([[1, 2, 1]])))), torch.from_numpy(want))


def test_lookup_bad_arguments(K):
    with pytest.raises(ValueError, match="output_mode"):
        K.layers.StringLookup(output_mode="bag")
    with pytest.raises(ValueError, match="`output_mode` must be `'int'` when `invert` is true"):
        K.layers.StringLookup(invert=True, output_mode="multi_hot")
    with pytest.raises(ValueError, match="max_tokens"):
        K.layers.IntegerLookup(max_tokens=1)
    with pytest.raises(ValueError, match="num_oov_indices"):
        K.layers.StringLookup(num_oov_indices=-1)


def test_fit_and_predict_on_string_arrays(imdb_reviews):
    import lstmkit.keras as K

    v = K.layers.TextVectorization(max_tokens=500, output_mode="multi_hot")
    v.adapt(imdb_reviews[:100])
    assert tuple(v.compute_output_shape((None, 1))) == (None, v.vocabulary_size())  # what it returns for (N, 1)
    model = K.Sequential([K.Input(shape=(1,), dtype="string"), v, K.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"], device="cpu")
    x = np.array([[t] for t in imdb_reviews[:40] + imdb_reviews[150:190]])  # (80, 1) raw text
    y = np.array([0] * 40 + [1] * 40)
    history = model.fit(x, y, batch_size=16, epochs=2, shuffle=True, validation_split=0.25, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    predicted = model.predict(x[:10], batch_size=4, verbose=0)
    dense = model.layers[-1]
    np.testing.assert_allclose(predicted, to_numpy(dense(v(x[:10]))), rtol=1e-6, atol=1e-7)
    assert model.evaluate(x, y, verbose=0)[0] > 0


def test_lookup_layers_in_a_saved_model(tmp_path):
    import lstmkit.keras as K

    words = K.layers.StringLookup(output_mode="multi_hot", mask_token="")
    words.adapt(np.array([["b", "a"], ["a", ""], ["c", "a"]]))
    assert words.get_vocabulary() == ["[UNK]", "a", "c", "b"]  # the mask token is no index outside "int"
    model = K.Sequential([K.Input(shape=(2,), dtype="string"), words, K.layers.Dense(1)])
    raw = np.array([["a", "q"], ["", "b"]])
    np.testing.assert_array_equal(to_numpy(words(raw)), [[1, 1, 0, 0], [0, 0, 0, 1]])
    path = tmp_path / "lookup.keras"
    model.save(path)
    loaded = K.models.load_model(path)
    assert loaded.layers[0].get_vocabulary() == words.get_vocabulary()
    torch.testing.assert_close(loaded(raw), model(raw), rtol=0, atol=0)
    ids = K.layers.IntegerLookup(max_tokens=3)
    ids.adapt(np.array([7, 7, 7, 4, 4, 9]))
    clone = K.layers.IntegerLookup.from_config(ids.get_config())
    assert clone.get_vocabulary() == ids.get_vocabulary() == [-1, 7, 4]
    np.testing.assert_array_equal(to_numpy(clone(torch.tensor([9, 4, 7]))), [0, 2, 1])


def test_keras_docstring_examples_through_predict(K):
    """The two examples of Keras' TextVectorization docstring, with their printed results. Keras 3.15.1 on torch
    cannot run a model on a NumPy str array ("Invalid dtype: str352"), so there the layer is called alone."""

    def run(model, x):
        return model.predict(x, verbose=0) if _is_lstmkit(K) else to_numpy(model.layers[-1](x))

    adapted = K.layers.TextVectorization(max_tokens=5000, output_mode="int", output_sequence_length=4)
    adapted.adapt(["foo", "bar", "baz"])
    model = K.models.Sequential([K.Input(shape=(1,), dtype="string"), adapted])
    np.testing.assert_array_equal(run(model, np.array([["foo qux bar"], ["qux baz"]])), [[2, 1, 4, 0], [1, 3, 0, 0]])
    given = K.layers.TextVectorization(max_tokens=5000, output_mode="int", output_sequence_length=4,
                                       vocabulary=["earth", "wind", "and", "fire"])
    model = K.models.Sequential([K.Input(shape=(1,), dtype="string"), given])
    np.testing.assert_array_equal(run(model, np.array([["earth wind and also fire"]])), [[2, 3, 4, 1]])


def test_text_dataset_from_directory_adapt_map_and_fit(tmp_path):
    """Deep Learning with Python's chapter 11 workflow: adapt on `ds.map(lambda x, y: x)`, then either map the
    vectorizer over the dataset or put it first in the model and fit on the raw texts."""
    import lstmkit.keras as K

    for label, texts in (("neg", ["bad film", "awful plot, bad"]), ("pos", ["great film", "good fun"])):
        (tmp_path / label).mkdir()
        for i, t in enumerate(texts):
            (tmp_path / label / f"{i}.txt").write_text(t, encoding="utf-8")
    ds = K.utils.text_dataset_from_directory(tmp_path, batch_size=2, shuffle=False, verbose=False)
    v = K.layers.TextVectorization(output_mode="multi_hot")
    v.adapt(ds.map(lambda x, y: x))
    assert v.get_vocabulary() == ["[UNK]", "film", "bad", "plot", "great", "good", "fun", "awful"]
    vectorized = ds.map(lambda x, y: (v(x), y))
    model = K.Sequential([K.Input(shape=(v.vocabulary_size(),)), K.layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", device="cpu")
    model.fit(vectorized, epochs=1, verbose=0)
    raw_model = K.Sequential([v, K.layers.Dense(1, activation="sigmoid")])
    raw_model.compile(loss="binary_crossentropy", device="cpu")
    raw_model.fit(ds, epochs=1, verbose=0)
    raw_model.layers[1].set_weights(model.layers[0].get_weights())
    np.testing.assert_allclose(raw_model.predict(ds, verbose=0), model.predict(vectorized, verbose=0), rtol=1e-6)
    numbers_only = K.Sequential([K.layers.Dense(1)])
    numbers_only.compile(loss="mse", device="cpu")
    with pytest.raises(ValueError, match=r"x holds text .* start the model with a TextVectorization"):
        numbers_only.fit(ds, epochs=1, verbose=0)
