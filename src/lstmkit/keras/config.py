"""`lstmkit.keras.config`: Keras 3's global settings, the one place they live (`keras.backend`'s `floatx`,
`epsilon`, `image_data_format` and `backend` are these functions).

- `floatx`/`set_floatx`, `epsilon`/`set_epsilon`, `image_data_format`/`set_image_data_format`, `backend`:
  Keras' values and errors. lstmkit computes in float32 (or a mixed policy) and its layers default to
  channels_last, so `set_floatx` and `set_image_data_format` accept the values that match that and refuse the
  others with the way to get them.
- `dtype_policy`/`set_dtype_policy`: the global policy of `keras.mixed_precision` (the same object).
- `enable_unsafe_deserialization()`: from then on `load_model` loads Lambda layers' code as with
  `safe_mode=False` (Keras: the global switch wins over the argument).
- `enable_/disable_interactive_logging`, `is_interactive_logging_enabled`: with it off, fit/evaluate/predict
  print no progress bar whatever their `verbose` (Keras sends those lines to absl's logger instead of stdout;
  lstmkit has no absl, so they go nowhere); callbacks still see `verbose` in their params.
- `enable_/disable_traceback_filtering`, `is_traceback_filtering_enabled`: a switch that is kept and read
  back; lstmkit's tracebacks are never filtered (there are no framework frames to hide).
- `max_epochs`/`set_max_epochs`, `max_steps_per_epoch`/`set_max_steps_per_epoch` (and the environment
  variables KERAS_MAX_EPOCHS, KERAS_MAX_STEPS_PER_EPOCH read at import): `fit` runs at most that many epochs
  and steps per epoch, with Keras' warnings "Limiting epochs to N" and "Limiting steps_per_epoch to N".
"""

from __future__ import annotations

import os
from typing import Any

from lstmkit.keras import constraints as _constraints
from lstmkit.keras import losses as _losses
from lstmkit.keras import mixed_precision as _mixed_precision
from lstmkit.keras.layers import normalization as _normalization
from lstmkit.keras.ops import nn as _ops_nn


def _int_from_env(name: str) -> int | None:
    value = os.environ.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"the environment variable {name} must be an integer, got {value!r}") from None


_STATE: dict[str, Any] = {
    "floatx": "float32", "epsilon": 1e-7, "image_data_format": "channels_last", "safe_mode": None,
    "interactive_logging": True, "traceback_filtering": True,
    "max_epochs": _int_from_env("KERAS_MAX_EPOCHS"), "max_steps_per_epoch": _int_from_env("KERAS_MAX_STEPS_PER_EPOCH"),
}
# The modules whose `EPSILON` is Keras' `epsilon()`; each reads it at call time, so set_epsilon changes the
# clipping of the losses, the norms of the constraints and the masked moments, as in Keras.
_EPSILON_USERS = (_losses, _constraints, _normalization, _ops_nn)


def backend() -> str:
    """The name of the backend: lstmkit runs on torch."""
    return "torch"


def floatx() -> str:
    """The default float type: "float32"."""
    return str(_STATE["floatx"])


def set_floatx(value: str) -> None:
    accepted = {"bfloat16", "float16", "float32", "float64"}
    if value not in accepted:
        raise ValueError(f"Unknown `floatx` value: {value}. Expected one of {accepted}")
    if value != "float32":
        raise ValueError(f"set_floatx({value!r}): lstmkit.keras keeps its variables in float32; for float16 or "
                         "bfloat16 computation use keras.mixed_precision.set_global_policy('mixed_float16') or "
                         "('mixed_bfloat16'); float64 is not supported")
    _STATE["floatx"] = value


def epsilon() -> float:
    """The fuzz factor of the losses, constraints and normalizations (1e-7)."""
    return float(_STATE["epsilon"])


def set_epsilon(value: float) -> None:
    value = float(value)
    _STATE["epsilon"] = value
    for module in _EPSILON_USERS:
        module.EPSILON = value  # type: ignore[attr-defined]


