"""Probes: every step's gates, cell state and hidden state of every lstmkit recurrent layer in a model.

    result = probe(model, x)              # runs model(x) once, recording
    lstm = result.select("lstm")          # a LayerTrace: lstm["f"] is the forget gate, (B, T, H)
    result.output                         # exactly what model(x) returned during the probe

How: `lstmkit.ops.tracing()` records each recurrence call (one per layer and direction) on the
reference backend, and forward hooks on the model's submodules, present only during the probe,
say which named layer made each call. Outside a probe nothing is recorded and nothing is slowed.

Recorded values are aligned with the input positions, (B, T, size): LSTM i, f, g, o (gates), c, h;
GRU r, z, n (gates), h; SimpleRNN h. At a masked step the gates are what the cell computed and c, h
are the states carried forward (the step had no effect).

Dimensions: B batch, T time, H hidden units.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from lstmkit import ops

GATES = {"lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n"), "simple_rnn": ()}
STATES = {"lstm": ("c", "h"), "gru": ("h",), "simple_rnn": ("h",)}
# class names that mark a module as one recurrent layer (lstmkit.nn and the lstmkit.keras facade)
_RECURRENT_CLASSES = {"LSTM", "GRU", "RNN", "SimpleRNN", "LSTMCell", "GRUCell", "RNNCell", "SimpleRNNCell"}


@dataclass(frozen=True)
class LayerTrace:
    """One recurrence run by one layer: its gates and states at every step, (B, T, size) each."""

    name: str  # the layer's Keras-style `.name` when it has one, else its path in the model
    path: str  # dotted path from the model (`named_modules`), "" for the model itself
    call: int  # which call of this layer in the forward pass (0 unless the model calls it again)
    layer: int  # stacked layer inside the module (`num_layers` > 1), else 0
    direction: str  # "forward" or "backward" (a reversed recurrence; values stay aligned with the input)
    kind: str  # "lstm", "gru" or "simple_rnn"
    mask: torch.Tensor | None  # (B, T) bool, True where a step was real; None if all were
    values: dict[str, torch.Tensor] = field(repr=False)

    def __getitem__(self, key: str) -> torch.Tensor:
        if key not in self.values:
            raise KeyError(f"{self.kind} records {sorted(self.values)}, not {key!r}")
        return self.values[key]

    @property
    def gates(self) -> tuple[str, ...]:
        return GATES[self.kind]

    @property
    def states(self) -> tuple[str, ...]:
        return STATES[self.kind]


@dataclass
class Probe:
    """What `probe` returns: the model's output and one `LayerTrace` per recurrence call, in call order."""

    output: Any
    traces: list[LayerTrace]

    def names(self) -> list[str]:
        """The names of the layers that ran a recurrence, in order, each once."""
        return list(dict.fromkeys(t.name for t in self.traces))

    def select(self, name: str | None = None, layer: int = 0, direction: str = "forward", call: int = 0
               ) -> LayerTrace:
        """The trace of layer `name` (its name or path; the first recurrent layer when None)."""
        if not self.traces:
            raise ValueError("the probe recorded no recurrence: the model ran no lstmkit LSTM, GRU or SimpleRNN")
        if name is None:
            name = self.traces[0].name
        for t in self.traces:
            if name in (t.name, t.path) and (t.layer, t.direction, t.call) == (layer, direction, call):
                return t
        have = [f"{t.name}[layer={t.layer}, {t.direction}, call={t.call}]" for t in self.traces]
        raise ValueError(f"no trace for {name!r} layer={layer} {direction} call={call}; recorded: {', '.join(have)}")


def _named_modules(model: Any) -> Iterator[tuple[str, nn.Module]]:
    """Every nn.Module reachable from `model`: its `named_modules()`, or, for a container that is not
    a module itself (a Keras-style model object), the modules in its `.layers`."""
    if isinstance(model, nn.Module):
        yield from model.named_modules()
        return
    for k, layer in enumerate(getattr(model, "layers", []) or []):
        if isinstance(layer, nn.Module):
            prefix = getattr(layer, "name", None) or f"layers.{k}"
            for sub, m in layer.named_modules():
                yield (f"{prefix}.{sub}" if sub else prefix), m


