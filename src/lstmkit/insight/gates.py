"""A text model read token by token: heatmaps of its gates and cell state, and its running prediction.

    fig = gates_figure(model, token_ids, tokens)     # model: token ids (B, T) -> one score per sequence

The running prediction after token t is what the model outputs for the text cut after token t,
prepared the same way as the whole text: left-padded to `maxlen` like Keras' `pad_sequences`, or
not padded at all when `maxlen` is None.

Dimensions: B batch, T tokens, H hidden units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from lstmkit.insight.probes import LayerTrace, probe

_CHUNK = 64  # prefixes per forward pass when computing running predictions


def _device(model: Any) -> torch.device:
    params = getattr(model, "parameters", None)
    if callable(params):
        for p in params():
            return p.device
    return torch.device("cpu")


def pad_ids(token_ids: Sequence[int], maxlen: int | None = None, pad_id: int = 0) -> list[int]:
    """Keras' `pad_sequences` for one sequence (padding and truncating "pre"): the last `maxlen` ids,
    with `pad_id` in front up to `maxlen`."""
    ids = [int(i) for i in token_ids]
    if maxlen is None:
        return ids
    if maxlen < 1:
        raise ValueError(f"maxlen must be a positive number of tokens, got {maxlen}")
    ids = ids[-maxlen:]
    return [pad_id] * (maxlen - len(ids)) + ids


class _EvalMode:
    """Puts a torch module in eval mode for the duration, then restores what it was."""

    def __init__(self, model: Any) -> None:
        self.model, self.was = model, getattr(model, "training", None)

    def __enter__(self) -> None:
        if self.was is not None:
            self.model.eval()

    def __exit__(self, *exc: object) -> None:
        if self.was is not None:
            self.model.train(self.was)


def _scores(output: Any, n: int) -> torch.Tensor:
    out = output[0] if isinstance(output, tuple | list) else output
    if not isinstance(out, torch.Tensor):
        out = torch.as_tensor(np.asarray(out))
    out = out.reshape(n, -1)
    if out.shape[1] != 1:
        raise ValueError(f"the model must give one score per sequence, got {out.shape[1]} per sequence")
    return out[:, 0].float()


@torch.no_grad()
def running_predictions(model: Any, token_ids: Sequence[int], *, maxlen: int | None = None, pad_id: int = 0,
                        logits: bool = False) -> np.ndarray:
    """(T,) the model's output after each of the T tokens (sigmoid applied when `logits`)."""
    if len(token_ids) == 0:
        raise ValueError("no tokens: the text encodes to an empty sequence")
    ids = [int(i) for i in token_ids]
    prefixes = [pad_ids(ids[: k + 1], maxlen, pad_id) for k in range(len(ids))]
    # padded prefixes share one width and go in batches; unpadded ones run one by one
    chunk = _CHUNK if maxlen is not None else 1
    device = _device(model)
    preds = []
    with _EvalMode(model):
        for start in range(0, len(prefixes), chunk):
            x = torch.tensor(prefixes[start : start + chunk], dtype=torch.long, device=device)  # (chunk, width)
            preds.append(_scores(model(x), x.shape[0]))
    p = torch.cat(preds)
    return (torch.sigmoid(p) if logits else p).cpu().numpy()


def text_trace(model: Any, token_ids: Sequence[int], *, layer: str | None = None, maxlen: int | None = None,
               pad_id: int = 0) -> tuple[LayerTrace, int]:
    """Probe the model on the (padded) text; returns the recurrent layer's trace and the number of
    leading padding steps (the tokens are the steps after them)."""
    x = pad_ids(token_ids, maxlen, pad_id)
    n_pad = len(x) - min(len(token_ids), len(x))
    with _EvalMode(model):
        result = probe(model, torch.tensor([x], dtype=torch.long, device=_device(model)))
    return result.select(layer), n_pad


def gates_figure(model: Any, token_ids: Sequence[int], tokens: Sequence[str], *, layer: str | None = None,
                 maxlen: int | None = None, pad_id: int = 0, logits: bool = False, title: str = ""):
    """One heatmap per gate and state (units x tokens) of the recurrent layer `layer` (the first one
    when None), and below them the model's running prediction after each token."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if len(token_ids) != len(tokens):
        raise ValueError(f"token_ids and tokens must have the same length, got {len(token_ids)} and {len(tokens)}")
    if maxlen is not None and len(token_ids) > maxlen:  # keep the last maxlen tokens, as pad_sequences does
        token_ids, tokens = list(token_ids)[-maxlen:], list(tokens)[-maxlen:]
    trace, n_pad = text_trace(model, token_ids, layer=layer, maxlen=maxlen, pad_id=pad_id)
    preds = running_predictions(model, token_ids, maxlen=maxlen, pad_id=pad_id, logits=logits)
    names = [*trace.gates, *trace.states]
    T = len(tokens)
    H = trace["h"].shape[2]
    rows = min(1.6, 0.6 + H / 40)  # inches per heatmap: 32 units -> 1.4
    fig, axes = plt.subplots(len(names) + 1, 1, figsize=(max(8.0, 0.22 * T + 2.5), 1.6 + rows * len(names) + 1.2),
                             sharex=True, gridspec_kw={"height_ratios": [rows] * len(names) + [1.2]})
    for ax, name in zip(axes, names):
        v = trace[name][0, n_pad:].T.float().cpu().numpy()  # (H, T)
        if name in ("i", "f", "o", "r", "z"):  # sigmoid gates live in [0, 1]
            im = ax.imshow(v, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        else:  # candidate and states: signed, centred on 0
            lim = max(float(np.abs(v).max()), 1e-6)
            im = ax.imshow(v, aspect="auto", cmap="coolwarm", vmin=-lim, vmax=lim, interpolation="nearest")
        ax.set_ylabel(name, rotation=0, labelpad=12, fontsize=11)
        ax.set_yticks([])
        fig.colorbar(im, ax=ax, pad=0.01, fraction=0.02)
    ax = axes[-1]
    ax.plot(range(T), preds, "o-", markersize=3, color="black")
    ax.set_ylim(min(0.0, float(preds.min())) - 0.05, max(1.0, float(preds.max())) + 0.05)
    ax.axhline(0.5, color="gray", lw=0.8, ls=":")
    ax.set_ylabel("prediction", fontsize=9)
    ax.grid(alpha=0.3)
    step = max(1, T // 80)  # at most ~80 readable labels
    ax.set_xticks(range(0, T, step), [tokens[k] for k in range(0, T, step)], rotation=90, fontsize=7)
    ax.set_xlim(-0.5, T - 0.5)
    # the prediction panel has no colorbar; keep its width aligned with the heatmaps above
    fig.colorbar(im, ax=ax, pad=0.01, fraction=0.02).ax.set_visible(False)
    axes[0].set_title(title or f"{trace.name}: {trace.kind} gates and states per token (units x tokens)")
    fig.tight_layout()
    return fig
