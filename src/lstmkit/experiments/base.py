"""What every experiment shares: the common config fields and the run folder (seeding and the device
come from `lstmkit.runtime`).

An experiment is one small module with a config dataclass (subclassing `RunConfig`), `build(config)`
and `run(config) -> dict` (its metrics). The CLI only fills the config.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from lstmkit.io import write_json
from lstmkit.runtime import machine_info


@dataclass
class RunConfig:
    """Fields every experiment has; `lstmkit run` sets them from its options. Each experiment's
    subclass names itself in `experiment`, which its run folder records."""

    experiment: ClassVar[str] = ""

    model: str = ""
    epochs: int = 1
    batch_size: int = 128
    limit: int | None = None  # use only the first N training examples
    device: str = "auto"  # cpu | cuda | auto
    backend: str = "auto"  # the lstmkit.ops backend
    seed: int = 0
    out: str = "runs/latest"


def start_run(config: RunConfig) -> Path:
    """Create the run folder and write `config.json` (the config plus the machine)."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    if not config.experiment:
        raise ValueError(f"{type(config).__name__} names no experiment (set its `experiment` class attribute)")
    write_json(out / "config.json", {"experiment": config.experiment, "config": dataclasses.asdict(config),
                                     "machine": machine_info()})
    return out
