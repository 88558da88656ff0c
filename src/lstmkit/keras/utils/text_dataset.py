"""`text_dataset_from_directory` with Keras 3.15.1's semantics, returning an lstmkit `Dataset` (no TensorFlow).

What is Keras' (keras/src/utils/text_dataset_utils.py and dataset_utils.py), kept here:
- the class folders are the subfolders of `directory` not starting with ".", sorted (or `class_names`, in
  its order); files are the `.txt` files (any case) under each, folder by folder, each folder walked in
  sorted order of its subfolders and file names;
- `shuffle`: the file list (and the labels) permuted by `np.random.RandomState(seed)`, then split:
  validation is the last `int(validation_split * n)` files, training the rest; `seed=None` draws one from
  NumPy's global generator; the training set (and a lone subset) is also shuffled every pass through a
  buffer of `batch_size * 8` files (1024 unbatched), as Keras does with tf.data;
- labels: "int" int32 `(B,)`, "binary" float32 `(B, 1)`, "categorical" float32 one-hot `(B, C)`; the
  argument errors have Keras' words.
What differs: the texts are a NumPy array of str (UTF-8 decoded, as Keras' TF-free "grain" format gives
Python str) and `max_length` counts characters (TensorFlow's substr counts bytes: the same for ASCII);
the buffer shuffle draws its own random numbers, so the per-pass order is not TensorFlow's.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from lstmkit.data.dataset import Dataset


def _check_arguments(labels: Any, label_mode: Any, class_names: Any, validation_split: Any, subset: Any,
                     shuffle: bool, seed: Any, format: Any) -> None:
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple)):
            raise ValueError("`labels` argument should be a list/tuple of integer labels, of the same size as the "
                             "number of text files in the target directory. If you wish to infer the labels from "
                             'the subdirectory names in the target directory, pass `labels="inferred"`. If you wish '
                             "to get a dataset that only contains text samples (no labels), pass `labels=None`. "
                             f"Received: labels={labels}")
        if class_names:
            raise ValueError('You can only pass `class_names` if `labels="inferred"`. Received: '
                             f"labels={labels}, and class_names={class_names}")
    if label_mode not in {"int", "categorical", "binary", None}:
        raise ValueError('`label_mode` argument must be one of "int", "categorical", "binary", or None. '
                         f"Received: label_mode={label_mode}")
    if format not in ("tf", "grain"):
        raise ValueError(f'`format` should be either "tf" or "grain". Received: format={format}')
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(f"`validation_split` must be between 0 and 1, received: {validation_split}")
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError("If `subset` is set, `validation_split` must be set, and inversely.")
    if subset not in ("training", "validation", "both", None):
        raise ValueError(f'`subset` must be either "training", "validation" or "both", received: {subset}')
    if validation_split and shuffle and seed is None:
        raise ValueError("If using `validation_split` and shuffling the data, you must provide a `seed` argument, "
                         "to make sure that there is no overlap between the training and validation subset.")


def _files_under(folder: str, follow_links: bool) -> list[str]:
    """The `.txt` files under `folder`, relative to it: walked folders in sorted order, names sorted in each."""
    found = []
    for root, _, files in sorted(os.walk(folder, followlinks=follow_links), key=lambda w: w[0]):
        for name in sorted(files):
            if name.lower().endswith(".txt"):
                found.append(os.path.relpath(os.path.join(root, name), folder))
    return found


def index_directory(directory: str, labels: Any, class_names: list[str] | None = None, shuffle: bool = True,
                    seed: int | None = None, follow_links: bool = False,
                    verbose: bool = True) -> tuple[list[str], Any, list[str] | None]:
    """The `.txt` file paths under `directory`, their labels and the class names, in Keras' order."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"text_dataset_from_directory: the directory {directory!r} does not exist (or is "
                                "not a folder); expected a folder of class subfolders holding .txt files")
    if labels == "inferred":
        subdirs = [d for d in sorted(os.listdir(directory))
                   if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")]
        if class_names is not None:
            if not set(class_names).issubset(set(subdirs)):
                raise ValueError("The `class_names` passed did not match the names of the subdirectories of the "
                                 f"target directory. Expected: {subdirs} (or a subset of it), but received: "
                                 f"class_names={class_names}")
            subdirs = list(class_names)
    else:
        if class_names is not None:
            if labels is None:
                raise ValueError("When `labels=None` (no labels), argument `class_names` cannot be specified.")
            raise ValueError("When argument `labels` is specified, argument `class_names` cannot be specified (the "
                             "`class_names` will be the sorted list of labels).")
        subdirs = [""]
    names: list[str] | None = subdirs
    relative, per_file = [], []
    for index, subdir in enumerate(subdirs):
        files = _files_under(os.path.join(directory, subdir), follow_links)
        relative += [os.path.join(subdir, f) for f in files]
        per_file += [index] * len(files)
    if labels == "inferred":
        labels = np.array(per_file, dtype="int32")
    elif labels is None:
        names = None
    else:
        if len(labels) != len(relative):
            raise ValueError("Expected the lengths of `labels` to match the number of files in the target directory. "
                             f"len(labels) is {len(labels)} while we found {len(relative)} files in directory "
                             f"{directory}.")
        bad = next((v for v in labels if isinstance(v, bool) or not isinstance(v, (int, np.integer))), None)
        if bad is not None:
            raise ValueError(f"`labels` must be integers, one per file; got {type(bad).__name__} {bad!r} among them")
        names = [str(label) for label in sorted(set(labels))]
        labels = list(labels)
    if verbose:
        print(f"Found {len(relative)} files." if labels is None else
              f"Found {len(relative)} files belonging to {len(names or [])} classes.")
    paths = [os.path.join(directory, f) for f in relative]
    if shuffle:
        if seed is None:
            seed = int(np.random.randint(1_000_000))  # noqa: NPY002 - Keras draws the unset seed from the global generator
        np.random.RandomState(seed).shuffle(paths)
        if labels is not None:
            np.random.RandomState(seed).shuffle(labels)
    return paths, labels, names


def training_or_validation_split(samples: list[str], labels: Any, validation_split: float | None,
                                 subset: str | None, verbose: bool = True) -> tuple[list[str], Any]:
    """Keras' split: validation is the last `int(validation_split * n)` samples, training the ones before."""
    if not validation_split:
        return samples, labels
    num_val = int(validation_split * len(samples))
    # `[:-0]` is empty, as in Keras: a split too small for one validation file leaves no training files
    if subset == "training":
        if verbose:
            print(f"Using {len(samples) - num_val} files for training.")
        return samples[:-num_val], None if labels is None else labels[:-num_val]
    if subset == "validation":
        if verbose:
            print(f"Using {num_val} files for validation.")
        return samples[-num_val:], None if labels is None else labels[-num_val:]
    raise ValueError(f'`subset` must be either "training" or "validation", received: {subset}')


def encode_labels(labels: Any, label_mode: str, num_classes: int) -> np.ndarray:
    """int32 `(N,)`, binary float32 `(N, 1)`, or categorical float32 one-hot `(N, C)` (a label outside
    [0, C) gives a row of zeros, as tf.one_hot does)."""
    ids = np.asarray(labels, dtype=np.int64).reshape(-1)
    if label_mode == "binary":
        return ids.astype(np.float32)[:, None]
    if label_mode == "categorical":
        return np.asarray(ids[:, None] == np.arange(num_classes)[None, :], dtype=np.float32)  # (N, C)
    return ids.astype(np.int32)


def _read_text(path: str, max_length: int | None) -> str:
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"text_dataset_from_directory: {path} is not UTF-8 text ({e}); expected UTF-8 .txt "
                         "files") from None
    return text if max_length is None else text[:max_length]


