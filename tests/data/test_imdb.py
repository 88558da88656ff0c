"""IMDB: Keras' load_data on the real file (checked against the book, the shared README and Keras
itself), its procedure against a plain transcription over many arguments, get_word_index, and the
raw-text route from the reviews csv to padded id arrays."""

from __future__ import annotations

import gzip
import io
import itertools
import pickle
import zipfile

import numpy as np
import pytest

from lstmkit.data import imdb
from lstmkit.data.errors import DataError
from lstmkit.data.npz import load_npz
from lstmkit.data.text import UNK, tokenize


@pytest.fixture(scope="module")
def imdb_10000(shared_data):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LSTMKIT_DATA_DIR", str(shared_data))
        return imdb.load_data(num_words=10000)


@pytest.fixture(scope="module")
def reviews(shared_data):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LSTMKIT_DATA_DIR", str(shared_data))
        return imdb.read_reviews()


@pytest.fixture
def real_data(shared_data, monkeypatch):
    monkeypatch.setenv("LSTMKIT_DATA_DIR", str(shared_data))


# --- Keras' word indices ------------------------------------------------------------------------

def test_first_review_as_printed_in_the_book(imdb_10000):
    """Deep Learning with Python, 3.5-classifying-movie-reviews: train_data[0] starts [1, 14, 22, 16, 43, 530,
    973, 1622, 1385, 65, ...], 218 ids, label 1; the shared README gives len(x_train[1]) = 189."""
    (x_train, y_train), (x_test, y_test) = imdb_10000
    assert x_train[0][:10] == [1, 14, 22, 16, 43, 530, 973, 1622, 1385, 65]
    assert (len(x_train[0]), int(y_train[0]), len(x_train[1])) == (218, 1, 189)
    assert len(x_train) == len(x_test) == 25_000
    assert np.bincount(y_train).tolist() == np.bincount(y_test).tolist() == [12_500, 12_500]
    assert x_train.dtype == object and y_train.dtype == np.int64 and type(x_train[0][0]) is int


def test_ids_are_below_num_words_and_lengths_match_the_readme(imdb_10000):
    (x_train, _), (x_test, _) = imdb_10000
    everything = list(itertools.chain.from_iterable(np.concatenate([x_train, x_test])))
    assert max(everything) == 9999 and min(everything) == 1
    lengths = np.array([len(x) for x in np.concatenate([x_train, x_test])])
    assert all(x[0] == 1 for x in x_train)
    assert lengths.mean() == pytest.approx(234.75892)  # README: mean 234.76, std 172.911495 over all 50k
    assert lengths.std() == pytest.approx(172.911495, abs=1e-6)


def test_first_review_decodes_to_its_known_words(imdb_10000, real_data):
    (x_train, _), _ = imdb_10000
    index = imdb.get_word_index()
    assert len(index) == 88_584 and index["the"] == 1
    words = {rank + 3: word for word, rank in index.items()}
    assert " ".join(words.get(i, "?") for i in x_train[0][1:11]) == \
        "this film was just brilliant casting location scenery story direction"


def test_matches_keras_own_load_data_on_the_same_file(shared_data, real_data, monkeypatch):
    kimdb = pytest.importorskip("keras.src.datasets.imdb")
    # Keras would download its own copy (the shared file is a verified rebuild with another hash)
    monkeypatch.setattr(kimdb, "get_file", lambda fname, origin, file_hash: str(shared_data / "imdb.npz"))
    args = {"num_words": 2000, "skip_top": 20, "maxlen": 150, "seed": 7}  # maxlen keeps Keras' part short
    (kx, ky), (kxt, kyt) = kimdb.load_data(**args)
    (x, y), (xt, yt) = imdb.load_data(**args)
    assert len(x) == len(kx) > 1000 and len(xt) == len(kxt) > 1000
    assert all(a == b for a, b in zip(x, kx)) and all(a == b for a, b in zip(xt, kxt))
    np.testing.assert_array_equal(y, ky)
    np.testing.assert_array_equal(yt, kyt)


