"""The named benchmark shapes (B batch, T time, I input, H hidden): the one list `lstmkit bench` and
every script under benchmarks/ read, so that figures from different scripts are of the same shapes."""

from __future__ import annotations

Shape = tuple[int, int, int, int]  # (B, T, I, H)


def name(shape: Shape) -> str:
    B, T, I, H = shape
    return f"B{B}_T{T}_I{I}_H{H}"


IMDB: Shape = (128, 500, 32, 32)  # the classic IMDB model's LSTM(32): batch 128, 500 tokens, Embedding(10000, 32)
# The CPU table: the IMDB shape at the hidden sizes of the book's larger models.
CPU: tuple[Shape, ...] = (IMDB, (128, 500, 32, 128), (128, 500, 32, 256))
# The GPU table and goals (docs/benchmarks.md): up to H=1024, and one sequence streamed step by step.
GPU: tuple[Shape, ...] = (IMDB, (64, 256, 256, 256), (32, 512, 512, 512), (16, 1024, 1024, 1024), (1, 1000, 256, 256))
# Small shapes for a quick device check (one tile, and split H at H=200) and a CPU smoke run.
GPU_QUICK: tuple[Shape, ...] = ((8, 50, 16, 32), (4, 40, 64, 200))
SMOKE: tuple[Shape, ...] = ((3, 4, 5, 6),)
