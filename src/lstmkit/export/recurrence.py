"""One recurrent layer (one or two directions) as one ONNX LSTM, GRU or RNN node, with weights reordered.

Dimensions: T time, B batch, I input features, H hidden units, D directions (1 or 2).

ONNX's gate orders differ from PyTorch's (and lstmkit's):
  LSTM  PyTorch i, f, g, o   ->  ONNX i, o, f, c
  GRU   PyTorch r, z, n      ->  ONNX z, r, h
and its GRU takes `linear_before_reset=1` for PyTorch's (and Keras 3's reset_after=True) equation
    n = tanh(W_n x + b_in + r ⊙ (R_n h + b_hn)),
and `linear_before_reset=0` for Cho et al.'s (Keras' reset_after=False)
    n = tanh(W_n x + b_in + R_n (r ⊙ h) + b_hn).
Every other equation is PyTorch's term by term: W (D, G*H, I), R (D, G*H, H), B (D, 2*G*H) = [b_ih | b_hh].
With `sequence_lens` (B,) ONNX runs each row over its first lengths[b] steps only (the reverse direction
from step lengths[b]-1 back to 0), Y is zero past them and Y_h holds each row's last real state: what a
packed sequence, or a mask that is right padding, gives in PyTorch and lstmkit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from lstmkit.export.errors import ExportError
from lstmkit.export.graph import Graph
from lstmkit.ops.activations import activation_name

Kind = Literal["lstm", "gru", "simple_rnn"]
GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}
# Block j of the ONNX weight is block ORDER[kind][j] of PyTorch's.
ORDER = {"lstm": (0, 3, 1, 2), "gru": (1, 0, 2), "simple_rnn": (0,)}
OP = {"lstm": "LSTM", "gru": "GRU", "simple_rnn": "RNN"}

# lstmkit's named activations as ONNX's recurrent activation functions, with (alpha, beta) where ONNX
# takes them. hard_sigmoid is Keras 3's relu6(x + 3) / 6 = max(0, min(1, x/6 + 1/2)); linear is Affine(1, 0).
ONNX_ACTIVATIONS: dict[str, tuple[str, tuple[float, float] | None]] = {
    "tanh": ("Tanh", None),
    "sigmoid": ("Sigmoid", None),
    "relu": ("Relu", None),
    "hard_sigmoid": ("HardSigmoid", (1.0 / 6.0, 0.5)),
    "linear": ("Affine", (1.0, 0.0)),
}


@dataclass(frozen=True)
class DirectionWeights:
    """One direction's weights in PyTorch's layout: (G*H, I), (G*H, H), (G*H,) or None."""

    weight_ih: np.ndarray
    weight_hh: np.ndarray
    bias_ih: np.ndarray | None
    bias_hh: np.ndarray | None

    @classmethod
    def of(cls, weight_ih: Any, weight_hh: Any, bias_ih: Any, bias_hh: Any) -> DirectionWeights:
        """From torch tensors (or None for an absent bias), as float32 arrays."""
        def arr(t: Any) -> np.ndarray:
            return np.asarray(t.detach().cpu().numpy(), dtype=np.float32)

        return cls(arr(weight_ih), arr(weight_hh), None if bias_ih is None else arr(bias_ih),
                   None if bias_hh is None else arr(bias_hh))


@dataclass(frozen=True)
class Recurrence:
    """What one ONNX recurrent node computes; `where` names the layer in errors."""

    kind: Kind
    hidden_size: int
    directions: tuple[DirectionWeights, ...]  # one, or forward then reverse
    reverse: bool  # one direction run from the last step back
    activation: Any
    recurrent_activation: Any
    reset_after: bool
    where: str


def onnx_activation(fn: Any, role: str, where: str) -> tuple[str, tuple[float, float] | None]:
    name = activation_name(fn)
    if name is None or name not in ONNX_ACTIVATIONS:
        shown = getattr(fn, "__name__", repr(fn))
        raise ExportError(f"{where}: its {role} {shown} is not one of the activations ONNX's recurrent operators "
                          f"compute exactly ({', '.join(sorted(ONNX_ACTIVATIONS))}); it cannot be exported")
    return ONNX_ACTIVATIONS[name]


def _reorder(kind: Kind, w: np.ndarray, H: int) -> np.ndarray:
    blocks = [w[j * H : (j + 1) * H] for j in range(GATES[kind])]
    return np.concatenate([blocks[j] for j in ORDER[kind]], axis=0)


def emit(g: Graph, rec: Recurrence, x: str, *, sequence_lens: str = "", h0: str = "", c0: str = ""
         ) -> tuple[str, str, str | None]:
    """Add the node for `rec` on x (T, B, I). Returns (Y (T, D, B, H), Y_h (D, B, H), Y_c (D, B, H) or None)."""
    kind, H = rec.kind, rec.hidden_size
    G = GATES[kind]
    W, R, Bias = [], [], []
    for d in rec.directions:
        W.append(_reorder(kind, d.weight_ih, H))  # (G*H, I)
        R.append(_reorder(kind, d.weight_hh, H))  # (G*H, H)
        b_ih = np.zeros(G * H, np.float32) if d.bias_ih is None else _reorder(kind, d.bias_ih, H)
        b_hh = np.zeros(G * H, np.float32) if d.bias_hh is None else _reorder(kind, d.bias_hh, H)
        Bias.append(np.concatenate([b_ih, b_hh]))  # (2*G*H,)
    hint = rec.where.replace(" ", "_").replace("'", "")
    inputs = [x, g.const(np.stack(W), f"{hint}_W"), g.const(np.stack(R), f"{hint}_R"),
              g.const(np.stack(Bias), f"{hint}_B"), sequence_lens, h0]
    if kind == "lstm":
        inputs.append(c0)
    while inputs and inputs[-1] == "":
        inputs.pop()
    roles = {"lstm": [("recurrent_activation", rec.recurrent_activation), ("activation", rec.activation),
                      ("activation", rec.activation)],
             "gru": [("recurrent_activation", rec.recurrent_activation), ("activation", rec.activation)],
             "simple_rnn": [("activation", rec.activation)]}[kind]
    names: list[str] = []
    alphas: list[float] = []
    betas: list[float] = []
    for role, fn in roles:
        name, ab = onnx_activation(fn, role, rec.where)
        names.append(name)
        if ab is not None:  # onnxruntime takes alpha/beta in order, for the functions that have them only
            alphas.append(ab[0])
            betas.append(ab[1])
    D = len(rec.directions)
    attrs: dict[str, Any] = {"hidden_size": H, "activations": names * D,
                             "direction": "bidirectional" if D == 2 else ("reverse" if rec.reverse else "forward")}
    if alphas:
        attrs["activation_alpha"] = alphas * D
        attrs["activation_beta"] = betas * D
    if kind == "gru":
        attrs["linear_before_reset"] = 1 if rec.reset_after else 0
    outs = g.multi(OP[kind], inputs, hint, 3 if kind == "lstm" else 2, **attrs)
    return outs[0], outs[1], outs[2] if kind == "lstm" else None


def merge_directions(g: Graph, y: str, D: int, H: int, hint: str) -> str:
    """Y (T, D, B, H) -> (T, B, D*H), the directions side by side (forward first), as PyTorch and Keras."""
    if D == 1:
        return g.op("Squeeze", [y, g.ints([1], "axis1")], hint)  # (T, B, H)
    yt = g.op("Transpose", [y], hint, perm=[0, 2, 1, 3])  # (T, B, D, H)
    return g.op("Reshape", [yt, g.ints([0, 0, D * H], "shape_TB_DH")], hint)  # (T, B, D*H)
