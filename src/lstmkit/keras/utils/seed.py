"""set_random_seed: seed Python, NumPy and torch at once, as `keras.utils.set_random_seed`."""

from __future__ import annotations

import random

import numpy as np
import torch


def set_random_seed(seed: int) -> None:
    if not isinstance(seed, int):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - Keras seeds the global NumPy generator too
    torch.manual_seed(seed)
