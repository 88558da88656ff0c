"""Keras 3.15.1's keras/src/layers/rnn/bidirectional_test.py, re-stated: the same inputs and expected numbers, on
Keras and on lstmkit.keras (the `K` fixture). Each sub-case of a Keras test is one pytest id.

Left out: test_fused_lstm_eligibility and test_fused_gru_eligibility (they call Keras' private
`_can_attempt_fused_lstm/_gru`, its gate for a cuDNN path) and test_torch_cudnn_bidirectional_gru_dispatch_fires
(CUDA only; spies on torch._VF.gru, Keras' own kernel). test_fused_*_matches_unfused are kept: on lstmkit they check
that two Bidirectional layers given the same weights give the same outputs whatever `use_cudnn` says."""

import numpy as np
import pytest

from tests.keras.keras_cases.helpers import KERAS_CASE_TOL, assert_allclose, run_layer_test


def constant(K, cls, units, kernel=0.01, recurrent=0.02, bias=0.03, **options):
    return getattr(K.layers, cls)(units, kernel_initializer=K.initializers.Constant(kernel),
                                  recurrent_initializer=K.initializers.Constant(recurrent),
                                  bias_initializer=K.initializers.Constant(bias), **options)


def units(rows, n):
    """Rows of one value each, repeated over `n` equal units."""
    return np.repeat(np.asarray(rows, dtype="float64")[..., None], n, axis=-1)


@pytest.mark.parametrize("case", ["concat", "sum-with-backward-layer"])
def test_basics(K, case):
    if case == "concat":
        init_kwargs, output_shape = {"layer": K.layers.SimpleRNN(4)}, (3, 8)
    else:
        init_kwargs = {"layer": K.layers.SimpleRNN(4), "backward_layer": K.layers.SimpleRNN(4, go_backwards=True),
                       "merge_mode": "sum"}
        output_shape = (3, 4)
    run_layer_test(K, K.layers.Bidirectional, init_kwargs, input_shape=(3, 2, 4), expected_output_shape=output_shape,
                   expected_num_trainable_weights=6, expected_num_non_trainable_weights=0, supports_masking=True)


FORWARD = [0.39687276, 0.7237238]  # SimpleRNN(2) with constant weights, per sequence
BACKWARD = [0.10004295, 0.53391594]


@pytest.mark.parametrize("case", ["concat", "ave", "none", "mul-with-backward-layer", "gru-sum-sequences"])
def test_correctness(K, case):
    sequence = np.arange(24).reshape((2, 3, 4)).astype("float32")
    forward_layer = constant(K, "SimpleRNN", 2)
    if case == "concat":
        output = K.layers.Bidirectional(layer=forward_layer)(sequence)
        assert_allclose(output, np.concatenate([units(FORWARD, 2), units(BACKWARD, 2)], axis=1), **KERAS_CASE_TOL)
    elif case == "ave":
        output = K.layers.Bidirectional(layer=forward_layer, merge_mode="ave")(sequence)
        assert_allclose(output, units([0.24845785, 0.6288199], 2), **KERAS_CASE_TOL)
    elif case == "none":
        output_1, output_2 = K.layers.Bidirectional(layer=forward_layer, merge_mode=None)(sequence)
        assert_allclose(output_1, units(FORWARD, 2), **KERAS_CASE_TOL)
        assert_allclose(output_2, units(BACKWARD, 2), **KERAS_CASE_TOL)
    elif case == "mul-with-backward-layer":
        backward_layer = constant(K, "SimpleRNN", 2, kernel=0.03, bias=0.01, go_backwards=True)
        output = K.layers.Bidirectional(layer=forward_layer, backward_layer=backward_layer, merge_mode="mul")(sequence)
        assert_allclose(output, units([0.08374989, 0.6740834], 2), **KERAS_CASE_TOL)
    else:
        layer = K.layers.Bidirectional(layer=constant(K, "GRU", 2, return_sequences=True), merge_mode="sum")
        expected = units([[0.20937867, 0.34462988, 0.40290534], [0.59829646, 0.6734641, 0.6479671]], 2)
        assert_allclose(layer(sequence), expected, **KERAS_CASE_TOL)


def test_statefulness(K):
    sequence = np.arange(24).reshape((2, 4, 3)).astype("float32")
    layer = K.layers.Bidirectional(layer=constant(K, "LSTM", 2, stateful=True))
    expected = np.concatenate([units([0.26234663, 0.6137073], 2), units([0.16959146, 0.5381646], 2)], axis=1)
    layer(sequence)
    assert_allclose(layer(sequence), expected, **KERAS_CASE_TOL)
    layer.reset_state()
    layer(sequence)
    assert_allclose(layer(sequence), expected, **KERAS_CASE_TOL)


