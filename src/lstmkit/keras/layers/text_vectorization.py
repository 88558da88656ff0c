"""`TextVectorization`: raw text to token indices or bag-of-words vectors, without TensorFlow.

Keras 3.15.1's pipeline (keras/src/layers/preprocessing/text_vectorization.py), step by step:
  standardize  "lower_and_strip_punctuation" (default), "lower", "strip_punctuation", None, or a callable given
               a NumPy array of str (as Keras does off its TensorFlow backend). "lower" is `tf.strings.lower`,
               which lowers ASCII letters only ("ÉCOLE" -> "École"); the punctuation is string.punctuation.
  split        "whitespace": runs of ASCII whitespace (" \\t\\n\\v\\f\\r"; not U+00A0), leading and trailing ones
               dropped, as `tf.strings.split`; "character": code points; None: each string is one token; a
               callable gets the standardized NumPy array of shape (N,) and returns one list of tokens per string.
  ngrams       n or (n1, n2, ...): for each width in turn, every run of that many tokens joined by " ".
  lookup       a StringLookup with mask token "" (index 0 in "int" mode) and OOV token "[UNK]".
  output       "int": int64 (N, T), padded with 0 or cut at the end to `output_sequence_length` (else to the
               longest text); "multi_hot" / "count" / "tf_idf": float32 (N, depth), see lookup.py.
Inputs: a list of str, a str, or a NumPy array of str/bytes of shape (N,) or (N, 1).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import torch

from lstmkit.keras.layers.layer import Layer
from lstmkit.keras.layers.lookup import (
    OUTPUT_MODES,
    StringLookup,
    canonical_mode,
    check_batch,
    is_batch_iterable,
    string_array,
    validate_choice,
)
from lstmkit.keras.registry import get_registered_object

_PUNCTUATION = re.compile(r"""[!"#$%&()*+,\-./:;<=>?@\[\\\]^_`{|}~']""")  # Keras' regex: string.punctuation
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_WHITESPACE = re.compile(r"[ \t\n\v\f\r]+")


