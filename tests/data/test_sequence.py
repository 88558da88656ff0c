"""pad_sequences and to_categorical against Keras 3 itself; timeseries_dataset_from_array against
the windows Keras documents (its own version needs TensorFlow or Grain, absent here)."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit.data.sequence import pad_sequences, timeseries_dataset_from_array, to_categorical


@pytest.fixture(scope="module")
def keras():
    return pytest.importorskip("keras")  # conftest sets KERAS_BACKEND=torch


def _ragged(seed: int, n: int = 40, max_len: int = 12, feature_shape: tuple = ()) -> list:
    rng = np.random.default_rng(seed)
    return [rng.integers(1, 100, size=(int(rng.integers(0, max_len)), *feature_shape)).tolist() for _ in range(n)]


@pytest.mark.parametrize("kwargs", [
    {},
    {"maxlen": 5},
    {"maxlen": 20},
    {"maxlen": 5, "padding": "post"},
    {"maxlen": 5, "truncating": "post"},
    {"maxlen": 7, "padding": "post", "truncating": "post", "value": -1},
    {"dtype": "float32", "value": 0.5},
], ids=lambda k: "-".join(f"{a}={b}" for a, b in k.items()) or "defaults")
def test_pad_sequences_matches_keras(keras, kwargs):
    seqs = _ragged(0)
    expected = keras.utils.pad_sequences(seqs, **kwargs)
    got = pad_sequences(seqs, **kwargs)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_pad_sequences_of_vectors_matches_keras(keras):
    seqs = _ragged(1, feature_shape=(3,))
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=6, dtype="float64"),
                                  keras.utils.pad_sequences(seqs, maxlen=6, dtype="float64"))


def test_pad_sequences_maxlen_0_gives_empty_rows():  # Keras fails here on a non-empty sequence
    assert pad_sequences([[1, 2], []], maxlen=0).shape == (2, 0)


def test_pad_sequences_keras_docstring_examples():
    seqs = [[1], [2, 3], [4, 5, 6]]
    np.testing.assert_array_equal(pad_sequences(seqs), [[0, 0, 1], [0, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(seqs, padding="post"), [[1, 0, 0], [2, 3, 0], [4, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=2), [[0, 1], [2, 3], [5, 6]])
    assert pad_sequences(seqs).dtype == np.int32


@pytest.mark.parametrize("bad, message", [
    ({"padding": "left"}, 'padding must be "pre" or "post"'),
    ({"truncating": "end"}, 'truncating must be "pre" or "post"'),
    ({"value": "x"}, "needs dtype=object"),
    ({"maxlen": -1}, "maxlen must be None or >= 0"),
])
def test_pad_sequences_bad_arguments(bad, message):
    with pytest.raises(ValueError, match=message):
        pad_sequences([[1, 2]], **bad)


def test_pad_sequences_bad_sequences():
    with pytest.raises(ValueError, match="item 1 is int"):
        pad_sequences([[1], 5])
    with pytest.raises(ValueError, match=r"sequence 1 has items of shape \(3,\)"):
        pad_sequences([[[1, 2]], [[1, 2, 3]]])


@pytest.mark.parametrize("y, num_classes", [
    ([0, 1, 2, 3], None),
    ([0, 1, 2, 3], 6),
    ([[1], [0], [2]], None),
    ([[0, 2], [1, 1]], None),
    (np.array([3, 1, 0], dtype=np.int8), 5),
])
def test_to_categorical_matches_keras(keras, y, num_classes):
    expected = keras.utils.to_categorical(y, num_classes)
    got = to_categorical(y, num_classes)
    assert got.dtype == expected.dtype and got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)


def test_to_categorical_refuses_labels_out_of_range():
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\).*from 0 to 3"):
        to_categorical([0, 3], num_classes=3)
    with pytest.raises(ValueError, match="from -1 to 1"):
        to_categorical([-1, 1], num_classes=3)


def test_to_categorical_takes_a_torch_tensor():
    torch = pytest.importorskip("torch")
    np.testing.assert_array_equal(to_categorical(torch.tensor([2, 0])), [[0, 0, 1], [1, 0, 0]])


# --- timeseries_dataset_from_array ----------------------------------------------------------------

def _collect(ds):
    xs, ys = zip(*ds)
    return np.concatenate(xs), np.concatenate(ys)


def test_keras_example_1_strided_and_sampled_windows():
    """Keras' docstring: indices 0..98, sequence_length 10, sampling_rate 2, sequence_stride 3."""
    ds = timeseries_dataset_from_array(np.arange(99), None, sequence_length=10, sampling_rate=2, sequence_stride=3,
                                       batch_size=4)
    x = np.concatenate(list(ds))
    np.testing.assert_array_equal(x[0], np.arange(0, 19, 2))
    np.testing.assert_array_equal(x[1], np.arange(3, 22, 2))
    np.testing.assert_array_equal(x[2], np.arange(6, 25, 2))
    np.testing.assert_array_equal(x[-1], np.arange(78, 97, 2))  # the last 2 points are never reached
    assert len(x) == 27 and len(ds) == 7  # starts 0, 3, ..., 78; 27 windows in batches of 4


