"""Callback plumbing under `fit`: the base `Callback` and the `CallbackList` that calls them in Keras' order.

Keras 3's order, which `fit` follows: on_train_begin; per epoch on_epoch_begin, per batch
on_train_batch_begin / on_train_batch_end (each also calls the Keras 2 names on_batch_begin /
on_batch_end), then, with validation data, on_test_begin, on_test_batch_begin / end, on_test_end,
then on_epoch_end with the validation logs merged in; on_train_end last. `History` is appended after
the user's callbacks, the progress bar after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class Callback:
    """Base class; override the hooks you need. `self.model` and `self.params` are set by `fit`."""

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None: ...
    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None: ...
    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None: ...
    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None: ...
    def on_batch_begin(self, batch: int, logs: Mapping[str, Any] | None = None) -> None: ...
    def on_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None: ...

    def on_train_batch_begin(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        self.on_batch_end(batch, logs)

    def on_test_begin(self, logs: Mapping[str, Any] | None = None) -> None: ...
    def on_test_end(self, logs: Mapping[str, Any] | None = None) -> None: ...
    def on_test_batch_begin(self, batch: int, logs: Mapping[str, Any] | None = None) -> None: ...
    def on_test_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None: ...
    def on_predict_begin(self, logs: Mapping[str, Any] | None = None) -> None: ...
    def on_predict_end(self, logs: Mapping[str, Any] | None = None) -> None: ...
    def on_predict_batch_begin(self, batch: int, logs: Mapping[str, Any] | None = None) -> None: ...
    def on_predict_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None: ...


_HOOKS = [name for name in vars(Callback) if name.startswith("on_")]


class CallbackList(Callback):
    """Calls every hook on each callback in order. Hooks that a callback does not override are skipped,
    so a batch with only History and the progress bar costs a couple of Python calls."""

    def __init__(self, callbacks: Iterable[Callback] = (), model: Any = None,
                 params: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise ValueError(f"callbacks must be Callback objects, got {type(cb).__name__}")
        # those marked `runs_last` (BackupAndRestore) see every hook after the rest: they restore the
        # others' state after the others reset it, and save it after the others updated it
        self.callbacks.sort(key=lambda cb: bool(getattr(cb, "runs_last", False)))
        self._active = {hook: [getattr(cb, hook) for cb in self.callbacks if _overrides(cb, hook)] for hook in _HOOKS}
        if model is not None:
            self.set_model(model)
        if params is not None:
            self.set_params(params)

    def set_model(self, model: Any) -> None:
        super().set_model(model)
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params: dict[str, Any]) -> None:
        super().set_params(params)
        for cb in self.callbacks:
            cb.set_params(params)

    def _call(self, hook: str, *args: Any) -> None:
        for fn in self._active[hook]:
            fn(*args)

    def on_train_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self._call("on_train_begin", logs)

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        self._call("on_train_end", logs)

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._call("on_epoch_begin", epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._call("on_epoch_end", epoch, logs)

    def on_train_batch_begin(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._call("on_train_batch_begin", batch, logs)

    def on_train_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._call("on_train_batch_end", batch, logs)

    def on_test_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self._call("on_test_begin", logs)

    def on_test_end(self, logs: Mapping[str, Any] | None = None) -> None:
        self._call("on_test_end", logs)

    def on_test_batch_begin(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._call("on_test_batch_begin", batch, logs)

    def on_test_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._call("on_test_batch_end", batch, logs)

    def on_predict_begin(self, logs: Mapping[str, Any] | None = None) -> None:
        self._call("on_predict_begin", logs)

    def on_predict_end(self, logs: Mapping[str, Any] | None = None) -> None:
        self._call("on_predict_end", logs)

    def on_predict_batch_begin(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._call("on_predict_batch_begin", batch, logs)

    def on_predict_batch_end(self, batch: int, logs: Mapping[str, Any] | None = None) -> None:
        self._call("on_predict_batch_end", batch, logs)


def _overrides(cb: Callback, hook: str) -> bool:
    """Whether calling `hook` on `cb` can do anything (it, or a Keras 2 alias it calls, is overridden)."""
    cls = type(cb)
    if getattr(cls, hook, None) is not getattr(Callback, hook):
        return True
    alias = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}.get(hook)
    if alias is not None and getattr(cls, alias) is not getattr(Callback, alias):
        return True
    return hook in vars(cb)  # a hook set on the instance (LambdaCallback)