def _ngrams(tokens: list[str], widths: tuple[int, ...]) -> list[str]:
    out: list[str] = []
    for n in widths:
        out.extend(" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1))
    return out


def _serialize_callable(fn: Any) -> Any:
    """A registered function as its name (JSON-able); other callables stay as they are (in-memory configs)."""
    registered = getattr(fn, "_registered_name", None)
    if isinstance(registered, str):
        return {"class_name": "function", "registered_name": registered}
    return fn


def _deserialize_callable(value: Any, what: str) -> Any:
    if isinstance(value, dict) and "registered_name" in value:
        fn = get_registered_object(value["registered_name"])
        if fn is None:
            raise ValueError(f"TextVectorization: the {what} function {value['registered_name']!r} of this config "
                             "is not registered; decorate it with @register_keras_serializable() before loading")
        return fn
    return value


class TextVectorization(Layer):
    """`TextVectorization(max_tokens=20000, output_sequence_length=200)`, `adapt(texts)`, then
    `vectorizer(texts)` gives int64 indices; usable alone (`ds.map(lambda x, y: (vectorizer(x), y))`) or as
    the first layer of a model fed with string arrays."""

    _takes_text = True  # models hand it raw strings (see Sequential / Functional)

    def __init__(self, max_tokens: int | None = None, standardize: Any = "lower_and_strip_punctuation",
                 split: Any = "whitespace", ngrams: int | tuple[int, ...] | None = None, output_mode: str = "int",
                 output_sequence_length: int | None = None, pad_to_max_tokens: bool = False,
                 vocabulary: Any = None, idf_weights: Any = None, sparse: bool = False, ragged: bool = False,
                 encoding: str = "utf-8", name: str | None = None, **kwargs: Any) -> None:
        if sparse:
            raise ValueError("`sparse=True` can only be used with the TensorFlow backend.")
        if ragged:
            raise ValueError("`ragged=True` can only be used with the TensorFlow backend.")
        validate_choice(standardize, ("lower_and_strip_punctuation", "lower", "strip_punctuation"),
                        "TextVectorization", "standardize", allow_none=True, allow_callables=True)
        validate_choice(split, ("whitespace", "character"), "TextVectorization", "split", allow_none=True,
                        allow_callables=True)
        output_mode = canonical_mode(output_mode)
        validate_choice(output_mode, OUTPUT_MODES, "TextVectorization", "output_mode")
        if isinstance(ngrams, list):
            ngrams = tuple(ngrams)
        if not (ngrams is None or (isinstance(ngrams, int) and not isinstance(ngrams, bool)) or
                (isinstance(ngrams, tuple) and all(isinstance(n, int) for n in ngrams))):
            raise ValueError(f"`ngrams` must be None, an integer, or a tuple of integers. Received: ngrams={ngrams}")
        if ngrams is not None and split is None:
            raise ValueError("TextVectorization: `ngrams` needs a `split` (the n-grams are runs of split tokens); "
                             f"got ngrams={ngrams} with split=None")
        if output_mode == "int" and not (output_sequence_length is None or
                                         (isinstance(output_sequence_length, int) and output_sequence_length >= 0)):
            raise ValueError("`output_sequence_length` must be either None or an integer when `output_mode` is "
                             f"'int'. Received: output_sequence_length={output_sequence_length}")
        if output_mode != "int" and output_sequence_length is not None:
            raise ValueError("`output_sequence_length` must not be set if `output_mode` is not 'int'. "
                             f"Received output_sequence_length={output_sequence_length}.")
        has_input_vocabulary = kwargs.pop("has_input_vocabulary", vocabulary is not None)
        vocabulary_size = kwargs.pop("vocabulary_size", None)
        kwargs.pop("dtype", None)
        super().__init__(name=name, **kwargs)
        self._standardize = standardize
        self._split = split
        self._ngrams_arg = ngrams
        self._ngrams = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        self._output_mode = output_mode
        self._output_sequence_length = output_sequence_length
        self._encoding = encoding
        self._has_input_vocabulary = bool(has_input_vocabulary)
        self._lookup_layer = StringLookup(
            max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
            pad_to_max_tokens=pad_to_max_tokens, mask_token="", output_mode=output_mode,
            has_input_vocabulary=self._has_input_vocabulary, encoding=encoding, vocabulary_size=vocabulary_size,
            name=f"{self.name}_lookup")
        self.built = True

    # ----- vocabulary ---------------------------------------------------------------------------
    def adapt(self, data: Any, batch_size: int | None = None, steps: int | None = None) -> None:
        """Learn the vocabulary (and, for tf_idf, the document frequencies) from texts: a list of str, a NumPy
        array of str, or any iterable of batches of those (e.g. `train_ds.map(lambda x, y: x)`)."""
        self.reset_state()
        if is_batch_iterable(data):
            for i, batch in enumerate(data):
                if steps is not None and i >= steps:
                    break
                self.update_state(check_batch(batch, "TextVectorization"))
        else:
            texts = string_array(data, self._encoding, "TextVectorization.adapt()")
            self.update_state(texts[:, None] if texts.ndim == 1 else texts)
        self.finalize_state()

    def update_state(self, data: Any) -> None:
        tokens = self._preprocess(data)
        if isinstance(tokens, np.ndarray):  # split=None: each string one token, rows are documents
            tokens = tokens.reshape(1, -1) if tokens.ndim <= 1 else tokens.reshape(tokens.shape[0], -1)
            tokens = [list(r) for r in tokens]
        self._lookup_layer.update_state(tokens if tokens else np.zeros((0, 1), dtype=object))

    def finalize_state(self) -> None:
        self._lookup_layer.finalize_state()

    def reset_state(self) -> None:
        self._lookup_layer.reset_state()

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[str]:
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def set_vocabulary(self, vocabulary: Any, idf_weights: Any = None) -> None:
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights=idf_weights)

    def vocabulary_size(self) -> int:
        return self._lookup_layer.vocabulary_size()

    # ----- the pipeline -------------------------------------------------------------------------
    def _standardized(self, texts: np.ndarray) -> np.ndarray:
        if callable(self._standardize):
            out = self._standardize(texts.astype(str))
            out = out.detach().cpu().numpy() if isinstance(out, torch.Tensor) else out
            return string_array(np.asarray(out), self._encoding, "TextVectorization (the standardize callable)")
        flat = list(texts.reshape(-1))
        if self._standardize in ("lower", "lower_and_strip_punctuation"):
            flat = [s.translate(_ASCII_LOWER) for s in flat]
        if self._standardize in ("strip_punctuation", "lower_and_strip_punctuation"):
            flat = [_PUNCTUATION.sub("", s) for s in flat]
        return np.array(flat, dtype=object).reshape(texts.shape)

    def _preprocess(self, inputs: Any) -> np.ndarray | list[list[str]]:
        """Standardized texts split into rows of tokens (n-grams added), or with split=None the standardized
        strings in their shape."""
        texts = self._standardized(string_array(inputs, self._encoding, "TextVectorization"))
        if self._split is None:
            return texts
        if texts.ndim > 1:
            if texts.shape[-1] != 1:
                raise ValueError("When using `TextVectorization` to tokenize strings, the input rank must be 1 or "
                                 f"the last shape dimension must be 1. Received: inputs.shape={texts.shape} with "
                                 f"rank={texts.ndim}")
            texts = texts.reshape(texts.shape[:-1])
        if texts.ndim > 1:
            raise ValueError(f"TextVectorization takes a batch of texts of shape (N,) or (N, 1); got shape "
                             f"{(*texts.shape, 1)}")
        flat = list(texts.reshape(-1))
        if self._split == "whitespace":
            rows = [[t for t in _WHITESPACE.split(s) if t] for s in flat]
        elif self._split == "character":
            rows = [list(s) for s in flat]
        else:
            result = self._split(texts.reshape(-1).astype(str))
            rows = [[str(t) for t in (r.tolist() if isinstance(r, np.ndarray) else r)] for r in result]
            if len(rows) != len(flat):
                raise ValueError(f"TextVectorization: the split callable returned {len(rows)} rows of tokens for "
                                 f"{len(flat)} texts; it must return one list of tokens per text")
        if self._ngrams is not None:
            rows = [_ngrams(r, self._ngrams) for r in rows]
        return rows

    def call(self, inputs: Any) -> torch.Tensor:
        scalar = isinstance(inputs, (str, bytes)) or (isinstance(inputs, np.ndarray) and inputs.ndim == 0)
        tokens = self._preprocess(inputs)
        lookup = self._lookup_layer
        if isinstance(tokens, np.ndarray):  # split=None: the strings' own shape
            indices = lookup._lookup(tokens)
            if self._output_mode != "int":
                return lookup._output(indices)
            if self._output_sequence_length is not None and indices.ndim >= 1:
                indices = _fit_last_axis(indices, self._output_sequence_length)
            return lookup._output(indices)
        flat = np.array([t for r in tokens for t in r], dtype=object)
        looked = lookup._lookup(flat)
        bounds = np.cumsum([0] + [len(r) for r in tokens])
        rows = [looked[bounds[i]:bounds[i + 1]] for i in range(len(tokens))]
        if self._output_mode != "int":
            out = lookup._output(rows)
            return out[0] if scalar else out
        length = self._output_sequence_length
        if length is None:
            length = max((len(r) for r in rows), default=0)
        dense = np.zeros((len(rows), length), dtype=np.int64)  # (N, T), 0 is the padding (mask) index
        for i, r in enumerate(rows):
            dense[i, :min(len(r), length)] = r[:length]
        out = lookup._output(dense)
        return out[0] if scalar else out

    def _call_internal(self, inputs: Any, *args: Any, mask: Any = None, training: bool | None = None,
                       **kwargs: Any) -> tuple[Any, Any]:
        """Strings go to call() as they are (other layers make float tensors of their inputs first)."""
        return self.call(inputs), None

    # ----- shapes, config -----------------------------------------------------------------------
    def compute_output_shape(self, input_shape: Any) -> Any:
        shape = tuple(input_shape)
        if self._output_mode == "int":
            return (shape[0] if shape else None, self._output_sequence_length)
        if self._split is None:
            shape = (*shape, 1) if len(shape) <= 1 else shape
        else:  # (N, 1) texts are split as (N,): Keras 3.15.1 says (N, 1, depth) here but returns (N, depth)
            shape = (*(shape[:-1] if len(shape) > 1 and shape[-1] == 1 else shape), None)
        return self._lookup_layer.compute_output_shape(shape)

    def _output_dtype(self, inputs: Any) -> str:
        return "int64" if self._output_mode == "int" else "float32"

    def get_config(self) -> dict[str, Any]:
        """Keras' keys. `vocabulary` and `idf_weights` hold the current (adapted or given) vocabulary, so a
        saved model restores it from its JSON config; a registered standardize/split function is kept by name."""
        lookup = self._lookup_layer.get_config()
        config = {
            "max_tokens": self._lookup_layer.max_tokens,
            "standardize": _serialize_callable(self._standardize) if callable(self._standardize)
            else self._standardize,
            "split": _serialize_callable(self._split) if callable(self._split) else self._split,
            "ngrams": self._ngrams_arg,
            "output_mode": self._output_mode,
            "output_sequence_length": self._output_sequence_length,
            "pad_to_max_tokens": self._lookup_layer.pad_to_max_tokens,
            "sparse": False,
            "ragged": False,
            "vocabulary": lookup["vocabulary"],
            "idf_weights": lookup["idf_weights"],
            "encoding": self._encoding,
            "vocabulary_size": self.vocabulary_size(),
            "has_input_vocabulary": self._has_input_vocabulary,
        }
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TextVectorization:
        config = dict(config)
        config["standardize"] = _deserialize_callable(config.get("standardize", "lower_and_strip_punctuation"),
                                                      "standardize")
        config["split"] = _deserialize_callable(config.get("split", "whitespace"), "split")
        if isinstance(config.get("ngrams"), list):
            config["ngrams"] = tuple(config["ngrams"])
        layer = super().from_config(config)
        assert isinstance(layer, TextVectorization)
        return layer


def _fit_last_axis(indices: np.ndarray, length: int) -> np.ndarray:
    """Cut or zero-pad the last axis to `length`, at the end (Keras)."""
    cut = indices[..., :length]
    pad = length - cut.shape[-1]
    return np.pad(cut, [(0, 0)] * (cut.ndim - 1) + [(0, pad)]) if pad > 0 else cut