def test_pass_initial_state(K):
    sequence = np.arange(24).reshape((2, 4, 3)).astype("float32")
    initial_state = [np.arange(4).reshape((2, 2)).astype("float32") * k for k in (1, 2, 3, 4)]  # h, c fwd; h, c bwd
    output = K.layers.Bidirectional(layer=constant(K, "LSTM", 2))(sequence, initial_state=initial_state)
    expected = [[0.20794602, 0.4577124, 0.14046375, 0.48191673], [0.6682636, 0.6711909, 0.60943645, 0.60950446]]
    assert_allclose(output, expected, **KERAS_CASE_TOL)


def test_masking(K):
    sequence = np.arange(24).reshape((2, 4, 3)).astype("float32")
    mask = np.array([[True, True, False, True], [True, False, False, True]])
    output = K.layers.Bidirectional(layer=constant(K, "GRU", 2))(sequence, mask=mask)
    expected = np.concatenate([units([0.19393763, 0.30818558], 2), units([0.11669192, 0.28380975], 2)], axis=1)
    assert_allclose(output, expected, **KERAS_CASE_TOL)


def test_return_state(K):
    sequence = np.arange(24).reshape((2, 4, 3)).astype("float32")
    output, h1, c1, h2, c2 = K.layers.Bidirectional(layer=constant(K, "LSTM", 2, return_state=True))(sequence)
    h_forward, h_backward = units([0.1990008, 0.52335435], 2), units([0.12659755, 0.44717982], 2)
    assert_allclose(output, np.concatenate([h_forward, h_backward], axis=1), **KERAS_CASE_TOL)
    assert_allclose(h1, h_forward, **KERAS_CASE_TOL)
    assert_allclose(c1, units([0.35567185, 1.0492687], 2), **KERAS_CASE_TOL)
    assert_allclose(h2, h_backward, **KERAS_CASE_TOL)
    assert_allclose(c2, units([0.2501858, 0.941473], 2), **KERAS_CASE_TOL)


@pytest.mark.parametrize("return_state, merge_mode", [
    *[(True, m) for m in ("ave", "concat", "mul", "sum", None)],
    *[(False, m) for m in ("concat", "ave", "mul", "sum", None)],
], ids=lambda v: str(v))
def test_output_shape(K, return_state, merge_mode):
    x = np.array([[[101, 202], [303, 404]]])  # integers: the layer casts them
    layer = K.layers.Bidirectional(K.layers.LSTM(2, return_state=return_state), merge_mode=merge_mode)
    output = layer(x)
    output_shape = layer.compute_output_shape(x.shape)
    if return_state or merge_mode is None:
        assert len(output) == len(output_shape)
        for out, shape in zip(output, output_shape):
            assert tuple(out.shape) == tuple(shape)
    else:
        assert tuple(output.shape) == tuple(output_shape)


@pytest.mark.parametrize("rnn_class", ["GRU", "LSTM"])
@pytest.mark.parametrize("use_cudnn", [True, False, "auto"])
def test_keeps_use_cudnn(K, rnn_class, use_cudnn):
    bidi = K.layers.Bidirectional(getattr(K.layers, rnn_class)(1, use_cudnn=use_cudnn))
    assert bidi.forward_layer.use_cudnn == use_cudnn
    assert bidi.backward_layer.use_cudnn == use_cudnn


def test_keeps_use_cudnn_simple_rnn_has_none(K):  # test_keeps_use_cudnn, its last case
    bidi = K.layers.Bidirectional(K.layers.SimpleRNN(1))
    assert not hasattr(bidi.forward_layer, "use_cudnn")
    assert not hasattr(bidi.backward_layer, "use_cudnn")


@pytest.mark.parametrize("rnn_class", ["LSTM", "GRU"], ids=["test_fused_lstm_matches_unfused",
                                                              "test_fused_gru_matches_unfused"])
def test_fused_matches_unfused(K, rnn_class):
    x = np.random.default_rng(0).standard_normal((3, 6, 4)).astype("float32")

    def build(use_cudnn):
        layer = K.layers.Bidirectional(getattr(K.layers, rnn_class)(
            5, use_cudnn=use_cudnn, return_sequences=True, kernel_initializer=K.initializers.GlorotUniform(seed=1),
            recurrent_initializer=K.initializers.Orthogonal(seed=2)))
        layer.build(x.shape)
        return layer

    reference, fused = build(use_cudnn=False), build(use_cudnn="auto")
    for r, f in zip(reference.weights, fused.weights):
        f.assign(r.value)
    assert_allclose(reference(x), fused(x), atol=1e-5)
