"""lstmkit.keras.utils.text_dataset_from_directory on class folders of real IMDB reviews.

Keras' own function needs TensorFlow (not installed) once it builds the tf.data pipeline, so: the file order,
shuffle and split are compared with Keras' `dataset_utils.index_directory` and `get_training_or_validation_split`
(pure Python, called here on the same folder); the argument errors with real Keras, whose checks run before
TensorFlow is touched; labels, class names, counts and truncation with values worked out from Keras' rules."""

from __future__ import annotations

import csv
import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from lstmkit.data.dataset import Array
from lstmkit.keras.utils import text_dataset_from_directory

N_NEG, N_POS = 130, 90  # 220 files: int(0.2 * 220) = 44 for validation


@pytest.fixture(scope="module")
def reviews(tmp_path_factory) -> tuple[Path, dict[str, tuple[str, int]]]:
    """neg/ and pos/ folders of the first train reviews of each class (file `id_rating.txt`, as aclImdb names
    them), a dot-folder and a non-.txt file that must be ignored; returns the folder and path -> (text, label)."""
    source = Path(os.environ.get("LSTMKIT_DATA_DIR", "")) / "imdb_reviews.csv.gz"
    if not source.is_file():
        pytest.skip("set LSTMKIT_DATA_DIR to the shared data folder (imdb_reviews.csv.gz)")
    root = tmp_path_factory.mktemp("reviews")
    wanted, files = {0: N_NEG, 1: N_POS}, {}
    with gzip.open(source, "rt", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            label = int(row["label"])
            if row["split"] != "train" or wanted[label] == 0:
                if not any(wanted.values()):
                    break
                continue
            wanted[label] -= 1
            folder = root / ("pos" if label else "neg")
            folder.mkdir(exist_ok=True)
            path = folder / f"{row['id']}_{row['rating']}.txt"
            path.write_bytes(row["text"].encode("utf-8"))
            files[str(path)] = (row["text"], label)
    (root / ".ipynb_checkpoints").mkdir()
    (root / ".ipynb_checkpoints" / "x.txt").write_text("not a review")
    (root / "pos" / "urls_pos.lst").write_text("not a .txt file")
    return root, files


def texts_and_labels(ds):
    texts, labels = [], []
    for x, y in ds:
        texts += x.tolist()
        labels += y.tolist()
    return texts, labels


def test_counts_class_names_and_label_encodings(reviews):
    root, files = reviews
    ds = text_dataset_from_directory(root, batch_size=32, seed=1, verbose=False)
    assert ds.class_names == ["neg", "pos"] and len(ds) == 7  # ceil(220 / 32)
    x, y = next(iter(ds))
    assert isinstance(x, Array) and x.dtype.kind == "U" and x.shape == (32,) and y.dtype == np.int32
    assert x.numpy()[0] == x[0]
    by_text = {text: label for text, label in files.values()}
    texts, labels = texts_and_labels(ds)
    assert sorted(texts) == sorted(by_text) and [by_text[t] for t in texts] == labels
    assert labels.count(0) == N_NEG and labels.count(1) == N_POS
    _, yb = next(iter(text_dataset_from_directory(root, label_mode="binary", seed=1, verbose=False)))
    assert yb.dtype == np.float32 and yb.shape == (32, 1)
    _, yc = next(iter(text_dataset_from_directory(root, label_mode="categorical", seed=1, verbose=False)))
    assert yc.dtype == np.float32 and yc.shape == (32, 2)
    np.testing.assert_array_equal(yc, np.eye(2, dtype=np.float32)[yb[:, 0].astype(int)])
    flipped = text_dataset_from_directory(root, class_names=["pos", "neg"], seed=1, verbose=False)
    ftexts, flabels = texts_and_labels(flipped)
    assert flipped.class_names == ["pos", "neg"] and [1 - by_text[t] for t in ftexts] == flabels


def test_unshuffled_order_is_keras_index_order(reviews):
    from keras.src.utils import dataset_utils

    root, files = reviews
    paths, labels, names = dataset_utils.index_directory(str(root), "inferred", formats=(".txt",), shuffle=False,
                                                         verbose=False)
    ds = text_dataset_from_directory(root, shuffle=False, batch_size=50, verbose=False)
    texts, got_labels = texts_and_labels(ds)
    assert texts == [files[p][0] for p in paths] and got_labels == list(labels) and ds.class_names == names
    assert len(paths) == N_NEG + N_POS  # the dot-folder and the .lst file are not indexed


def test_split_is_keras_shuffle_and_split_and_repeats_with_its_seed(reviews):
    from keras.src.utils import dataset_utils

    root, files = reviews
    paths, labels, _ = dataset_utils.index_directory(str(root), "inferred", formats=(".txt",), shuffle=True, seed=42,
                                                     verbose=False)
    k_train, _ = dataset_utils.get_training_or_validation_split(paths, labels, 0.2, "training")
    k_val, k_val_labels = dataset_utils.get_training_or_validation_split(paths, labels, 0.2, "validation")
    train, val = text_dataset_from_directory(root, validation_split=0.2, subset="both", seed=42, verbose=False)
    val_texts, val_labels = texts_and_labels(val)
    assert len(k_val) == 44 and val_texts == [files[p][0] for p in k_val] and val_labels == list(k_val_labels)
    train_texts, _ = texts_and_labels(train)
    assert sorted(train_texts) == sorted(files[p][0] for p in k_train) and len(train_texts) == 176
    assert not set(train_texts) & set(val_texts) and len(set(train_texts) | set(val_texts)) == len(files)
    # the training set is reshuffled every pass, in orders fixed by the seed: a second dataset repeats them
    second_pass, third_pass = texts_and_labels(train)[0], texts_and_labels(train)[0]
    assert len({tuple(train_texts), tuple(second_pass), tuple(third_pass)}) == 3
    again, _ = text_dataset_from_directory(root, validation_split=0.2, subset="both", seed=42, verbose=False)
    assert [texts_and_labels(again)[0] for _ in range(3)] == [train_texts, second_pass, third_pass]
    other, _ = text_dataset_from_directory(root, validation_split=0.2, subset="both", seed=43, verbose=False)
    assert texts_and_labels(other)[0] != train_texts


def test_same_seed_same_batches_on_every_run(reviews):
    root, _ = reviews

    def run():
        ds = text_dataset_from_directory(root, validation_split=0.3, subset="training", seed=5, batch_size=16,
                                         verbose=False)
        return [texts_and_labels(ds) for _ in range(3)]  # three passes (epochs)

    assert run() == run()


def test_same_seed_same_order_in_another_process(reviews):
    import hashlib
    import subprocess
    import sys

    root, _ = reviews
    code = ("import hashlib, sys\n"
            "from lstmkit.keras.utils import text_dataset_from_directory as f\n"
            "train, val = f(sys.argv[1], validation_split=0.2, subset='both', seed=11, verbose=False)\n"
            "for ds in (train, train, val):\n"
            "    print(hashlib.sha256('|'.join(t for x, _ in ds for t in x.tolist()).encode()).hexdigest())\n")
    out = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONHASHSEED": "random"}).stdout.split()
    train, val = text_dataset_from_directory(root, validation_split=0.2, subset="both", seed=11, verbose=False)
    here = [hashlib.sha256("|".join(t for x, _ in ds for t in x.tolist()).encode()).hexdigest()
            for ds in (train, train, val)]
    assert out == here and here[0] != here[1]  # two training passes, two orders, the same in both processes


def test_max_length_batch_size_none_and_no_labels(reviews):
    root, files = reviews
    cut = text_dataset_from_directory(root, max_length=40, shuffle=False, verbose=False)
    texts, _ = texts_and_labels(cut)
    full = [t for t, _ in sorted(files.values(), key=lambda v: v[1])]  # neg first, as the sorted folders
    assert all(len(t) <= 40 for t in texts) and sorted(texts) == sorted(t[:40] for t in full)
    single = text_dataset_from_directory(root, batch_size=None, shuffle=False, verbose=False)
    x, y = next(iter(single))
    assert isinstance(x, str) and int(y) == 0 and len(single) == len(files)
    bare = text_dataset_from_directory(root, label_mode=None, shuffle=False, batch_size=100, verbose=False)
    batch = next(iter(bare))
    assert isinstance(batch, Array) and batch.shape == (100,) and bare.class_names is None


def test_labels_given_as_a_list_follow_the_sorted_paths(reviews):
    root, files = reviews
    from keras.src.utils import dataset_utils

    paths, _, _ = dataset_utils.index_directory(str(root), None, formats=(".txt",), shuffle=False, verbose=False)
    # without inferred labels the walk starts at the top and takes the dot-folder's file too, as Keras' does
    assert len(paths) == len(files) + 1 and paths[0].endswith(os.path.join(".ipynb_checkpoints", "x.txt"))
    rating = [0] + [int(Path(p).stem.split("_")[1]) for p in paths[1:]]
    ds = text_dataset_from_directory(root, labels=rating, shuffle=False, batch_size=300, verbose=False)
    texts, labels = texts_and_labels(ds)
    assert labels == rating and texts == ["not a review"] + [files[p][0] for p in paths[1:]]
    assert ds.class_names == [str(r) for r in sorted(set(rating))]


def test_verbose_prints_keras_lines(reviews, capsys):
    root, _ = reviews
    text_dataset_from_directory(root, validation_split=0.25, subset="both", seed=0)
    assert capsys.readouterr().out.splitlines() == ["Found 220 files belonging to 2 classes.",
                                                    "Using 165 files for training.", "Using 55 files for validation."]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"label_mode": "sparse"}, r'`label_mode` argument must be one of "int", "categorical", "binary", or None'),
    ({"validation_split": 0.2}, r"If `subset` is set, `validation_split` must be set, and inversely\."),
    ({"validation_split": 0.2, "subset": "training"}, r"you must provide a `seed` argument"),
    ({"validation_split": 1.5, "subset": "training", "seed": 1}, r"`validation_split` must be between 0 and 1"),
    ({"validation_split": 0.2, "subset": "train", "seed": 1}, r'`subset` must be either "training", "validation"'),
    ({"labels": "folders"}, r"`labels` argument should be a list/tuple of integer labels"),
    ({"class_names": ["neg", "other"]}, r"The `class_names` passed did not match the names of the subdirectories"),
    ({"labels": [0, 1], "class_names": ["neg"]}, r"You can only pass `class_names` if `labels=\"inferred\"`"),
    ({"labels": None, "class_names": ["neg"]}, r"When `labels=None` \(no labels\), argument `class_names` cannot be"),
    ({"labels": [0, 1]}, r"Expected the lengths of `labels` to match the number of files in the target directory"),
    ({"label_mode": "binary", "class_names": ["neg"]}, r"there must be exactly 2 class_names"),
])
@pytest.mark.parametrize("library", ["keras", "lstmkit"])
def test_bad_arguments_raise_what_keras_raises(reviews, library, kwargs, message):
    root, _ = reviews
    if library == "keras":
        import keras

        function = keras.utils.text_dataset_from_directory
    else:
        function = text_dataset_from_directory
    with pytest.raises(ValueError, match=message):
        function(str(root), verbose=False, **kwargs)


