"""Data parallelism under `fit`, `evaluate` and `predict`, on PyTorch's own engine: the process group that
`torchrun` describes in the environment (gloo on the CPU, NCCL on CUDA) and `DistributedDataParallel` for
the gradients.

The rules, those of Keras 3's distribution API (`keras.distribution.DataParallel`):
- `batch_size` is the global batch: rank r of N takes rows [lo_r, hi_r) of every global batch, with
  lo_r = r*b/N when N divides b (`shard_rows`); an array batch size N does not divide is an error.
- The shuffled order of an epoch is drawn on rank 0 (with the same generator call one process makes) and
  broadcast, so the shards of the N ranks together are exactly the one-process epoch (arrays, and a Keras
  `Sequence` with shuffle=True). Any other iterable of batches is read whole on every rank and each batch
  cut into shards: its order is the program's, so a shuffling dataset must be seeded alike on every rank.
- A last, smaller global batch is split as evenly as possible; rank r scales its loss by N*n_r/n before
  the backward pass, so DDP's average of the gradients is the gradient of the mean loss over the n rows.
  A rank left with no row (n < N) runs its step on one row of the batch with the loss scaled by 0, so
  every rank takes part in the all-reduce and steps its optimizer identically, and counts no metric
  (evaluate and predict do the same, so every rank runs as many steps; predict drops that row).
- Losses and metrics are summed over ranks from their states (totals and counts) when an epoch or a pass
  ends (`reduce_states`); batch-level logs stay local, since the progress bar reads them on rank 0 alone.
- Only rank 0 prints and writes files (`is_chief`).

Threads: N processes on one machine share its cores, so a process started by torchrun takes
`threads_per_process` threads (OMP_NUM_THREADS when set, else cores // processes on the node) when
`lstmkit run` is its program (`lstmkit.train.launch.worker`).

Elastic restarts (torchrun --max-restarts K): torchrun stops the whole group when a worker dies and
starts it again with TORCHELASTIC_RESTART_COUNT raised (`restart_count`); every rank then resumes from
rank 0's last checkpoint (BackupAndRestore, or the run folder's per-epoch checkpoint under `lstmkit run`).

Left for later: train_on_batch and per-batch callback decisions (they see this rank's logs) under
several processes.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from lstmkit.train.data import TensorBatches
from lstmkit.train.device import move

TORCHRUN_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")

_requested = False  # lstmkit.keras.distribution.set_distribution(DataParallel()) was called


def request(on: bool) -> None:
    """Ask for data parallelism even where the environment does not say torchrun started the program (a
    process group the program initialised itself)."""
    global _requested
    _requested = bool(on)


def is_chief() -> bool:
    """Whether this process prints and writes files: rank 0, or the only process."""
    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0


@dataclass(frozen=True)
class World:
    """This process's place in the group."""

    rank: int
    size: int
    comm_device: torch.device  # where tensors go for a collective: CPU for gloo, this rank's GPU for NCCL


def world() -> World | None:
    """The process group to train in, set up from torchrun's environment the first time; None in one process.

    torchrun's WORLD_SIZE > 1 turns data parallelism on; so does `request(True)` with a group of more than one
    process already initialised. Without either, one process trains alone, as Keras' DataParallel on one device."""
    launched = int(os.environ.get("WORLD_SIZE", "1") or "1") > 1
    if not (launched or _requested):
        return None
    if not dist.is_available():
        raise RuntimeError("data-parallel training needs torch.distributed, which this PyTorch build lacks "
                           f"(WORLD_SIZE={os.environ.get('WORLD_SIZE')!r})")
    if not dist.is_initialized():
        if not launched:
            return None
        missing = [name for name in TORCHRUN_ENV if name not in os.environ]
        if missing:
            raise RuntimeError(f"WORLD_SIZE={os.environ['WORLD_SIZE']} asks for data parallelism, but the "
                               f"environment lacks {missing}: start the program with torchrun (or set all of "
                               f"{list(TORCHRUN_ENV)})")
        local_size = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ["WORLD_SIZE"]))
        # NCCL needs a GPU of its own per process; every rank of a node decides alike, or the group hangs
        on_gpu = torch.cuda.is_available() and local_size <= torch.cuda.device_count()
        if on_gpu:
            torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        # torchrun's store outlives a restart of the group, and the keys the last attempt's ranks left there
        # (their gloo addresses) sent the restarted rank 0 to a dead peer ("Connection refused",
        # pytorch/pytorch#167288): each attempt keeps its keys under a prefix of its own
        store, rank, size = next(dist.rendezvous("env://"))
        dist.init_process_group("nccl" if on_gpu else "gloo", rank=rank, world_size=size,
                                store=dist.PrefixStore(f"lstmkit/attempt_{restart_count()}", store))
    size = dist.get_world_size()
    if size == 1:
        return None
    if dist.get_backend() == "nccl":
        comm = torch.device("cuda", torch.cuda.current_device())
    else:
        comm = torch.device("cpu")
    return World(dist.get_rank(), size, comm)


