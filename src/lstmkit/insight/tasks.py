"""Two long-range memory tasks: a small recurrent classifier for them and its training loop; their
data (`recall_batch`, `adding_batch`, `make_batch`, `Batch`) is `lstmkit.data.memory`, re-exported here.

Dimensions: B batch, T time steps, I input, H hidden.

The tasks are here, below `lstmkit.experiments`, because both `lstmkit run memory` and
`lstmkit inspect gradients` train on them.
"""

from __future__ import annotations

import math

import torch
from torch import nn

import lstmkit.nn
from lstmkit.data.memory import ADDING_TOLERANCE, Batch, adding_batch, make_batch, recall_batch
from lstmkit.data.memory_names import INITS, MODELS, TASKS

__all__ = ["ADDING_TOLERANCE", "INITS", "MODELS", "TASKS", "Batch", "MemoryModel", "adding_batch", "chrono_init_",
           "evaluate", "keras_init_", "loss_and_score", "make_batch", "model_outputs", "recall_batch", "train"]

class MemoryModel(nn.Module):
    """A recurrence (lstmkit.nn RNN, LSTM or GRU, batch first) and a linear read-out of its last state."""

    def __init__(self, kind: str, input_size: int, hidden: int, outputs: int, init: str = "keras",
                 backend: str = "auto", chrono_span: int = 100) -> None:
        super().__init__()
        classes = {"simple_rnn": lstmkit.nn.RNN, "lstm": lstmkit.nn.LSTM, "gru": lstmkit.nn.GRU}
        if kind not in classes:
            raise ValueError(f"unknown model {kind!r}: expected one of {MODELS}")
        self.kind = kind
        self.rnn = classes[kind](input_size, hidden, batch_first=True, backend=backend)
        self.head = nn.Linear(hidden, outputs)
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}: expected one of {INITS}")
        if init in ("keras", "chrono"):
            keras_init_(self.rnn)
        if init == "chrono":
            chrono_init_(self.rnn, chrono_span)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)  # (B, T, H)
        return self.head(out[:, -1])  # (B, outputs)


@torch.no_grad()
def keras_init_(rnn: nn.Module) -> None:
    """Keras' defaults on a torch-layout recurrence: glorot_uniform input kernel, orthogonal recurrent
    kernel (per gate block, as Keras draws one (U, G*U) orthogonal matrix), zero biases, and for the
    LSTM the forget-gate bias at 1 (`unit_forget_bias`)."""
    H = rnn.hidden_size
    for name, p in rnn.named_parameters():
        G = p.shape[0] // H
        if name.startswith("weight_ih"):
            # Keras' kernel (I, G*H) is glorot over fan_in=I, fan_out=G*H; the same bound on torch's (G*H, I)
            bound = math.sqrt(6.0 / (p.shape[1] + p.shape[0]))
            p.uniform_(-bound, bound)
        elif name.startswith("weight_hh"):
            q = torch.empty(H, G * H)
            nn.init.orthogonal_(q)
            p.copy_(q.T)  # (G*H, H)
        elif name.startswith("bias"):
            p.zero_()
            if rnn.mode == "LSTM" and name.startswith("bias_ih"):
                p[H : 2 * H] = 1.0  # gates i, f, g, o: the forget block


@torch.no_grad()
def chrono_init_(rnn: nn.Module, span: int, generator: torch.Generator | None = None) -> None:
    """Tallec & Ollivier (2018), "Can recurrent neural networks warp time?": gate biases that give each
    unit a memory time scale drawn from [1, span]. LSTM: forget bias b_f = log(u), input bias -b_f,
    u ~ U(1, span - 1); GRU: update-gate bias b_z = log(u) (h = z ⊙ h_prev + (1 - z) ⊙ n). A SimpleRNN
    has no gate to set and is left as it is. Only the input-side biases are set; bias_hh stays zero."""
    if rnn.mode not in ("LSTM", "GRU"):
        return
    if span < 3:
        raise ValueError(f"chrono init needs a span of at least 3 steps, got {span}")
    H = rnn.hidden_size
    for name, p in rnn.named_parameters():
        if name.startswith("bias_ih"):
            b = torch.log(torch.rand(H, generator=generator) * (span - 2) + 1)  # (H,), log U(1, span - 1)
            if rnn.mode == "LSTM":
                p[H : 2 * H], p[:H] = b, -b  # forget, input
            else:
                p[H : 2 * H] = b  # gates r, z, n: the update block
        elif name.startswith("bias_hh"):
            p.zero_()


def model_outputs(task: str, symbols: int, distractors: int) -> tuple[int, int]:
    """(input size, output size) of the model for a task."""
    return (symbols + distractors, symbols) if task == "recall" else (2, 1)


def loss_and_score(task: str, logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sequence loss (cross-entropy, or squared error for adding) and per-sequence success (0/1)."""
    if task == "recall":
        return nn.functional.cross_entropy(logits, y, reduction="none"), (logits.argmax(1) == y).float()
    pred = logits[:, 0]
    return (pred - y) ** 2, ((pred - y).abs() < ADDING_TOLERANCE).float()


@torch.no_grad()
def evaluate(model: nn.Module, task: str, batch: Batch) -> tuple[float, float]:
    """Mean loss and success rate (accuracy, or the fraction within 0.04 for adding) on `batch`."""
    was_training = model.training
    model.eval()
    loss, score = loss_and_score(task, model(batch.x), batch.y)
    model.train(was_training)
    return float(loss.mean()), float(score.mean())


def train(
    model: nn.Module, task: str, length: int, steps: int, *, batch_size: int = 64, lr: float = 3e-3,
    symbols: int = 4, distractors: int = 4, generator: torch.Generator, val: Batch | None = None,
    eval_every: int = 50, target: float = 1.0, clip: float = 1.0, device: torch.device | str = "cpu",
) -> dict[str, list[float]]:
    """Adam on fresh batches for up to `steps` steps; every `eval_every` steps the loss and score on
    `val` are recorded, and training stops once the score on `val` reaches `target`.
    Returns the history: `step`, `loss` (training, mean since the last check), `val_loss`, `val_score`."""
    if steps < 0 or batch_size < 1:
        raise ValueError(f"need steps >= 0 and batch_size >= 1, got {steps} and {batch_size}")
    optim = torch.optim.Adam(model.parameters(), lr=lr)
    history: dict[str, list[float]] = {"step": [], "loss": [], "val_loss": [], "val_score": []}
    running, seen = 0.0, 0
    model.train()
    for step in range(1, steps + 1):
        b = make_batch(task, batch_size, length, symbols, distractors, generator)
        loss = loss_and_score(task, model(b.x.to(device)), b.y.to(device))[0].mean()
        optim.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)  # a SimpleRNN's gradient can explode over long spans
        optim.step()
        running, seen = running + loss.item(), seen + 1
        if val is not None and (step % eval_every == 0 or step == steps):
            val_loss, val_score = evaluate(model, task, val)
            for k, v in (("step", step), ("loss", running / seen), ("val_loss", val_loss), ("val_score", val_score)):
                history[k].append(v)
            running, seen = 0.0, 0
            if val_score >= target:
                break
    return history
