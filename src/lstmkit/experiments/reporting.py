"""What every experiment shows and writes: a progress bar per epoch, a results table, curves, the model."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from lstmkit.io import atomic_write_bytes, write_json
from lstmkit.plots import plot_history

console = Console()


@contextlib.contextmanager
def epoch_progress(epoch: int, epochs: int, steps: int) -> Iterator[Callable[..., None]]:
    """A progress bar with ETA for one epoch; call the yielded function after each batch with the running metrics."""
    columns = (TextColumn(f"Epoch {epoch + 1}/{epochs}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[metrics]}"))
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("train", total=steps, metrics="")

        def advance(**metrics: float) -> None:
            progress.update(task, advance=1, metrics="  ".join(f"{k} {v:.4f}" for k, v in metrics.items()))

        yield advance


def print_results(title: str, results: Mapping[str, Any]) -> None:
    table = Table(title=title)
    table.add_column("result")
    table.add_column("value", justify="right")
    for k, v in results.items():
        table.add_row(k, f"{v:.4f}" if isinstance(v, float) else str(v))
    console.print(table)


def save_curves(history: Mapping[str, list[float]], path: Path, title: str = "") -> Path:
    return plot_history(history, path, title=title)


def save_model(state_dict: Mapping[str, torch.Tensor], config: Mapping[str, Any], stem: Path) -> tuple[Path, Path]:
    """`stem`.safetensors (the weights) and `stem`.json (what is needed to rebuild the model): no pickle."""
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    weights = atomic_write_bytes(stem.with_suffix(".safetensors"), save(tensors))
    meta = write_json(stem.with_suffix(".json"), config)
    return weights, meta


def load_model_files(stem: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The weights and the config `save_model` wrote; a damaged file is a FileFormatError naming it."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    from lstmkit.errors import FileFormatError

    weights_path, config_path = stem.with_suffix(".safetensors"), stem.with_suffix(".json")
    try:
        weights = load(weights_path.read_bytes())  # a missing file: FileNotFoundError with the path
    except SafetensorError as e:
        raise FileFormatError(weights_path, f"not a readable safetensors file ({e})") from None
    try:
        config = json.loads(config_path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise FileFormatError(config_path, f"not valid JSON ({e})") from None
    if not isinstance(config, dict):
        raise FileFormatError(config_path, f"must hold a JSON object, got {type(config).__name__}")
    return weights, config
