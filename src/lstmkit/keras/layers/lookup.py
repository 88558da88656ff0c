"""`StringLookup` and `IntegerLookup`: a vocabulary of tokens to integer indices, without TensorFlow.

Keras 3.15.1's rules (keras/src/layers/preprocessing/index_lookup.py), kept here:
  indices   [mask]      0, only with a mask token and output_mode "int"
            [OOV] * n   then `num_oov_indices` out-of-vocabulary indices
            tokens      then the vocabulary, in its order
  adapt     counts every token (mask and OOV tokens left out), sorts by count, high to low, ties by the token
            itself, high to low (Keras sorts with `np.lexsort((tokens, counts))[::-1]`), and keeps the first
            `max_tokens - (special indices)`.
  tf_idf    idf = log(1 + documents / (1 + documents holding the token)); the OOV slots get the mean idf.
  modes     "int" keeps the input's shape; "multi_hot" / "count" / "tf_idf" encode the last axis as one sample,
            (..., T) -> (..., depth); "one_hot" adds an axis (a last axis of size 1 is replaced); outside "int"
            the mask token is dropped and the depth is the vocabulary size (`max_tokens` with pad_to_max_tokens).

Outputs are torch tensors: int64 for "int", float32 for the other modes (Keras 3.15.1 on its torch backend
returns int64 for multi_hot/count/one_hot; float32 is what Dense takes, and the values are the same).
An inverted StringLookup returns a NumPy array of str. Where Keras needs TensorFlow's FarmHash64 (strings
with `num_oov_indices > 1`, `oov_method="farmhash"`, `salt`), lstmkit refuses the option by name.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch

from lstmkit.keras.layers.layer import Layer

OUTPUT_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")
_DROPPED = np.iinfo(np.int64).max  # the mask token's index outside "int" mode (Keras': int64 max), never counted


def validate_choice(value: Any, allowed: tuple[str, ...], caller: str, arg: str, allow_none: bool = False,
                    allow_callables: bool = False) -> None:
    """Keras' check of a string option, in its words."""
    if (value is None and allow_none) or (callable(value) and allow_callables) or \
            (isinstance(value, str) and value in allowed):
        return
    extra = (" None," if allow_none else "") + (" a callable," if allow_callables else "")
    raise ValueError(f"Unknown value for `{arg}` argument of {caller}. Allowed values are:{extra} {allowed}. "
                     f"Received: {arg}={value}")


def canonical_mode(output_mode: Any) -> Any:
    """Keras' old names: "binary" is "multi_hot", "tf-idf" is "tf_idf"."""
    return {"binary": "multi_hot", "tf-idf": "tf_idf"}.get(output_mode, output_mode) \
        if isinstance(output_mode, str) else output_mode


def string_array(data: Any, encoding: str, caller: str) -> np.ndarray:
    """Text as a NumPy object array of Python str, shape kept: a str, (nested) lists of str, a NumPy array of
    str or bytes. Anything else (numbers, a torch tensor) is refused naming what came."""
    if isinstance(data, (str, bytes)):
        data = [data]
        scalar = True
    else:
        scalar = False
    if isinstance(data, torch.Tensor):
        raise ValueError(f"{caller} expects strings (a list of str or a NumPy array of str/bytes), got a torch "
                         f"tensor of dtype {data.dtype} and shape {tuple(data.shape)}")
    a = np.asarray(data, dtype=object) if not isinstance(data, np.ndarray) else data
    if a.dtype.kind == "U":
        out = a.astype(object)
    elif a.dtype.kind == "S":
        out = np.vectorize(lambda b: b.decode(encoding), otypes=[object])(a) if a.size else a.astype(object)
    elif a.dtype.kind == "O":
        flat = a.reshape(-1)
        bad = [v for v in flat if not isinstance(v, (str, bytes))]
        if bad:
            raise ValueError(f"{caller} expects strings (a list of str or a NumPy array of str/bytes), got "
                             f"{type(bad[0]).__name__} values such as {bad[0]!r} in an array of shape {a.shape}")
        out = np.array([v.decode(encoding) if isinstance(v, bytes) else v for v in flat], dtype=object)
        out = out.reshape(a.shape)
    else:
        raise ValueError(f"{caller} expects strings (a list of str or a NumPy array of str/bytes), got an array "
                         f"of dtype {a.dtype} and shape {a.shape}")
    return out.reshape(()) if scalar else out