def image_data_format() -> str:
    """The default `data_format` of the convolution and pooling layers: "channels_last"."""
    return str(_STATE["image_data_format"])


def set_image_data_format(data_format: str) -> None:
    data_format = str(data_format).lower()
    if data_format not in ("channels_first", "channels_last"):
        raise ValueError("The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
                         f"Received: data_format={data_format}")
    if data_format != "channels_last":
        raise ValueError("set_image_data_format('channels_first'): lstmkit.keras layers default to channels_last; "
                         "give data_format='channels_first' to each Conv/Pooling layer instead")
    _STATE["image_data_format"] = data_format


def dtype_policy() -> _mixed_precision.DTypePolicy:
    """The global dtype policy (keras.mixed_precision.global_policy())."""
    return _mixed_precision.global_policy()


def set_dtype_policy(policy: str | _mixed_precision.DTypePolicy) -> None:
    """Set the global dtype policy: "float32", "mixed_float16", "mixed_bfloat16" or a DTypePolicy."""
    if not isinstance(policy, (str, _mixed_precision.DTypePolicy)):
        raise ValueError("Invalid `policy` argument. Expected the string name of a policy (such as "
                         f"'mixed_float16') or a `DTypePolicy` instance. Received: policy={policy} (of type "
                         f"{type(policy)})")
    _mixed_precision.set_global_policy(policy)


def enable_unsafe_deserialization() -> None:
    """Let `load_model` rebuild Lambda layers from their saved code, whatever its `safe_mode` argument."""
    _STATE["safe_mode"] = False


def safe_mode(requested: bool) -> bool:
    """The safe mode a load runs in: False after enable_unsafe_deserialization(), else the argument."""
    return requested if _STATE["safe_mode"] is None else bool(_STATE["safe_mode"])


def enable_interactive_logging() -> None:
    _STATE["interactive_logging"] = True


def disable_interactive_logging() -> None:
    """fit/evaluate/predict print no progress from now on (Keras logs them to absl instead of stdout)."""
    _STATE["interactive_logging"] = False


def is_interactive_logging_enabled() -> bool:
    return bool(_STATE["interactive_logging"])


def enable_traceback_filtering() -> None:
    _STATE["traceback_filtering"] = True


def disable_traceback_filtering() -> None:
    _STATE["traceback_filtering"] = False


def is_traceback_filtering_enabled() -> bool:
    return bool(_STATE["traceback_filtering"])


def _count_or_none(value: Any, what: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"set_{what} takes a non-negative integer or None, got {value!r}")
    return value


def max_epochs() -> int | None:
    """The most epochs `fit` runs (None: as many as asked)."""
    value = _STATE["max_epochs"]
    return None if value is None else int(value)


def set_max_epochs(max_epochs: int | None) -> None:
    _STATE["max_epochs"] = _count_or_none(max_epochs, "max_epochs")


def max_steps_per_epoch() -> int | None:
    """The most steps `fit` takes per epoch (None: as many as the data has)."""
    value = _STATE["max_steps_per_epoch"]
    return None if value is None else int(value)


def set_max_steps_per_epoch(max_steps_per_epoch: int | None) -> None:
    _STATE["max_steps_per_epoch"] = _count_or_none(max_steps_per_epoch, "max_steps_per_epoch")


__all__ = [
    "backend", "disable_interactive_logging", "disable_traceback_filtering", "dtype_policy",
    "enable_interactive_logging", "enable_traceback_filtering", "enable_unsafe_deserialization", "epsilon",
    "floatx", "image_data_format", "is_interactive_logging_enabled", "is_traceback_filtering_enabled",
    "max_epochs", "max_steps_per_epoch", "set_dtype_policy", "set_epsilon", "set_floatx",
    "set_image_data_format", "set_max_epochs", "set_max_steps_per_epoch",
]
