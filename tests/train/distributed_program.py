"""A Keras-facade program for tests/train/test_distributed.py, run under torchrun with 2 processes and alone.

`python distributed_program.py OUT_DIR` writes, as `OUT_DIR/<tag>.*` (tag "rank0", "rank1" or "single"):
the weights after fit (.npz), fit's History, evaluate's and predict's results (.json / .npz), the calls
that reached the .keras writer, and the rows each shard held per epoch; then the error a batch_size of 7
gives. The model and data are seeded, so every process starts alike (DDP broadcasts rank 0's weights anyway).
"""

import json
import math
import os
import sys

import numpy as np
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")
torch.set_num_threads(1)

from lstmkit import keras  # noqa: E402 (after the thread count and the backend)
from lstmkit.keras.models import model as model_mod  # noqa: E402
from lstmkit.train import TensorBatches, checkpoint, distributed  # noqa: E402

N, T, VOCAB = 37, 5, 11  # validation_split 0.1 leaves 33 rows: global batches 8, 8, 8, 8, 1 (rank 1: empty)


def main(out: str) -> None:
    keras.distribution.set_distribution(keras.distribution.DataParallel())  # as a Keras 3 program; torchrun's
    world = distributed.world()                                               # environment alone would do
    tag = "single" if world is None else f"rank{world.rank}"
    devices = keras.distribution.distribution().devices
    saves: list[str] = []
    writer = model_mod.save_model

    def counting_writer(model, filepath, **kwargs):  # every call that gets past Model.save's rank check
        saves.append(os.path.basename(os.fspath(filepath)))
        writer(model, filepath, **kwargs)

    model_mod.save_model = counting_writer
    backups: list[str] = []
    backup_writer = checkpoint.save

    def counting_backup_writer(path, state):  # every call that gets past BackupAndRestore's rank check
        backups.append(os.path.basename(os.fspath(path)))
        backup_writer(path, state)

    checkpoint.save = counting_backup_writer

    rng = np.random.default_rng(0)
    x = rng.integers(1, VOCAB, size=(N, T))
    y = (x.sum(axis=1) % 2).astype("float32")
    model = build()
    saver = keras.callbacks.ModelCheckpoint(os.path.join(out, "ckpt", "model-{epoch}.keras"))
    backup = keras.callbacks.BackupAndRestore(os.path.join(out, "backup"), delete_checkpoint=False)
    history = model.fit(x, y, batch_size=8, epochs=3, validation_split=0.1, callbacks=[saver, backup], verbose=0)
    np.savez(os.path.join(out, f"{tag}_weights.npz"), *model.get_weights())
    evaluated = model.evaluate(x, y, batch_size=8, verbose=0, return_dict=True)
    np.save(os.path.join(out, f"{tag}_predict.npy"), model.predict(x, batch_size=6, verbose=0))
    # a second fit resumes from rank 0's backup on every rank: all 3 epochs are done, none is left to run
    resumed = model.fit(x, y, batch_size=8, epochs=3, validation_split=0.1, callbacks=[saver, backup], verbose=0)
    np.savez(os.path.join(out, f"{tag}_sequence_weights.npz"), *fit_sequence(x, y, world))
    stopped_weights, stopped = fit_stopped_by_rank_1(x, y, world)
    np.savez(os.path.join(out, f"{tag}_stopped_weights.npz"), *stopped_weights)
    with open(os.path.join(out, f"{tag}.json"), "w") as f:
        json.dump({"devices": devices, "history": history.history, "evaluate": evaluated, "saves": saves, "backups": backups,
                   "resumed": {"restored_epoch": backup.restored_epoch, "epochs_run": len(resumed.epoch)},
                   "shards": shard_rows(world), "stopped": stopped, "bad_batch": bad_batch(model, x, y)}, f)


class Batches:
    """A Keras 2 Sequence: global batches of 8 rows by index (33 rows: the last batch has 1)."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return math.ceil(len(self.x) / 8)

    def __getitem__(self, i):
        return self.x[8 * i:8 * (i + 1)], self.y[8 * i:8 * (i + 1)]


def build():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((T,), dtype="int32"), keras.layers.Embedding(VOCAB, 4),
                              keras.layers.LSTM(6), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss="binary_crossentropy", metrics=["acc"])
    return model


def fit_sequence(x, y, world):
    """Weights after 2 epochs on a Sequence read in shuffled order (each rank's generator seeded apart)."""
    model = build()
    torch.manual_seed(5 + (0 if world is None else world.rank))
    model.fit(Batches(x[:33], y[:33]), epochs=2, shuffle=True, verbose=0)
    return model.get_weights()


class StopAtSecondBatch(keras.callbacks.Callback):
    """Stops training after the second batch, on rank 1 only (alone: in the one process), from that rank's
    own view as TerminateOnNaN does on a local loss; counts the batches this rank ran."""

    def __init__(self, world):
        super().__init__()
        self.world, self.batches = world, 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        if batch == 1 and (self.world is None or self.world.rank == 1):
            self.model.stop_training = True


def fit_stopped_by_rank_1(x, y, world):
    """Weights after a fit that rank 1 alone stops in its first epoch; the batches and epochs each rank ran."""
    model = build()
    stop = StopAtSecondBatch(world)
    history = model.fit(x, y, batch_size=8, epochs=3, validation_split=0.1, callbacks=[stop], verbose=0)
    return model.get_weights(), {"batches": stop.batches, "epochs": len(history.epoch)}


def shard_rows(world):
    """The ids this process trains on, per data set, epoch and global batch (an empty shard's stand-in row
    left out): 21 ids make global batches 8, 8, 5 (shards 3 and 2), 17 ids 8, 8, 1 (rank 1's last is empty)."""
    found = {}
    for n in (21, 17):
        ids = torch.arange(n)
        batches = TensorBatches([ids], ids, None, batch_size=8, shuffle=True)
        torch.manual_seed(n + (0 if world is None else world.rank))  # rank 1's own order must not be used
        if world is not None:
            parallel = distributed.DataParallel(None, world)
            batches = parallel.shard(batches)
        epochs = []
        for _ in range(2):
            rows = []
            for bx, by, _ in batches:
                assert bx.tolist() == by.tolist()  # inputs and targets stay paired
                if world is None or parallel.current.rows:
                    rows.append(bx.tolist())
            epochs.append(rows)
        found[str(n)] = epochs
    return found


def bad_batch(model, x, y):
    try:
        model.fit(x, y, batch_size=7, epochs=1, verbose=0)
    except ValueError as e:  # the message is the result the test checks
        return str(e)
    return None


if __name__ == "__main__":
    main(sys.argv[1])