def as_text(data: Any) -> np.ndarray | None:
    """`data` as a NumPy object array of str when it is text (a str, lists of str, an array of str or bytes),
    else None: how models tell raw text, which only a string layer takes, from numbers."""
    if isinstance(data, (str, bytes)):
        return np.array(data.decode() if isinstance(data, bytes) else data, dtype=object)
    if isinstance(data, np.ndarray):
        if data.dtype.kind in "US" or (data.dtype.kind == "O" and data.size and \
                all(isinstance(v, (str, bytes)) for v in data.reshape(-1))):
            return string_array(data, "utf-8", "text input")
        return None
    if isinstance(data, (list, tuple)) and data:
        first: Any = data
        while isinstance(first, (list, tuple)) and first:
            first = first[0]
        if isinstance(first, (str, bytes)):
            return string_array(data, "utf-8", "text input")
    return None


def integer_array(data: Any, caller: str) -> np.ndarray:
    """Integers (a list, a NumPy array or a torch tensor) as an int64 NumPy array; floats and strings refused."""
    if isinstance(data, torch.Tensor):
        data = data.detach().cpu().numpy()
    a = np.asarray(data)
    if a.dtype.kind not in "iu" and not (a.dtype.kind == "O" and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in a.reshape(-1))):
        raise ValueError(f"{caller} expects integers, got an array of dtype {a.dtype} and shape {a.shape}")
    return a.astype(np.int64)


def is_batch_iterable(data: Any) -> bool:
    """Keras' rule in adapt(): an iterable that is not a list, tuple, array or tensor yields batches."""
    return hasattr(data, "__iter__") and not isinstance(data, (list, tuple, np.ndarray, torch.Tensor, str, bytes))


def check_batch(batch: Any, caller: str) -> Any:
    """A batch of an adapt() dataset: refuse (x, y) pairs with the way out Keras' programs take."""
    if isinstance(batch, tuple) and len(batch) in (2, 3) and not isinstance(batch[0], (str, bytes)) and \
            np.ndim(batch[0]) >= 1 and np.ndim(batch[1]) >= 1:
        raise ValueError(f"{caller}.adapt() got a batch that is a tuple of {len(batch)} arrays (inputs and "
                         "targets?): adapt on the inputs only, e.g. `layer.adapt(ds.map(lambda x, y: x))`")
    return batch


def read_vocabulary_file(path: str, caller: str) -> list[str]:
    """One token a line, trailing empty lines dropped (Keras reads the whole line)."""
    if not os.path.exists(path):
        raise ValueError(f"Vocabulary file {path} does not exist.")
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    while lines and lines[-1] == "":
        lines.pop()
    return lines


def encode(indices: np.ndarray | list[np.ndarray], output_mode: str, depth: int,
           idf_weights: np.ndarray | None) -> np.ndarray:
    """Indices to one_hot / multi_hot / count / tf_idf vectors of `depth` (float32). `indices` is an int array
    (the last axis is the sample) or a list of 1-D arrays, one per sample (ragged rows from a text split).
    Indices outside [0, depth) (the dropped mask token) count for nothing."""
    if isinstance(indices, list):  # ragged rows: (R, None) -> (R, depth)
        lead: tuple[int, ...] = (len(indices),)
        rows = np.repeat(np.arange(len(indices)), [len(r) for r in indices])
        flat = np.concatenate(indices) if indices else np.zeros(0, np.int64)
    else:
        a = indices.reshape(1) if indices.ndim == 0 else indices
        if output_mode == "one_hot":
            if a.ndim > 1 and a.shape[-1] == 1:
                a = a.reshape(a.shape[:-1])
            lead = a.shape
            rows, flat = np.arange(a.size), a.reshape(-1)
        else:
            lead = a.shape[:-1]
            rows = np.repeat(np.arange(int(np.prod(lead))), a.shape[-1])
            flat = a.reshape(-1)
    keep = (flat >= 0) & (flat < depth)
    n_rows = int(np.prod(lead))
    counts = np.bincount(rows[keep] * depth + flat[keep], minlength=n_rows * depth)
    out = counts.reshape(*lead, depth).astype(np.float32)
    if output_mode in ("multi_hot", "one_hot"):
        return np.asarray(np.minimum(out, 1.0))
    if output_mode == "tf_idf":
        assert idf_weights is not None
        return np.asarray(out * idf_weights[:depth])
    return out