def test_a_lone_subset_without_shuffle_is_the_end_of_the_sorted_files(reviews):
    from keras.src.utils import dataset_utils

    root, files = reviews
    paths, _, _ = dataset_utils.index_directory(str(root), "inferred", formats=(".txt",), shuffle=False,
                                                verbose=False)
    alone = text_dataset_from_directory(root, validation_split=0.2, subset="validation", shuffle=False,
                                        verbose=False)
    texts, labels = texts_and_labels(alone)
    assert texts == [files[p][0] for p in paths[-44:]] and labels == [1] * 44  # the last pos files


def test_labels_that_are_not_integers_are_refused(reviews):
    root, files = reviews
    labels = [0] * len(files) + ["pos"]  # one per file, the dot-folder's included
    with pytest.raises(ValueError, match=r"`labels` must be integers, one per file; got str 'pos' among them"):
        text_dataset_from_directory(root, labels=labels, verbose=False)


def test_a_missing_folder_and_an_empty_one_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"the directory '.*nowhere' does not exist"):
        text_dataset_from_directory(tmp_path / "nowhere")
    (tmp_path / "a").mkdir()
    with pytest.raises(ValueError, match=r"No text files found in directory .*\. Allowed format: \.txt"):
        text_dataset_from_directory(tmp_path, verbose=False)


