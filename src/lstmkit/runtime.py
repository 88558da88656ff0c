"""The ground floor every layer shares: seeding, the choice of device, and a description of the machine."""

from __future__ import annotations

import platform
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's global and torch's generators at once: same seed, same results on the same machine."""
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - libraries that draw from the global generator follow the seed too
    torch.manual_seed(seed)


def default_device() -> torch.device:
    """CUDA when present, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_device(device: str | torch.device | None) -> torch.device:
    """None or "auto" -> `default_device()`; "cpu", "cuda", "cuda:N" or a torch.device as given.
    "cuda" without a CUDA device is an error, never a silent fallback to the CPU."""
    if device is None or device == "auto":
        return default_device()
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'cpu', 'cuda' (or 'cuda:N') or 'auto', got {device!r}") from None
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu', 'cuda' (or 'cuda:N') or 'auto', got {device!r}")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but no CUDA device is available; use 'cpu' or 'auto'")
    return resolved


def cpu_model(cpuinfo: str | Path = "/proc/cpuinfo") -> str:
    """The processor's model name: /proc/cpuinfo's on Linux, where platform.processor() says only
    "x86_64"; elsewhere (no such file) platform.processor()."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:  # not Linux, or /proc not mounted
        return platform.processor()
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def machine_info() -> dict[str, Any]:
    """What a recorded figure or a run folder says about where it ran."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "processor": cpu_model(),
        "cpu_threads": torch.get_num_threads(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info
