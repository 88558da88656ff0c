"""Fused Triton kernels for LSTM, GRU and SimpleRNN, registered as backend "triton".

Registered only when `triton` is installed. `backend="auto"` picks it for CUDA tensors in fp32, bf16
and fp16. On the CPU it runs only through Triton's interpreter, while `TRITON_INTERPRET=1` is set
(the tests set it around their own calls only: the interpreter is far slower than the reference,
and `dispatch` asks the same `available` for "auto" as for a backend named
explicitly, so with the variable set process-wide "auto" would pick it on the CPU too).

The kernel modules (`fused_lstm`, `fused_gru`, `fused_simple_rnn`) load on first use, because
Triton fixes compiled-or-interpreted when `@triton.jit` decorates a function: whichever mode is
active then holds for the rest of the process. (The kernels call no function that triton.language
itself defines with `@triton.jit`, such as `tl.zeros`: those are decorated when triton is first
imported, by torch._dynamo for instance, so they would be in the compiled mode.)
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Any

import torch

from lstmkit.ops.dispatch import register_backend
from lstmkit.ops.triton._host import SUPPORTED_DTYPES, interpreting

# Presence only: importing triton here would fix its mode for the whole process (Triton decides
# compiled or interpreted when triton.language decorates its own functions), and the tests switch
# the interpreter on for their own duration only.
_HAVE_TRITON = importlib.util.find_spec("triton") is not None

_MODULES = {"lstm": "fused_lstm", "gru": "fused_gru", "simple_rnn": "fused_simple_rnn"}
_loaded_interpreted: bool | None = None  # the mode the kernels were loaded in, once loaded


def _kernels(kind: str) -> ModuleType:
    global _loaded_interpreted
    if _loaded_interpreted is None:
        _loaded_interpreted = interpreting()
    return importlib.import_module(f"{__name__}.{_MODULES[kind]}")


def __getattr__(name: str) -> Any:
    """`lstm`, `gru`, `simple_rnn`: the public functions of the kernel modules, loaded on first use."""
    if name in _MODULES:
        return getattr(_kernels(name), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_CAPABLE: dict[torch.device, tuple[int, int]] = {}


def available(x: torch.Tensor) -> bool:
    """Can the kernels run on x: fp32/bf16/fp16 on a CUDA device (bf16 from compute capability 8.0),
    or on the CPU under TRITON_INTERPRET=1 (fp32 and fp16: the interpreter's bf16 dot is wrong)."""
    if not _HAVE_TRITON or x.dtype not in SUPPORTED_DTYPES:
        return False
    interp = interpreting()
    if _loaded_interpreted is not None and _loaded_interpreted != interp:
        return False  # the kernels were loaded in the other mode
    if x.device.type == "cpu":
        return interp and x.dtype != torch.bfloat16
    if x.device.type != "cuda" or interp:
        return False
    if x.device not in _CAPABLE:
        _CAPABLE[x.device] = torch.cuda.get_device_capability(x.device)
    return _CAPABLE[x.device] >= ((8, 0) if x.dtype == torch.bfloat16 else (7, 0))


if _HAVE_TRITON:
    # auto_priority 3: above the reference (1) and the CPU backend; "auto" meets the CPU case only
    # where TRITON_INTERPRET=1 is set, which the tests set for their own duration alone.
    register_backend("triton", sys.modules[__name__], available, auto_priority=3)
