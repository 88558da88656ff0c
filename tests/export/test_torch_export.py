"""torch.export of lstmkit.nn modules with a dynamic time (and batch) axis on the default backend: the
exported program, made at T=5, matches eager at T=3, 9 and 17; what cannot be exported dynamically says why.
(tests/ops/test_torch_ops.py has the float64 two-layer case; tests/nn/test_torch_cases.py the jit.trace one.)"""

from __future__ import annotations

import warnings

import pytest
import torch

import lstmkit.nn
from tests.tolerances import assert_close

I, H = 3, 4
OTHER_LENGTHS = (3, 9, 17)


class WithLengths(torch.nn.Module):
    def __init__(self, rnn: torch.nn.Module) -> None:
        super().__init__()
        self.rnn = rnn

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
        hx = (h0, torch.zeros_like(h0)) if isinstance(self.rnn, lstmkit.nn.LSTM) else h0
        out, _ = self.rnn(x, hx, lengths=lengths)
        return out


def lengths_for(B, T):
    lengths = torch.randint(1, T + 1, (B,))
    lengths[0] = T
    return lengths


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("batch_first", [True, False], ids=["batch_first", "time_major"])
def test_export_at_T5_runs_right_at_other_lengths_and_batch_sizes(mode, batch_first):
    m = getattr(lstmkit.nn, mode)(I, H, num_layers=2, bidirectional=True, batch_first=batch_first).eval()
    T, B = torch.export.Dim("T", max=4096), torch.export.Dim("B", max=1024)
    x = torch.randn(2, 5, I) if batch_first else torch.randn(5, 2, I)
    dims = {0: B, 1: T} if batch_first else {0: T, 1: B}
    program = torch.export.export(m, (x,), dynamic_shapes=(dims,))
    called = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    assert "lstmkit.cpu_recurrence.default" in called
    exported = program.module()
    for length in OTHER_LENGTHS:
        for batch in (1, 3):
            x = torch.randn(batch, length, I) if batch_first else torch.randn(length, batch, I)
            got, want = exported(x), m(x)
            assert_close(got[0], want[0])
            for a, b in zip(torch.utils._pytree.tree_leaves(got[1]), torch.utils._pytree.tree_leaves(want[1])):
                assert_close(a, b)


@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_export_with_lengths_and_initial_state(mode):
    """lengths= used to stop torch.export at a data-dependent guard (the `lengths < 0` check)."""
    m = WithLengths(getattr(lstmkit.nn, mode)(I, H, bidirectional=True, batch_first=True)).eval()
    T, B = torch.export.Dim("T", max=4096), torch.export.Dim("B", max=1024)
    args = (torch.randn(2, 5, I), torch.tensor([5, 3]), torch.randn(2, 2, H))
    program = torch.export.export(m, args, dynamic_shapes=({0: B, 1: T}, {0: B}, {1: B}))
    exported = program.module()
    for length in OTHER_LENGTHS:
        args = (torch.randn(3, length, I), lengths_for(3, length), torch.randn(2, 3, H))
        assert_close(exported(*args), m(*args))
    with pytest.raises(RuntimeError, match=r"lengths must be in \[0, the sequence length\]"):
        exported(torch.randn(2, 4, I), torch.tensor([4, 6]), torch.randn(2, 2, H))


def test_eager_lengths_checks_are_unchanged():
    m = lstmkit.nn.GRU(I, H, batch_first=True)
    with pytest.raises(ValueError, match="lengths must be <= the sequence length 4, got 6"):
        m(torch.randn(2, 4, I), lengths=torch.tensor([4, 6]))


@pytest.mark.parametrize("make,reason", [
    (lambda: lstmkit.nn.LSTM(I, H, proj_size=2, batch_first=True),
     r"the CPU backend cannot run it: the LSTM projection"),
    (lambda: lstmkit.nn.GRU(I, H, batch_first=True, backend="reference"), r"would fix the length of the example\. "),
])
def test_a_python_loop_with_a_dynamic_length_is_a_clear_error(make, reason):
    m = make().eval()
    with pytest.raises(RuntimeError, match=r"torch.export with a dynamic sequence length cannot export .*'reference': "
                                           r"its loop over time runs in Python.*" + reason):
        torch.export.export(m, (torch.randn(2, 5, I),), dynamic_shapes=({1: torch.export.Dim("T")},))


def test_the_reference_exports_at_a_static_length():
    m = lstmkit.nn.GRU(I, H, batch_first=True, backend="reference").eval()
    x = torch.randn(2, 5, I)
    exported = torch.export.export(m, (x,)).module()
    assert_close(exported(x)[0], m(x)[0])


def test_jit_trace_with_lengths_and_state_is_right_at_other_lengths():
    m = WithLengths(lstmkit.nn.LSTM(I, H, num_layers=2, bidirectional=True, batch_first=True)).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(m, (torch.randn(2, 5, I), torch.tensor([5, 3]), torch.randn(4, 2, H)))
    for length in OTHER_LENGTHS:
        args = (torch.randn(3, length, I), lengths_for(3, length), torch.randn(4, 3, H))
        assert_close(traced(*args), m(*args))


class Head(torch.nn.Module):
    def __init__(self, backend: str) -> None:
        super().__init__()
        self.rnn = lstmkit.nn.LSTM(I, H, batch_first=True, backend=backend)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(x)[0]


@pytest.mark.parametrize("backend", ["auto", "reference"])
def test_torch_onnx_export_is_a_clear_error_pointing_to_lstmkit_export(tmp_path, backend):
    pytest.importorskip("onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match=r"torch.onnx.export cannot export lstmkit's lstm exactly.*"
                                               r"use lstmkit.export.onnx\(module, example_inputs, path\)"):
            torch.onnx.export(Head(backend).eval(), (torch.randn(2, 5, I),), str(tmp_path / "m.onnx"), dynamo=False)
    assert not (tmp_path / "m.onnx").exists()