def test_fit_evaluate_predict_on_the_datasets(reviews):
    import lstmkit.keras as keras

    root, _ = reviews
    keras.utils.set_random_seed(0)
    train, val = text_dataset_from_directory(root, validation_split=0.2, subset="both", seed=3, batch_size=32,
                                             verbose=False)
    vectorize = keras.layers.TextVectorization(max_tokens=2000, output_mode="int", output_sequence_length=60)
    vectorize.adapt(train.map(lambda x, y: x))
    # Deep Learning with Python (2nd ed., ch. 11) writes it so: num_parallel_calls, then cache() for fit
    int_train = train.map(lambda x, y: (vectorize(x), y), num_parallel_calls=4).cache()
    int_val = val.map(lambda x, y: (vectorize(x), y), num_parallel_calls=4)
    inputs, targets = next(iter(int_train))
    assert tuple(inputs.shape) == (32, 60) and targets.numpy().dtype == np.int32
    model = keras.Sequential([keras.Input(shape=(60,), dtype="int64"), keras.layers.Embedding(2000, 8),
                              keras.layers.LSTM(8), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(int_train, validation_data=int_val, epochs=1, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert np.isfinite(history.history["val_loss"][0])
    loss, accuracy = model.evaluate(int_val, verbose=0)
    assert loss == pytest.approx(history.history["val_loss"][0], rel=1e-5)
    assert 0 <= accuracy <= 1
    assert model.predict(int_val, verbose=0).shape == (44, 1)