def _paths_to_dataset(paths: list[str], labels: Any, label_mode: str | None, num_classes: int,
                      max_length: int | None, shuffle: bool, buffer_size: int, seed: int | None) -> Dataset:
    files = np.array(paths, dtype=str)
    if label_mode:
        ds = Dataset.from_tensor_slices((files, encode_labels(labels, label_mode, num_classes)))
    else:
        ds = Dataset.from_tensor_slices(files)
    if shuffle:
        ds = ds.shuffle(buffer_size, seed=seed)
    if label_mode:
        return ds.map(lambda path, label: (_read_text(str(path), max_length), label))
    return ds.map(lambda path: _read_text(str(path), max_length))


def text_dataset_from_directory(directory: str | os.PathLike, labels: Any = "inferred", label_mode: str | None = "int",
                                class_names: list[str] | None = None, batch_size: int | None = 32,
                                max_length: int | None = None, shuffle: bool = True, seed: int | None = None,
                                validation_split: float | None = None, subset: str | None = None,
                                follow_links: bool = False, format: str = "tf",
                                verbose: bool = True) -> Dataset | list[Dataset]:
    """Batches `(texts, labels)` of the `.txt` files in the class subfolders of `directory` (Keras' semantics,
    see the module docstring); `subset="both"` returns `[training, validation]`. `format` is accepted for
    Keras' signature: either value gives the same lstmkit `Dataset`."""
    _check_arguments(labels, label_mode, class_names, validation_split, subset, shuffle, seed, format)
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be None or an integer >= 1, got {batch_size!r}")
    if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 0):
        raise ValueError(f"max_length must be None or an integer >= 0, got {max_length!r}")
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if seed is None:
        seed = int(np.random.randint(1_000_000))  # noqa: NPY002 - as Keras
    paths, labels, class_names = index_directory(os.fspath(directory), labels, class_names, shuffle, seed,
                                                 follow_links, verbose)
    if label_mode == "binary" and len(class_names or []) != 2:
        raise ValueError('When passing `label_mode="binary"`, there must be exactly 2 class_names. Received: '
                         f"class_names={class_names}")
    buffer_size = batch_size * 8 if batch_size is not None else 1024
    num_classes = len(class_names) if class_names else 0

    def finish(ds: Dataset) -> Dataset:
        ds = (ds.batch(batch_size) if batch_size is not None else ds).prefetch()
        ds.class_names = class_names
        return ds

    if subset == "both":
        train_paths, train_labels = training_or_validation_split(paths, labels, validation_split, "training", verbose)
        val_paths, val_labels = training_or_validation_split(paths, labels, validation_split, "validation", verbose)
        if not train_paths:
            raise ValueError(f"No training text files found in directory {directory}. Allowed format: .txt")
        if not val_paths:
            raise ValueError(f"No validation text files found in directory {directory}. Allowed format: .txt")
        train = _paths_to_dataset(train_paths, train_labels, label_mode, num_classes, max_length, shuffle,
                                  buffer_size, seed)
        val = _paths_to_dataset(val_paths, val_labels, label_mode, num_classes, max_length, False, buffer_size, seed)
        return [finish(train), finish(val)]
    paths, labels = training_or_validation_split(paths, labels, validation_split, subset, verbose)
    if not paths:
        raise ValueError(f"No text files found in directory {directory}. Allowed format: .txt")
    return finish(_paths_to_dataset(paths, labels, label_mode, num_classes, max_length, shuffle, buffer_size, seed))
