"""`lstmkit run imdb --nproc 2 --max-restarts 1`: torchrun started by lstmkit (gloo, 2 processes), one worker
SIGKILLed in the middle of the second epoch, the group restarted by torchrun's elastic agent and resumed from
the run folder's checkpoint; the run ends with the weights and history of an uninterrupted one-process run.
Also: what the run folder records of the group, that rank 0 alone prints and writes, the threads rule, and
the refusals (a global batch 2 does not divide, an experiment with a loop of its own, --nproc under torchrun).

Tolerance 1e-6: DDP averages two shards' float32 gradients where one process sums the batch
(tests/train/test_distributed.py measured <= 6e-8 apart after 15 steps).

The workers are real `python -m lstmkit` processes. A sitecustomize.py on their PYTHONPATH (test-only) gives
them Keras' IMDB arrays prepared once by this test (preparing them takes ~4 s a process) and makes rank 1
kill itself once.
"""

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from lstmkit.cli import main
from lstmkit.data import imdb as imdb_data
from lstmkit.experiments.base import check_data_parallel
from lstmkit.experiments.configs import ImdbConfig, PosConfig
from lstmkit.keras.models import load_model
from lstmkit.train import distributed

pytestmark = pytest.mark.skipif(not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
                                reason="torch.distributed with the gloo backend is not available in this PyTorch")

# 64 reviews to train on (4 global batches of 16: 8 rows a rank), 16 to validate, 24 to test, 3 epochs
TINY = ["--limit", "80", "--eval-limit", "24", "--maxlen", "24", "--batch-size", "16", "--units", "4", "--epochs", "3"]
KILL_EPOCH, KILL_STEP = 1, 1  # 0-based: rank 1 dies after the second step of the second epoch
ATOL = 1e-6
TORCHRUN_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
                "GROUP_RANK", "ROLE_RANK", "TORCHELASTIC_RUN_ID", "TORCHELASTIC_RESTART_COUNT", "OMP_NUM_THREADS")

SITECUSTOMIZE = textwrap.dedent('''
    import os
    import pickle
    import signal

    from lstmkit.data import imdb
    from lstmkit.experiments import base

    def load_data(**kwargs):
        with open(os.environ["TEST_IMDB_ARRAYS"], "rb") as f:
            saved = pickle.load(f)
        assert saved["kwargs"] == kwargs, (saved["kwargs"], kwargs)
        return saved["arrays"]

    imdb.load_data = load_data
    marker = os.environ["TEST_KILL_MARKER"]
    if os.environ.get("RANK") == "1" and not os.path.exists(marker):
        backup = base.Run.backup

        def killing_backup(self):
            callback = backup(self)

            class KillOnce(type(callback)):
                def on_epoch_begin(self, epoch, logs=None):
                    self.epoch_now = epoch
                    super().on_epoch_begin(epoch, logs)

                def on_train_batch_end(self, batch, logs=None):
                    super().on_train_batch_end(batch, logs)
                    if (self.epoch_now, batch) == ({epoch}, {step}):
                        with open(marker, "w") as f:
                            f.write(f"killed rank 1 at epoch {{self.epoch_now + 1}}, step {{batch + 1}}\\n")
                        os.kill(os.getpid(), signal.SIGKILL)

            callback.__class__ = KillOnce
            return callback

        base.Run.backup = killing_backup
''').format(epoch=KILL_EPOCH, step=KILL_STEP)


