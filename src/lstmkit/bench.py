"""`lstmkit bench`: lstmkit's recurrences beside torch.nn's (cuDNN on a GPU), same weights, same run.

For each kind, shape (B, T, I, H) and dtype: the forward without gradients and a training step
(forward + backward of `output.sum()`), for `torch.nn.{LSTM,GRU,RNN}` and `lstmkit.nn` on the
chosen backend. The two alternate inside every repeat, so that a noisy neighbour slows both alike;
each figure is the median of the repeats. On CUDA every timed call is synchronised. The largest
difference between the two outputs is reported beside the times, so a fast wrong answer shows.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from lstmkit import shapes

if TYPE_CHECKING:
    import torch

KINDS = ("lstm", "gru", "simple_rnn")
DTYPES = ("float32", "float64", "bfloat16", "float16")  # names: `lstmkit bench --help` imports no torch
DEFAULT_SHAPES = shapes.CPU  # the classic IMDB shape first, then its larger hidden sizes


@dataclass
class Result:
    kind: str
    shape: tuple[int, int, int, int]  # B, T, I, H
    dtype: str
    device: str
    backend: str  # the lstmkit backend that ran
    ms: dict[str, float]  # medians: ours_fwd, torch_fwd, ours_train, torch_train
    all_ms: dict[str, list[float]] = field(default_factory=dict)
    first_call_ms: float = 0.0  # lstmkit's first training step (a kernel builds or compiles then)
    max_abs_diff: float = 0.0  # |lstmkit output - torch output|, largest element

    @property
    def ratio_fwd(self) -> float:
        return self.ms["ours_fwd"] / self.ms["torch_fwd"]

    @property
    def ratio_train(self) -> float:
        return self.ms["ours_train"] / self.ms["torch_train"]

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio_fwd": round(self.ratio_fwd, 3), "ratio_train": round(self.ratio_train, 3)}


def _timer(device: torch.device) -> Callable[[Callable[[], None]], float]:
    import torch

    def timed(fn: Callable[[], None]) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        return (time.perf_counter() - t0) * 1e3

    return timed


def measure(kind: str, shape: tuple[int, int, int, int], *, dtype: str | torch.dtype = "float32",
            device: str | torch.device = "cpu", backend: str = "auto", repeats: int = 7, seed: int = 0) -> Result:
    """Time lstmkit.nn and torch.nn on one configuration; see the module docstring."""
    import torch

    if isinstance(dtype, str):
        dtype = getattr(torch, dtype)
    import lstmkit.nn
    from lstmkit import ops

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if len(shape) != 4 or any(int(s) < 1 for s in shape):
        raise ValueError(f"shape must be four positive sizes (B, T, I, H), got {shape}")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    device = torch.device(device)
    B, T, I, H = (int(s) for s in shape)
    torch.manual_seed(seed)
    theirs_cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "simple_rnn": torch.nn.RNN}[kind]
    ours_cls = {"lstm": lstmkit.nn.LSTM, "gru": lstmkit.nn.GRU, "simple_rnn": lstmkit.nn.RNN}[kind]
    theirs = theirs_cls(I, H, batch_first=True, device=device, dtype=dtype)
    ours = ours_cls(I, H, batch_first=True, backend=backend, device=device, dtype=dtype)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(B, T, I, device=device, dtype=dtype, requires_grad=True)
    ran = ops.select_backend(backend, x).name
    timed = _timer(device)

    def fwd(m: torch.nn.Module) -> Callable[[], None]:
        def run() -> None:
            with torch.no_grad():
                m(x)
        return run

    def train(m: torch.nn.Module) -> Callable[[], None]:
        def run() -> None:
            m.zero_grad(set_to_none=True)
            x.grad = None
            m(x)[0].sum().backward()
        return run

    first = timed(train(ours))
    with torch.no_grad():
        diff = (ours(x)[0].float() - theirs(x)[0].float()).abs().max().item()
    for fn in (fwd(ours), fwd(theirs), train(theirs)):  # warm-up
        fn()
    times: dict[str, list[float]] = {k: [] for k in ("ours_fwd", "torch_fwd", "ours_train", "torch_train")}
    for _ in range(repeats):
        times["ours_fwd"].append(timed(fwd(ours)))
        times["torch_fwd"].append(timed(fwd(theirs)))
        times["ours_train"].append(timed(train(ours)))
        times["torch_train"].append(timed(train(theirs)))
    return Result(kind=kind, shape=(B, T, I, H), dtype=str(dtype).removeprefix("torch."), device=str(device),
                  backend=ran, ms={k: round(statistics.median(v), 3) for k, v in times.items()},
                  all_ms={k: [round(t, 3) for t in v] for k, v in times.items()}, first_call_ms=round(first, 1),
                  max_abs_diff=diff)


def parse_shapes(text: str) -> list[tuple[int, int, int, int]]:
    """'2,30,4,5;6,70,8,9' -> [(2, 30, 4, 5), (6, 70, 8, 9)] (B, T, I, H each; the named ones are lstmkit.shapes)."""
    shapes = []
    for part in text.replace(" ", "").split(";"):
        if not part:
            continue
        try:
            sizes = tuple(int(s) for s in part.split(","))
        except ValueError:
            raise ValueError(f"a shape is four integers B,T,I,H separated by commas, got {part!r}") from None
        if len(sizes) != 4 or min(sizes) < 1:
            raise ValueError(f"a shape is four positive integers B,T,I,H, got {part!r}")
        shapes.append(sizes)
    if not shapes:
        raise ValueError("no shape given: expected e.g. --shapes 128,500,32,32")
    return shapes  # type: ignore[return-value]


def table(results: list[Result]) -> str:
    peer = "cuDNN" if any(r.device.startswith("cuda") for r in results) else "torch.nn"
    head = (f"| kind | B, T, I, H | dtype | backend | lstmkit fwd ms | {peer} fwd ms | ratio | lstmkit train ms | "
            f"{peer} train ms | ratio | first call ms | max abs diff |")
    lines = [head, "|" + "---|" * 12]
    for r in results:
        lines.append(
            f"| {r.kind} | {', '.join(map(str, r.shape))} | {r.dtype} | {r.backend} | {r.ms['ours_fwd']:.2f} | "
            f"{r.ms['torch_fwd']:.2f} | {r.ratio_fwd:.2f} | {r.ms['ours_train']:.2f} | {r.ms['torch_train']:.2f} | "
            f"{r.ratio_train:.2f} | {r.first_call_ms:.0f} | {r.max_abs_diff:.1e} |")
    return "\n".join(lines)


def main(kinds: list[str], shapes: list[tuple[int, int, int, int]], dtype: str, device: str, backend: str,
         repeats: int, json_path: str | None = None) -> list[Result]:
    """What `lstmkit bench` runs: measure every (shape, kind), print the table, optionally write JSON."""
    from lstmkit.io import write_json
    from lstmkit.runtime import machine_info, resolve_device

    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise ValueError(f"unknown kinds {bad}: expected some of {list(KINDS)}")
    dev = resolve_device(device)
    results = []
    for shape in shapes:
        for kind in kinds:
            r = measure(kind, shape, dtype=dtype, device=dev, backend=backend, repeats=repeats)
            results.append(r)
            print(f"{kind:10s} {shape}  train x{r.ratio_train:.2f}  fwd x{r.ratio_fwd:.2f}", flush=True)
    print(table(results))
    if json_path:
        write_json(json_path, {"machine": machine_info(), "results": [r.as_dict() for r in results]})
    return results
