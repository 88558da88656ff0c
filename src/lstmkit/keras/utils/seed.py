"""set_random_seed: seed Python, NumPy and torch at once, as `keras.utils.set_random_seed`."""

from __future__ import annotations

from lstmkit.runtime import set_seed


def set_random_seed(seed: int) -> None:
    """Also forgets lstmkit.keras.random's global SeedGenerator, as Keras does, so that `seed=None` draws
    follow the new seed."""
    from lstmkit.keras.random import reset_global_seed_generator  # keras.random imports nothing from utils

    set_seed(seed)
    reset_global_seed_generator()