def is_recurrent_layer(module: Any) -> bool:
    """An lstmkit recurrent layer: lstmkit.nn LSTM/GRU/RNN or a cell, or an lstmkit.keras LSTM/GRU/SimpleRNN."""
    cls = type(module)
    return cls.__module__.startswith("lstmkit.") and any(c.__name__ in _RECURRENT_CLASSES for c in cls.__mro__
                                                            if c.__module__.startswith("lstmkit."))


def probe(model: Any, *args: Any, grad: bool = False, **kwargs: Any) -> Probe:
    """Run `model(*args, **kwargs)` once and record every recurrence of every lstmkit recurrent layer.

    `model` is a torch module (or a Keras-style model whose `.layers` are modules) containing lstmkit
    recurrent layers. Runs under `torch.no_grad()` unless `grad=True`. The recurrences run on the
    reference backend while probing, so the output is the reference's (bit-equal to a reference run).
    """
    if not callable(model):
        raise ValueError(f"probe needs a callable model (a torch module), got {type(model).__name__}")
    modules = list(_named_modules(model))
    spans: list[tuple[str, nn.Module, int, int]] = []  # (path, module, first record, end record)
    stack: list[int] = []
    handles = []

    def enter(records: list[dict]):  # type: ignore[no-untyped-def]
        def hook(module: nn.Module, inputs: Any) -> None:
            stack.append(len(records))

        return hook

    def leave(records: list[dict], path: str):  # type: ignore[no-untyped-def]
        def hook(module: nn.Module, inputs: Any, output: Any) -> None:
            spans.append((path, module, stack.pop(), len(records)))

        return hook

    with ops.tracing() as records:
        try:
            for path, m in modules:
                if _is_keras_layer(m):  # models run their layers through `_call_internal`, not `__call__`
                    handles.append(_CallWrap(m, enter(records), leave(records, path)))
                else:
                    handles.append(m.register_forward_pre_hook(enter(records)))
                    handles.append(m.register_forward_hook(leave(records, path)))
            with torch.set_grad_enabled(grad):
                output = model(*args, **kwargs)
        finally:
            for h in handles:
                h.remove()
    return Probe(output, _attribute(records, spans))


def _is_keras_layer(m: nn.Module) -> bool:
    return type(m).__module__.startswith("lstmkit.keras.") and callable(getattr(m, "_call_internal", None))


class _CallWrap:
    """Wraps a Keras-style layer's `call` for one probe (an instance attribute shadowing the method);
    `remove()` restores it, like a torch hook handle."""

    def __init__(self, module: nn.Module, pre: Any, post: Any) -> None:
        self.module = module
        original = module.call

        def call(*args: Any, **kwargs: Any) -> Any:
            pre(module, args)
            out = original(*args, **kwargs)
            post(module, args, out)
            return out

        module.call = call

    def remove(self) -> None:
        del self.module.call


def _attribute(records: list[dict], spans: list[tuple[str, nn.Module, int, int]]) -> list[LayerTrace]:
    """Give each record to the outermost recurrent layer whose call contains it (else the innermost module)."""
    owners: list[tuple[str, nn.Module, int] | None] = []  # (path, module, start of that call)
    for k in range(len(records)):
        inside = [s for s in spans if s[2] <= k < s[3]]
        recurrent = [s for s in inside if is_recurrent_layer(s[1])]
        if recurrent:
            s = min(recurrent, key=lambda s: (s[2], -s[3]))  # outermost: starts first, ends last
        elif inside:
            s = max(inside, key=lambda s: (s[2], -s[3]))
        else:
            s = None
        owners.append(None if s is None else (s[0], s[1], s[2]))
    traces = []
    calls: dict[int, list[int]] = {}  # id(module) -> the starts of its calls seen so far
    for k, (rec, owner) in enumerate(zip(records, owners)):
        path, module, start = owner if owner is not None else ("", None, -1)
        starts = calls.setdefault(id(module), [])
        if start not in starts:
            starts.append(start)
        same_call = [r for r, o in zip(records[:k], owners[:k]) if o is not None and owner is not None
                     and o[1] is module and o[2] == start]
        layer = sum(r["reverse"] == rec["reverse"] for r in same_call)
        name = getattr(module, "name", None)
        values = {key: v for key, v in rec.items() if isinstance(v, torch.Tensor) and key != "mask"}
        traces.append(LayerTrace(
            name=name if isinstance(name, str) and name else path, path=path, call=starts.index(start),
            layer=layer, direction="backward" if rec["reverse"] else "forward", kind=rec["kind"],
            mask=rec["mask"], values=values,
        ))
    return traces