def launched_by_torchrun() -> bool:
    """Whether torchrun (or torch.distributed.run's API) started this process: it sets these for each worker."""
    return "TORCHELASTIC_RUN_ID" in os.environ or all(name in os.environ for name in TORCHRUN_ENV)


def restart_count() -> int:
    """How many times torchrun's elastic agent restarted this group (0 on the first start, or without torchrun)."""
    return int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0") or "0")


def available_cores() -> int:
    """The cores this process may run on (its affinity mask, as a container or `taskset` limits it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def threads_per_process(local_size: int, cores: int | None = None) -> int:
    """The threads of each of `local_size` processes on one machine: OMP_NUM_THREADS when the user set it,
    else max(1, cores // local_size), so the processes do not oversubscribe the cores."""
    if local_size < 1:
        raise ValueError(f"local_size is the number of processes on this machine, at least 1; got {local_size}")
    given = os.environ.get("OMP_NUM_THREADS", "").strip()
    if given:
        if not given.isdigit() or int(given) < 1:
            raise ValueError(f"OMP_NUM_THREADS must be a whole number of threads, at least 1; got {given!r}")
        return int(given)
    return max(1, (available_cores() if cores is None else cores) // local_size)


def describe(found: World | None) -> dict[str, Any]:
    """What a run folder records of the group: its size, processes per machine, backend, threads, restarts."""
    if found is None:
        return {"size": 1, "local_size": 1, "backend": None, "threads_per_process": torch.get_num_threads(),
                "restarts": restart_count()}
    return {"size": found.size, "local_size": int(os.environ.get("LOCAL_WORLD_SIZE", found.size)),
            "backend": str(dist.get_backend()), "threads_per_process": torch.get_num_threads(),
            "restarts": restart_count()}


def barrier() -> None:
    """Wait for every rank of the group (nothing in one process)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()


def broadcast_object(value: Any, found: World) -> Any:
    """Rank 0's `value` on every rank (any picklable object)."""
    box = [value if found.rank == 0 else None]
    dist.broadcast_object_list(box, src=0, device=found.comm_device)
    return box[0]


def shard_rows(n: int, rank: int, size: int) -> tuple[int, int]:
    """Rows [lo, hi) of a global batch of `n` rows that `rank` of `size` takes: as even as possible, the first
    ranks taking one more row when `size` does not divide `n`."""
    base, extra = divmod(n, size)
    lo = rank * base + min(rank, extra)
    return lo, lo + base + (1 if rank < extra else 0)


def check_global_batch(batch_size: int, size: int, what: str = "batch_size") -> None:
    """The global batch must split into equal shards."""
    if batch_size % size:
        raise ValueError(f"{what}={batch_size} is the global batch, split over the {size} processes of the "
                         f"group (WORLD_SIZE={size}); {size} does not divide {batch_size}: give a multiple of "
                         f"{size}, such as {size * max(1, round(batch_size / size))}")


@dataclass(frozen=True)
class Shard:
    """This rank's part of one global batch."""

    rows: int  # rows of the global batch this rank holds (0: it steps on a stand-in row, scaled by 0)
    global_rows: int
    size: int

    @property
    def loss_scale(self) -> float:
        """N * n_r / n: DDP averages over N ranks, so this makes the average the gradient of the mean over n."""
        return self.size * self.rows / self.global_rows


def shared_randperm(n: int, world: World | None, device: torch.device | None = None) -> torch.Tensor:
    """A random order of n items, the same on every rank: drawn on rank 0 (the call one process makes, so the
    order is the one-process order) and broadcast."""
    if world is None or world.rank == 0:
        order = torch.randperm(n, device=device)
    else:
        order = torch.empty(n, dtype=torch.int64, device=device)
    if world is None:
        return order
    shared = order.to(world.comm_device)
    dist.broadcast(shared, src=0)
    return shared.to(order.device)


def _rows(batch: Any) -> int:
    x, y, _ = batch
    first = y if y is not None else (x[0] if isinstance(x, list) else x)
    return int(first.shape[0])


def _take(t: Any, idx: Any) -> Any:
    """Rows `idx` (a slice or a tensor of indices) of a tensor, a NumPy array (text) or a list of them."""
    if t is None:
        return None
    if isinstance(t, list):
        return [_take(a, idx) for a in t]
    if isinstance(t, np.ndarray) and isinstance(idx, torch.Tensor):
        return t[idx.cpu().numpy()]
    return t[idx]


class ShardedBatches:
    """This rank's shards of the global batches of `inner` (TensorBatches or any iterable of batches), one per
    global batch: where this rank's shard is empty, a stand-in row, so every rank runs the same steps.
    `owner.current` is set to the shard about to be stepped on."""

    def __init__(self, inner: Any, owner: DataParallel) -> None:
        self.inner, self.owner, self.world = inner, owner, owner.world
        self.global_rows: list[int] = []  # rows of each global batch of the last pass, for `gather`

    def __len__(self) -> int:
        return len(self.inner)

    def to(self, device: torch.device) -> ShardedBatches:
        self.inner = self.inner.to(device)
        return self

    def _global_batches(self) -> Iterator[tuple[Any, Any]]:
        """(batch or index source, rows) per global batch; a shuffled TensorBatches takes rank 0's order."""
        inner = self.inner
        if not (isinstance(inner, TensorBatches) and inner.shuffle):
            for batch in inner:
                yield batch, _rows(batch)
            return
        n = inner.samples
        devices = [t.device for t in (*inner.x, inner.y) if isinstance(t, torch.Tensor)]
        order = shared_randperm(n, self.world, devices[0] if devices else None)  # as TensorBatches draws it
        for start in range(0, n, inner.batch_size):
            idx = order[start:start + inner.batch_size]
            yield idx, int(idx.shape[0])

    def _cut(self, source: Any, lo: int, hi: int) -> Any:
        inner = self.inner
        if isinstance(source, torch.Tensor):  # indices into a shuffled TensorBatches
            idx = source[lo:hi]
            xs = [_take(t, idx) for t in inner.x]
            batch = (xs[0] if inner.single_input else xs, _take(inner.y, idx), _take(inner.sample_weight, idx))
            if inner._move_per_batch and inner.device is not None:
                batch = move(batch, inner.device)
            return batch
        x, y, sw = source
        rows = slice(lo, hi)
        return _take(x, rows), _take(y, rows), _take(sw, rows)

    def __iter__(self) -> Iterator[Any]:
        self.global_rows = []
        for source, n in self._global_batches():
            self.global_rows.append(n)
            lo, hi = shard_rows(n, self.world.rank, self.world.size)
            self.owner.current = Shard(hi - lo, n, self.world.size)
            yield self._cut(source, lo, hi) if hi > lo else self._cut(source, 0, 1)


def _is_state_value(v: Any) -> bool:
    return isinstance(v, (torch.Tensor, float, int, np.number)) and not isinstance(v, bool)


def state_names(metric: Any) -> list[str]:
    """The attributes of a metric that hold its running state: those `reset_state()` assigns (a metric may
    name them itself in `state_names`)."""
    declared = getattr(metric, "state_names", None)
    if declared is not None:
        return list(declared)
    probe = copy.copy(metric)
    marker = object()
    for key, value in list(vars(probe).items()):
        if _is_state_value(value):
            setattr(probe, key, marker)
    probe.reset_state()
    return sorted(k for k, v in vars(probe).items() if v is not marker and _is_state_value(v))


def reduce_states(metrics: list[Any], world: World) -> list[Any]:
    """Copies of `metrics` whose states (totals, counts) are the sums over all ranks, in one all-reduce
    (float64, so counts stay exact); the metrics themselves keep their local states."""
    names = [state_names(m) for m in metrics]
    flat = [torch.as_tensor(getattr(m, k), dtype=torch.float64).detach().reshape(-1).cpu()
            for m, keys in zip(metrics, names) for k in keys]
    if not flat:
        return [copy.copy(m) for m in metrics]
    summed = torch.cat(flat).to(world.comm_device)
    dist.all_reduce(summed, op=dist.ReduceOp.SUM)
    parts = iter(torch.split(summed.cpu(), [t.numel() for t in flat]))
    out = []
    for metric, keys in zip(metrics, names):
        reduced = copy.copy(metric)
        for key in keys:
            local, total = getattr(metric, key), next(parts)
            if isinstance(local, torch.Tensor):
                setattr(reduced, key, total.reshape(local.shape).to(local.device, local.dtype))
            else:
                setattr(reduced, key, type(local)(total.item()))
        out.append(reduced)
    return out


class _Step(torch.nn.Module):
    """The model's forward pass as a module, for DistributedDataParallel to wrap."""

    def __init__(self, model: Any) -> None:  # a lstmkit.keras Model (Trainer): train/ does not import keras
        super().__init__()
        self.model = model

    def forward(self, x: Any, training: bool = True) -> Any:
        return self.model._forward(x, training=training)


class DataParallel:
    """One `fit`, `evaluate` or `predict` call run data-parallel: its shards, its DDP-wrapped forward pass and
    the reductions of its logs and outputs."""

    def __init__(self, model: Any, world: World) -> None:
        self.model, self.world = model, world
        self._ddp: torch.nn.parallel.DistributedDataParallel | None = None
        self.current = Shard(1, world.size, world.size)  # the shard of the step running now

    def shard(self, batches: Any) -> ShardedBatches:
        return ShardedBatches(batches, self)

    def forward(self, x: Any, training: bool = True) -> Any:
        """The training forward pass through DDP (built on the first call: it broadcasts rank 0's weights)."""
        if not any(p.requires_grad for p in self.model.parameters()):
            return self.model._forward(x, training=training)  # nothing to synchronise; DDP refuses such a module
        if self._ddp is None:
            on_gpu = self.world.comm_device.type == "cuda"
            self._ddp = torch.nn.parallel.DistributedDataParallel(
                _Step(self.model), device_ids=[self.world.comm_device.index] if on_gpu else None)
        return self._ddp(x, training=training)

    def reduce(self, metrics: list[Any]) -> list[Any]:
        return reduce_states(metrics, self.world)

    def gather(self, outputs: list[Any], sharded: ShardedBatches) -> list[Any]:
        """Every rank's predicted shards, in the order of the rows of the one-process pass."""
        per_rank: list[Any] = [None] * self.world.size
        dist.all_gather_object(per_rank, outputs)
        ordered = []
        for i, n in enumerate(sharded.global_rows):
            for r in range(self.world.size):
                lo, hi = shard_rows(n, r, self.world.size)
                if hi > lo:  # an empty shard's stand-in row is dropped
                    ordered.append(per_rank[r][i])
        return ordered

    def barrier(self) -> None:
        dist.barrier()

    def any_rank(self, flag: bool) -> bool:
        """True on every rank when `flag` is true on any (one small all-reduce)."""
        box = torch.tensor([1.0 if flag else 0.0], device=self.world.comm_device)
        dist.all_reduce(box, op=dist.ReduceOp.MAX)
        return bool(box.item() > 0)


def data_parallel(model: Any) -> DataParallel | None:
    """The data-parallel context for one call of fit/evaluate/predict, or None in one process."""
    found = world()
    if found is None:
        return None
    # the ranks start the call together: the first epoch's time holds no wait for a rank still loading its data
    # (measured: 11.8 s against 1.0 s for the next epoch of a 4-step IMDB slice, rank 1 loading the arrays)
    dist.barrier()
    return DataParallel(model, found)