@pytest.fixture(scope="module")
def data_dir():
    data = os.environ.get("LSTMKIT_DATA_DIR")
    if not data or not (Path(data) / "imdb.npz").is_file():
        pytest.skip("set LSTMKIT_DATA_DIR to the shared data folder to run the imdb experiment")
    return Path(data).resolve()


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_dir):
    """The uninterrupted run in this process (1 thread), then the killed one under --nproc 2 --max-restarts 1."""
    root = tmp_path_factory.mktemp("nproc")
    arrays = root / "imdb_arrays.pkl"
    real_load = imdb_data.load_data

    def load_and_keep(**kwargs):  # the workers read these arrays instead of preparing their own
        found = real_load(**kwargs)
        arrays.write_bytes(pickle.dumps({"kwargs": kwargs, "arrays": found}))
        return found

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    imdb_data.load_data = load_and_keep
    try:
        assert main(["run", "imdb", *TINY, "--out", str(root / "single")]) == 0
    finally:
        imdb_data.load_data = real_load
        torch.set_num_threads(threads)

    site, scratch = root / "site", root / "tmp"
    site.mkdir()
    scratch.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE)
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_ENV}
    env.update(KERAS_BACKEND="torch", LSTMKIT_DATA_DIR=str(data_dir), TMPDIR=str(scratch), COLUMNS="120",
               TEST_IMDB_ARRAYS=str(arrays), TEST_KILL_MARKER=str(root / "killed.marker"),
               PYTHONPATH=os.pathsep.join([str(site), *filter(None, [os.environ.get("PYTHONPATH")])]))
    done = subprocess.run([sys.executable, "-m", "lstmkit", "run", "imdb", *TINY, "--nproc", "2", "--max-restarts",
                           "1", "--out", str(root / "killed")], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"lstmkit run --nproc 2 failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return root, done


def _finished(out: Path) -> dict:
    found = {name: json.loads((out / f"{name}.json").read_text()) for name in ("config", "history", "metrics")}
    found["weights"] = load_model(str(out / "model.keras")).get_weights()
    return found


def test_a_killed_worker_restarts_and_the_run_ends_as_an_uninterrupted_one(runs):
    root, _ = runs
    assert (root / "killed.marker").read_text() == "killed rank 1 at epoch 2, step 2\n"
    single, killed = _finished(root / "single"), _finished(root / "killed")
    assert len(killed["weights"]) == len(single["weights"]) == 6  # embedding, LSTM kernel/recurrent/bias, dense
    for w, s in zip(killed["weights"], single["weights"]):
        np.testing.assert_allclose(w, s, rtol=0, atol=ATOL)
    assert sorted(killed["history"]) == ["acc", "loss", "val_acc", "val_loss"]
    for key, values in single["history"].items():
        assert len(values) == 3
        np.testing.assert_allclose(killed["history"][key], values, rtol=0, atol=ATOL, err_msg=key)
    for key in ("test_accuracy", "test_loss", "best_val_accuracy", "final_val_accuracy"):
        np.testing.assert_allclose(killed["metrics"][key], single["metrics"][key], rtol=0, atol=ATOL, err_msg=key)
    assert not (root / "killed.partial").exists()  # the restarted group finished the run and moved it into place


def test_the_run_folder_records_the_group(runs):
    root, _ = runs
    world = json.loads((root / "killed" / "config.json").read_text())["world"]
    # OMP_NUM_THREADS unset: each of the 2 processes takes half the cores
    assert world == {"size": 2, "local_size": 2, "backend": "gloo", "restarts": 1,
                     "threads_per_process": max(1, distributed.available_cores() // 2)}
    single = json.loads((root / "single" / "config.json").read_text())["world"]
    assert single == {"size": 1, "local_size": 1, "backend": None, "restarts": 0, "threads_per_process": 1}
    # the options of the run are those given; --nproc and --max-restarts steer the processes, not the run
    assert json.loads((root / "killed" / "config.json").read_text())["config"] == \
        json.loads((root / "single" / "config.json").read_text())["config"] | {"out": str(root / "killed")}


def test_only_rank_zero_prints_and_writes(runs):
    root, done = runs
    assert sorted(os.listdir(root / "killed")) == sorted(os.listdir(root / "single"))
    # rank 1's scratch folder is gone, the one its killed predecessor left too (torchrun keeps its own)
    assert [name for name in os.listdir(root / "tmp") if name.startswith("lstmkit")] == []
    assert done.stdout.count("best validation accuracy") == 1  # rank 0's results table, once
    assert done.stdout.count("Epoch 3/3") == 1  # rank 0's progress; rank 1 printed none
    assert "rank 1" not in done.stdout


def test_a_global_batch_the_processes_cannot_split_is_refused_before_any_starts(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", "imdb", *TINY[:-6], "--batch-size", "15", "--nproc", "2", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--batch-size=15 is the global batch" in err and "2 processes" in err and "such as 16" in err, err
    assert not out.exists() and not (tmp_path / "run.partial").exists()


def test_what_nproc_refuses(monkeypatch, tmp_path, capsys):
    assert main(["run", "pos", "--nproc", "2", "--out", str(tmp_path / "pos")]) == 2
    assert "lstmkit run pos trains in a loop of its own" in capsys.readouterr().err
    assert main(["run", "imdb", "--max-restarts", "1", "--out", str(tmp_path / "a")]) == 2
    assert "--max-restarts 1 needs --nproc N" in capsys.readouterr().err
    assert main(["run", "imdb", "--nproc", "0", "--out", str(tmp_path / "b")]) == 2
    assert "--nproc is the number of processes to train in, at least 1; got 0" in capsys.readouterr().err
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "run-1")
    monkeypatch.setenv("RANK", "0")
    assert main(["run", "imdb", "--nproc", "2", "--out", str(tmp_path / "c")]) == 2
    assert "already runs under torchrun (RANK=0)" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_check_data_parallel_under_torchrun():
    check_data_parallel(ImdbConfig(batch_size=128), 2)
    check_data_parallel(PosConfig(), 1)  # one process: anything goes
    with pytest.raises(ValueError, match=r"--batch-size=128 is the global batch, split over the 3 processes"):
        check_data_parallel(ImdbConfig(batch_size=128), 3)
    with pytest.raises(ValueError, match="trains in a loop of its own"):
        check_data_parallel(PosConfig(), 2)


def test_threads_per_process(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert distributed.threads_per_process(2, cores=16) == 8
    assert distributed.threads_per_process(3, cores=16) == 5
    assert distributed.threads_per_process(4, cores=2) == 1  # never 0
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's choice stands
    assert distributed.threads_per_process(2, cores=16) == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="OMP_NUM_THREADS must be a whole number of threads, at least 1; got 'many'"):
        distributed.threads_per_process(2, cores=16)
    with pytest.raises(ValueError, match="at least 1; got 0"):
        distributed.threads_per_process(0, cores=16)
