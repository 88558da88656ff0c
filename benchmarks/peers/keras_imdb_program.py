"""The book's IMDB programs in Keras 3 itself, on arrays prepared by lstmkit (the same reviews, the same
padding), for the accuracy and the time per epoch beside lstmkit.keras. Run by
`benchmarks/keras_imdb_peer.py` with the Python of an environment holding keras and tensorflow-cpu.

    KERAS_BACKEND=tensorflow python benchmarks/peers/keras_imdb_program.py --data imdb_padded.npz --model lstm

Prints one JSON line: the history, the test accuracy, seconds per epoch and the versions.
"""

import argparse
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
from keras import layers


def build(name: str, maxlen: int) -> keras.Model:
    body = {
        "simplernn": lambda: [layers.SimpleRNN(32)],
        "lstm": lambda: [layers.LSTM(32)],
        "gru": lambda: [layers.GRU(32)],
        "bilstm": lambda: [layers.Bidirectional(layers.LSTM(32))],
        "conv1d": lambda: [layers.Conv1D(32, 7, activation="relu"), layers.MaxPooling1D(5),
                           layers.Conv1D(32, 7, activation="relu"), layers.GlobalMaxPooling1D()],
    }[name]()
    model = keras.Sequential([keras.Input(shape=(maxlen,), dtype="int32"), layers.Embedding(10000, 32), *body,
                              layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    return model


class Timer(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.t0 = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.t0)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    d = np.load(args.data)
    keras.utils.set_random_seed(args.seed)
    model = build(args.model, d["x_train"].shape[1])
    timer = Timer()
    history = model.fit(d["x_train"], d["y_train"], epochs=args.epochs, batch_size=128, validation_split=0.2,
                        verbose=2, callbacks=[timer])
    test_loss, test_acc = model.evaluate(d["x_test"], d["y_test"], batch_size=512, verbose=0)
    versions = {"keras": keras.__version__, "backend": keras.backend.backend()}
    if versions["backend"] == "tensorflow":
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
    print(json.dumps({"model": args.model, "history": {k: [float(x) for x in v] for k, v in history.history.items()},
                      "test_acc": float(test_acc), "test_loss": float(test_loss), "epoch_seconds": timer.seconds,
                      "params": model.count_params(), "versions": versions}))


if __name__ == "__main__":
    main()
