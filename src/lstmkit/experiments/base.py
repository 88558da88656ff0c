"""What every experiment shares: the run folder, whole or not at all (seeding and the device come from
`lstmkit.runtime`).

An experiment is one small module with a config dataclass (subclassing `RunConfig`), `build(config)`
and `run(config) -> dict` (its metrics); `run` does its work inside `with open_run(config) as run:`
and writes its files into `run.out`. The CLI only fills the config.

The run folder's life:
- A run writes into `OUT.partial` beside its target `OUT` (config.json first, a checkpoint after
  each finished epoch) and renames it to `OUT` when it ends: `OUT` only ever holds a finished run.
  With `--overwrite` an existing `OUT` stays until the new run has ended, then is replaced.
- A run into an `OUT` that holds a run, or that has an unfinished `OUT.partial`, is refused unless
  `--overwrite` (start again) or `--resume OUT` (continue) is given.
- SIGINT (Ctrl-C) or SIGTERM ends a run with one line, `OUT.partial/interrupted.json` naming the
  signal and the epochs kept, and exit status 130 or 143. Any other failure leaves the same marker
  with the error. A SIGKILL leaves `OUT.partial` as it stood: its last checkpoint is whole.
- `--resume OUT` reads `OUT.partial/config.json`, refuses options that contradict it, and continues
  from the last checkpoint; on the CPU the run ends with the weights and metrics it would have had
  uninterrupted (checkpoints hold the optimizer and every random generator: `BackupAndRestore`).

Under torchrun (`lstmkit run --nproc N`, or `torchrun -m lstmkit run ...`) the experiments that train
through the Keras facade's `fit` (`DATA_PARALLEL`) run data-parallel: rank 0 opens the run folder and
alone writes it (config.json records the group: `world`); the other ranks read rank 0's checkpoints
and write their own files into a scratch folder that goes when the run ends. When torchrun's elastic
agent restarts the group (a worker died), the unfinished run in `OUT.partial` is resumed on every rank.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lstmkit.errors import FileFormatError, RunInterrupted
from lstmkit.experiments.configs import RunConfig
from lstmkit.io import write_json
from lstmkit.runtime import machine_info
from lstmkit.train import distributed

MARKER = "interrupted.json"
CHECKPOINT_DIR = "checkpoint"
# options that steer the run folder, not the run: neither compared on --resume nor kept as a difference
_FOLDER_OPTIONS = ("out", "resume", "overwrite")
# the experiments that train through lstmkit.keras' fit, which runs data-parallel under torchrun
DATA_PARALLEL = ("imdb", "temperature")


def partial_folder(target: Path) -> Path:
    """Where the run of `target` is written until it ends."""
    return target.with_name(target.name + ".partial")


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread as KeyboardInterrupt is for SIGINT (a BaseException, so that
    an `except Exception` in the training code does not swallow it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@dataclasses.dataclass
class Run:
    """An open run: write into `out`; `resumed` says whether a checkpoint may be waiting in `checkpoint_dir`."""

    config: Any
    target: Path
    out: Path
    resumed: bool
    epochs_done: int = 0  # what the last checkpoint holds, kept current by the experiment
    unit: str = "epoch"  # what epochs_done counts
    shared: Path | None = None  # a rank other than 0: rank 0's folder, whose checkpoints it reads

    @property
    def checkpoint_dir(self) -> Path:
        return (self.out if self.shared is None else self.shared) / CHECKPOINT_DIR

    def backup(self) -> Any:
        """The BackupAndRestore callback for a `fit` of this run (the checkpoint stays until the run ends)."""
        from lstmkit.keras.callbacks import BackupAndRestore

        run = self

        class RunBackup(BackupAndRestore):
            def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
                super().on_epoch_end(epoch, logs)
                run.epochs_done = epoch + 1

            def on_train_begin(self, logs: Any = None) -> None:
                super().on_train_begin(logs)
                run.epochs_done = self.restored_epoch

        return RunBackup(self.checkpoint_dir, delete_checkpoint=False)


def _describe(folder: Path) -> str:
    marker = folder / MARKER
    if marker.is_file():
        try:
            info = json.loads(marker.read_text())
            return (f"{info.get('reason', 'interrupted')} after {info.get('epochs_done', '?')} finished "
                    f"{info.get('unit', 'epoch')}(s)")
        except (OSError, json.JSONDecodeError):
            return "interrupted"
    return "stopped without a word (killed?)"


def _saved_config(config: RunConfig, target: Path, work: Path) -> RunConfig:
    """The config of the unfinished run in `work`, with the options given now checked against it."""
    path = work / "config.json"
    try:
        saved = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileFormatError(work, "no config.json: not an lstmkit run folder, nothing to resume") from None
    except (OSError, json.JSONDecodeError) as e:
        raise FileFormatError(path, f"cannot be read ({e})") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("config"), dict):
        raise FileFormatError(path, "holds no run config")
    if saved.get("experiment") != config.experiment:
        raise ValueError(f"{target} is a run of {saved.get('experiment')!r}, not {config.experiment!r}: resume it "
                         f"with lstmkit run {saved.get('experiment')} --resume {target}")
    fields = {f.name: f for f in dataclasses.fields(config)}
    values = dict(saved["config"])
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise FileFormatError(path, f"has options this lstmkit does not know: {unknown}")
    for name, f in fields.items():
        if name in _FOLDER_OPTIONS:
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        given = getattr(config, name)
        if given != default and name in values and given != values[name]:
            raise ValueError(f"--{name.replace('_', '-')} {given} contradicts the interrupted run's "
                             f"{values[name]} (in {path}): a resumed run keeps its options")
    values.update(out=str(target), resume=None, overwrite=False)
    return type(config)(**values)


def check_data_parallel(config: RunConfig, size: int) -> None:
    """`config` can run in `size` processes: its experiment trains through fit, and its global batch splits."""
    if size == 1:
        return
    if config.experiment not in DATA_PARALLEL:
        raise ValueError(f"lstmkit run {config.experiment} trains in a loop of its own, which does not run "
                         f"data-parallel; run it in one process (no --nproc, no torchrun). Data-parallel "
                         f"experiments: {', '.join(DATA_PARALLEL)}")
    distributed.check_global_batch(config.batch_size, size, "--batch-size")


def _prepare(config: RunConfig, world: dict[str, Any]) -> Run:
    if not config.experiment:
        raise ValueError(f"{type(config).__name__} names no experiment (set its `experiment` class attribute)")
    if config.resume is None and distributed.restart_count() and partial_folder(Path(config.out)).is_dir():
        config = dataclasses.replace(config, resume=config.out)  # torchrun restarted the group: go on
    if config.resume is not None:
        target = Path(config.resume)
        if target.name.endswith(".partial"):  # the folder itself was named
            target = target.with_name(target.name.removesuffix(".partial"))
        work = partial_folder(target)
        if not work.is_dir():
            if (target / "metrics.json").is_file():
                raise ValueError(f"{target} holds a finished run: nothing to resume (--overwrite runs it again)")
            raise ValueError(f"nothing to resume: {work}, where an unfinished run of {target} would be, does "
                             "not exist")
        resolved = _saved_config(config, target, work)
        (work / MARKER).unlink(missing_ok=True)  # the run goes on: an interruption now writes a new one
        saved = json.loads((work / "config.json").read_text())
        write_json(work / "config.json", {**saved, "world": world})  # the group that goes on with it
        return Run(resolved, target, work, resumed=True)
    target = Path(config.out)
    work = partial_folder(target)
    if work.exists():
        if not config.overwrite:
            raise ValueError(f"an unfinished run of {target} is in {work} ({_describe(work)}): give --resume "
                             f"{target} to continue it, or --overwrite to start again")
        shutil.rmtree(work)
    if target.exists() and (not target.is_dir() or any(target.iterdir())) and not config.overwrite:
        what = "a finished run" if (target / "metrics.json").is_file() else "files"
        raise ValueError(f"{target} already holds {what}: give --overwrite to replace it (it stays until the new "
                         "run ends), or another --out")
    work.mkdir(parents=True)
    write_json(work / "config.json", {"experiment": config.experiment, "config": dataclasses.asdict(config),
                                      "machine": machine_info(), "world": world})
    return Run(config, target, work, resumed=False)


def _finish(run: Run) -> None:
    """Move the whole run into place: the checkpoint and marker go, an old run is replaced."""
    shutil.rmtree(run.checkpoint_dir, ignore_errors=True)
    (run.out / MARKER).unlink(missing_ok=True)
    old = None
    if run.target.exists():
        old = run.target.with_name(f".{run.target.name}.replaced-{os.getpid()}")
        os.replace(run.target, old)
    os.replace(run.out, run.target)
    if old is not None:
        shutil.rmtree(old) if old.is_dir() else old.unlink()


def _mark(run: Run, reason: str, **extra: Any) -> None:
    write_json(run.out / MARKER, {"reason": reason, "epochs_done": run.epochs_done, "unit": run.unit,
                                  "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **extra})


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Within: SIGTERM raises _Terminated in the main thread (outside it, signals cannot be handled)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise _Terminated(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _prepare_in_group(config: RunConfig, group: distributed.World, world: dict[str, Any]) -> Run:
    """Rank 0 prepares the run folder; every rank gets its Run (or rank 0's error); the others a scratch `out`."""
    check_data_parallel(config, group.size)  # the same answer on every rank: no rank waits on one that failed
    if group.rank == 0:
        try:
            run = _prepare(config, world)
        except Exception as e:  # told to the other ranks, then raised here as it came
            distributed.broadcast_object((None, f"{type(e).__name__}: {e}"), group)
            raise
        distributed.broadcast_object((run, None), group)
        return run
    run, error = distributed.broadcast_object((None, None), group)
    if error is not None:
        raise ValueError(f"rank 0 could not open the run folder: {error}")
    # named after torchrun's run id: a rank of a restarted group clears what its killed predecessor left
    run_id = os.environ.get("TORCHELASTIC_RUN_ID", str(os.getppid()))
    scratch = Path(tempfile.gettempdir()) / f"lstmkit-{config.experiment}-{run_id}-rank{group.rank}"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(mode=0o700)
    return dataclasses.replace(run, out=scratch, shared=run.out)


@contextlib.contextmanager
def open_run(config: RunConfig) -> Iterator[Run]:
    """The run folder of `config` for the `with` block (see the module docstring for its rules)."""
    group = distributed.world()  # torchrun's group, set up here; None in one process
    world = distributed.describe(group)
    run = _prepare(config, world) if group is None else _prepare_in_group(config, group, world)
    try:
        with _sigterm_raises():
            yield run
        if group is not None:
            distributed.barrier()  # no rank reads the checkpoint any more when rank 0 moves the folder
    except (KeyboardInterrupt, _Terminated) as e:
        signum = e.signum if isinstance(e, _Terminated) else int(signal.SIGINT)
        name = signal.Signals(signum).name
        _mark(run, f"interrupted by {name}", signal=name)
        kept = f"{run.epochs_done} finished {run.unit}(s)" if run.epochs_done else \
            f"its config (no {run.unit} had finished)"
        raise RunInterrupted(signum, f"interrupted by {name}; {run.out} keeps {kept}; continue with: lstmkit run "
                                     f"{config.experiment} --resume {run.target}", run.out) from None
    except Exception as e:
        _mark(run, "failed", error=f"{type(e).__name__}: {e}")
        raise
    finally:
        if run.shared is not None:  # a rank other than 0: its scratch folder goes
            shutil.rmtree(run.out, ignore_errors=True)
    if run.shared is None:
        _finish(run)

