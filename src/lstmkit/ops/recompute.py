"""Gradients of a fused recurrence recomputed through the reference, for what a fused backward cannot do.

A fused backward (the CPU kernel, the Triton kernels) computes first-order gradients and has no
derivative of its own, and it needs tensors with storage. Three callers need more:
- `backward(create_graph=True)` (gradient penalties, meta-learning): the gradients must be a graph
  autograd can differentiate again; returning the kernel's result would silently give a
  second-order gradient of zero;
- torch.func transforms (grad, vjp, jacrev, vmap): wrapped tensors without storage, and gradients
  the transforms around must be able to differentiate and batch again;
- `torch.autograd.grad(is_grads_batched=True)`: autograd's own vmap over the backward.
For those the backward reruns the same equations through `lstmkit.ops.reference` (torch operations)
from the saved inputs and differentiates them: exact against the reference, at the reference's cost.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from lstmkit.ops.call import Kind, RecurrenceCall

Tensor = torch.Tensor
OptTensor = torch.Tensor | None
# The differentiable inputs of a recurrence, in this order.
INPUTS = ("x", "weight_ih", "weight_hh", "bias_ih", "bias_hh", "h0", "c0")


def under_torch_func() -> bool:
    """Whether a torch.func transform (grad, vmap, jacrev, ...) is active."""
    return torch._C._functorch.maybe_current_level() is not None


def legacy_batched(*ts: OptTensor) -> bool:
    """Whether autograd's own vmap (torch.autograd.grad(is_grads_batched=True)) batches these tensors."""
    return any(t is not None and torch._C._functorch.is_legacy_batchedtensor(t) for t in ts)


def needed(*cotangents: OptTensor) -> bool:
    """Whether a backward receiving these gradients must recompute instead of running its kernel."""
    return torch.is_grad_enabled() or under_torch_func() or legacy_batched(*cotangents)


def reference_function(kind: Kind, *, reverse: bool, activation: str, recurrent_activation: str,
                       reset_after: bool, zero_output_for_mask: bool, mask: OptTensor = None,
                       input_dropout_mask: OptTensor = None, recurrent_dropout_mask: OptTensor = None,
                       ) -> Callable[..., tuple[Tensor, ...]]:
    """The recurrence as a function of (x, W_ih, W_hh, b_ih, b_hh, h0, c0) through the reference,
    returning (Y, h_N) or, for the LSTM, (Y, h_N, c_N)."""
    from lstmkit.ops import reference

    step_mask = None if mask is None else mask.bool()

    def run(x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: OptTensor, b_hh: OptTensor, h0: Tensor, c0: OptTensor
            ) -> tuple[Tensor, ...]:
        call = RecurrenceCall(kind, x, w_ih, w_hh, b_ih, b_hh, h0=h0, c0=c0 if kind == "lstm" else None,
                              mask=step_mask, reverse=reverse, activation=activation,
                              recurrent_activation=recurrent_activation, reset_after=reset_after,
                              input_dropout_mask=input_dropout_mask, recurrent_dropout_mask=recurrent_dropout_mask,
                              zero_output_for_mask=zero_output_for_mask)
        return tuple(reference.run(call))
    return run


def gradients(run: Callable[..., tuple[Tensor, ...]], inputs: Sequence[OptTensor], needs: Sequence[bool],
              cotangents: Sequence[OptTensor]) -> list[OptTensor]:
    """The gradients of `run`'s outputs, weighted by `cotangents`, with respect to each input in
    `inputs` that `needs` marks (None elsewhere), as tensors autograd and torch.func can differentiate."""
    wanted = [i for i, t in enumerate(inputs) if needs[i] and t is not None]
    tensors = [t for i, t in enumerate(inputs) if i in wanted and t is not None]
    grads: list[OptTensor] = [None] * len(inputs)
    if not tensors or all(g is None for g in cotangents):
        return grads
    if under_torch_func():  # a vjp at a level of its own, composable with the transforms around it
        def of_wanted(*ts: Tensor) -> tuple[Tensor, ...]:
            args: list[OptTensor] = list(inputs)
            for i, t in zip(wanted, ts):
                args[i] = t
            return run(*args)
        outputs, vjp_fn = torch.func.vjp(of_wanted, *tensors)[:2]
        found = vjp_fn(tuple(torch.zeros_like(o) if g is None else g for o, g in zip(outputs, cotangents)))
    else:
        with torch.enable_grad():
            outputs = run(*inputs)
        pairs = [(o, g) for o, g in zip(outputs, cotangents) if g is not None]
        found = torch.autograd.grad([o for o, _ in pairs], tensors, [g for _, g in pairs],
                                    create_graph=True, allow_unused=True)
    for i, t, g in zip(wanted, tensors, found):
        grads[i] = torch.zeros_like(t) if g is None else g
    return grads


def jvp(run: Callable[..., tuple[Tensor, ...]], primals: Sequence[OptTensor], tangents: Sequence[Any]
        ) -> tuple[Tensor, ...]:
    """Forward mode (torch.func.jvp, jacfwd): the output tangents of `run` at `primals`."""
    live = [i for i, p in enumerate(primals) if p is not None]
    live_primals = tuple(p for p in primals if p is not None)

    def of_live(*ts: Tensor) -> tuple[Tensor, ...]:
        args: list[OptTensor] = list(primals)
        for i, t in zip(live, ts):
            args[i] = t
        return run(*args)
    tans = tuple(torch.zeros_like(p) if tangents[i] is None else tangents[i] for i, p in zip(live, live_primals))
    out: tuple[Tensor, ...] = torch.func.jvp(of_live, live_primals, tans)[1]
    return out
