"""`Dataset`: the part of `tf.data.Dataset` that Keras programs use, on NumPy, with no TensorFlow.

A Dataset is a recipe for a stream of elements that can be run again (each `for` over it is a new
pass, as each epoch of `fit` is). An element is an array, or a tuple / dict of arrays (the
`(x, y)` of a batch). The transformations return new Datasets and run nothing until iterated:

    map(fn)          fn(*element) for a tuple element (as tf.data unpacks it), else fn(element)
    batch(n)         n elements stacked into arrays (the last batch smaller unless drop_remainder)
    unbatch()        the rows of each batch, one by one
    take(n) skip(n)  the first n elements / all but them (n = -1: all / none)
    shuffle(b, seed) a buffer of b elements drawn from at random, as tf.data: b >= the length is a
                     full shuffle; with reshuffle_each_iteration every pass has its own order
    cache()          the first full pass kept in memory and replayed
    prefetch(n)      nothing to do here (no background pipeline): the same elements
    repeat(n), filter(pred), as_numpy_iterator()

Arrays in the elements are `Array`s, NumPy arrays that also answer `.numpy()` (as an eager
`tf.Tensor` does), so `for x, y in ds: x.numpy()` runs unchanged. `len(ds)` and `ds.cardinality()`
follow tf.data: the number of elements when it is known, `INFINITE` (-1) after `repeat()`,
`UNKNOWN` (-2) after `filter` / `unbatch`, where `len()` raises TypeError.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

INFINITE = -1
UNKNOWN = -2


class Array(np.ndarray):
    """A NumPy array with `.numpy()` (itself as a plain ndarray), for code written against eager tf.Tensors."""

    def numpy(self) -> np.ndarray:
        return np.asarray(self)


def as_array(value: Any) -> Any:
    """`value` (an array-like, or a torch tensor) as an `Array`; a str or bytes scalar stays as it is."""
    if isinstance(value, Array):
        return value
    if hasattr(value, "detach"):  # a torch tensor (what a Keras layer inside map() returns)
        value = value.detach().cpu().numpy()
    if isinstance(value, (str, bytes)):
        return value
    return np.asarray(value).view(Array)


def map_leaves(fn: Callable[[Any], Any], element: Any) -> Any:
    """`fn` on every array of an element (a tuple, a dict or one array)."""
    if isinstance(element, tuple):
        return tuple(map_leaves(fn, e) for e in element)
    if isinstance(element, dict):
        return {k: map_leaves(fn, v) for k, v in element.items()}
    return fn(element)


def _leaves(element: Any) -> list[Any]:
    if isinstance(element, tuple):
        return [leaf for e in element for leaf in _leaves(e)]
    if isinstance(element, dict):
        return [leaf for v in element.values() for leaf in _leaves(v)]
    return [element]


def _structure(element: Any) -> Any:
    """The shape of the nesting, to check that all elements of a batch agree."""
    if isinstance(element, tuple):
        return tuple(_structure(e) for e in element)
    if isinstance(element, dict):
        return {k: _structure(v) for k, v in element.items()}
    return None


def _rebuild(structure: Any, leaves: Iterator[Any]) -> Any:
    if isinstance(structure, tuple):
        return tuple(_rebuild(s, leaves) for s in structure)
    if isinstance(structure, dict):
        return {k: _rebuild(s, leaves) for k, s in structure.items()}
    return next(leaves)


def _stack(elements: list[Any]) -> Any:
    """Elements of one structure stacked leaf by leaf into arrays with a new first axis."""
    structure = _structure(elements[0])
    columns: list[list[Any]] = [[] for _ in _leaves(elements[0])]
    for i, element in enumerate(elements):
        if _structure(element) != structure:
            raise ValueError(f"batch(): element {i} of a batch is structured as {_structure(element)!r}, the first "
                             f"as {structure!r}; all elements must have the same structure")
        for column, leaf in zip(columns, _leaves(element)):
            column.append(leaf.detach().cpu().numpy() if hasattr(leaf, "detach") else leaf)
    stacked = []
    for column in columns:
        shapes = {np.shape(v) for v in column}
        if len(shapes) > 1:
            raise ValueError(f"batch(): the elements of a batch have different shapes {sorted(shapes)}; batch needs "
                             "one shape (pad or cut them to one length first)")
        stacked.append(np.asarray(column).view(Array))  # str elements give an array of str
    return _rebuild(structure, iter(stacked))


def _rows(batch: Any) -> Iterator[Any]:
    """The rows (first-axis slices) of a batched element, one element each."""
    leaves = [as_array(leaf) for leaf in _leaves(batch)]
    if any(np.ndim(leaf) == 0 for leaf in leaves):
        raise ValueError("unbatch(): every array of an element needs a batch axis; got a scalar")
    sizes = {len(leaf) for leaf in leaves}
    if len(sizes) > 1:
        raise ValueError(f"unbatch(): the arrays of one element have different batch sizes {sorted(sizes)}")
    structure = _structure(batch)
    for i in range(sizes.pop() if sizes else 0):
        yield _rebuild(structure, iter([as_array(leaf[i]) for leaf in leaves]))  # a number row: a 0-d Array


def _check_count(value: Any, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class Dataset:
    """A re-iterable stream of elements with tf.data's transformations (see the module docstring).

    `Dataset(make_iterator, cardinality)`: `make_iterator()` starts one pass. Most code gets one from
    `Dataset.from_tensor_slices`, `text_dataset_from_directory` or `timeseries_dataset_from_array`.
    """

    class_names: list[str] | None = None

    def __init__(self, make_iterator: Callable[[], Iterator[Any]], cardinality: int = UNKNOWN) -> None:
        self._make_iterator = make_iterator
        self._cardinality = int(cardinality)

    # ----- sources ----------------------------------------------------------------------------------
    @classmethod
    def from_tensor_slices(cls, tensors: Any) -> Dataset:
        """The rows of `tensors` (an array, or a tuple / dict of arrays with one first-axis length)."""
        if isinstance(tensors, list):
            tensors = np.asarray(tensors)
        arrays = map_leaves(as_array, tensors)
        leaves = _leaves(arrays)
        if any(np.ndim(leaf) == 0 for leaf in leaves):
            raise ValueError("from_tensor_slices: every array needs a first axis to slice; got a scalar")
        sizes = {len(leaf) for leaf in leaves}
        if len(sizes) > 1:
            raise ValueError(f"from_tensor_slices: the arrays have different first-axis lengths {sorted(sizes)}")
        return Dataset(lambda: _rows(arrays), sizes.pop())

    @classmethod
    def from_generator(cls, generator: Callable[[], Iterable[Any]]) -> Dataset:
        """The elements `generator()` yields, its arrays made `Array`s; called again for every pass."""
        return Dataset(lambda: (map_leaves(as_array, e) for e in generator()), UNKNOWN)

    # ----- sizes ------------------------------------------------------------------------------------
    def _size(self) -> int:
        return self._cardinality

    def cardinality(self) -> Array:
        """The number of elements, `INFINITE` (-1) or `UNKNOWN` (-2), as a 0-d array (`.numpy()` works)."""
        return np.asarray(self._size(), dtype=np.int64).view(Array)

    def __len__(self) -> int:
        size = self._size()
        if size == INFINITE:
            raise TypeError("The dataset is infinite.")
        if size == UNKNOWN:
            raise TypeError("The dataset length is unknown.")
        return size

    def __iter__(self) -> Iterator[Any]:
        return self._make_iterator()

    def as_numpy_iterator(self) -> Iterator[Any]:
        """The elements with plain NumPy arrays."""
        return (map_leaves(lambda a: np.asarray(as_array(a)) if not isinstance(a, (str, bytes)) else a, e)
                for e in self)

    def _derive(self, make_iterator: Callable[[], Iterator[Any]], cardinality: int) -> Dataset:
        out = Dataset(make_iterator, cardinality)
        out.class_names = self.class_names
        return out

    # ----- transformations --------------------------------------------------------------------------
    def map(self, map_func: Callable[..., Any], num_parallel_calls: Any = None, deterministic: Any = None,
            name: str | None = None) -> Dataset:
        """`map_func(*element)` for a tuple element, else `map_func(element)`; a list it returns becomes a tuple."""
        if not callable(map_func):
            raise TypeError(f"map() needs a function, got {type(map_func).__name__}: {map_func!r}")

        def run() -> Iterator[Any]:
            for element in self:
                out = map_func(*element) if isinstance(element, tuple) else map_func(element)
                yield tuple(out) if isinstance(out, list) else out

        return self._derive(run, self._size())

    def filter(self, predicate: Callable[..., Any], name: str | None = None) -> Dataset:
        """The elements for which `predicate` (called as in `map`) is true."""
        def run() -> Iterator[Any]:
            for element in self:
                keep = predicate(*element) if isinstance(element, tuple) else predicate(element)
                if bool(np.asarray(keep.detach().cpu() if hasattr(keep, "detach") else keep)):
                    yield element

        return self._derive(run, UNKNOWN if self._size() != INFINITE else INFINITE)

    def batch(self, batch_size: int, drop_remainder: bool = False, num_parallel_calls: Any = None,
              deterministic: Any = None, name: str | None = None) -> Dataset:
        """`batch_size` consecutive elements stacked into one (arrays get a first axis of that size)."""
        batch_size = _check_count(batch_size, "batch_size")

        def run() -> Iterator[Any]:
            pending: list[Any] = []
            for element in self:
                pending.append(element)
                if len(pending) == batch_size:
                    yield _stack(pending)
                    pending = []
            if pending and not drop_remainder:
                yield _stack(pending)

        size = self._size()
        if size >= 0:
            size = size // batch_size if drop_remainder else math.ceil(size / batch_size)
        return self._derive(run, size)

    def unbatch(self, name: str | None = None) -> Dataset:
        """The rows of each element's arrays, one element per row."""
        def run() -> Iterator[Any]:
            for batch in self:
                yield from _rows(batch)

        return self._derive(run, INFINITE if self._size() == INFINITE else UNKNOWN)

    def take(self, count: int, name: str | None = None) -> Dataset:
        """The first `count` elements (-1: all)."""
        count = _check_count(count, "take(count)", minimum=-1)

        def run() -> Iterator[Any]:
            if count == -1:
                yield from self
                return
            for i, element in enumerate(self):
                if i >= count:
                    return
                yield element

        size = self._size()
        if count != -1:
            size = count if size == INFINITE else (min(size, count) if size >= 0 else UNKNOWN)
        return self._derive(run, size)

    def skip(self, count: int, name: str | None = None) -> Dataset:
        """All but the first `count` elements (-1: none)."""
        count = _check_count(count, "skip(count)", minimum=-1)

        def run() -> Iterator[Any]:
            if count == -1:
                return
            for i, element in enumerate(self):
                if i >= count:
                    yield element

        size = self._size()
        if count == -1:
            size = 0
        elif size >= 0:
            size = max(size - count, 0)
        return self._derive(run, size)

    def repeat(self, count: int | None = None, name: str | None = None) -> Dataset:
        """The elements `count` times over (None or -1: without end)."""
        forever = count is None or count == -1
        times = 0 if forever else _check_count(count, "repeat(count)", minimum=0)

        def run() -> Iterator[Any]:
            done = 0
            while forever or done < times:
                empty = True
                for element in self:
                    empty = False
                    yield element
                done += 1
                if empty:  # an empty dataset repeated stays empty, as in tf.data
                    return

        size = self._size()
        if forever:
            size = 0 if size == 0 else INFINITE
        elif size >= 0:
            size *= times
        return self._derive(run, size)

    def shuffle(self, buffer_size: int, seed: int | None = None, reshuffle_each_iteration: bool = True,
                name: str | None = None) -> Dataset:
        """tf.data's buffered shuffle: fill a buffer of `buffer_size` elements, yield one drawn at random and
        put the next element in its place. `seed`: the same orders on every run (pass k of a reshuffling
        dataset draws from `RandomState([seed, k])`); None: a seed drawn once from NumPy's global generator."""
        buffer_size = _check_count(buffer_size, "buffer_size")
        if seed is None:
            seed = int(np.random.randint(2**31 - 1))  # noqa: NPY002 - as Keras draws an unset seed
        passes = [0]

        def run() -> Iterator[Any]:
            rng = np.random.RandomState([int(seed) % 2**32, passes[0]])
            if reshuffle_each_iteration:
                passes[0] += 1
            buffer: list[Any] = []
            for element in self:
                if len(buffer) < buffer_size:
                    buffer.append(element)
                    continue
                k = rng.randint(buffer_size)
                yield buffer[k]
                buffer[k] = element
            while buffer:
                k = rng.randint(len(buffer))
                buffer[k], buffer[-1] = buffer[-1], buffer[k]
                yield buffer.pop()

        return self._derive(run, self._size())

    def cache(self, filename: str = "", name: str | None = None) -> Dataset:
        """The first complete pass kept in memory; later passes replay it (a pass cut short keeps nothing)."""
        if filename:
            raise ValueError(f"cache() keeps elements in memory only; got filename={filename!r} (give no filename)")
        kept: list[list[Any]] = []

        def run() -> Iterator[Any]:
            if kept:
                yield from kept[0]
                return
            seen = []
            for element in self:
                seen.append(element)
                yield element
            kept.append(seen)

        return self._derive(run, self._size())

    def prefetch(self, buffer_size: Any = None, name: str | None = None) -> Dataset:
        """Nothing to prefetch without a background pipeline: the same dataset."""
        return self

    def __repr__(self) -> str:
        size = self._size()
        shown = {INFINITE: "infinite", UNKNOWN: "unknown"}.get(size, str(size))
        return f"<{type(self).__name__} cardinality={shown}>"
