"""lstmkit.export.onnx on lstmkit.nn (and torch.nn) modules: onnxruntime against eager PyTorch at lengths
and batch sizes other than the example's, within 1e-5; every configuration it cannot write exactly refused."""

from __future__ import annotations

import onnx
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import lstmkit.nn
from lstmkit.export import ExportError, recurrence
from lstmkit.export import onnx as export_onnx
from tests.export.helpers import BATCHES, LENGTHS, assert_all_close, run, session

I, H = 3, 4


def eager(m, x, hx=None, **kw):
    with torch.no_grad():
        out, state = m(x, hx, **kw)
    states = list(state) if isinstance(state, tuple) else [state]
    return [out.numpy(), *(s.numpy() for s in states)]


def example(m):
    return torch.randn(2, 5, I) if m.batch_first else torch.randn(5, 2, I)


def batch(m, B, T):
    return torch.randn(B, T, I) if m.batch_first else torch.randn(T, B, I)


def random_lengths(B, T):
    lengths = torch.randint(1, T + 1, (B,))
    lengths[0] = T  # one full row, so the padded length is T
    return lengths


CASES = [
    ("LSTM", {}), ("GRU", {}), ("RNN", {}), ("RNN", {"nonlinearity": "relu"}),
    ("LSTM", {"bidirectional": True}), ("LSTM", {"num_layers": 2}),
    ("GRU", {"num_layers": 2, "bidirectional": True, "batch_first": True}),
    ("RNN", {"num_layers": 2, "bidirectional": True}),
    ("GRU", {"reset_after": False}), ("LSTM", {"bias": False, "batch_first": True}),
    ("LSTM", {"activation": "relu", "recurrent_activation": "hard_sigmoid"}),
    ("GRU", {"activation": "linear", "recurrent_activation": "hard_sigmoid"}),
]


def case_id(case):
    mode, kw = case
    return "-".join([mode, *(f"{k}={v}" for k, v in kw.items())])


@pytest.mark.parametrize("mode,kw", CASES, ids=[case_id(c) for c in CASES])
def test_matches_eager_at_other_lengths_and_batch_sizes(tmp_path, mode, kw):
    m = getattr(lstmkit.nn, mode)(I, H, **kw).eval()
    path = export_onnx(m, example(m), tmp_path / "m.onnx")
    sess = session(path)
    for B in BATCHES:
        for T in LENGTHS:
            x = batch(m, B, T)
            assert_all_close(run(sess, {"input": x}), eager(m, x), f"B={B} T={T}")


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN"])
def test_right_padding_with_lengths_and_initial_states(tmp_path, mode):
    m = getattr(lstmkit.nn, mode)(I, H, num_layers=2, bidirectional=True, batch_first=True).eval()
    h = torch.randn(4, 2, H)
    hx = (h, torch.randn(4, 2, H)) if mode == "LSTM" else h
    path = export_onnx(m, (torch.randn(2, 5, I), hx, {"lengths": torch.tensor([5, 3])}), tmp_path / "m.onnx")
    sess = session(path)
    for B in BATCHES:
        for T in LENGTHS:
            x, lengths = torch.randn(B, T, I), random_lengths(B, T)
            h0 = torch.randn(4, B, H)
            hx = (h0, torch.randn(4, B, H)) if mode == "LSTM" else h0
            feeds = {"input": x, "lengths": lengths, "h0": h0}
            if mode == "LSTM":
                feeds["c0"] = hx[1]
            assert_all_close(run(sess, feeds), eager(m, x, hx, lengths=lengths), f"B={B} T={T} {lengths.tolist()}")


def test_a_packed_sequence_exports_as_padded_input_and_lengths(tmp_path):
    m = lstmkit.nn.LSTM(I, H, bidirectional=True).eval()
    packed = pack_padded_sequence(torch.randn(5, 2, I), torch.tensor([5, 2]), enforce_sorted=False)
    sess = session(export_onnx(m, packed, tmp_path / "m.onnx"))
    assert [i.name for i in sess.get_inputs()] == ["input", "lengths"]
    for B in BATCHES:
        for T in LENGTHS:
            x, lengths = torch.randn(T, B, I), random_lengths(B, T)
            assert_all_close(run(sess, {"input": x, "lengths": lengths}), eager(m, x, lengths=lengths), f"T={T}")


def test_torch_nn_modules_export_too(tmp_path):
    m = torch.nn.GRU(I, H, num_layers=2, bidirectional=True).eval()
    sess = session(export_onnx(m, torch.randn(5, 2, I), tmp_path / "m.onnx"))
    for T in LENGTHS:
        x = torch.randn(T, 3, I)
        assert_all_close(run(sess, {"input": x}), eager(m, x), f"T={T}")