def keras_procedure(x_train, y_train, x_test, y_test, num_words=None, skip_top=0, maxlen=None, seed=113,
                    start_char=1, oov_char=2, index_from=3):
    """The steps of keras.datasets.imdb.load_data written out plainly, one list at a time."""
    rng = np.random.RandomState(seed)
    out = []
    for x, y in ((x_train, y_train), (x_test, y_test)):
        order = np.arange(len(x))
        rng.shuffle(order)
        seqs = [([start_char] if start_char is not None else []) + [w + index_from for w in x[i]] for i in order]
        labels = list(np.asarray(y)[order])
        if maxlen:
            kept = [(s, lab) for s, lab in zip(seqs, labels) if len(s) < maxlen]
            seqs, labels = [s for s, _ in kept], [lab for _, lab in kept]
        out.append((seqs, labels))
    if not num_words:
        num_words = max(max(s) for seqs, _ in out for s in seqs)
    result = []
    for seqs, labels in out:
        if oov_char is not None:
            seqs = [[w if skip_top <= w < num_words else oov_char for w in s] for s in seqs]
        else:
            seqs = [[w for w in s if skip_top <= w < num_words] for s in seqs]
        result.append((seqs, labels))
    return result


@pytest.fixture(scope="module")
def small_ranks():
    rng = np.random.default_rng(3)

    def split(n):
        x = np.empty(n, dtype=object)
        for i in range(n):
            x[i] = rng.integers(1, 60, size=int(rng.integers(1, 15))).tolist()
        return x, rng.integers(0, 2, size=n)

    return (*split(40), *split(30))


@pytest.mark.parametrize("kwargs", [
    {},
    {"num_words": 20},
    {"num_words": 20, "skip_top": 6},
    {"num_words": 20, "oov_char": None},
    {"skip_top": 10, "oov_char": None, "maxlen": 9},
    {"maxlen": 8, "seed": 5},
    {"start_char": None, "index_from": 0, "num_words": 30},
    {"start_char": None, "index_from": 2},
    {"start_char": 7, "oov_char": 9, "index_from": 10, "num_words": 50},
], ids=lambda k: "-".join(f"{a}={b}" for a, b in k.items()) or "defaults")
def test_procedure_matches_a_plain_transcription_of_keras(small_ranks, kwargs):
    expected = keras_procedure(*small_ranks, **kwargs)
    args = {"num_words": None, "skip_top": 0, "maxlen": None, "seed": 113, "start_char": 1, "oov_char": 2,
            "index_from": 3, **kwargs}
    got = imdb._prepare(*small_ranks, **args)
    for (x, y), (ex, ey) in zip(got, expected):
        assert [list(s) for s in x] == ex
        assert y.tolist() == [int(v) for v in ey]


def test_num_words_none_treats_the_largest_id_as_out_of_range(small_ranks):
    (x, _), (xt, _) = imdb._prepare(*small_ranks, num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1,
                                    oov_char=2, index_from=3)
    largest = max(max(s) for s in small_ranks[0].tolist() + small_ranks[2].tolist()) + 3
    assert largest not in set(itertools.chain(*x, *xt))  # Keras' quirk, kept for exact parity


def test_maxlen_that_keeps_nothing_is_a_clear_error(small_ranks):
    with pytest.raises(ValueError, match=r"no sequence was kept\. Increase maxlen"):
        imdb._prepare(*small_ranks, num_words=None, skip_top=0, maxlen=1, seed=113, start_char=1, oov_char=2,
                      index_from=3)


def test_npz_reader_refuses_code_in_the_pickle(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("this must not run",))

    payload = np.empty(1, dtype=object)
    payload[0] = Evil()
    path = tmp_path / "evil.npz"
    np.savez(path, x_train=payload)
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load builtins\.print"):
        load_npz(path)
    with pytest.raises(DataError, match="cannot be read as the IMDB arrays"):
        imdb.load_data(path=str(path))


def test_npz_reader_reads_plain_and_object_arrays(tmp_path):
    ragged = np.empty(2, dtype=object)
    ragged[0], ragged[1] = [1, 2, 3], [4]
    path = tmp_path / "a.npz"
    np.savez(path, x=ragged, y=np.arange(6, dtype=np.int16).reshape(2, 3), f=np.asfortranarray(np.eye(3)[:, :2]))
    arrays = load_npz(path)
    assert arrays["x"].tolist() == [[1, 2, 3], [4]]
    np.testing.assert_array_equal(arrays["y"], np.arange(6).reshape(2, 3))
    assert arrays["y"].dtype == np.int16
    np.testing.assert_array_equal(arrays["f"], np.eye(3)[:, :2])


