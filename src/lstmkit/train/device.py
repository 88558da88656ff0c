"""Moving nested batches to the device training runs on (chosen by `lstmkit.runtime.resolve_device`)."""

from __future__ import annotations

from typing import Any

import torch

from lstmkit.runtime import default_device, resolve_device

# the names train/ has always exported
resolve = resolve_device
__all__ = ["default_device", "move", "resolve"]


def move(batch: Any, device: torch.device) -> Any:
    """Tensors in nested tuples and lists to `device` (non_blocking from pinned memory)."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, (list, tuple)):
        return type(batch)(move(b, device) for b in batch)
    return batch