def test_the_graph_is_onnx_recurrent_operators_with_dynamic_batch_and_time(tmp_path):
    m = lstmkit.nn.LSTM(I, H, num_layers=2, bidirectional=True, batch_first=True).eval()
    model = onnx.load(export_onnx(m, example(m), tmp_path / "m.onnx"))
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("LSTM") == 2 and "Loop" not in ops and "Scan" not in ops
    assert [d.dim_param for d in model.graph.input[0].type.tensor_type.shape.dim[:2]] == ["batch", "time"]
    static = onnx.load(export_onnx(m, example(m), tmp_path / "s.onnx", dynamic_batch=False, dynamic_time=False))
    assert [d.dim_value for d in static.graph.input[0].type.tensor_type.shape.dim] == [2, 5, I]


def test_gate_orders_are_onnx_iofc_and_zrh():
    assert recurrence.ORDER["lstm"] == (0, 3, 1, 2)  # torch i, f, g, o -> ONNX i, o, f, c
    assert recurrence.ORDER["gru"] == (1, 0, 2)  # torch r, z, n -> ONNX z, r, h


@pytest.mark.parametrize("make,example_inputs,message", [
    (lambda: lstmkit.nn.LSTM(I, H, proj_size=2), torch.randn(5, 2, I), r"proj_size=2: ONNX's LSTM operator has no"),
    (lambda: lstmkit.nn.LSTM(I, H, activation=torch.nn.functional.silu), torch.randn(5, 2, I),
     r"LSTM layer 0: its activation silu is not one of the activations"),
    (lambda: lstmkit.nn.GRU(I, H, dropout=0.5, num_layers=2), torch.randn(5, 2, I),
     r"training mode with dropout=0.5.*call module.eval\(\)"),
    (lambda: lstmkit.nn.LSTM(I, H).double(), torch.randn(5, 2, I, dtype=torch.float64),
     r"dtype \['torch.float64'\]; ONNX export writes float32"),
    (lambda: lstmkit.nn.LSTM(I, H).eval(), (torch.randn(2, 5, I), {"mask": torch.ones(2, 5, dtype=torch.bool)}),
     r"mask= cannot be exported.*pass lengths= \(right padding\)"),
    (lambda: lstmkit.nn.LSTM(I, H).eval(), torch.randn(5, I), r"must be a batched 3-D tensor"),
    (lambda: torch.nn.Linear(I, H), torch.randn(5, 2, I), r"exports an LSTM, GRU or RNN module .* got Linear"),
])
def test_refusals_name_the_reason_and_write_nothing(tmp_path, make, example_inputs, message):
    target = tmp_path / "m.onnx"
    with pytest.raises(ExportError, match=message):
        export_onnx(make(), example_inputs, target)
    assert list(tmp_path.iterdir()) == []


def test_training_mode_without_dropout_exports_the_same_computation(tmp_path):
    m = lstmkit.nn.GRU(I, H)  # training mode, no dropout: eval and train compute the same
    sess = session(export_onnx(m, example(m), tmp_path / "m.onnx"))
    x = torch.randn(7, 3, I)
    assert_all_close(run(sess, {"input": x}), eager(m, x), "train mode")


def test_a_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "m.onnx"
    target.write_bytes(b"old")
    m = lstmkit.nn.LSTM(I, H).eval()

    def fail(self):
        raise OSError("disk full")

    monkeypatch.setattr(onnx.ModelProto, "SerializeToString", fail)
    with pytest.raises(OSError, match="disk full"):
        export_onnx(m, example(m), target)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


def test_without_onnx_one_line_says_pip_install_onnx(tmp_path, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_onnx(name, *args, **kwargs):
        if name == "onnx" or name.startswith("onnx."):
            raise ImportError("No module named 'onnx'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_onnx)
    from lstmkit.export import MissingDependency

    with pytest.raises(MissingDependency, match=r"pip install onnx"):
        export_onnx(lstmkit.nn.LSTM(I, H).eval(), torch.randn(5, 2, I), tmp_path / "m.onnx")



@pytest.mark.parametrize("variant,value", [("peephole", True), ("layer_norm", True), ("zoneout_h", 0.1),
                                           ("learn_initial_state", True)])
def test_lstmkit_variants_are_refused(tmp_path, variant, value):
    m = lstmkit.nn.LSTM(I, H).eval()
    setattr(m, variant, value)  # as lstmkit.nn.variants sets them
    with pytest.raises(ExportError, match=rf"LSTM with {variant}={value!r}: ONNX's LSTM operator has no such variant"):
        export_onnx(m, torch.randn(5, 2, I), tmp_path / "m.onnx")
