"""A plain Keras-facade program with BackupAndRestore, for tests/train/test_elastic.py: run under
`torchrun --max-restarts 1` with 2 processes, and called in the test's own process as the uninterrupted run.

`python elastic_program.py OUT_DIR MARKER` trains Embedding -> LSTM -> Dense on 64 shuffled rows at a global
batch of 8 (8 steps an epoch) for 3 epochs, backing up into OUT_DIR/backup after each epoch. Rank 1 kills itself
with SIGKILL after step KILL_STEP of the second epoch unless MARKER exists (it writes MARKER first: the restarted
group runs through). Each process writes OUT_DIR/<tag>.npz (its weights) and OUT_DIR/<tag>.json (the history of
every epoch, restored ones included, torchrun's restart count and the process id), tag "rank0", "rank1" or
"single". A TensorBoard callback logs into OUT_DIR/tb (rank 0 alone writes: one event file per attempt).
"""

import json
import os
import signal
import sys

import numpy as np
import torch

from lstmkit import keras
from lstmkit.train import distributed

N, T, VOCAB, EPOCHS, BATCH = 64, 5, 11, 3, 8
KILL_EPOCH, KILL_STEP = 1, 3  # 0-based: the second epoch, after its fourth step (rank 0 saved epoch 1 by then)


class KillOnce(keras.callbacks.Callback):
    """SIGKILL to this process after step KILL_STEP of epoch KILL_EPOCH, the first time only (the marker file)."""

    def __init__(self, marker: str | None) -> None:
        super().__init__()
        self.marker, self.epoch = marker, -1

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.marker is None or (self.epoch, batch) != (KILL_EPOCH, KILL_STEP) or os.path.exists(self.marker):
            return
        with open(self.marker, "w") as f:
            f.write(f"killed rank {os.environ.get('RANK')} at epoch {self.epoch + 1}, step {batch + 1}\n")
        os.kill(os.getpid(), signal.SIGKILL)


def main(out: str, marker: str | None) -> dict:
    world = distributed.world()
    tag = "single" if world is None else f"rank{world.rank}"
    rng = np.random.default_rng(1)
    x = rng.integers(1, VOCAB, size=(N, T))
    y = (x.sum(axis=1) % 2).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((T,), dtype="int32"), keras.layers.Embedding(VOCAB, 4),
                              keras.layers.LSTM(6), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=keras.optimizers.RMSprop(0.01), loss="binary_crossentropy", metrics=["acc"])
    backup = keras.callbacks.BackupAndRestore(os.path.join(out, "backup"), delete_checkpoint=False)
    killer = KillOnce(marker if world is not None and world.rank == 1 else None)
    board = keras.callbacks.TensorBoard(os.path.join(out, "tb"))
    history = model.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=True, callbacks=[backup, killer, board],
                        verbose=0)
    result = {"history": backup.full_history(history), "restored_epoch": backup.restored_epoch,
              "restarts": distributed.restart_count(), "pid": os.getpid()}
    np.savez(os.path.join(out, f"{tag}.npz"), *model.get_weights())
    with open(os.path.join(out, f"{tag}.json"), "w") as f:
        json.dump(result, f)
    return result


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(sys.argv[1], sys.argv[2])
