"""Gradient flow: how strongly the loss at the end of a sequence reaches each earlier step.

For a recurrence read out at its last step, with per-sequence loss ℓ_b, this measures at every step t

    dh[t] = mean_b ‖∂ℓ_b/∂h_t‖₂     the total derivative through all later steps (BPTT)
    dx[t] = mean_b ‖∂ℓ_b/∂x_t‖₂

against the distance T-1-t from the loss. A SimpleRNN's ∂ℓ/∂h_t is a product of Jacobians
diag(1 - h²) R that shrinks geometrically with the distance; an LSTM's cell path multiplies by the
forget gates only, so with f near 1 the gradient carries across hundreds of steps.

How: the recurrence is run one step at a time (the same lstmkit module on slices of length 1, passing
the state), so that every h_t is a tensor of the graph, and `torch.autograd.grad` returns all the
∂ℓ/∂h_t in one backward pass.

Dimensions: B batch, T time, I input, H hidden.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from lstmkit.insight import tasks


@dataclass(frozen=True)
class GradientFlow:
    """Per-step gradient norms, index t = input position; `distance[t]` = T-1-t steps from the loss."""

    kind: str
    distance: np.ndarray  # (T,)
    dh: np.ndarray  # (T,)
    dx: np.ndarray  # (T,)

    def as_dict(self) -> dict[str, list[float] | str | None]:
        return {"kind": self.kind, "distance": self.distance.tolist(), "dh": self.dh.tolist(),
                "dx": self.dx.tolist()}


def _kind(rnn: nn.Module) -> str:
    mode = getattr(rnn, "mode", None)
    kinds = {"LSTM": "lstm", "GRU": "gru", "RNN": "simple_rnn", "RNN_TANH": "simple_rnn", "RNN_RELU": "simple_rnn"}
    if mode not in kinds or not isinstance(rnn, nn.Module):
        raise ValueError(f"gradient_flow needs an LSTM, GRU or RNN module (lstmkit.nn or torch.nn), "
                         f"got {type(rnn).__name__}")
    if rnn.num_layers != 1 or rnn.bidirectional:
        raise ValueError(
            f"gradient_flow measures one layer in one direction, got num_layers={rnn.num_layers}, "
            f"bidirectional={rnn.bidirectional}"
        )
    return kinds[mode]


def gradient_flow(
    rnn: nn.Module, x: torch.Tensor, loss_fn: Callable[[torch.Tensor], torch.Tensor]
) -> GradientFlow:
    """Gradient norms of the per-sequence losses `loss_fn(h_T)` (B,) with respect to every h_t and x_t.

    `rnn` is a one-layer, one-direction LSTM, GRU or RNN of `lstmkit.nn` (or `torch.nn`, which has the
    same interface); `x` is (B, T, I) (batch first
    whatever the module's `batch_first`); `loss_fn` maps the last hidden state (B, H) to one loss per
    sequence (B,). Parameters' `.grad` are left untouched.
    """
    kind = _kind(rnn)
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        raise ValueError(f"x must be a (batch, time, features) tensor, got {getattr(x, 'shape', type(x).__name__)}")
    B, T, _ = x.shape
    x = x.detach().clone().requires_grad_(True)
    state = None
    hs: list[torch.Tensor] = []
    for t in range(T):
        step = x[:, t : t + 1]  # (B, 1, I)
        _, state = rnn(step if rnn.batch_first else step.transpose(0, 1), state)
        hs.append(state[0] if kind == "lstm" else state)  # (1, B, H): h_t, which all later steps read
    losses = loss_fn(hs[-1][0])  # (B,)
    if not isinstance(losses, torch.Tensor) or losses.shape != (B,):
        got = getattr(losses, "shape", losses)
        raise ValueError(f"loss_fn must return one loss per sequence, shape ({B},), got {got}")
    # the sequences are independent, so the gradient of the sum holds each sequence's own gradient
    gx, *gh = torch.autograd.grad(losses.sum(), [x, *hs])
    return GradientFlow(
        kind=kind,
        distance=np.arange(T - 1, -1, -1),
        dh=np.array([float(g[0].norm(dim=-1).mean()) for g in gh]),  # (T,)
        dx=gx.norm(dim=-1).mean(0).cpu().numpy().astype(np.float64),  # (T,)
    )


def memory_gradient_flow(model: tasks.MemoryModel, task: str, batch: tasks.Batch) -> GradientFlow:
    """`gradient_flow` of a memory-task model: its recurrence, read out by its head, under the task's loss."""

    def loss_fn(h_last: torch.Tensor) -> torch.Tensor:
        return tasks.loss_and_score(task, model.head(h_last), batch.y)[0]

    return gradient_flow(model.rnn, batch.x, loss_fn)


def gradient_flow_figure(flows: Mapping[str, Mapping[str, GradientFlow]], title: str = ""):
    """Two log-scale panels, ‖∂ℓ/∂h_t‖ and ‖∂ℓ/∂x_t‖ against the distance from the loss;
    `flows[model][stage]`, one colour per model, one line style per stage ("init", "trained")."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not flows:
        raise ValueError("no gradient flows to plot: expected {model: {'init': GradientFlow, ...}}")
    styles = {"init": "--", "trained": "-"}
    colors = {"simple_rnn": "tab:red", "lstm": "tab:blue", "gru": "tab:green"}
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharex=True)
    for model, stages in flows.items():
        for stage, flow in stages.items():
            for ax, values in zip(axes, (flow.dh, flow.dx)):
                positive = np.where(values > 0, values, np.nan)  # log scale: an exact zero is not drawn
                ax.plot(flow.distance, positive, styles.get(stage, ":"), color=colors.get(model),
                        label=f"{model} ({stage})")
    for ax, what in zip(axes, ("h_t", "x_t")):
        ax.set_yscale("log")
        ax.set_xlabel("steps between t and the loss (T - 1 - t)")
        ax.set_ylabel(f"mean ‖∂loss/∂{what}‖")
        ax.set_title(f"gradient reaching {what}")
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def gradient_flow_study(
    *, task: str = "recall", length: int = 100, hidden: int = 32, steps: int = 300, batch_size: int = 64,
    lr: float = 1e-2, init: str = "keras", symbols: int = 8, distractors: int = 8, seed: int = 0,
    models: tuple[str, ...] = tasks.MODELS, backend: str = "auto",
) -> tuple[dict[str, dict[str, GradientFlow]], dict[str, float]]:
    """For each model: the gradient flow at initialisation, then after training `steps` Adam steps on
    the task at this length, on the same held-out batch. Returns (flows[model][stage], the held-out
    score after training per model)."""
    in_size, out_size = tasks.model_outputs(task, symbols, distractors)
    held_out = torch.Generator().manual_seed(seed + 10_000)
    probe_batch = tasks.make_batch(task, 256, length, symbols, distractors, held_out)
    flows: dict[str, dict[str, GradientFlow]] = {}
    scores: dict[str, float] = {}
    for kind in models:
        torch.manual_seed(seed)
        model = tasks.MemoryModel(kind, in_size, hidden, out_size, init=init, backend=backend,
                                  chrono_span=length + 1)
        flows[kind] = {"init": memory_gradient_flow(model, task, probe_batch)}
        tasks.train(model, task, length, steps, batch_size=batch_size, lr=lr, symbols=symbols,
                    distractors=distractors, generator=torch.Generator().manual_seed(seed + 1))
        flows[kind]["trained"] = memory_gradient_flow(model, task, probe_batch)
        scores[kind] = tasks.evaluate(model, task, probe_batch)[1]
    return flows, scores
