"""Training checkpoints that resume bit for bit: one safetensors file, written whole or not at all.

A checkpoint is a tree of dicts, lists, numbers, strings and tensors (weights, optimizer slots,
the random generators' states, callback states). `save` splits it into the tensors (stored as
safetensors) and the rest (JSON in the file's metadata), so loading runs no code, unlike a
pickle. `random_state()` captures every generator a training step may draw from: Python's,
NumPy's global one, torch's CPU generator and, where CUDA is present, each GPU's; restoring
them, the optimizer and the weights at an epoch boundary makes the next epochs draw the same
shuffles and dropout masks as an uninterrupted run.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lstmkit.errors import FileFormatError
from lstmkit.io import atomic_write_bytes

FORMAT = "lstmkit-checkpoint"
VERSION = 1
_TENSOR = "__tensor__"
_NDARRAY = "__ndarray__"


def random_state() -> dict[str, Any]:
    """The state of every global random generator, as a checkpoint tree."""
    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
        "numpy": numpy_state(tuple(np.random.get_state(legacy=True))),  # noqa: NPY002 - the global one is saved
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = list(torch.cuda.get_rng_state_all())
    return state


def set_random_state(state: Mapping[str, Any]) -> None:
    """Restore what `random_state()` captured."""
    py = state["python"]
    random.setstate((int(py["version"]), tuple(int(v) for v in py["internal"]), py["gauss"]))
    np.random.set_state(numpy_state_tuple(state["numpy"]))  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "cuda" in state:
        if not torch.cuda.is_available() or torch.cuda.device_count() < len(state["cuda"]):
            raise ValueError(f"the checkpoint holds the random state of {len(state['cuda'])} GPU(s), and this "
                             f"machine has {torch.cuda.device_count() if torch.cuda.is_available() else 0}")
        torch.cuda.set_rng_state_all(state["cuda"])


def numpy_state(state: tuple[Any, ...]) -> dict[str, Any]:
    """A `np.random.RandomState.get_state()` tuple as a checkpoint tree."""
    kind, keys, pos, has_gauss, gauss = state
    return {"kind": kind, "keys": np.asarray(keys, dtype=np.int64), "pos": int(pos), "has_gauss": int(has_gauss),
            "gauss": float(gauss)}


def numpy_state_tuple(state: Mapping[str, Any]) -> tuple[Any, ...]:
    """The inverse of `numpy_state`, for `RandomState.set_state`."""
    keys = np.asarray(state["keys"], dtype=np.int64).astype(np.uint32)
    return (state["kind"], keys, int(state["pos"]), int(state["has_gauss"]), float(state["gauss"]))


def _split(tree: Any, tensors: dict[str, torch.Tensor], path: str) -> Any:
    """The tree with each tensor (and NumPy array) moved into `tensors` under a unique key, its number
    and path (for a reader of the file), and replaced by a reference to that key."""
    if isinstance(tree, (torch.Tensor, np.ndarray)):
        key = f"{len(tensors)}:{path}"
        if isinstance(tree, torch.Tensor):
            tensors[key] = tree.detach().cpu().clone(memory_format=torch.contiguous_format)  # a packed copy
            return {_TENSOR: key}
        tensors[key] = torch.from_numpy(np.ascontiguousarray(tree))
        return {_NDARRAY: key}
    if isinstance(tree, Mapping):
        for k in tree:
            if not isinstance(k, str):
                raise ValueError(f"checkpoint keys must be strings, got {k!r} under {path or 'the root'}")
        return {k: _split(v, tensors, f"{path}.{k}" if path else k) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return [_split(v, tensors, f"{path}.{i}" if path else str(i)) for i, v in enumerate(tree)]
    if tree is None or isinstance(tree, (bool, int, float, str)):
        return tree
    if isinstance(tree, (np.integer, np.floating)):
        return tree.item()
    raise ValueError(f"a checkpoint cannot hold {type(tree).__name__} (at {path or 'the root'})")


def _join(tree: Any, tensors: Mapping[str, torch.Tensor], where: Path) -> Any:
    if isinstance(tree, dict):
        if set(tree) in ({_TENSOR}, {_NDARRAY}):
            (kind, key), = tree.items()
            if key not in tensors:
                raise FileFormatError(where, f"the tensor {key!r} its metadata names is missing")
            return tensors[key] if kind == _TENSOR else tensors[key].numpy()
        return {k: _join(v, tensors, where) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_join(v, tensors, where) for v in tree]
    return tree


def save(path: str | os.PathLike[str], tree: Mapping[str, Any]) -> Path:
    """Write the checkpoint `tree` to `path` atomically (the old file or the whole new one, never a part)."""
    from safetensors.torch import save as save_tensors

    tensors: dict[str, torch.Tensor] = {}
    rest = _split(dict(tree), tensors, "")
    meta = {"format": FORMAT, "version": str(VERSION), "tree": json.dumps(rest, allow_nan=True)}
    return atomic_write_bytes(path, save_tensors(tensors, metadata=meta))


def load(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint `save` wrote; every fault is a FileFormatError naming the file."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types for every kind of damage
        raise FileFormatError(path, f"not a readable checkpoint ({type(e).__name__}: {e})") from None
    if meta.get("format") != FORMAT:
        raise FileFormatError(path, f"not an lstmkit checkpoint (format {meta.get('format')!r})")
    if meta.get("version") != str(VERSION):
        raise FileFormatError(path, f"checkpoint version {meta.get('version')!r}; this lstmkit reads {VERSION}")
    try:
        tree = json.loads(meta["tree"])
    except (KeyError, json.JSONDecodeError) as e:
        raise FileFormatError(path, f"its metadata is damaged ({e})") from None
    return _join(tree, tensors, path)  # type: ignore[no-any-return]


def torch_optimizer_state(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """A torch.optim optimizer's state_dict as a checkpoint tree (its parameter numbers become strings)."""
    sd = optimizer.state_dict()
    return {"state": {str(k): dict(v) for k, v in sd["state"].items()}, "param_groups": sd["param_groups"]}


def load_torch_optimizer_state(optimizer: torch.optim.Optimizer, tree: Mapping[str, Any]) -> None:
    """The inverse of `torch_optimizer_state`: loads it into `optimizer`."""
    groups = [{k: tuple(v) if k == "betas" else v for k, v in g.items()} for g in tree["param_groups"]]
    optimizer.load_state_dict({"state": {int(k): v for k, v in tree["state"].items()}, "param_groups": groups})