def test_a_truncated_npz_is_a_data_error(tmp_path):
    path = tmp_path / "imdb_cut.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("x_train.npy", b"\x93NUMPY")
    with pytest.raises(DataError) as e:
        imdb.load_data(path=str(path))
    assert str(path) in str(e.value) and "lstmkit data fetch imdb.npz" in str(e.value)


def test_another_path_that_does_not_exist_is_a_data_error(empty_data_dir):
    with pytest.raises(DataError, match=r"nothere\.npz was not found"):
        imdb.load_data(path="nothere.npz")


# --- raw text ------------------------------------------------------------------------------------

def test_reviews_csv_counts_and_labels(reviews):
    train, test = reviews
    for split in (train, test):
        assert len(split) == 25_000
        assert np.bincount(split.labels).tolist() == [12_500, 12_500]
        assert (split.ratings[split.labels == 0] <= 4).all() and (split.ratings[split.labels == 1] >= 7).all()
        assert (np.diff(split.labels) >= 0).all()  # file order: negative reviews, then positive
    assert train.texts[0].startswith("Story of a man who has unnatural feelings for a pig.")


def test_reviews_tokenize_without_markup(reviews):
    train, _ = reviews
    sample = train.take(np.arange(0, 25_000, 250))
    tokens = [tokenize(t) for t in sample.texts]
    assert sum("<br />" in t for t in sample.texts) > 20
    assert not any(w in ("br", "<br", "/>") for ts in tokens for w in ts)


def test_encode_reviews_end_to_end_on_a_sample(reviews):
    train, test = (s.take(np.r_[0:150, 12_500:12_650]) for s in reviews)  # 150 negative + 150 positive each
    (x, y), (xt, _), vocab = imdb.encode_reviews(train, test, max_tokens=800, maxlen=60, seed=113)
    assert x.shape == (300, 60) and xt.shape == (300, 60) and x.dtype == np.int32
    assert len(vocab) == 800 and x.max() < 800 and xt.max() < 800
    assert np.bincount(y).tolist() == [150, 150] and len(set(y[:20].tolist())) == 2  # shuffled: both classes early
    # each row is the last 60 tokens of its review (pre-truncation), left-padded with 0
    order = np.random.RandomState(113).permutation(300)
    for row, i in zip(x[:25], order[:25]):
        expected = [w if w in vocab else "<unk>" for w in tokenize(train.texts[i])][-60:]
        assert vocab.decode(row) == expected
        assert (row[: 60 - len(expected)] == 0).all()
    # the vocabulary comes from the training reviews only
    train_words = {w for t in train.texts for w in tokenize(t)}
    assert set(vocab.itos[2:]) <= train_words
    test_only = [w for t in test.texts for w in tokenize(t) if w not in train_words]
    assert test_only and all(vocab.encode([w]) == [UNK] for w in test_only)


def test_load_text_data_from_a_small_csv(tmp_path, reviews):
    train, test = reviews
    picked = [("train", train, i) for i in (0, 1, 12_500, 12_501)] + [("test", test, i) for i in (0, 12_500)]
    lines = ["split,label,rating,id,text"]
    for split, r, i in picked:
        text = r.texts[i].replace('"', '""')
        lines.append(f'{split},{r.labels[i]},{r.ratings[i]},{r.ids[i]},"{text}"')
    path = tmp_path / "small.csv.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    (x, y), (xt, yt), vocab = imdb.load_text_data(max_tokens=None, maxlen=40, padding="post", seed=None, path=path)
    assert x.shape == (4, 40) and xt.shape == (2, 40)
    assert y.tolist() == [0, 0, 1, 1] and yt.tolist() == [0, 1]
    assert vocab.decode(x[0]) == tokenize(train.texts[0])[-40:]
    assert (x[x.shape[0] - 1] != 0).sum() == min(40, len(tokenize(train.texts[12_501])))  # padded on the right


def test_a_csv_with_other_columns_is_a_data_error(tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("text,label\nhello,1\n")
    with pytest.raises(DataError, match=r"its header is \['text', 'label'\]"):
        imdb.read_reviews(path)
    path.write_bytes(gzip.compress(io.BytesIO(b"x" * 1000).getvalue())[:30])
    with pytest.raises(DataError, match="cannot be read as the IMDB reviews"):
        imdb.read_reviews(path.rename(tmp_path / "cut.csv.gz"))
