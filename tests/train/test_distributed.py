"""Data-parallel fit/evaluate/predict (lstmkit.train.distributed): distributed_program.py run under torchrun
with 2 processes on gloo (1 thread each) against the same program run alone.

The program trains a Sequential Embedding -> LSTM -> Dense at a global batch of 8 for 3 epochs of 33 rows
(global batches 8, 8, 8, 8, 1: rank 1's last shard is empty) with 4 validation rows, saving a .keras file
per epoch, then evaluates and predicts (batch 6: shards 3 + 3, then 1 + 0). Both runs are float32; DDP
averages the two shards' gradients of the mean, which equals the one-process gradient up to the order of
the float32 sums (measured: at most 6e-8 apart in the weights after 15 steps of SGD), hence 1e-6.
"""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lstmkit.train.distributed import shard_rows

pytestmark = pytest.mark.skipif(not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
                                reason="torch.distributed with the gloo backend is not available in this PyTorch")

PROGRAM = Path(__file__).with_name("distributed_program.py")
ATOL = 1e-6  # float32, the same steps; only the order of the sums differs (see the docstring)
TORCHRUN_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
                "GROUP_RANK", "ROLE_RANK", "TORCHELASTIC_RUN_ID")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(args: list[str], out: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_ENV}
    env.update(OMP_NUM_THREADS="1", KERAS_BACKEND="torch")
    return subprocess.Popen([sys.executable, *args, str(PROGRAM), str(out)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _wait(process: subprocess.Popen) -> None:
    try:
        output, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()  # torchrun's workers end with their agent
        output, _ = process.communicate()
        pytest.fail(f"{process.args} ran past 60 s:\n{output[-3000:]}")
    assert process.returncode == 0, f"{process.args} failed:\n{output[-3000:]}"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """{"single": ..., "rank0": ..., "rank1": ...}: each run's json, weights and predictions; and the folders."""
    root = tmp_path_factory.mktemp("ddp")
    single, dual = root / "single", root / "dual"
    single.mkdir()
    dual.mkdir()
    alone = _start([], single)  # the two runs side by side: most of their time is importing torch
    pair = _start(["-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
                   "--master_port", str(_free_port())], dual)
    _wait(pair)
    _wait(alone)
    found = {}
    for tag, folder in (("single", single), ("rank0", dual), ("rank1", dual)):
        found[tag] = json.loads((folder / f"{tag}.json").read_text())
        for name in ("weights", "sequence_weights", "stopped_weights"):
            with np.load(folder / f"{tag}_{name}.npz") as weights:
                found[tag][name] = [weights[k] for k in sorted(weights.files, key=lambda k: int(k.split("_")[1]))]
        found[tag]["predict"] = np.load(folder / f"{tag}_predict.npy")
    found["folders"] = {"single": single, "dual": dual}
    return found


def test_two_processes_train_the_one_process_weights(runs):
    single, rank0, rank1 = runs["single"], runs["rank0"], runs["rank1"]
    assert len(rank0["weights"]) == len(single["weights"]) == 6  # embedding, LSTM kernel/recurrent/bias, dense
    for w0, w1, ws in zip(rank0["weights"], rank1["weights"], single["weights"]):
        np.testing.assert_array_equal(w0, w1)  # DDP: the same averaged gradient and step on every rank
        np.testing.assert_allclose(w0, ws, rtol=0, atol=ATOL)
        assert not np.array_equal(ws, np.zeros_like(ws))
    # predict gathers both ranks' shards in the rows' order: all 37 rows, as one process predicts them
    assert rank0["predict"].shape == single["predict"].shape == (37, 1)
    np.testing.assert_array_equal(rank0["predict"], rank1["predict"])
    np.testing.assert_allclose(rank0["predict"], single["predict"], rtol=0, atol=ATOL)


def test_a_shuffled_sequence_trains_the_one_process_weights(runs):
    # a Keras 2 Sequence with shuffle=True: rank 0's order of its batches on every rank (rank 1's own
    # generator is seeded apart), each batch cut in two
    single, rank0, rank1 = runs["single"], runs["rank0"], runs["rank1"]
    for w0, w1, ws, before in zip(rank0["sequence_weights"], rank1["sequence_weights"], single["sequence_weights"],
                                  single["weights"]):
        np.testing.assert_array_equal(w0, w1)
        np.testing.assert_allclose(w0, ws, rtol=0, atol=ATOL)
        assert not np.array_equal(ws, before)  # a run of its own, not the first fit's weights


def test_a_stop_on_one_rank_stops_every_rank_at_the_same_step(runs):
    # a batch callback sets stop_training on rank 1 alone after its second batch: both ranks stop there
    # (leaving the loop alone, rank 1 would meet rank 0's next gradient all-reduce with its epoch-end one)
    single, rank0, rank1 = runs["single"], runs["rank0"], runs["rank1"]
    assert single["stopped"] == rank0["stopped"] == rank1["stopped"] == {"batches": 2, "epochs": 1}
    for w0, w1, ws, before in zip(rank0["stopped_weights"], rank1["stopped_weights"], single["stopped_weights"],
                                  single["weights"]):
        np.testing.assert_array_equal(w0, w1)
        np.testing.assert_allclose(w0, ws, rtol=0, atol=ATOL)
        assert not np.array_equal(ws, before)


def test_shards_cover_each_example_once_per_epoch(runs):
    for n in ("21", "17"):
        one, r0, r1 = runs["single"]["shards"][n], runs["rank0"]["shards"][n], runs["rank1"]["shards"][n]
        for epoch in range(2):
            ids = [i for batch in r0[epoch] + r1[epoch] for i in batch]
            assert sorted(ids) == list(range(int(n)))  # each example exactly once
            # global batch b is rank 0's shard then rank 1's: the one-process epoch, in its order
            sizes = [len(b) for b in one[epoch]]
            assert sizes == [8, 8, 5] if n == "21" else [8, 8, 1]
            for b, whole in enumerate(one[epoch]):
                lo, hi = shard_rows(len(whole), 0, 2)
                assert r0[epoch][b] == whole[lo:hi]
                if len(whole) > hi:
                    assert r1[epoch][b] == whole[hi:]
            assert len(r1[epoch]) == (3 if n == "21" else 2)  # the 1-row batch leaves rank 1 empty
        assert one[0] != one[1]  # reshuffled each epoch


def test_history_and_evaluate_equal_on_both_ranks_and_to_one_process(runs):
    single, rank0, rank1 = runs["single"], runs["rank0"], runs["rank1"]
    assert sorted(single["history"]) == ["acc", "loss", "val_acc", "val_loss"]
    assert rank0["history"] == rank1["history"]  # the same all-reduced numbers: callbacks decide alike
    assert rank0["evaluate"] == rank1["evaluate"]
    for key, values in single["history"].items():
        assert len(values) == 3
        np.testing.assert_allclose(rank0["history"][key], values, rtol=0, atol=ATOL, err_msg=key)
    for key, value in single["evaluate"].items():
        np.testing.assert_allclose(rank0["evaluate"][key], value, rtol=0, atol=ATOL, err_msg=key)
    # acc is a count over both shards: 33 training rows, so a multiple of 1/33 (a rank alone has 17 or 16)
    for acc in rank0["history"]["acc"]:
        assert abs(acc * 33 - round(acc * 33)) < 1e-4


def test_only_rank_zero_writes_checkpoints_and_backups(runs):
    expected = ["model-1.keras", "model-2.keras", "model-3.keras"]
    assert runs["single"]["saves"] == expected
    assert runs["rank0"]["saves"] == expected
    assert runs["rank1"]["saves"] == []
    # exactly the finished files, no temporary or partial ones
    assert sorted(os.listdir(runs["folders"]["dual"] / "ckpt")) == expected
    # BackupAndRestore: rank 0 writes the backup after each epoch; both ranks resume from it alike
    assert runs["rank0"]["backups"] == runs["single"]["backups"] == ["checkpoint.safetensors"] * 3
    assert runs["rank1"]["backups"] == []
    assert sorted(os.listdir(runs["folders"]["dual"] / "backup")) == sorted(os.listdir(runs["folders"]["single"]
                                                                                       / "backup"))
    for tag in ("single", "rank0", "rank1"):
        assert runs[tag]["resumed"] == {"restored_epoch": 3, "epochs_run": 0}, tag


def test_a_global_batch_two_processes_cannot_split_is_an_error(runs):
    for tag in ("rank0", "rank1"):
        message = runs[tag]["bad_batch"]
        assert message is not None and "batch_size=7" in message and "2 processes" in message, message
    assert runs["single"]["bad_batch"] is None  # one process takes any batch size


def test_keras_distribution_names_one_device_per_process(runs):
    assert runs["single"]["devices"] == ["cpu:0"]
    assert runs["rank0"]["devices"] == runs["rank1"]["devices"] == ["cpu:0", "cpu:1"]


def test_keras_distribution_refuses_what_it_does_not_support():
    from lstmkit.keras import distribution

    with pytest.raises(TypeError, match="takes a DataParallel or None, got str"):
        distribution.set_distribution("data_parallel")
    with pytest.raises(ValueError, match=r"DataParallel\(device_mesh=\.\.\.\) is not supported"):
        distribution.DataParallel(device_mesh=object())
    with pytest.raises(ValueError, match=r"one device per process: this group has 1 \(\['cpu:0'\]\), got 2"):
        distribution.DataParallel(devices=["cpu:0", "cpu:1"])
    with pytest.raises(ValueError, match="auto_shard_dataset=False"):
        distribution.DataParallel(auto_shard_dataset=False)
    assert distribution.distribution() is None  # nothing was set in this process


def test_shard_rows_split_a_batch_as_evenly_as_possible():
    assert [shard_rows(8, r, 2) for r in range(2)] == [(0, 4), (4, 8)]
    assert [shard_rows(5, r, 2) for r in range(2)] == [(0, 3), (3, 5)]
    assert [shard_rows(1, r, 2) for r in range(2)] == [(0, 1), (1, 1)]
    assert [shard_rows(7, r, 3) for r in range(3)] == [(0, 3), (3, 5), (5, 7)]
