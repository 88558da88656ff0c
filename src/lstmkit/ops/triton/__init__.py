"""Fused Triton kernels for LSTM, GRU and SimpleRNN: the backend "triton" (`BACKEND`).

`backend="auto"` may pick it for CUDA tensors in fp32, bf16 and fp16 when `triton` is installed
(`supports` gives the reason otherwise). On the CPU it runs only when named, through Triton's
interpreter while `TRITON_INTERPRET=1` is set (the tests set it around their own calls only).

The kernel modules (`fused_lstm`, `fused_gru`, `fused_simple_rnn`) load on first use, because
Triton fixes compiled-or-interpreted when `@triton.jit` decorates a function: whichever mode is
active then holds for the rest of the process. (The kernels call no function that triton.language
itself defines with `@triton.jit`, such as `tl.zeros`: those are decorated when triton is first
imported, by torch._dynamo for instance, so they would be in the compiled mode.)
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

import torch

from lstmkit.ops import recompute
from lstmkit.ops.call import Outputs, RecurrenceCall
from lstmkit.ops.triton._host import SUPPORTED_DTYPES, fits_on_chip, interpreting

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


_CAPABLE: dict[torch.device, tuple[int, int]] = {}


class TritonBackend:
    """The fused kernels of `fused_lstm`, `fused_gru`, `fused_simple_rnn`."""

    name = "triton"
    auto_devices = frozenset({"cuda"})
    traceable = False  # torch.jit.trace does not record a Triton launch

    def supports(self, call: RecurrenceCall) -> str | None:
        if not _HAVE_TRITON:
            return "triton is not installed"
        if recompute.under_torch_func():
            return ("under torch.func transforms (grad, vmap, jacrev, ...) its kernels have no vmap rule; "
                    "backend='auto' runs them on the reference")
        x = call.x
        if x.dtype not in SUPPORTED_DTYPES:
            return f"it runs float32, bfloat16 and float16 only, and the input is {x.dtype}"
        interp = interpreting()
        if _loaded_interpreted is not None and _loaded_interpreted != interp:
            mode = "interpreted" if _loaded_interpreted else "compiled"
            return f"its kernels were loaded {mode} earlier in this process (Triton fixes the mode once)"
        if x.device.type == "cpu":
            if not interp:
                return "on the CPU it runs only under Triton's interpreter (TRITON_INTERPRET=1)"
            if x.dtype == torch.bfloat16:
                return "the interpreter's bfloat16 dot is wrong"
        elif x.device.type != "cuda" or interp:
            return f"it runs on CUDA devices (or the CPU under the interpreter), and the input is on {x.device}"
        else:
            if x.device not in _CAPABLE:
                _CAPABLE[x.device] = torch.cuda.get_device_capability(x.device)
            need = (8, 0) if x.dtype == torch.bfloat16 else (7, 0)
            if _CAPABLE[x.device] < need:
                return f"{x.dtype} needs compute capability {need}, and {x.device} has {_CAPABLE[x.device]}"
        reason = call.beyond_fused_kernels()
        if reason is not None:
            return reason
        if call.kind == "gru" and not call.reset_after and not fits_on_chip(call.hidden_size, 3, x.dtype):
            return (f"the GRU with reset_after=False at hidden size {call.hidden_size} needs the recurrent "
                    "weights on chip in one program, and they do not fit")
        return None

    def run(self, call: RecurrenceCall) -> Outputs:
        out: Outputs = _kernels(call.kind).run(call)
        return out


BACKEND = TritonBackend()
