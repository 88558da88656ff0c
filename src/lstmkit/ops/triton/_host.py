"""Host-side pieces shared by the fused kernels: the launch plan, buffers, dot precision, autocast,
and the weight gradients as large matmuls over all steps.

Dimensions: B batch, T time, I input, H hidden, G gate blocks (LSTM 4, GRU 3, SimpleRNN 1).

Two kernel shapes (one `@triton.jit` kernel per recurrence and direction, chosen by constexpr):
  one tile   a program owns BLOCK_B batch rows and all H units; it loads the recurrent weights once
             into registers / shared memory and keeps h and c on chip for all T steps. Used while
             G * HP * HP * itemsize <= ON_CHIP_BYTES (HP = H rounded up to a power of two >= 16).
  split H    a program owns BLOCK_B rows and BLOCK_H units; each step it reads the whole h_{t-1}
             of its rows (written by the programs of its row group at the step before) and streams
             its columns of the recurrent weights from L2 in BLOCK_K chunks. The programs of a row
             group meet at a grid-wide barrier after every step when the grid fits the
             multiprocessors at once; otherwise (and under the interpreter, which runs programs
             one after another) the launcher launches one kernel per step instead.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch

from lstmkit.ops import recompute
from lstmkit.ops.call import Kind

ACT_CODES = {"tanh": 0, "sigmoid": 1, "hard_sigmoid": 2, "relu": 3, "linear": 4}
SUPPORTED_DTYPES = (torch.float32, torch.bfloat16, torch.float16)

# Recurrent weights one program keeps on chip for the whole sequence. The calibration kernel
# (../shared/bench/floor_gpu.py, H100, 2026-11-22) compiled with four 64x64 fp32 gate blocks (64 KB)
# and ran out of shared memory with four 128x128 ones (256 KB). To be tuned on the device.
ON_CHIP_BYTES = 64 * 1024
MIN_DOT = 16  # tl.dot needs every dimension >= 16
BLOCK_B = 16  # batch rows per program
MAX_BLOCK_B = 64  # rows per program when the split-H grid must shrink to fit the multiprocessors
BLOCK_H = 16  # hidden units per program in the split-H kernel
MAX_BLOCK_H = 64
MAX_BLOCK_K = 64  # reduction chunk when streaming recurrent weights
NUM_WARPS = 4


def interpreting() -> bool:
    """True when Triton runs kernels through its CPU interpreter (TRITON_INTERPRET=1)."""
    return os.environ.get("TRITON_INTERPRET", "0").lower() in ("1", "true", "on", "yes")


def _pow2(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()


@dataclass(frozen=True)
class Plan:
    """How one recurrence is launched (see the module docstring)."""

    hp: int  # H rounded up to a power of two >= 16
    one_tile: bool
    block_b: int
    block_h: int
    block_k: int
    n_b: int  # programs along the batch
    n_h: int  # programs along the hidden units
    barrier: bool  # split H in one persistent launch with a grid barrier per step
    num_warps: int

    @property
    def grid(self) -> tuple[int, int]:
        return (self.n_b, self.n_h)


def _multiprocessors(device: torch.device) -> int:
    return torch.cuda.get_device_properties(device).multi_processor_count


def fits_on_chip(H: int, gates: int, dtype: torch.dtype) -> bool:
    """Whether one program can keep all `gates` recurrent blocks (HP x HP) on chip."""
    hp = max(MIN_DOT, _pow2(H))
    return gates * hp * hp * torch.empty((), dtype=dtype).element_size() <= ON_CHIP_BYTES


def make_plan(B: int, H: int, gates: int, dtype: torch.dtype, device: torch.device) -> Plan:
    """Pick the kernel shape for B rows, H units and `gates` gate blocks in `dtype`."""
    hp = max(MIN_DOT, _pow2(H))
    if fits_on_chip(H, gates, dtype):
        return Plan(hp, True, BLOCK_B, hp, hp, -(-B // BLOCK_B), 1, False, NUM_WARPS)
    block_b, block_h = BLOCK_B, BLOCK_H
    block_k = min(MAX_BLOCK_K, hp)
    if device.type != "cuda" or interpreting():
        return Plan(hp, False, block_b, block_h, block_k, -(-B // block_b), -(-H // block_h), False, NUM_WARPS)
    sms = _multiprocessors(device)
    # co-resident programs only: grow the tiles until the grid fits the multiprocessors
    while -(-B // block_b) * -(-H // block_h) > sms and block_b < min(MAX_BLOCK_B, _pow2(B)):
        block_b *= 2
    while -(-B // block_b) * -(-H // block_h) > sms and block_h < MAX_BLOCK_H:
        block_h *= 2
    n_b, n_h = -(-B // block_b), -(-H // block_h)
    return Plan(hp, False, block_b, block_h, block_k, n_b, n_h, n_b * n_h <= sms, NUM_WARPS)


def launch_steps(kernel: Any, plan: Plan, steps: int, *args: Any, **meta: Any) -> None:
    """Run `kernel(SYNC, s_start, s_stop, *args, **meta)` over steps [0, steps): one persistent
    launch (one tile, or split H with the grid barrier), else one launch per step."""
    device = args[0].device
    if plan.one_tile or plan.barrier:
        sync = torch.zeros(plan.n_b, dtype=torch.int32, device=device)
        kernel[plan.grid](sync, 0, steps, *args, num_warps=plan.num_warps, **meta)
        return
    sync = torch.zeros(1, dtype=torch.int32, device=device)  # unused without the barrier
    for s in range(steps):
        kernel[plan.grid](sync, s, s + 1, *args, num_warps=plan.num_warps, **meta)


def empty(shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A buffer every element of which the kernel writes (tests replace this with NaN-filled ones)."""
    return torch.empty(shape, dtype=dtype, device=device)


