"""Variational dropout masks (Gal & Ghahramani 2016): one mask per sequence, reused at every step."""

from __future__ import annotations

import torch


def dropout_mask(
    batch: int, size: int, p: float, *, like: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor | None:
    """A (batch, size) mask of 0 and 1/(1-p), drawn once per sequence; None when p == 0.

    The scale keeps the expected value of the masked tensor unchanged (inverted dropout, as Keras).
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout rate must be in [0, 1), got {p}")
    if p == 0.0:
        return None
    keep = torch.rand(batch, size, device=like.device, generator=generator) >= p  # (B, size)
    return keep.to(like.dtype) / (1.0 - p)