def test_keras_example_2_next_step_targets():
    data = np.random.default_rng(0).normal(size=(50, 3))
    ds = timeseries_dataset_from_array(data[:-10], data[10:], sequence_length=10, batch_size=8)
    x, y = _collect(ds)
    np.testing.assert_array_equal(x[0], data[:10])
    np.testing.assert_array_equal(y[0], data[10])
    assert len(x) == 31  # min(40 - 9, 40) windows
    for i in range(len(x)):
        np.testing.assert_array_equal(x[i], data[i : i + 10])
        np.testing.assert_array_equal(y[i], data[i + 10])


def test_start_and_end_index_by_hand():
    data, targets = np.arange(20), np.arange(100, 120)
    ds = timeseries_dataset_from_array(data, targets, sequence_length=3, batch_size=3, start_index=5, end_index=15)
    batches = list(ds)
    assert [len(b[0]) for b in batches] == [3, 3, 2] and len(ds) == 3
    x, y = _collect(batches)
    np.testing.assert_array_equal(x, [[r, r + 1, r + 2] for r in range(5, 13)])  # windows inside rows 5..14
    np.testing.assert_array_equal(y, np.arange(105, 113))  # targets[start] for each window
    x2, y2 = _collect(ds)  # a second pass gives the same batches
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(y2, y)


def test_unbatched_yields_single_windows():
    ds = timeseries_dataset_from_array(np.arange(6), np.arange(6) * 10, sequence_length=2, batch_size=None)
    items = list(ds)
    assert len(ds) == len(items) == 5
    np.testing.assert_array_equal(items[2][0], [2, 3])
    assert items[2][1] == 20


def test_shuffle_uses_keras_seeded_order_then_reshuffles():
    data = np.arange(200)
    ds = timeseries_dataset_from_array(data, data, sequence_length=5, batch_size=16, shuffle=True, seed=7)
    first, _ = _collect(ds)
    order = np.arange(196)
    np.random.RandomState(7).shuffle(order)  # Keras shuffles the start positions with this generator
    np.testing.assert_array_equal(first[:, 0], order)
    second, y = _collect(ds)
    assert not np.array_equal(second[:, 0], first[:, 0])
    np.testing.assert_array_equal(np.sort(second[:, 0]), np.arange(196))
    np.testing.assert_array_equal(y, second[:, 0])  # each window keeps its own target


@pytest.mark.parametrize("kwargs, message", [
    ({"start_index": 10}, r"start_index must be in \[0, 10\)"),
    ({"end_index": 11}, r"end_index must be in \(0, 10\]"),
    ({"start_index": 5, "end_index": 5}, "end_index must be higher than start_index"),
    ({"sampling_rate": 0}, r"sampling_rate must be in \[1, 10\)"),
    ({"sequence_stride": 10}, r"sequence_stride must be in \[1, 10\)"),
    ({"sequence_length": 0}, "sequence_length must be at least 1"),
])
def test_timeseries_bad_arguments(kwargs, message):
    args = {"sequence_length": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        timeseries_dataset_from_array(np.arange(10), None, **args)
