"""Training a model with several outputs, on Keras 3's rules (the loops use it through `Trainer`).

- `compile(loss=)`: one loss for every output, a list with one per output (None: that output is not trained),
  or a dict keyed by output name that names every output. `loss_weights`: a list or a dict of the same kind;
  the loss that is minimised and logged as `loss` is sum(weight * loss of the output), plus the penalties.
- `metrics=` / `weighted_metrics=`: a list with one entry per output (an entry: a metric or a list of them),
  or a dict keyed by output name (missing names have none). A flat list of another length is refused, as Keras.
- Logs: `loss`; `<output>_loss` (unweighted) for each trained output when more than one is trained;
  `<output>_<metric>` for each metric. `evaluate` returns [loss, the `<output>_loss` in output order, then
  the metrics sorted by name], as Keras 3.15 orders its results.
- Targets: a list (or tuple) with one array per output, or a dict keyed by output name; sample_weight one
  array for every output. `class_weight` is refused (Keras 3 refuses it with several outputs too).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from lstmkit.keras import losses as losses_mod
from lstmkit.keras import metrics as metrics_mod
from lstmkit.train.data import to_tensor


class Targets(tuple):
    """One target tensor per output, cut and moved together: what the batch loaders do to a tensor `y`
    (`shape[0]`, `y[idx]`, `y.to(device)`) they do to each."""

    @property
    def shape(self) -> tuple[int]:
        return (int(self[0].shape[0]),)

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, int):
            return super().__getitem__(idx)
        return Targets(t[idx] for t in self)

    def to(self, device: Any) -> Targets:
        return Targets(t.to(device) for t in self)


class Output:
    """What compile() gave one output: its loss and weight, its loss tracker and its metrics."""

    def __init__(self, name: str, loss: Any, weight: float, metrics: list, weighted_metrics: list) -> None:
        self.name, self.weight = name, float(weight)
        self.loss_fn = None if loss is None else losses_mod.get(loss)
        self.loss_spec = loss
        self.tracker = metrics_mod.Mean(name=f"{name}_loss")
        self.metric_specs, self.weighted_metric_specs = metrics, weighted_metrics
        self.metrics: list[tuple[metrics_mod.Metric, bool]] | None = None

    def resolve_metrics(self, y_shape: tuple, pred_shape: tuple) -> None:
        if self.metrics is not None:
            return
        resolved = [(metrics_mod.get(spec, y_shape, pred_shape), False) for spec in self.metric_specs]
        plain = {m.name for m, _ in resolved}
        for spec in self.weighted_metric_specs:
            metric = metrics_mod.get(spec, y_shape, pred_shape)
            if metric.name in plain:  # the same metric weighted and not: as for one output
                metric.name = f"weighted_{metric.name}"
            resolved.append((metric, True))
        for metric, _ in resolved:
            metric.name = f"{self.name}_{metric.name}"
        self.metrics = resolved


def _per_output(value: Any, names: list[str], what: str, required: bool) -> list[Any]:
    """compile()'s `what` (loss, loss_weights, metrics) as one entry per output, from a dict or a list."""
    if isinstance(value, dict):
        unknown = sorted(set(map(str, value)) - set(names))
        if unknown:
            raise ValueError(f"compile(): {what} has keys {unknown} that are not outputs of the model; expected the "
                             f"keys {names}")
        missing = [n for n in names if n not in value]
        if required and missing:
            raise ValueError(f"Expected keys {names} in {what} dict, but found {what}.keys()={list(value)}")
        return [value.get(n) for n in names]
    if isinstance(value, (list, tuple)):
        if len(value) != len(names):
            raise ValueError(f"compile(): {what} is a list of {len(value)} entries for a model with {len(names)} "
                             f"outputs {names}: give one entry per output (a list of lists for several metrics "
                             "on one output) or a dict keyed by output name")
        return list(value)
    raise ValueError(f"compile(): {what} for a model with the outputs {names} must be a list with one entry per "
                     f"output or a dict keyed by output name, got {value!r}")


def _as_metric_list(entry: Any) -> list:
    if entry is None:
        return []
    return list(entry) if isinstance(entry, (list, tuple)) else [entry]


