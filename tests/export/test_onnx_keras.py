"""`model.export(path, format="onnx")` on lstmkit.keras models: onnxruntime against the eager model at
three lengths and two batch sizes within 1e-5, masks that are right or left padding (and all-masked rows)
exact, a mask with a hole stopped by onnxruntime, and every layer it cannot write refused by name."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch

from lstmkit import keras
from lstmkit.export import ExportError
from tests.export.helpers import BATCHES, LENGTHS, assert_all_close, run, session

layers = keras.layers
VOCAB = 20


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def ids(rng, B, T, pad):
    """Token ids in [1, VOCAB): row 0 unpadded, row 1 all padding, the others padded with zeros on the `pad`
    side to a random length."""
    x = rng.integers(1, VOCAB, (B, T)).astype(np.int64)
    for b in range(1, B):
        n = 0 if b == 1 else int(rng.integers(0, T + 1))
        if pad == "right":
            x[b, n:] = 0
        elif pad == "left":
            x[b, : T - n] = 0
    return x


def eager(model, x):
    with torch.no_grad():
        return [model(torch.as_tensor(x)).numpy()]


def check(model, tmp_path, make):
    model.export(tmp_path / "m.onnx", format="onnx")
    sess = session(tmp_path / "m.onnx")
    for B in BATCHES:
        for T in LENGTHS:
            x = make(B, T)
            assert_all_close(run(sess, {"inputs": x}), eager(model, x), f"B={B} T={T}")


def token_model(*rnn_layers, mask_zero=True, head=True):
    stack = [keras.Input((None,), dtype="int64"), layers.Embedding(VOCAB, 6, mask_zero=mask_zero), *rnn_layers]
    if head:
        stack.append(layers.Dense(2, activation="softmax"))
    return keras.Sequential(stack)


MODELS = {
    "lstm": lambda: token_model(layers.LSTM(5), mask_zero=False),
    "gru-reset_after=False-hard_sigmoid": lambda: token_model(
        layers.GRU(5, reset_after=False, recurrent_activation="hard_sigmoid"), mask_zero=False),
    "simple_rnn": lambda: token_model(layers.SimpleRNN(5), mask_zero=False),
    "two-layers-masked": lambda: token_model(layers.LSTM(5, return_sequences=True), layers.Dropout(0.5), layers.GRU(4)),
    "sequences-masked-carry": lambda: token_model(layers.SimpleRNN(5, return_sequences=True), head=False),
    "bidirectional-masked": lambda: token_model(layers.Bidirectional(layers.LSTM(5, return_sequences=True)),
                                                 layers.Bidirectional(layers.GRU(3), merge_mode="ave")),
    "bidirectional-sum-sequences": lambda: token_model(
        layers.Bidirectional(layers.SimpleRNN(4, return_sequences=True), merge_mode="sum"), head=False),
}


@pytest.mark.parametrize("pad", ["right", "left"])
@pytest.mark.parametrize("name", list(MODELS))
def test_token_models_match_eager(tmp_path, rng, name, pad):
    torch.manual_seed(0)
    check(MODELS[name](), tmp_path, lambda B, T: ids(rng, B, T, pad))


def test_masking_layer_and_float_inputs(tmp_path, rng):
    model = keras.Sequential([keras.Input((None, 3)), layers.Masking(0.0),
                              layers.GRU(4, return_sequences=True), layers.Dense(2, activation="tanh")])

    def make(B, T):
        x = rng.standard_normal((B, T, 3)).astype(np.float32)
        x[-1, T // 2 + 1 :] = 0.0  # the last row right padded
        return x

    check(model, tmp_path, make)


@pytest.mark.parametrize("sequences", [False, True], ids=["last", "sequences"])
def test_go_backwards_and_functional_chain(tmp_path, rng, sequences):
    inputs = keras.Input((None, 3))
    outputs = layers.Dense(1)(layers.LSTM(4, go_backwards=True, return_sequences=sequences)(inputs))
    model = keras.Model(inputs, outputs)
    check(model, tmp_path, lambda B, T: rng.standard_normal((B, T, 3)).astype(np.float32))


def test_the_graph_uses_onnx_recurrent_operators(tmp_path):
    model = MODELS["bidirectional-masked"]()
    model.export(tmp_path / "m.onnx", format="onnx")
    ops = [n.op_type for n in onnx.load(tmp_path / "m.onnx").graph.node]
    assert ops.count("LSTM") == 1 and ops.count("GRU") == 1 and "Loop" not in ops


def test_a_mask_with_a_hole_stops_onnxruntime_naming_it(tmp_path, rng):
    model = MODELS["two-layers-masked"]()
    model.export(tmp_path / "m.onnx", format="onnx")
    sess = session(tmp_path / "m.onnx")
    x = ids(rng, 2, 6, None)
    x[1, 2] = 0  # a masked step between real ones
    with pytest.raises(Exception, match="neither right nor left padding"):
        run(sess, {"inputs": x})


def test_negative_ids_stop_onnxruntime_as_eager_refuses_them(tmp_path, rng):
    model = MODELS["lstm"]()
    model.export(tmp_path / "m.onnx", format="onnx")
    sess = session(tmp_path / "m.onnx")
    x = ids(rng, 2, 4, None)
    x[0, 1] = -1  # ONNX's Gather would read row VOCAB-1
    with pytest.raises(Exception, match="out of"):
        run(sess, {"inputs": x})


class Custom(keras.Model):
    def __init__(self):
        super().__init__()
        self.rnn = layers.LSTM(3)

    def call(self, x):
        return self.rnn(x)


def seq(*stack):
    return keras.Sequential([keras.Input((None, 3)), *stack])


@pytest.mark.parametrize("make,message", [
    (lambda: seq(layers.LSTM(4, stateful=True)), r"layer 'lstm\w*' \(LSTM\) is stateful"),
    (lambda: seq(layers.LSTM(4, activation="gelu")), r"\(LSTM\) layer 0|its activation gelu is not one"),
    (lambda: seq(layers.LSTM(4), layers.Dense(2, activation="gelu")), r"\(Dense\): its activation gelu"),
    (lambda: seq(layers.Conv1D(2, 3)), r"\(Conv1D\) has no exact ONNX export"),
    (lambda: seq(layers.Masking(), layers.SimpleRNN(4, go_backwards=True, return_sequences=True)),
     r"go_backwards=True with return_sequences=True on a masked input"),
    (lambda: seq(layers.RNN(layers.StackedRNNCells([layers.LSTMCell(3), layers.LSTMCell(2)]))),
     r"its cell StackedRNNCells is not"),
    (lambda: seq(layers.LSTM(4, dtype="mixed_float16")), r"\(LSTM\) computes in torch.float16 \(a mixed-precision"),
    (lambda: Custom(), r"is a subclassed model"),
    (lambda: keras.Sequential([layers.LSTM(3)]), r"is not built"),
])
def test_refusals_name_the_layer_and_the_reason(tmp_path, make, message):
    model = make()
    with pytest.raises(ExportError, match=message):
        model.export(tmp_path / "m.onnx", format="onnx")
    assert list(tmp_path.iterdir()) == []


def test_export_takes_keras_signature(tmp_path, capsys):
    model = MODELS["lstm"]()
    with pytest.raises(ValueError, match=r"exports format='onnx' only, got format='tf_saved_model'"):
        model.export(tmp_path / "m")
    with pytest.raises(TypeError, match=r"unexpected keyword arguments.*'jax2tf_kwargs'"):
        model.export(tmp_path / "m.onnx", format="onnx", jax2tf_kwargs={})
    model.export(tmp_path / "m.onnx", format="onnx", verbose=True, opset_version=18)
    assert "Saved artifact at" in capsys.readouterr().out
    assert onnx.load(tmp_path / "m.onnx").opset_import[0].version == 18


def test_int32_ids_from_the_input_dtype(tmp_path, rng):
    model = keras.Sequential([keras.Input((None,), dtype="int32"), layers.Embedding(VOCAB, 4), layers.GRU(3)])
    model.export(tmp_path / "m.onnx", format="onnx")
    sess = session(tmp_path / "m.onnx")
    x = ids(rng, 3, 7, None).astype(np.int32)
    assert_all_close(run(sess, {"inputs": x}), eager(model, x.astype(np.int64)), "int32")


KERAS_ANCHORS = {
    "gru-reset_after=False-hard_sigmoid": lambda L: [L.GRU(5, reset_after=False, recurrent_activation="hard_sigmoid")],
    "lstm-sequences-then-simple_rnn": lambda L: [L.LSTM(4, return_sequences=True), L.SimpleRNN(3)],
    "bidirectional-gru": lambda L: [L.Bidirectional(L.GRU(3))],
}


@pytest.mark.parametrize("pad", ["right", "left"])
@pytest.mark.parametrize("name", list(KERAS_ANCHORS))
def test_the_exported_graph_matches_keras_itself(tmp_path, rng, name, pad):
    """Anchored outside: Keras 3 (torch backend) with the same weights computes what onnxruntime does."""
    real = pytest.importorskip("keras")

    def build(K):
        return K.Sequential([K.Input((None,), dtype="int64"), K.layers.Embedding(VOCAB, 6, mask_zero=True),
                             *KERAS_ANCHORS[name](K.layers), K.layers.Dense(2)])

    ours, theirs = build(keras), build(real)
    theirs.set_weights(ours.get_weights())
    ours.export(tmp_path / "m.onnx", format="onnx")
    sess = session(tmp_path / "m.onnx")
    for B in BATCHES:
        for T in LENGTHS:
            x = ids(rng, B, T, pad)
            want = np.asarray(theirs(x).detach().cpu())
            assert_all_close(run(sess, {"inputs": x}), [want], f"B={B} T={T}")


def test_static_axes_and_an_input_signature(tmp_path, rng):
    from lstmkit.export.keras_model import export_model

    model = keras.Sequential([keras.Input((None,)), layers.Embedding(VOCAB, 4), layers.LSTM(3, return_sequences=True)])
    signature = np.zeros((2, 6), dtype=np.int32)
    export_model(model, tmp_path / "m.onnx", input_signature=signature, dynamic_batch=False, dynamic_time=False)
    graph = onnx.load(tmp_path / "m.onnx").graph
    assert [d.dim_value for d in graph.input[0].type.tensor_type.shape.dim] == [2, 6]
    assert graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.INT32
    x = ids(rng, 2, 6, None).astype(np.int32)
    assert_all_close(run(session(tmp_path / "m.onnx"), {"inputs": x}), eager(model, x.astype(np.int64)), "static")
