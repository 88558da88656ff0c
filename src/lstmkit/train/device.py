"""Where training runs: CUDA when present, else the CPU; moving nested batches there."""

from __future__ import annotations

from typing import Any

import torch


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve(device: str | torch.device | None) -> torch.device:
    """None or "auto" -> the default device; "cuda" without CUDA is an error, not a silent fallback."""
    if device is None or device == "auto":
        return default_device()
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but no CUDA device is available; use 'cpu' or 'auto'")
    return device


def move(batch: Any, device: torch.device) -> Any:
    """Tensors in nested tuples and lists to `device` (non_blocking from pinned memory)."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(move(b, device) for b in batch)
    return batch
