"""The data of two long-range memory tasks: batches of fresh sequences drawn from a generator.

Dimensions: B batch, L distractor steps, T = L + 1 (recall) or L (adding) time steps, I input.

recall: the first step shows one of `symbols` label symbols; the next L steps show distractor symbols
        drawn independently of the label. After the last step the model must name the first symbol.
        Chance accuracy is 1/symbols.
adding: Hochreiter & Schmidhuber (1997), experiment 4. Every step carries a value in [-1, 1] and a
        marker; two steps are marked, the first among the first 10 steps, the second among the first
        L/2 - 1 steps, so the two values must be held for at least L/2 steps. The target is
        0.5 + (X1 + X2) / 4, in [0, 1]; a sequence counts as solved when the absolute error is < 0.04.

`lstmkit.insight.tasks` holds the model and the training loop that read them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from lstmkit.data.memory_names import TASKS

ADDING_TOLERANCE = 0.04  # H&S 1997: "absolute error at sequence end below 0.04"


@dataclass(frozen=True)
class Batch:
    x: torch.Tensor  # (B, T, I) float inputs
    y: torch.Tensor  # (B,) long class ids (recall) or (B,) float targets (adding)


def _check_length(length: int, minimum: int, task: str) -> None:
    if not isinstance(length, int) or isinstance(length, bool) or length < minimum:
        raise ValueError(f"{task}: the length must be an integer >= {minimum}, got {length!r}")


def recall_batch(
    n: int, length: int, symbols: int = 4, distractors: int = 4, generator: torch.Generator | None = None
) -> Batch:
    """`n` sequences of 1 + `length` one-hot steps over `symbols + distractors` tokens.

    Step 0 holds a label symbol (ids 0..symbols-1), steps 1..length hold distractors (ids
    symbols..symbols+distractors-1) drawn independently of it. y is the id at step 0.
    """
    _check_length(length, 1, "recall")
    if symbols < 2 or distractors < 1:
        raise ValueError(f"recall: need symbols >= 2 and distractors >= 1, got {symbols} and {distractors}")
    if n < 1:
        raise ValueError(f"recall: need at least one sequence, got n={n}")
    y = torch.randint(0, symbols, (n,), generator=generator)  # (B,)
    noise = torch.randint(symbols, symbols + distractors, (n, length), generator=generator)  # (B, L)
    ids = torch.cat([y[:, None], noise], dim=1)  # (B, 1 + L)
    x = nn.functional.one_hot(ids, symbols + distractors).float()  # (B, 1 + L, I)
    return Batch(x, y)


def adding_batch(n: int, length: int, generator: torch.Generator | None = None) -> Batch:
    """`n` sequences of `length` steps of (value, marker): Hochreiter & Schmidhuber's adding problem."""
    _check_length(length, 6, "adding")
    if n < 1:
        raise ValueError(f"adding: need at least one sequence, got n={n}")
    m = length // 2 - 1  # both markers sit among the first m steps
    values = torch.rand(n, length, generator=generator) * 2 - 1  # (B, L) in [-1, 1)
    first = torch.randint(0, min(10, m), (n,), generator=generator)  # (B,)
    second = torch.randint(0, m - 1, (n,), generator=generator)  # uniform over the m - 1 other steps
    second = second + (second >= first).long()
    marker = torch.zeros(n, length)
    rows = torch.arange(n)
    marker[rows, first] = 1.0
    marker[rows, second] = 1.0
    y = 0.5 + (values[rows, first] + values[rows, second]) / 4  # (B,)
    return Batch(torch.stack([values, marker], dim=2), y)  # x (B, L, 2)


def make_batch(task: str, n: int, length: int, symbols: int, distractors: int, generator: torch.Generator) -> Batch:
    if task == "recall":
        return recall_batch(n, length, symbols, distractors, generator)
    if task == "adding":
        return adding_batch(n, length, generator)
    raise ValueError(f"unknown task {task!r}: expected one of {TASKS}")
