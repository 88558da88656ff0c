"""Elastic restarts of a plain Keras-facade program (elastic_program.py) under `torchrun --max-restarts 1`:
2 processes on gloo, rank 1 SIGKILLs itself in the middle of the second epoch (the first time only); torchrun
restarts the group, both ranks resume from rank 0's BackupAndRestore of epoch 1, and the run ends with the
weights and history of the same program run uninterrupted in one process.

Tolerance: the two shards' gradients are averaged by DDP where one process sums the whole batch, so the
weights differ by the order of float32 sums (tests/train/test_distributed.py measured <= 6e-8), hence 1e-6.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.skipif(not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
                                reason="torch.distributed with the gloo backend is not available in this PyTorch")

PROGRAM = Path(__file__).with_name("elastic_program.py")
ATOL = 1e-6
TORCHRUN_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
                "GROUP_RANK", "ROLE_RANK", "TORCHELASTIC_RUN_ID", "TORCHELASTIC_RESTART_COUNT")


def _weights(path: Path) -> list[np.ndarray]:
    with np.load(path) as f:
        return [f[k] for k in sorted(f.files, key=lambda k: int(k.split("_")[1]))]


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """The killed-and-restarted run under torchrun: its folder and output."""
    out = tmp_path_factory.mktemp("elastic")
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_ENV}
    env.update(OMP_NUM_THREADS="1", KERAS_BACKEND="torch")
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                           "--max-restarts", "1", str(PROGRAM), str(out), str(out / "killed.marker")],
                          env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"torchrun failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return out, done.stderr


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The same program in this process, one thread, no kill: the weights to end with."""
    spec = importlib.util.spec_from_file_location("elastic_program", PROGRAM)
    program = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(program)
    out = tmp_path_factory.mktemp("uninterrupted")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        program.main(str(out), None)
    finally:
        torch.set_num_threads(threads)
    return out


def test_a_killed_worker_restarts_and_ends_with_the_uninterrupted_weights(killed, uninterrupted):
    out, log = killed
    assert (out / "killed.marker").read_text() == "killed rank 1 at epoch 2, step 4\n"
    assert "exitcode: -9" in log  # torchrun saw the SIGKILL, and restarted the group once
    single = json.loads((uninterrupted / "single.json").read_text())
    expected = _weights(uninterrupted / "single.npz")
    for rank in (0, 1):
        found = json.loads((out / f"rank{rank}.json").read_text())
        assert found["restarts"] == 1  # this rank ran in the restarted group
        assert found["restored_epoch"] == 1  # from rank 0's backup of the first epoch
        for key, values in single["history"].items():
            np.testing.assert_allclose(found["history"][key], values, rtol=0, atol=ATOL, err_msg=key)
        weights = _weights(out / f"rank{rank}.npz")
        assert len(weights) == len(expected) == 6
        for w, e in zip(weights, expected):
            np.testing.assert_allclose(w, e, rtol=0, atol=ATOL)
    for w0, w1 in zip(_weights(out / "rank0.npz"), _weights(out / "rank1.npz")):
        np.testing.assert_array_equal(w0, w1)  # DDP: the same step on both ranks
    assert single["restored_epoch"] == 0 and single["restarts"] == 0


def test_only_rank_zero_writes_tensorboard_events(killed):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out, _ = killed
    files = sorted((out / "tb" / "train").iterdir())
    # one event file per attempt, both rank 0's (the file names end in the writer's process id)
    assert len(files) == 2, files
    rank0, rank1 = (json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1))
    assert not any(f".{rank1['pid']}." in f.name for f in files)
    restarted = next(f for f in files if f".{rank0['pid']}." in f.name)
    events = EventAccumulator(str(restarted))
    events.Reload()
    # the restarted attempt logged epochs 2 and 3: the all-reduced loss of the one-process run
    logged = [(e.step, e.value) for e in events.Scalars("epoch_loss")]
    assert [step for step, _ in logged] == [1, 2]
    np.testing.assert_allclose([v for _, v in logged], rank0["history"]["loss"][1:], rtol=0, atol=1e-6)
