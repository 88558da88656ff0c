"""`keras.distribution` for data parallelism, on PyTorch's DDP (`lstmkit.train.distributed` does the work).

A Keras program runs data-parallel unchanged under `torchrun --nproc_per_node N prog.py`: torchrun's
environment alone turns it on. `set_distribution(DataParallel())` as in Keras 3 also turns it on for a
process group the program initialised itself; in one process it changes nothing (Keras' DataParallel on
one device). As in Keras, `batch_size` is the global batch, split over the processes.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from lstmkit.train import distributed

__all__ = ["DataParallel", "distribution", "initialize", "list_devices", "set_distribution"]

_current: DataParallel | None = None


def list_devices(device_type: str | None = None) -> list[str]:
    """The devices of the whole group, one per process, as "cpu:0", "cpu:1" or "gpu:0", ... (Keras' names)."""
    if device_type not in (None, "cpu", "gpu"):
        raise ValueError(f"list_devices: device_type must be 'cpu', 'gpu' or None, got {device_type!r}")
    kind = device_type or ("gpu" if torch.cuda.is_available() else "cpu")
    size = int(os.environ.get("WORLD_SIZE", "1") or "1")
    return [f"{kind}:{i}" for i in range(size)]


class DataParallel:
    """Keras' `DataParallel`: every process holds the whole model and trains on its shard of each global batch.

    `devices`, when given, must be one per process (as `list_devices()` names them); a `device_mesh` and
    `auto_shard_dataset=False` (data the program shards itself) are not supported."""

    def __init__(self, device_mesh: Any = None, devices: list[str] | None = None,
                 auto_shard_dataset: bool = True) -> None:
        if device_mesh is not None:
            raise ValueError("DataParallel(device_mesh=...) is not supported by lstmkit: give devices=... or "
                             f"nothing (one device per torchrun process); got device_mesh={device_mesh!r}")
        if not auto_shard_dataset:
            raise ValueError("DataParallel(auto_shard_dataset=False) is not supported by lstmkit: fit shards the "
                             "global batches itself; give the whole data set on every process")
        expected = list_devices()
        if devices is not None and len(devices) != len(expected):
            raise ValueError(f"DataParallel(devices=...) needs one device per process: this group has "
                             f"{len(expected)} ({expected}), got {len(devices)} ({list(devices)})")
        self.devices = list(devices) if devices is not None else expected
        self.auto_shard_dataset = True

    @property
    def num_model_replicas(self) -> int:
        return len(self.devices)

    def __repr__(self) -> str:
        return f"DataParallel(devices={self.devices})"


def set_distribution(value: DataParallel | None) -> None:
    """Make `value` the global distribution (None turns the request off; torchrun's environment still counts)."""
    global _current
    if value is not None and not isinstance(value, DataParallel):
        raise TypeError(f"set_distribution takes a DataParallel or None, got {type(value).__name__}")
    _current = value
    distributed.request(value is not None)


def distribution() -> DataParallel | None:
    """The distribution set by `set_distribution`."""
    return _current


def initialize(job_addresses: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> None:
    """Set up the process group now from torchrun's environment (fit does it on its first call otherwise).
    The addresses and counts come from torchrun; giving them here is refused rather than half-honoured."""
    given = {k: v for k, v in (("job_addresses", job_addresses), ("num_processes", num_processes),
                                ("process_id", process_id)) if v is not None}
    if given:
        raise ValueError(f"initialize: lstmkit takes the process group from torchrun's environment "
                         f"({', '.join(distributed.TORCHRUN_ENV)}); start the program with torchrun instead of "
                         f"giving {sorted(given)}")
    distributed.world()