def outputs_from_compile(names: list[str], loss: Any, loss_weights: Any, metrics: Any,
                         weighted_metrics: Any) -> list[Output]:
    """The outputs of compile(): one `Output` per model output, in the model's output order."""
    if loss is None:
        raise ValueError("compile(): a model with several outputs needs loss= (one for all, a list or a dict)")
    losses = (_per_output(loss, names, "loss", required=True) if isinstance(loss, (list, tuple, dict))
              else [loss] * len(names))
    if all(entry is None for entry in losses):
        raise ValueError("compile(): every entry of loss is None, so no output would be trained")
    weights = [1.0] * len(names) if loss_weights is None else [
        1.0 if w is None else w for w in _per_output(loss_weights, names, "loss_weights", required=False)]
    for name, w in zip(names, weights):
        if not isinstance(w, (int, float)) or isinstance(w, bool):
            raise ValueError(f"compile(): loss_weights for output {name!r} must be a number, got {w!r}")
    per_metrics = ([None] * len(names) if metrics is None
                   else _per_output(metrics, names, "metrics", required=False))
    per_weighted = ([None] * len(names) if weighted_metrics is None
                    else _per_output(weighted_metrics, names, "weighted_metrics", required=False))
    return [Output(n, lo, w, _as_metric_list(m), _as_metric_list(wm))
            for n, lo, w, m, wm in zip(names, losses, weights, per_metrics, per_weighted)]


def targets_from(y: Any, names: list[str], n: int, what: str) -> Targets:
    """The targets as one tensor per output (from a list, a tuple or a dict keyed by output name)."""
    if isinstance(y, dict):
        if sorted(map(str, y)) != sorted(names):
            raise ValueError(f"{what}: the targets dictionary has the keys {sorted(map(str, y))}; expected the "
                             f"output names {names}")
        values = [y[name] for name in names]
    elif isinstance(y, (list, tuple)) and len(y) == len(names):
        values = list(y)
    else:
        got = f"a list of {len(y)}" if isinstance(y, (list, tuple)) else type(y).__name__
        raise ValueError(f"{what}: the model has {len(names)} outputs {names}, so y must be a list of {len(names)} "
                         f"arrays or a dict keyed by those names; got {got}")
    tensors = [to_tensor(v, f"y[{name!r}]") for v, name in zip(values, names)]
    for t, name in zip(tensors, names):
        if t.dim() == 0 or t.shape[0] != n:
            raise ValueError(f"{what}: x has {n} samples but the targets of output {name!r} have "
                             f"{0 if t.dim() == 0 else t.shape[0]}; they must match")
    return Targets(tensors)


def flat_outputs(structure: Any, names: list[str]) -> list[Any]:
    """A model's outputs (or masks, or shapes) in output order, from the list, tuple or dict it returns."""
    if isinstance(structure, dict):
        return [structure[name] for name in names]
    if isinstance(structure, (list, tuple)) and len(structure) == len(names):
        return list(structure)
    if structure is None:
        return [None] * len(names)
    raise ValueError(f"expected {len(names)} outputs {names} from the model, got {type(structure).__name__}")


def trackers_and_metrics(outputs: Iterable[Output]) -> list[metrics_mod.Metric]:
    """What evaluate returns after `loss`, in Keras' order: the trained outputs' losses (when more than one is
    trained) in output order, then every metric sorted by name."""
    outputs = list(outputs)
    trained = [o for o in outputs if o.loss_fn is not None]
    trackers = [o.tracker for o in trained] if len(trained) > 1 else []
    metrics = sorted((m for o in outputs for m, _ in o.metrics or []), key=lambda m: m.name)
    return [*trackers, *metrics]


def loss_of(outputs: list[Output], ys: Targets, preds: list[torch.Tensor], sw: torch.Tensor | None,
            masks: list[Any]) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    """The weighted sum of the outputs' losses, and each output's unweighted loss (None where untrained)."""
    total: torch.Tensor | None = None
    each: list[torch.Tensor | None] = []
    for out, y, p, m in zip(outputs, ys, preds, masks):
        if out.loss_fn is None:
            each.append(None)
            continue
        if p.is_floating_point() and p.dtype in (torch.float16, torch.bfloat16):
            p = p.float()  # mixed precision: the loss in float32, as Keras
        value = out.loss_fn(y, p, sw, m)
        each.append(value)
        total = value * out.weight if total is None else total + value * out.weight
    assert total is not None  # outputs_from_compile refuses a compile with no trained output
    return total, each


def describe(outputs: list[Output]) -> dict[str, Any]:
    """compile()'s per-output arguments as lists in output order, for the compile config of a saved model."""
    return {"loss": [None if o.loss_fn is None else losses_mod.serialize(o.loss_fn) for o in outputs],
            "loss_weights": [o.weight for o in outputs],
            "metrics": [[metrics_mod.serialize(m) for m in o.metric_specs] for o in outputs],
            "weighted_metrics": [[metrics_mod.serialize(m) for m in o.weighted_metric_specs] for o in outputs]}