def fp32_state(s: torch.Tensor) -> torch.Tensor:
    """A fresh contiguous fp32 copy of a (B, H) state: the kernels read it as the initial state
    (or upstream gradient) and overwrite it with the final one."""
    return s.to(torch.float32, copy=True).contiguous()


def dot_precision(dtype: torch.dtype) -> str:
    """fp32 dots follow torch's TF32 switch (`torch.backends.cuda.matmul.allow_tf32`, off by
    default): "ieee" for exact fp32 products, "tf32" for the tensor-core mode. Other dtypes use
    the tensor cores natively and ignore it."""
    if dtype == torch.float32 and not torch.backends.cuda.matmul.allow_tf32:
        return "ieee"
    return "tf32"


def mask_bytes(mask: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    """The (B, T) bool mask as bytes for the kernel, or `like` as an unused placeholder."""
    return like if mask is None else mask.contiguous().view(torch.uint8)


def or_placeholder(t: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    return like if t is None else t.contiguous()


def apply_input_dropout(x: torch.Tensor, dm_x: torch.Tensor | None) -> torch.Tensor:
    return x if dm_x is None else x * dm_x[:, None, :]  # (B, T, I)


def sum_biases(*biases: torch.Tensor | None) -> torch.Tensor | None:
    present = [b for b in biases if b is not None]
    if not present:
        return None
    total = present[0]
    for b in present[1:]:
        total = total + b
    return total


def h_prev_sequence(hs: torch.Tensor, reverse: bool, dm_h: torch.Tensor | None) -> torch.Tensor:
    """The recurrent matmul's operand at each position, (B, T, H), from the state sequence
    hs (B, T+1, H): forward, position t reads hs[:, t] (hs[:, 0] = h0) and writes hs[:, t+1];
    reverse, it reads hs[:, t+1] (hs[:, T] = h0) and writes hs[:, t]."""
    T = hs.shape[1] - 1
    h = hs[:, 1:] if reverse else hs[:, :T]  # (B, T, H)
    return h if dm_h is None else h * dm_h[:, None, :]


def matmul_steps(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """sum over all (b, t) of a[b, t]^T b[b, t]: (B, T, N), (B, T, K) -> (N, K), one matmul."""
    return a.reshape(-1, a.shape[-1]).T @ b.reshape(-1, b.shape[-1])


def sum_steps(a: torch.Tensor) -> torch.Tensor:
    return a.sum(dim=(0, 1), dtype=torch.float32).to(a.dtype)  # (N,)


def input_grads(
    dg: torch.Tensor, x_in: torch.Tensor, weight_ih: torch.Tensor, dm_x: torch.Tensor | None,
    need_x: bool, need_w: bool,
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """From the gate pre-activation gradients dg (B, T, G*H) of the input projection: dx and dW_ih."""
    dx = None
    if need_x:
        dx = dg @ weight_ih  # (B, T, I)
        if dm_x is not None:
            dx = dx * dm_x[:, None, :]
    dw = matmul_steps(dg, x_in) if need_w else None  # (G*H, I)
    return dx, dw


def autocast_dtype(x: torch.Tensor) -> torch.dtype | None:
    """The dtype autocast asks for on x's device, or None when autocast is off there."""
    dev = x.device.type
    if torch.is_autocast_enabled(dev):
        return torch.get_autocast_dtype(dev)
    return None


def cast_all(dtype: torch.dtype | None, *tensors: torch.Tensor | None) -> list[torch.Tensor | None]:
    """Under autocast, every floating input goes to the autocast dtype (as torch.nn.LSTM under
    autocast computes in fp16/bf16); the cell state and accumulations stay fp32 inside the kernels."""
    if dtype is None:
        return list(tensors)
    return [t if t is None or not t.is_floating_point() else t.to(dtype) for t in tensors]


@contextlib.contextmanager
def autocast_off(x: torch.Tensor) -> Iterator[None]:
    with torch.autocast(device_type=x.device.type, enabled=False):
        yield


_ACT_NAMES = {code: name for name, code in ACT_CODES.items()}


def reference_function(kind: Kind, reverse: bool, act: int, ract: int, reset_after: bool, zero_out: bool,
                       mask: torch.Tensor | None, dm_x: torch.Tensor | None, dm_h: torch.Tensor | None) -> Any:
    """A kernel Function's recurrence through the reference, for the gradients its backward kernels
    cannot give (create_graph, torch.func, batched gradients): see `lstmkit.ops.recompute`."""
    return recompute.reference_function(
        kind, reverse=reverse, activation=_ACT_NAMES[act], recurrent_activation=_ACT_NAMES[ract],
        reset_after=reset_after, zero_output_for_mask=zero_out, mask=mask, input_dropout_mask=dm_x,
        recurrent_dropout_mask=dm_h)
