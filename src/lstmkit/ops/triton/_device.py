"""Device-side helpers shared by the fused kernels: activations by code, their derivatives, a grid barrier.

Imported only when a kernel first runs, so that `TRITON_INTERPRET=1` set by then selects the
interpreter (Triton decides it when `@triton.jit` decorates a function).
"""

import triton
import triton.language as tl


@triton.jit
def sigmoid(x):
    return 1.0 / (1.0 + tl.exp(-x))


@triton.jit
def tanh(x):
    return 2.0 * sigmoid(2.0 * x) - 1.0


@triton.jit
def activate(x, ACT: tl.constexpr):
    """Activation number `ACT` (codes in `_host.ACT_CODES`: 0 tanh, 1 sigmoid, 2 hard_sigmoid, 3 relu,
    4 linear) of fp32 x; hard_sigmoid is Keras 3's relu6(x + 3) / 6."""
    if ACT == 0:
        y = tanh(x)
    elif ACT == 1:
        y = sigmoid(x)
    elif ACT == 2:
        y = tl.minimum(tl.maximum(x + 3.0, 0.0), 6.0) / 6.0
    elif ACT == 3:
        y = tl.maximum(x, 0.0)
    else:
        y = x
    return y


@triton.jit
def dactivate(y, ACT: tl.constexpr):
    """The derivative of activation `ACT` written with its output y = act(x): every supported
    activation's derivative is a function of its output, so the kernels save outputs only."""
    if ACT == 0:
        d = 1.0 - y * y
    elif ACT == 1:
        d = y * (1.0 - y)
    elif ACT == 2:
        # torch's hardsigmoid backward: 1/6 strictly inside (-3, 3), i.e. where 0 < y < 1
        d = tl.where((y > 0.0) & (y < 1.0), 1.0 / 6.0, 0.0)
    elif ACT == 3:
        d = tl.where(y > 0.0, 1.0, 0.0)
    else:
        d = tl.full(y.shape, 1.0, tl.float32)
    return d


@triton.jit
def grid_sync(counter, target):
    """Wait until `target` arrivals are counted at `counter` (one int32 per group of programs).

    Every program of the group adds 1 once per step, so the target of step k is k * programs; the
    counter is never reset within a launch. Only valid when all programs of the group are resident
    at once (the launcher keeps the grid within the multiprocessor count). The release/acquire pair
    makes this program's stores of the step visible to the others before they read them.
    """
    tl.debug_barrier()  # all threads of this program have issued their stores
    tl.atomic_add(counter, 1, sem="release", scope="gpu")
    while tl.atomic_add(counter, 0, sem="acquire", scope="gpu") < target:
        pass
    tl.debug_barrier()
