"""torch.onnx.export(module, args, dynamo=True) on lstmkit.nn modules (lstmkit.export.dynamo): ONNX's own
recurrent operators, onnxruntime against eager PyTorch within 1e-5 at lengths and batch sizes other than the
example's (dynamic axes via dynamic_shapes); what the node cannot compute exactly is refused, pointing to
lstmkit.export.onnx. Needs onnxscript (the dynamo exporter's dependency)."""

from __future__ import annotations

import pytest
import torch

import lstmkit.nn
from lstmkit.export import ExportError
from tests.export.helpers import BATCHES, LENGTHS, assert_all_close, run, session

pytest.importorskip("onnxscript")

I, H = 3, 4

# each export takes seconds (torch.export, then the ONNX translation), so one case per kind and one
# stacked bidirectional LSTM with a given state
CASES = [
    ("LSTM", {"batch_first": True}, False),
    ("GRU", {"reset_after": False}, False),
    ("RNN", {"nonlinearity": "relu", "batch_first": True}, False),
    ("LSTM", {"num_layers": 2, "bidirectional": True, "activation": "relu",
              "recurrent_activation": "hard_sigmoid"}, True),
]


def _export(m, x, hx, tmp_path):
    B, T = torch.export.Dim("B", min=1), torch.export.Dim("T", min=1)
    t_axis, b_axis = (1, 0) if m.batch_first else (0, 1)
    axes = {b_axis: B, t_axis: T}
    if hx is None:
        args, shapes = (x,), (axes,)
    else:
        state_axes = {1: B}
        args = (x, hx)
        shapes = (axes, (state_axes, state_axes) if isinstance(hx, tuple) else state_axes)
    program = torch.onnx.export(m, args, dynamo=True, dynamic_shapes=shapes, verbose=False)
    path = tmp_path / "m.onnx"
    program.save(str(path))
    return program, path


@pytest.mark.parametrize(("name", "kw", "with_state"), CASES,
                         ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'plain'}" for n, kw, _ in CASES])
def test_dynamo_export_matches_eager_at_other_lengths(name, kw, with_state, tmp_path):
    torch.manual_seed(0)
    m = getattr(lstmkit.nn, name)(I, H, **kw).eval()
    D = 2 if m.bidirectional else 1

    def inputs(B, T):
        x = torch.randn(B, T, I) if m.batch_first else torch.randn(T, B, I)
        if not with_state:
            return x, None
        h = torch.randn(m.num_layers * D, B, H)
        return x, ((h, torch.randn(m.num_layers * D, B, H)) if name == "LSTM" else h)

    program, path = _export(m, *inputs(2, 5), tmp_path)
    ops = [n.op_type for n in program.model.graph]
    assert ops.count(name) == m.num_layers * D, ops  # one ONNX node per layer and direction, no unrolled loop
    sess = session(path)
    names = [i.name for i in sess.get_inputs()]
    for T in LENGTHS:
        for B in BATCHES:
            x, hx = inputs(B, T)
            with torch.no_grad():
                out, state = m(x, hx)
            want = [out.numpy(), *(s.numpy() for s in (state if isinstance(state, tuple) else (state,)))]
            feeds = [x] if hx is None else [x, *(hx if isinstance(hx, tuple) else (hx,))]
            got = run(sess, dict(zip(names, (f.numpy() for f in feeds))))
            assert_all_close(got, want, f"{name} {kw} B={B} T={T}")


class _Masked(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rnn = lstmkit.nn.GRU(I, H, batch_first=True)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.rnn(x, lengths=lengths)[0]


@pytest.mark.parametrize("case", ["lengths", "training", "proj_size"])
def test_dynamo_export_refuses_what_the_node_cannot_compute(case):
    torch.manual_seed(0)
    x = torch.randn(2, 5, I)
    if case == "lengths":
        m, args, phrase = _Masked().eval(), (x, torch.tensor([5, 3])), "a mask or lengths"
    elif case == "training":
        m, args, phrase = lstmkit.nn.LSTM(I, H, batch_first=True, recurrent_dropout=0.5).train(), (x,), "dropout"
    else:
        m, args, phrase = lstmkit.nn.LSTM(I, H, batch_first=True, proj_size=2).eval(), (x,), "projection"
    # torch.onnx reports each capture strategy's failure in its own error (a TorchExportError), ours among them
    with pytest.raises(Exception) as info:
        torch.onnx.export(m, args, dynamo=True, verbose=False)
    chain, e = [], info.value
    while e is not None:
        chain.append(e)
        e = e.__cause__ or e.__context__
    told = [str(c) for c in chain if "cannot compute this call exactly" in str(c)]
    assert told, [repr(c)[:300] for c in chain]
    assert phrase in told[0] and "lstmkit.export.onnx(module, example_inputs, path)" in told[0]
    assert ExportError.__name__ in told[0] or any(isinstance(c, ExportError) for c in chain)
