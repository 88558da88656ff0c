"""set_random_seed: seed Python, NumPy and torch at once, as `keras.utils.set_random_seed`."""

from __future__ import annotations

from lstmkit.runtime import set_seed


def set_random_seed(seed: int) -> None:
    set_seed(seed)
