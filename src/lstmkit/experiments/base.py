"""What every experiment shares: the common config fields and the run folder (seeding and the device
come from `lstmkit.runtime`).

An experiment is one small module with a config dataclass (subclassing `RunConfig`), `build(config)`
and `run(config) -> dict` (its metrics). The CLI only fills the config.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from lstmkit.experiments.configs import RunConfig
from lstmkit.io import write_json
from lstmkit.runtime import machine_info


def start_run(config: RunConfig) -> Path:
    """Create the run folder and write `config.json` (the config plus the machine)."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    if not config.experiment:
        raise ValueError(f"{type(config).__name__} names no experiment (set its `experiment` class attribute)")
    write_json(out / "config.json", {"experiment": config.experiment, "config": dataclasses.asdict(config),
                                     "machine": machine_info()})
    return out