class IndexLookup(Layer):
    """What StringLookup and IntegerLookup share: the vocabulary, adapt, the lookup and the encodings."""

    _kind = "string"

    def __init__(self, max_tokens: int | None, num_oov_indices: int, mask_token: Any, oov_token: Any,
                 vocabulary: Any = None, idf_weights: Any = None, invert: bool = False, output_mode: str = "int",
                 pad_to_max_tokens: bool = False, sparse: bool = False, name: str | None = None,
                 **kwargs: Any) -> None:
        cls = type(self).__name__
        if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens <= 1):
            raise ValueError(f"If set, `max_tokens` must be greater than 1. Received: max_tokens={max_tokens}")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"If pad_to_max_tokens is True, must set `max_tokens`. Received: max_tokens={max_tokens}")
        if not isinstance(num_oov_indices, int) or num_oov_indices < 0:
            raise ValueError("`num_oov_indices` must be greater than or equal to 0. "
                             f"Received: num_oov_indices={num_oov_indices}")
        output_mode = canonical_mode(output_mode)
        validate_choice(output_mode, OUTPUT_MODES, cls, "output_mode")
        if invert and output_mode != "int":
            raise ValueError("`output_mode` must be `'int'` when `invert` is true. "
                             f"Received: output_mode={output_mode}")
        if sparse:
            raise ValueError("`sparse=True` can only be used with the TensorFlow backend.")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError("`idf_weights` should only be set if `output_mode` is `'tf_idf'`. "
                             f"Received: idf_weights={idf_weights} and output_mode={output_mode}")
        frozen = kwargs.pop("vocabulary_size", None)  # from a config; the vocabulary itself is set below
        self._has_input_vocabulary = bool(kwargs.pop("has_input_vocabulary", vocabulary is not None))
        kwargs.pop("dtype", None)
        kwargs.pop("vocabulary_dtype", None)
        super().__init__(name=name, **kwargs)
        self.invert = bool(invert)
        self.max_tokens = max_tokens
        self.num_oov_indices = num_oov_indices
        self.mask_token = mask_token
        self.oov_token = oov_token
        self.output_mode = output_mode
        self.sparse = False
        self.pad_to_max_tokens = bool(pad_to_max_tokens)
        self.input_vocabulary = vocabulary if not isinstance(vocabulary, str) else None
        self.input_idf_weights = idf_weights
        self._frozen_vocab_size: int | None = frozen
        self._tokens: list[Any] = []
        self._index: dict[Any, int] = {}
        self.idf_weights: np.ndarray | None = None
        # no weights: a zero-size buffer (not saved) follows model.to(device), so outputs land where the
        # next layer's weights are
        self.register_buffer("_device_anchor", torch.zeros(0), persistent=False)
        self.built = True
        self.reset_state()
        if output_mode == "tf_idf" and self._has_input_vocabulary and idf_weights is None:
            raise ValueError("When specifying the `vocabulary` argument, in TF-IDF output mode, the `idf_weights` "
                             "argument must also be provided.")
        if vocabulary is not None:
            self.set_vocabulary(vocabulary, idf_weights)

    # ----- indices ------------------------------------------------------------------------------
    def _oov_start_index(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start_index(self) -> int:
        return self._oov_start_index() + self.num_oov_indices

    def vocabulary_size(self) -> int:
        """The number of indices: mask and OOV ones included."""
        return self._token_start_index() + len(self._tokens)

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[Any]:
        """The token of every index, in order (the mask and OOV tokens first, unless left out)."""
        if not include_special_tokens:
            return list(self._tokens)
        return [self.mask_token] * self._oov_start_index() + [self.oov_token] * self.num_oov_indices + \
            list(self._tokens)

    def _depth(self) -> int:
        if self.pad_to_max_tokens:
            assert self.max_tokens is not None
            return self.max_tokens
        if self._frozen_vocab_size is None:
            raise RuntimeError(f"When using `output_mode={self.output_mode}` and `pad_to_max_tokens=False`, you must "
                               "set the layer's vocabulary before calling it. Either pass a `vocabulary` argument to "
                               "the layer, or call `adapt` with some sample data.")
        return self._frozen_vocab_size

    # ----- vocabulary ---------------------------------------------------------------------------
    def _tokens_of(self, data: Any) -> np.ndarray:
        """Input values as tokens of this layer's kind (str or int)."""
        if self._kind == "string":
            return string_array(data, getattr(self, "encoding", "utf-8"), type(self).__name__)
        return integer_array(data, type(self).__name__)

    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        """Replace the vocabulary (a list, tuple, 1-D array, or a file with one token a line); it may start
        with the mask and OOV tokens, in that order. tf_idf needs `idf_weights` of the same length."""
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError("`idf_weights` must be set if output_mode is 'tf_idf'.")
        elif idf_weights is not None:
            raise ValueError("`idf_weights` should only be set if output_mode is `'tf_idf'`. Received: "
                             f"output_mode={self.output_mode} and idf_weights={idf_weights}")
        if isinstance(vocabulary, (str, os.PathLike)):
            if self.output_mode == "tf_idf":
                raise ValueError("output_mode `'tf_idf'` does not support loading a vocabulary from file.")
            lines = read_vocabulary_file(os.fspath(vocabulary), type(self).__name__)
            vocabulary = lines if self._kind == "string" else [int(v) for v in lines]
        if isinstance(vocabulary, torch.Tensor):
            vocabulary = vocabulary.detach().cpu().numpy()
        values = list(self._tokens_of(list(vocabulary) if isinstance(vocabulary, np.ndarray) else vocabulary)
                      .reshape(-1))
        if self._kind != "string":
            values = [int(v) for v in values]
        if not values:
            raise ValueError(f"Cannot set an empty vocabulary. Received: vocabulary={vocabulary}")
        oov_start, token_start = self._oov_start_index(), self._token_start_index()
        special = [self.mask_token] * oov_start + [self.oov_token] * self.num_oov_indices
        found_special = values[:token_start] == special
        tokens = values[token_start:] if found_special else values
        repeated = [t for t, c in collections.Counter(tokens).items() if c > 1]
        if repeated:
            raise ValueError("The passed vocabulary has at least one repeated term. Please uniquify your dataset. "
                             f"The repeated terms are: {repeated}")
        for reserved, what, applies in ((self.mask_token, "mask_token", self.mask_token is not None),
                                        (self.oov_token, "oov_token", self.oov_token is not None and self.invert)):
            if applies and reserved in tokens:
                where = max(i for i, v in enumerate(values) if v == reserved)
                kind = "mask" if what == "mask_token" else "OOV"
                raise ValueError(f"Found reserved {kind} token at unexpected location in `vocabulary`. "
                                 "Note that passed `vocabulary` does not need to include the OOV and mask tokens. "
                                 "Either remove all mask and OOV tokens, or include them only at the start of the "
                                 f"vocabulary in precisely this order: {special}. Received: {what}={reserved} at "
                                 f"vocabulary index {where}")
        if self.max_tokens is not None and token_start + len(tokens) > self.max_tokens:
            raise ValueError("Attempted to set a vocabulary larger than the maximum vocab size. Received vocabulary "
                             f"size is {token_start + len(tokens)}; `max_tokens` is {self.max_tokens}.")
        self._set_tokens(tokens)
        if self.output_mode == "tf_idf":
            weights = np.asarray(idf_weights.detach().cpu().numpy() if isinstance(idf_weights, torch.Tensor)
                                 else idf_weights, dtype=np.float64)
            if weights.ndim != 1:
                raise ValueError(f"TF-IDF data must be a 1-index array. Received: idf_weights of shape {weights.shape}")
            if len(values) != len(weights):
                raise ValueError(f"`idf_weights` must be the same length as vocabulary. len(idf_weights) is "
                                 f"{len(weights)}; len(vocabulary) is {len(values)}")
            front = 0 if found_special else token_start
            front_value = 0.0 if found_special else float(np.average(weights))
            back = self.max_tokens - front - len(weights) if self.pad_to_max_tokens and self.max_tokens else 0
            self.idf_weights = np.pad(weights, (front, back), constant_values=(front_value, 0.0)).astype(np.float32)

    def _set_tokens(self, tokens: list[Any]) -> None:
        start = self._token_start_index()
        self._tokens = list(tokens)
        self._index = {t: start + i for i, t in enumerate(self._tokens)}
        self._frozen_vocab_size = self.vocabulary_size()

    def adapt(self, data: Any, steps: int | None = None) -> None:
        """Learn the vocabulary from `data`: a list, a NumPy array (each value one token), or any iterable of
        such batches (a generator, a dataset); `steps` limits the batches taken from an iterable."""
        self.reset_state()
        if is_batch_iterable(data):
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                self.update_state(check_batch(batch, type(self).__name__))
        else:
            tokens = self._tokens_of(data)
            self.update_state(tokens[:, None] if tokens.ndim == 1 else tokens)
        self.finalize_state()

    def update_state(self, data: Any) -> None:
        """Count the tokens of one batch: rows are documents (a 0-D or 1-D batch is one document)."""
        if self._has_input_vocabulary:
            raise ValueError(f"Cannot adapt layer '{self.name}' after setting a static vocabulary via `vocabulary` "
                             "argument or `set_vocabulary()` method.")
        if isinstance(data, list) and data and all(isinstance(r, list) for r in data):
            rows = data  # ragged rows of tokens (TextVectorization after its split)
        else:
            a = self._tokens_of(data)
            a = a.reshape(1, -1) if a.ndim <= 1 else a.reshape(a.shape[0], -1)
            rows = [list(r) for r in a]
            if self._kind != "string":
                rows = [[int(v) for v in r] for r in rows]
        for row in rows:
            self._token_counts.update(row)
        if self.output_mode == "tf_idf":
            for row in rows:
                self._document_counts.update(set(row))
            self._num_documents += len(rows)

    def finalize_state(self) -> None:
        counts = self._token_counts
        if self._has_input_vocabulary or not counts:
            return
        for special in (self.mask_token, self.oov_token):
            if special is not None:
                counts.pop(special, None)
        # Keras: np.lexsort((tokens, counts))[::-1], i.e. count high to low, ties by token high to low
        ordered = sorted(counts, key=lambda t: (counts[t], t), reverse=True)
        if self.max_tokens:
            ordered = ordered[:self.max_tokens - self._token_start_index()]
        self._set_tokens(ordered)
        if self.output_mode == "tf_idf":
            docs = np.array([self._document_counts[t] for t in ordered], dtype=np.float64)
            idf = np.log(1.0 + self._num_documents / (1.0 + docs)).astype(np.float32)  # (V,)
            mean = np.float32(idf.mean(dtype=np.float64)) if idf.size else np.float32(0)
            back = self.max_tokens - self._token_start_index() - idf.size if self.pad_to_max_tokens and \
                self.max_tokens else 0
            self.idf_weights = np.concatenate([np.full(self._token_start_index(), mean, np.float32), idf,
                                               np.zeros(back, np.float32)])
        self.reset_state()

    def reset_state(self) -> None:
        self._token_counts: collections.Counter = collections.Counter()
        self._document_counts: collections.Counter = collections.Counter()
        self._num_documents = 0

    # ----- lookup -------------------------------------------------------------------------------
    def _lookup(self, tokens: np.ndarray) -> np.ndarray:
        """Tokens (any shape) to indices (int64, same shape): OOV and the mask token as Keras maps them."""
        flat: Any = tokens.reshape(-1)
        if self._kind != "string":
            flat = [int(v) for v in flat]
        oov_start = self._oov_start_index()
        get = self._index.get
        out = np.fromiter((get(t, -1) for t in flat), dtype=np.int64, count=len(flat))
        if self.mask_token is not None:
            is_mask = np.fromiter((t == self.mask_token for t in flat), dtype=bool, count=len(flat))
            out[is_mask] = 0 if self.output_mode == "int" else _DROPPED
        else:
            is_mask = np.zeros(len(flat), dtype=bool)
        oov = (out == -1) & ~is_mask
        if oov.any():
            if self.num_oov_indices == 0:
                found = [flat[i] for i in np.flatnonzero(oov)]
                raise ValueError("When `num_oov_indices=0` all inputs should be in vocabulary, found OOV values "
                                 f"{found}, consider setting `num_oov_indices=1`.")
            if self.num_oov_indices == 1:
                out[oov] = oov_start
            else:  # integers only (strings refused at construction): Keras' floormod buckets
                values = np.array(flat, dtype=np.int64)[oov]
                out[oov] = np.mod(values, self.num_oov_indices) + oov_start
        return out.reshape(tokens.shape)

    def _invert(self, indices: np.ndarray) -> np.ndarray:
        """Indices to tokens: the mask token at 0 (when there is one), the OOV token for OOV and unknown ids."""
        vocab = self.get_vocabulary()
        flat = indices.reshape(-1)
        start = self._token_start_index()
        out = [vocab[i] if start <= i < len(vocab) else
               (self.mask_token if i == 0 and self.mask_token is not None else self.oov_token) for i in flat]
        if self._kind == "string":
            return np.array(out, dtype=object).reshape(indices.shape).astype(str)
        return np.array(out, dtype=np.int64).reshape(indices.shape)

    def _output(self, indices: np.ndarray | list[np.ndarray]) -> torch.Tensor:
        if self.output_mode == "int":
            assert isinstance(indices, np.ndarray)
            return torch.from_numpy(np.ascontiguousarray(indices)).to(self._device_anchor.device)
        encoded = encode(indices, self.output_mode, self._depth(), self.idf_weights)
        return torch.from_numpy(encoded).to(self._device_anchor.device)

    def call(self, inputs: Any) -> Any:
        if self.invert:
            indices = integer_array(inputs, type(self).__name__)
            tokens = self._invert(indices)
            if self._kind == "string":
                return tokens
            return torch.from_numpy(tokens).to(self._device_anchor.device)
        return self._output(self._lookup(self._tokens_of(inputs)))

    def _call_internal(self, inputs: Any, *args: Any, mask: Any = None, training: bool | None = None,
                       **kwargs: Any) -> tuple[Any, Any]:
        """Raw values (str or ints) go to call() as they are: no conversion to float tensors first."""
        return self.call(inputs), None

    # ----- shapes, config -----------------------------------------------------------------------
    def compute_output_shape(self, input_shape: Any) -> Any:
        shape = tuple(input_shape)
        if self.output_mode == "int":
            return shape
        depth = self.max_tokens if self.pad_to_max_tokens else self._frozen_vocab_size
        if self.output_mode == "one_hot":
            return (*shape[:-1], depth) if len(shape) > 1 and shape[-1] == 1 else (*shape, depth)
        return (*shape[:-1], depth)

    def _output_dtype(self, inputs: Any) -> str:
        if self.invert:
            return "string" if self._kind == "string" else "int64"
        return "int64" if self.output_mode == "int" else "float32"

    def get_config(self) -> dict[str, Any]:
        """Keras' keys; `vocabulary` (and `idf_weights`) hold the current vocabulary whenever there is one,
        adapted or given, so that a saved model (a JSON config) restores it: the special tokens lead it, as
        get_vocabulary() returns it, and set_vocabulary() recognises them."""
        has_vocab = bool(self._tokens)
        config = {
            "invert": self.invert,
            "max_tokens": self.max_tokens,
            "num_oov_indices": self.num_oov_indices,
            "oov_token": self.oov_token,
            "mask_token": self.mask_token,
            "output_mode": self.output_mode,
            "sparse": False,
            "pad_to_max_tokens": self.pad_to_max_tokens,
            "idf_weights": ([float(w) for w in self.idf_weights[:self.vocabulary_size()]]
                            if has_vocab and self.idf_weights is not None else None),
            "vocabulary": self.get_vocabulary() if has_vocab else None,
            "vocabulary_size": self._frozen_vocab_size,
            "has_input_vocabulary": self._has_input_vocabulary,
        }
        return {**super().get_config(), **config}


class StringLookup(IndexLookup):
    """Strings to indices (or back, with `invert=True`): `StringLookup(vocabulary=["a", "b"])(["a", "z"])`
    is `[1, 0]` (0 is the OOV index). Keras' defaults: one OOV index, "[UNK]", no mask token."""

    _kind = "string"
    _takes_text = True  # models hand it raw strings (see Sequential / Functional)

    def __init__(self, max_tokens: int | None = None, num_oov_indices: int = 1, mask_token: str | None = None,
                 oov_token: str = "[UNK]", vocabulary: Any = None, idf_weights: Any = None, invert: bool = False,
                 output_mode: str = "int", pad_to_max_tokens: bool = False, sparse: bool = False,
                 encoding: str = "utf-8", name: str | None = None, salt: Any = None, **kwargs: Any) -> None:
        if salt is not None:
            raise ValueError("StringLookup(salt=...) hashes OOV strings with TensorFlow's SipHash64, which lstmkit "
                             "does not implement; leave salt=None")
        if isinstance(num_oov_indices, int) and num_oov_indices > 1:
            raise ValueError("StringLookup: num_oov_indices > 1 spreads OOV strings over buckets with TensorFlow's "
                             f"FarmHash64, which lstmkit does not implement; got num_oov_indices={num_oov_indices}, "
                             "use 0 or 1")
        kwargs.pop("oov_method", None)
        self.encoding = encoding
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary=vocabulary,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode,
                         pad_to_max_tokens=pad_to_max_tokens, sparse=sparse, name=name, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "encoding": self.encoding}


