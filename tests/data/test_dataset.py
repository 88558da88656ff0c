"""lstmkit.data.dataset.Dataset: tf.data's transformations (values, order, cardinality, errors) on NumPy, and the
timeseries dataset of `timeseries_dataset_from_array` with the same methods. TensorFlow is not installed, so the
expected values follow tf.data's documented rules, worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit.data.dataset import INFINITE, UNKNOWN, Array, Dataset
from lstmkit.data.sequence import TimeseriesDataset, timeseries_dataset_from_array


def pairs(n=10):
    return Dataset.from_tensor_slices((np.arange(n), np.arange(n) * 10))


def test_batch_stacks_rows_and_keeps_a_smaller_last_batch():
    batches = list(pairs().batch(4))
    assert [b[0].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [b[1].tolist() for b in batches] == [[0, 10, 20, 30], [40, 50, 60, 70], [80, 90]]
    assert len(pairs().batch(4)) == 3 and int(pairs().batch(4).cardinality()) == 3
    dropped = pairs().batch(4, drop_remainder=True)
    assert [b[0].tolist() for b in dropped] == [[0, 1, 2, 3], [4, 5, 6, 7]] and len(dropped) == 2


def test_batch_elements_answer_numpy_like_eager_tensors():
    x, y = next(iter(pairs().batch(3)))
    assert isinstance(x, Array) and type(x.numpy()) is np.ndarray
    np.testing.assert_array_equal(y.numpy(), [0, 10, 20])
    assert pairs().batch(3).cardinality().numpy() == 4
    texts = next(iter(Dataset.from_tensor_slices(np.array(["a b", "c"])).batch(2)))
    assert texts.dtype.kind == "U" and texts.numpy().tolist() == ["a b", "c"]


def test_map_unpacks_a_tuple_element_and_passes_any_other_whole():
    assert [b.tolist() for b in pairs().batch(5).map(lambda x, y: x + y)] == [[0, 11, 22, 33, 44], [55, 66, 77, 88, 99]]
    dicts = Dataset.from_tensor_slices({"a": np.arange(3), "b": np.arange(3) + 5})
    assert [int(d["a"] + d["b"]) for d in dicts] == [5, 7, 9]
    swapped = list(pairs(2).map(lambda x, y: [y, x]))  # a list returned becomes a tuple, as in tf.data
    assert [(int(a), int(b)) for a, b in swapped] == [(0, 0), (10, 1)]
    assert len(pairs().map(lambda x, y: x)) == 10


def test_unbatch_inverts_batch_and_makes_the_length_unknown():
    rows = list(pairs(7).batch(3).unbatch())
    assert [(int(x), int(y)) for x, y in rows] == [(i, 10 * i) for i in range(7)]
    assert rows[0][0].numpy() == 0  # a number row is a 0-d array with .numpy()
    assert int(pairs(7).batch(3).unbatch().cardinality()) == UNKNOWN
    with pytest.raises(TypeError, match=r"The dataset length is unknown\."):
        len(pairs(7).batch(3).unbatch())


def test_take_and_skip():
    assert [int(x) for x, _ in pairs().take(3)] == [0, 1, 2] and len(pairs().take(3)) == 3
    assert [int(x) for x, _ in pairs().skip(7)] == [7, 8, 9] and len(pairs().skip(7)) == 3
    assert len(pairs().take(-1)) == 10 and len(pairs().skip(-1)) == 0 and list(pairs().skip(-1)) == []
    assert len(pairs().take(50)) == 10 and len(pairs().skip(50)) == 0
    assert [b[0].tolist() for b in pairs().batch(4).skip(1).take(1)] == [[4, 5, 6, 7]]


def test_repeat_and_filter_cardinalities():
    assert [int(x) for x, _ in pairs(3).repeat(2)] == [0, 1, 2, 0, 1, 2] and len(pairs(3).repeat(2)) == 6
    forever = pairs(3).repeat()
    assert int(forever.cardinality()) == INFINITE and len(forever.take(7)) == 7
    assert [int(x) for x, _ in forever.take(7)] == [0, 1, 2, 0, 1, 2, 0]
    with pytest.raises(TypeError, match=r"The dataset is infinite\."):
        len(forever)
    even = pairs().filter(lambda x, y: x % 2 == 0)
    assert [int(x) for x, _ in even] == [0, 2, 4, 6, 8] and int(even.cardinality()) == UNKNOWN


def test_shuffle_draws_from_a_buffer_of_the_given_size():
    n, buffer = 40, 5
    firsts = set()
    for seed in range(10):
        order = [int(x) for x, _ in pairs(n).shuffle(buffer, seed=seed)]
        assert sorted(order) == list(range(n))
        # with a buffer of b, the i-th element out was among the first i + b in
        assert all(v < i + buffer for i, v in enumerate(order)), (seed, order)
        assert order[: n - buffer] != sorted(order[: n - buffer])  # drawn at random while the buffer refills too
        firsts.add(order[0])
    assert len(firsts) >= 3 and firsts <= set(range(buffer))  # the first one out: any of the first b in
    assert [int(x) for x, _ in pairs(n).shuffle(1, seed=3)] == list(range(n))  # a buffer of one changes nothing
    full = [int(x) for x, _ in pairs(n).shuffle(n, seed=3)]
    assert full != list(range(n)) and max(full[:5]) >= buffer  # a full buffer reaches past the first few


def test_shuffle_with_a_seed_repeats_its_orders_and_reshuffles_per_pass():
    def passes(ds, k=3):
        return [[int(x) for x, _ in ds] for _ in range(k)]

    first = passes(pairs(30).shuffle(30, seed=7))
    assert first == passes(pairs(30).shuffle(30, seed=7))  # a new dataset with the same seed: the same orders
    assert first[0] != first[1] != first[2]  # reshuffle_each_iteration=True: each pass its own order
    assert passes(pairs(30).shuffle(30, seed=8)) != first
    fixed = passes(pairs(30).shuffle(30, seed=7, reshuffle_each_iteration=False))
    assert fixed[0] == fixed[1] == fixed[2] == first[0]


def test_cache_replays_the_first_pass():
    calls = []

    def record(x, y):
        calls.append(int(x))
        return x, y

    cached = pairs(6).map(record).shuffle(6, seed=1).cache()
    first, second = [int(x) for x, _ in cached], [int(x) for x, _ in cached]
    assert first == second and sorted(first) == list(range(6)) and len(calls) == 6
    assert len(cached) == 6
    with pytest.raises(ValueError, match="in memory only"):
        pairs().cache("somewhere.cache")


def test_prefetch_is_the_same_dataset():
    ds = pairs().batch(3)
    assert ds.prefetch(2) is ds and ds.prefetch(-1) is ds


def test_bad_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match=r"batch_size must be an integer >= 1, got 0"):
        pairs().batch(0)
    with pytest.raises(ValueError, match=r"take\(count\) must be an integer >= -1, got '3'"):
        pairs().take("3")
    with pytest.raises(TypeError, match="map\\(\\) needs a function, got int"):
        pairs().map(3)
    with pytest.raises(ValueError, match=r"different first-axis lengths \[2, 3\]"):
        Dataset.from_tensor_slices((np.arange(3), np.arange(2)))
    ragged = Dataset.from_generator(lambda: iter([np.zeros(2), np.zeros(3)]))
    with pytest.raises(ValueError, match=r"different shapes \[\(2,\), \(3,\)\]"):
        list(ragged.batch(2))


def test_from_generator_calls_the_generator_for_every_pass():
    ds = Dataset.from_generator(lambda: ((np.full(2, i), i) for i in range(3)))
    assert [b[1].tolist() for b in ds.batch(2)] == [[0, 1], [2]] == [b[1].tolist() for b in ds.batch(2)]
    assert int(ds.cardinality()) == UNKNOWN


# ----- the timeseries dataset is one of them ---------------------------------------------------------------------
def series():
    data = np.arange(40, dtype=np.float32).reshape(20, 2)
    return timeseries_dataset_from_array(data, np.arange(20), sequence_length=3, batch_size=4)


def test_timeseries_dataset_has_the_dataset_methods():
    ds = series()
    assert isinstance(ds, TimeseriesDataset) and isinstance(ds, Dataset)
    all_batches = list(ds)
    assert len(ds) == 5 == int(ds.cardinality()) and len(all_batches) == 5  # 18 windows in batches of 4
    taken = list(ds.take(2))
    assert len(ds.take(2)) == 2
    for (x, y), (ex, ey) in zip(taken, all_batches[:2]):
        np.testing.assert_array_equal(x.numpy(), ex)
        np.testing.assert_array_equal(y.numpy(), ey)
    x0, y0 = all_batches[0]
    assert x0.shape == (4, 3, 2) and y0.tolist() == [0, 1, 2, 3]
    np.testing.assert_array_equal(x0[1], [[2, 3], [4, 5], [6, 7]])  # the window starting at row 1
    assert [int(y) for _, y in ds.unbatch()] == list(range(18))
    assert [b.tolist() for b in ds.skip(4).map(lambda x, y: y)] == [[16, 17]]
    assert [b.shape for b in ds.unbatch().map(lambda x, y: x).batch(10)] == [(10, 3, 2), (8, 3, 2)]


def test_fit_takes_the_derived_datasets():
    import lstmkit.keras as keras

    class Count(keras.callbacks.Callback):
        batches = 0

        def on_train_batch_end(self, batch, logs=None):
            Count.batches += 1

    keras.utils.set_random_seed(0)
    # no recurrent layer: the data tests' empty cache folder would have the CPU kernel compiled again (18 s)
    model = keras.Sequential([keras.Input(shape=(3, 2)), keras.layers.Flatten(), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    scaled = series().map(lambda x, y: (x / 40.0, y.astype("float32") / 20.0))
    history = model.fit(scaled.take(3), validation_data=scaled.skip(3), epochs=2, verbose=0, callbacks=[Count()])
    assert Count.batches == 6 and len(history.history["val_loss"]) == 2  # 3 batches per epoch
    assert model.evaluate(scaled.skip(3), verbose=0) == history.history["val_loss"][1]
    assert model.predict(scaled.unbatch().map(lambda x, y: x).batch(7), verbose=0).shape == (18, 1)
