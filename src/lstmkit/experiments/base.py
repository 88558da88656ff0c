"""What every experiment shares: the common config fields, seeding, device choice, the run folder.

An experiment is one small module with a config dataclass (subclassing `RunConfig`), `build(config)`
and `run(config) -> dict` (its metrics). The CLI only fills the config.
"""

from __future__ import annotations

import dataclasses
import platform
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lstmkit.io import write_json


@dataclass
class RunConfig:
    """Fields every experiment has; `lstmkit run` sets them from its options."""

    model: str = ""
    epochs: int = 1
    batch_size: int = 128
    limit: int | None = None  # use only the first N training examples
    device: str = "auto"  # cpu | cuda | auto
    backend: str = "auto"  # the lstmkit.ops backend
    seed: int = 0
    out: str = "runs/latest"


def set_seed(seed: int) -> None:
    """Same seed, same results on the same machine: Python, NumPy and torch generators."""
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - libraries that draw from the global generator follow the seed too
    torch.manual_seed(seed)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be cpu, cuda or auto, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but no CUDA device is available; use --device cpu or auto")
    return torch.device(device)


def machine_info() -> dict[str, Any]:
    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "cpu_threads": torch.get_num_threads(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def start_run(config: RunConfig) -> Path:
    """Create the run folder and write `config.json` (the config plus the machine)."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", {"config": dataclasses.asdict(config), "machine": machine_info()})
    return out
