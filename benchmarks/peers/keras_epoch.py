"""Keras 3 itself, timed on the classic IMDB model: run by `benchmarks/cpu_imdb_epoch.py` with the
Python of a virtual environment that has keras and tensorflow-cpu (or with KERAS_BACKEND=torch).

    KERAS_BACKEND=tensorflow /path/to/tf-venv/bin/python benchmarks/peers/keras_epoch.py \
        --kind lstm --units 32 --batches 10 --repeats 3

Same procedure as ../shared/bench/keras_tf_cpu.py: random token ids in [1, 10000), length 500,
batch 128; one warm-up fit of two batches, then `repeats` timed fits of `batches` batches each.
Prints one JSON line: the seconds of each timed fit and the versions.
"""

import argparse
import json
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
from keras import layers

LAYERS = {"lstm": layers.LSTM, "gru": layers.GRU, "simplernn": layers.SimpleRNN}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--kind", choices=sorted(LAYERS), required=True)
    p.add_argument("--units", type=int, default=32)
    p.add_argument("--batches", type=int, default=10)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--maxlen", type=int, default=500)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    n = args.batches * args.batch_size
    xs = rng.integers(1, 10000, size=(n, args.maxlen)).astype("int32")
    ys = rng.integers(0, 2, size=(n,)).astype("float32")
    model = keras.Sequential([keras.Input((args.maxlen,), dtype="int32"), layers.Embedding(10000, 32),
                              LAYERS[args.kind](args.units), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    model.fit(xs[: 2 * args.batch_size], ys[: 2 * args.batch_size], batch_size=args.batch_size, epochs=1, verbose=0)
    seconds = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        model.fit(xs, ys, batch_size=args.batch_size, epochs=1, verbose=0)
        seconds.append(time.perf_counter() - t0)
    versions = {"keras": keras.__version__, "backend": keras.backend.backend(), "python": platform.python_version()}
    if versions["backend"] == "tensorflow":
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
    elif versions["backend"] == "torch":
        import torch

        versions["torch"] = torch.__version__
    print(json.dumps({"kind": args.kind, "units": args.units, "batches": args.batches,
                      "batch_size": args.batch_size, "seconds": seconds, "params": model.count_params(),
                      "versions": versions}))


if __name__ == "__main__":
    main()