class IntegerLookup(IndexLookup):
    """Integers to indices (or back, with `invert=True`). Keras' defaults: one OOV index for the OOV
    token -1, no mask token; with several OOV indices an OOV value v goes to `v % num_oov_indices`."""

    _kind = "int"

    def __init__(self, max_tokens: int | None = None, num_oov_indices: int = 1, mask_token: int | None = None,
                 oov_token: int = -1, vocabulary: Any = None, vocabulary_dtype: str = "int64",
                 idf_weights: Any = None, invert: bool = False, output_mode: str = "int", sparse: bool = False,
                 pad_to_max_tokens: bool = False, oov_method: str = "floormod", salt: Any = None,
                 name: str | None = None, **kwargs: Any) -> None:
        if max_tokens is not None and max_tokens <= 1:
            raise ValueError("If `max_tokens` is set for `IntegerLookup`, it must be greater than 1. "
                             f"Received: max_tokens={max_tokens}")
        if isinstance(num_oov_indices, int) and num_oov_indices < 0:
            raise ValueError("The value of `num_oov_indices` argument for `IntegerLookup` must >= 0. "
                             f"Received: num_oov_indices={num_oov_indices}")
        if vocabulary_dtype != "int64":
            raise ValueError(f"Only `vocabulary_dtype='int64'` is supported at this time. Received: "
                             f"vocabulary_dtype={vocabulary_dtype}")
        validate_choice(oov_method, ("floormod", "farmhash"), "IntegerLookup", "oov_method")
        if oov_method == "farmhash" or salt is not None:
            raise ValueError("IntegerLookup(oov_method='farmhash' or salt=...) hashes with TensorFlow's FarmHash64 "
                             "or SipHash64, which lstmkit does not implement; use oov_method='floormod'")
        self.oov_method = oov_method
        super().__init__(max_tokens, num_oov_indices, None if mask_token is None else int(mask_token),
                         None if oov_token is None else int(oov_token), vocabulary=vocabulary,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode,
                         pad_to_max_tokens=pad_to_max_tokens, sparse=sparse, name=name, **kwargs)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "vocabulary_dtype": "int64", "oov_method": self.oov_method, "salt": None}


def flatten_rows(rows: Iterable[list[Any]]) -> np.ndarray:
    """Rows of tokens as one object array (for a lookup of all of them at once)."""
    return np.array([t for r in rows for t in r], dtype=object)
