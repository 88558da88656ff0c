"""Conv2D, the 2-D poolings, ConvLSTM1D and ConvLSTM2D against Keras 3 itself (torch backend).

The first half re-states Keras' own test cases (keras/src/layers/convolutional/conv_test.py, pooling/*_test.py,
rnn/conv_lstm_test.py, conv_lstm1d_test.py, conv_lstm2d_test.py): the same inputs and the same expected numbers,
each run on Keras and on lstmkit.keras (the `K` fixture), so a wrong expectation fails on Keras too; the NumPy
references are written here. The second half copies a Keras layer's weights into lstmkit's and compares
outputs, states, gradients, shapes and configs over paddings, strides, data formats, masks and directions.
"""

import numpy as np
import pytest
import torch

import lstmkit.keras as lk
from lstmkit.keras import layers as L
from lstmkit.keras.layers import conv_lstm as lk_conv_lstm
from tests.keras.conftest import to_numpy
from tests.tolerances import KERAS_TOL

keras = pytest.importorskip("keras")
from keras.src.layers.rnn import conv_lstm as keras_conv_lstm  # noqa: E402  (Keras' cell is not in keras.layers)


def conv_lstm_module(K):
    return keras_conv_lstm if K is keras else lk_conv_lstm


def assert_same(ours, theirs, tol=KERAS_TOL):
    ours = list(ours) if isinstance(ours, (list, tuple)) else [ours]
    theirs = list(theirs) if isinstance(theirs, (list, tuple)) else [theirs]
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(torch.as_tensor(to_numpy(a)), torch.as_tensor(to_numpy(b)), **tol)


def randomize(klayer, seed=1):
    """Non-trivial weights (Keras' zero biases would hide a bias mix-up)."""
    rng = np.random.default_rng(seed)
    klayer.set_weights([rng.normal(0, 0.4, w.shape).astype("float32") for w in klayer.get_weights()])


def copy_weights(klayer, layer, x, **call_kw):
    """Build both on x, randomize Keras' weights, copy them into lstmkit's."""
    klayer(x, **call_kw)
    layer(torch.from_numpy(x), **call_kw)
    randomize(klayer)
    assert [w.shape for w in layer.get_weights()] == [w.shape for w in klayer.get_weights()]
    layer.set_weights(klayer.get_weights())
    assert layer.count_params() == klayer.count_params()


# ----- NumPy references (the same rules Keras' tests use: TF's "same" split, extra step at the end) -------------
def same_pads(n, k, s):
    total = max(0, (-(-n // s) - 1) * s + k - n)
    return total // 2, total - total // 2


def np_conv2d(x, kernel, bias, strides, padding, data_format, dilation_rate, groups):
    """Direct grouped, dilated 2-D cross-correlation of channels_last x, one kernel tap at a time."""
    if data_format == "channels_first":
        x = x.transpose(0, 2, 3, 1)
    sh, sw = (strides, strides) if isinstance(strides, int) else strides
    dh, dw = (dilation_rate, dilation_rate) if isinstance(dilation_rate, int) else dilation_rate
    kh, kw, cin, cout = kernel.shape
    eh, ew = (kh - 1) * dh + 1, (kw - 1) * dw + 1
    if padding == "same":
        x = np.pad(x, [(0, 0), same_pads(x.shape[1], eh, sh), same_pads(x.shape[2], ew, sw), (0, 0)])
    H, W = (x.shape[1] - eh) // sh + 1, (x.shape[2] - ew) // sw + 1
    out = np.zeros((x.shape[0], H, W, cout))
    per = cout // groups
    for g in range(groups):
        xs, ks = x[..., g * cin:(g + 1) * cin], kernel[..., g * per:(g + 1) * per]
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, i * dh:i * dh + (H - 1) * sh + 1:sh, j * dw:j * dw + (W - 1) * sw + 1:sw]
                out[..., g * per:(g + 1) * per] += patch @ ks[i, j]
    out = out + bias
    return out.transpose(0, 3, 1, 2) if data_format == "channels_first" else out


def np_pool2d(x, pool_size, strides, padding, data_format, mode):
    """Max (padding -inf) or mean (padding repeats the edge, as Keras' reference) over windows."""
    if data_format == "channels_first":
        x = x.transpose(0, 2, 3, 1)
    ph, pw = (pool_size, pool_size) if isinstance(pool_size, int) else pool_size
    sh, sw = (strides, strides) if isinstance(strides, int) else strides
    if padding == "same":
        pads = [(0, 0), same_pads(x.shape[1], ph, sh), same_pads(x.shape[2], pw, sw), (0, 0)]
        x = np.pad(x, pads, constant_values=-np.inf) if mode == "max" else np.pad(x, pads, mode="edge")
    H, W = (x.shape[1] - ph) // sh + 1, (x.shape[2] - pw) // sw + 1
    reduce = np.max if mode == "max" else np.mean
    out = np.stack([np.stack([reduce(x[:, i * sh:i * sh + ph, j * sw:j * sw + pw], axis=(1, 2)) for j in range(W)], 1)
                    for i in range(H)], 1)
    return out.transpose(0, 3, 1, 2) if data_format == "channels_first" else out


def check_layer(K, cls, init_kwargs, input_shape, output_shape, n_trainable, call_kwargs=None):
    """What Keras' run_layer_test checks that applies here: eager and symbolic output shapes,
    compute_output_shape and the weight counts."""
    layer = getattr(K.layers, cls)(**init_kwargs)
    x = np.random.default_rng(0).normal(size=input_shape).astype("float32")
    out = layer(x, **(call_kwargs or {}))
    assert tuple(out.shape) == output_shape
    assert len(layer.trainable_weights) == n_trainable and len(layer.non_trainable_weights) == 0
    assert tuple(layer.compute_output_shape(input_shape)) == output_shape
    symbolic = getattr(K.layers, cls)(**init_kwargs)(K.Input(batch_shape=input_shape))
    assert tuple(symbolic.shape) == output_shape


# ===== Keras' own cases, on Keras and on lstmkit.keras ============================================================
CONV2D_BASIC = [  # conv_test.py, ConvBasicTest.test_conv2d_basic
    (5, 2, 1, "valid", "channels_last", 1, 1, (3, 5, 5, 4), (3, 4, 4, 5)),
    (6, 2, 1, "same", "channels_last", (2, 2), 2, (3, 4, 4, 4), (3, 4, 4, 6)),
    (6, (2, 2), (2, 1), "valid", "channels_last", (1, 1), 2, (3, 5, 5, 4), (3, 2, 4, 6)),
]


@pytest.mark.parametrize("filters,kernel_size,strides,padding,data_format,dilation_rate,groups,input_shape,output_shape",
                         CONV2D_BASIC)
def test_conv2d_basic(K, filters, kernel_size, strides, padding, data_format, dilation_rate, groups, input_shape,
                      output_shape):
    check_layer(K, "Conv2D", dict(filters=filters, kernel_size=kernel_size, strides=strides, padding=padding,
                                  data_format=data_format, dilation_rate=dilation_rate, groups=groups),
                input_shape, output_shape, n_trainable=2)


@pytest.mark.parametrize("kwargs,message", [  # conv_test.py, ConvBasicTest.test_bad_init_args (Conv2D's)
    ({"filters": 2, "kernel_size": (1, 0)}, r"kernel_size.*\(1, 0\)"),
    ({"filters": 2, "kernel_size": (2, 2), "strides": (1, 0)}, r"strides.*\(1, 0\)"),
    ({"filters": 2, "kernel_size": (2, 2), "strides": 2, "dilation_rate": (2, 1)},
     r"strides > 1.*dilation_rate > 1.*strides=\(2, 2\) and dilation_rate=\(2, 1\)"),
    ({"filters": 5, "kernel_size": (2, 2), "groups": 0}, r"groups"),
    ({"filters": 5, "kernel_size": (2, 2), "groups": 2}, r"(?i)filters.*divisible.*groups"),
], ids=["zero-kernel", "zero-stride", "strides-and-dilation", "zero-groups", "filters-by-groups"])
def test_bad_init_args(K, kwargs, message):
    with pytest.raises(ValueError, match=message):
        K.layers.Conv2D(**kwargs)


CONV2D_CORRECTNESS = [  # conv_test.py, ConvCorrectnessTest.test_conv2d
    (5, 2, 1, "valid", "channels_last", 1, 1),
    (4, 3, 2, "same", "channels_last", 1, 1),
    (6, 2, 1, "same", "channels_last", (2, 2), 2),
    (6, 2, 1, "same", "channels_last", (2, 3), 2),
    (6, (4, 3), (2, 1), "valid", "channels_last", (1, 1), 2),
    (6, (4, 3), (2, 1), "valid", "channels_first", (1, 1), 2),
]


@pytest.mark.parametrize("filters,kernel_size,strides,padding,data_format,dilation_rate,groups", CONV2D_CORRECTNESS)
def test_conv2d(K, filters, kernel_size, strides, padding, data_format, dilation_rate, groups):
    rng = np.random.default_rng(2)
    layer = K.layers.Conv2D(filters=filters, kernel_size=kernel_size, strides=strides, padding=padding,
                            data_format=data_format, dilation_rate=dilation_rate, groups=groups)
    inputs = rng.normal(size=[2, 8, 8, 4]).astype("float32")
    layer.build(input_shape=inputs.shape)
    kernel_weights = rng.normal(size=tuple(layer.kernel.shape))
    bias_weights = rng.normal(size=(filters,))
    layer.kernel.assign(kernel_weights.astype("float32"))
    layer.bias.assign(bias_weights.astype("float32"))
    outputs = to_numpy(layer(inputs))
    expected = np_conv2d(inputs, kernel_weights, bias_weights, strides, padding, data_format, dilation_rate, groups)
    np.testing.assert_allclose(outputs, expected, rtol=5e-4, atol=1e-4)


def test_conv_symbolic_invalid_configuration(K):  # conv_test.py (Conv2D's case): a dilated kernel wider than the input
    layer = K.layers.Conv2D(filters=1, kernel_size=(2, 2), dilation_rate=(10, 10))
    with pytest.raises(ValueError):
        layer(K.Input(shape=(10, 10, 3)))


def test_conv_constraints(K):  # conv_test.py
    layer = K.layers.Conv2D(filters=4, kernel_size=3, kernel_constraint="non_neg")
    layer.build((None, 5, 5, 3))
    assert isinstance(layer.kernel.constraint, K.constraints.NonNeg)
    layer = K.layers.Conv2D(filters=4, kernel_size=3, bias_constraint="non_neg")
    layer.build((None, 5, 5, 3))
    assert isinstance(layer.bias.constraint, K.constraints.NonNeg)


def test_conv_raises_exception_on_zero_dims(K):  # conv_test.py: a 5x5 kernel on 4x4 frames
    with pytest.raises(Exception):  # noqa: B017  (Keras' test too: the type differs between backends)
        K.layers.Conv2D(6, [5, 5], 1, "valid")(np.random.default_rng(0).random((3, 4, 4, 4)).astype("float32"))


@pytest.mark.parametrize("cls,pool_size,strides,padding,data_format,input_shape,output_shape", [
    # max_pooling_test.py, MaxPoolingBasicTest.test_max_pooling2d
    ("MaxPooling2D", 2, 1, "valid", "channels_last", (3, 5, 5, 4), (3, 4, 4, 4)),
    ("MaxPooling2D", 2, 1, "same", "channels_first", (3, 5, 5, 4), (3, 5, 5, 4)),
    ("MaxPooling2D", (2, 3), (2, 2), "valid", "channels_last", (3, 5, 5, 4), (3, 2, 2, 4)),
    # average_pooling_test.py, AveragePoolingBasicTest.test_average_pooling2d
    ("AveragePooling2D", 2, 1, "valid", "channels_last", (3, 5, 5, 4), (3, 4, 4, 4)),
    ("AveragePooling2D", 2, 1, "same", "channels_last", (3, 5, 5, 4), (3, 5, 5, 4)),
    ("AveragePooling2D", 2, 1, "valid", "channels_first", (3, 5, 5, 4), (3, 5, 4, 3)),
    ("AveragePooling2D", 2, 1, "same", "channels_first", (3, 5, 5, 4), (3, 5, 5, 4)),
    ("AveragePooling2D", (2, 3), (2, 2), "valid", "channels_last", (3, 5, 5, 4), (3, 2, 2, 4)),
    ("AveragePooling2D", (2, 3), (2, 2), "same", "channels_last", (3, 5, 5, 4), (3, 3, 3, 4)),
    ("AveragePooling2D", (2, 3), (3, 3), "same", "channels_first", (3, 5, 5, 4), (3, 5, 2, 2)),
])
def test_pooling2d_basic(K, cls, pool_size, strides, padding, data_format, input_shape, output_shape):
    check_layer(K, cls, dict(pool_size=pool_size, strides=strides, padding=padding, data_format=data_format),
                input_shape, output_shape, n_trainable=0)


@pytest.mark.parametrize("cls,pool_size,strides,padding,data_format", [
    # max_pooling_test.py, MaxPoolingCorrectnessTest.test_max_pooling2d
    ("MaxPooling2D", 2, 1, "valid", "channels_last"),
    ("MaxPooling2D", 2, 1, "valid", "channels_first"),
    ("MaxPooling2D", (2, 2), (2, 2), "same", "channels_last"),
    ("MaxPooling2D", (2, 2), (2, 2), "same", "channels_first"),
    ("MaxPooling2D", (2, 3), (3, 3), "same", "channels_last"),
    # average_pooling_test.py, AveragePoolingCorrectnessTest.test_average_pooling2d and ..._same_padding
    ("AveragePooling2D", 2, 1, "valid", "channels_last"),
    ("AveragePooling2D", (2, 3), (2, 2), "valid", "channels_last"),
    ("AveragePooling2D", 2, (2, 1), "same", "channels_last"),
    ("AveragePooling2D", 2, (2, 1), "same", "channels_first"),
    ("AveragePooling2D", (2, 2), (2, 2), "same", "channels_last"),
    ("AveragePooling2D", (2, 2), (2, 2), "same", "channels_first"),
])
def test_pooling2d_correctness(K, cls, pool_size, strides, padding, data_format):
    if cls == "MaxPooling2D":
        inputs = np.arange(100, dtype="float32").reshape((1, 5, 5, 4))
    else:
        inputs = np.arange(16, dtype="float32").reshape((1, 4, 4, 1))
    layer = getattr(K.layers, cls)(pool_size=pool_size, strides=strides, padding=padding, data_format=data_format)
    expected = np_pool2d(inputs, pool_size, strides, padding, data_format, "max" if cls == "MaxPooling2D" else "mean")
    np.testing.assert_allclose(to_numpy(layer(inputs)), expected, rtol=1e-6)


@pytest.mark.parametrize("cls", ["GlobalMaxPooling2D", "GlobalAveragePooling2D"])
@pytest.mark.parametrize("data_format,keepdims,output_shape", [  # global_*_pooling_test.py, test_global_*_pooling2d
    ("channels_last", False, (3, 4)), ("channels_last", True, (3, 1, 1, 4)), ("channels_first", False, (3, 5)),
])
def test_global_pooling2d_basic(K, cls, data_format, keepdims, output_shape):
    check_layer(K, cls, dict(data_format=data_format, keepdims=keepdims), (3, 5, 6, 4), output_shape, n_trainable=0)


@pytest.mark.parametrize("cls", ["GlobalMaxPooling2D", "GlobalAveragePooling2D"])
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling2d_correctness(K, cls, data_format, keepdims):
    inputs = np.arange(96, dtype="float32").reshape((2, 3, 4, 4))
    axes = (1, 2) if data_format == "channels_last" else (2, 3)
    reduce = np.max if cls == "GlobalMaxPooling2D" else np.mean
    expected = reduce(inputs, axis=axes, keepdims=keepdims)
    layer = getattr(K.layers, cls)(data_format=data_format, keepdims=keepdims)
    np.testing.assert_allclose(to_numpy(layer(inputs)), expected, rtol=1e-6)


def test_conv_lstm_cell_correctness(K):  # conv_lstm_test.py, ConvLSTMCellTest.test_correctness
    x = np.arange(150).reshape((2, 5, 5, 3)).astype("float32") / 10
    s1 = np.arange(200).reshape((2, 5, 5, 4)).astype("float32") / 10
    s2 = np.arange(200).reshape((2, 5, 5, 4)).astype("float32") / 10
    layer = conv_lstm_module(K).ConvLSTMCell(rank=2, filters=4, kernel_size=3, padding="same",
                                             kernel_initializer=K.initializers.Constant(0.01),
                                             recurrent_initializer=K.initializers.Constant(0.02))
    output = layer(x, [s1, s2])
    np.testing.assert_allclose(np.sum(to_numpy(output[0])), 188.89502, rtol=1e-5)
    np.testing.assert_allclose(np.sum(to_numpy(output[1][0])), 188.89502, rtol=1e-5)
    np.testing.assert_allclose(np.sum(to_numpy(output[1][1])), 2170.444, rtol=1e-5)


def test_conv_lstm_correctness(K):  # conv_lstm_test.py, ConvLSTMTest.test_correctness
    x = np.arange(450).reshape((2, 3, 5, 5, 3)).astype("float32") / 100
    s1 = np.arange(200).reshape((2, 5, 5, 4)).astype("float32") / 100
    s2 = np.arange(200).reshape((2, 5, 5, 4)).astype("float32") / 100
    layer = conv_lstm_module(K).ConvLSTM(rank=2, filters=4, kernel_size=3, padding="same",
                                         kernel_initializer=K.initializers.Constant(0.01),
                                         recurrent_initializer=K.initializers.Constant(0.02))
    output = layer(x, initial_state=[s1, s2])
    np.testing.assert_allclose(np.sum(to_numpy(output)), 119.812454, rtol=1e-5)


@pytest.mark.parametrize("cls,init_kwargs,input_shape,output_shape,call_kwargs", [
    # conv_lstm1d_test.py and conv_lstm2d_test.py, test_basics
    ("ConvLSTM1D", {"filters": 5, "kernel_size": 3, "padding": "same"}, (3, 2, 4, 3), (3, 4, 5), {}),
    ("ConvLSTM1D", {"filters": 5, "kernel_size": 3, "padding": "valid", "recurrent_dropout": 0.5}, (3, 2, 8, 3),
     (3, 6, 5), {"training": True}),
    ("ConvLSTM1D", {"filters": 5, "kernel_size": 3, "padding": "valid", "return_sequences": True}, (3, 2, 8, 3),
     (3, 2, 6, 5), {}),
    ("ConvLSTM2D", {"filters": 5, "kernel_size": 3, "padding": "same"}, (3, 2, 4, 4, 3), (3, 4, 4, 5), {}),
    ("ConvLSTM2D", {"filters": 5, "kernel_size": 3, "padding": "valid", "recurrent_dropout": 0.5}, (3, 2, 8, 8, 3),
     (3, 6, 6, 5), {"training": True}),
    ("ConvLSTM2D", {"filters": 5, "kernel_size": 3, "padding": "valid", "return_sequences": True}, (3, 2, 8, 8, 3),
     (3, 2, 6, 6, 5), {}),
], ids=["1d-same", "1d-recurrent-dropout", "1d-sequences", "2d-same", "2d-recurrent-dropout", "2d-sequences"])
def test_conv_lstm_basics(K, cls, init_kwargs, input_shape, output_shape, call_kwargs):
    check_layer(K, cls, init_kwargs, input_shape, output_shape, n_trainable=3, call_kwargs=call_kwargs)
    layer = getattr(K.layers, cls)(**init_kwargs)
    x = np.ones(input_shape, dtype="float32")
    mask = np.ones(input_shape[:2], dtype=bool)
    mask[0, 1] = False
    assert tuple(layer(x, mask=mask).shape) == output_shape  # supports_masking=True
    assert layer.supports_masking


def test_conv_lstm1d_correctness(K):  # conv_lstm1d_test.py, test_correctness
    sequence = np.arange(120).reshape((2, 3, 4, 5)).astype("float32") / 10
    expected = np.array([[[0.40807986, 0.40807986], [0.46421072, 0.46421072]],
                         [[0.80933154, 0.80933154], [0.8233646, 0.8233646]]])
    layer = K.layers.ConvLSTM1D(filters=2, kernel_size=3, kernel_initializer=K.initializers.Constant(0.01),
                                recurrent_initializer=K.initializers.Constant(0.02),
                                bias_initializer=K.initializers.Constant(0.03))
    np.testing.assert_allclose(to_numpy(layer(sequence)), expected, atol=1e-6)


def test_conv_lstm2d_correctness(K):  # conv_lstm2d_test.py, test_correctness
    sequence = np.arange(480).reshape((2, 3, 4, 4, 5)).astype("float32") / 100
    expected = np.array([[[[0.48694518, 0.48694518], [0.50237733, 0.50237733]],
                          [[0.5461202, 0.5461202], [0.5598283, 0.5598283]]],
                         [[[0.8661607, 0.8661607], [0.86909103, 0.86909103]],
                          [[0.8774414, 0.8774414], [0.8800861, 0.8800861]]]])
    layer = K.layers.ConvLSTM2D(filters=2, kernel_size=3, kernel_initializer=K.initializers.Constant(0.01),
                                recurrent_initializer=K.initializers.Constant(0.02),
                                bias_initializer=K.initializers.Constant(0.03))
    np.testing.assert_allclose(to_numpy(layer(sequence)), expected, atol=1e-6)


@pytest.mark.parametrize("cls", ["ConvLSTM1D", "ConvLSTM2D"])
def test_conv_lstm_symbolic_invalid_strides_dilation_rate(K, cls):  # conv_lstm{1,2}d_test.py
    with pytest.raises(ValueError, match=r"strides > 1.*dilation_rate > 1"):
        getattr(K.layers, cls)(filters=1, kernel_size=1, strides=2, padding="same", dilation_rate=3,
                               return_sequences=True)


# ===== side by side: Keras' weights copied into lstmkit ===========================================================
CONV2D_CASES = [
    {"padding": "valid"}, {"padding": "same"}, {"padding": "same", "strides": 2}, {"padding": "same", "strides": (2, 3)},
    {"padding": "valid", "dilation_rate": (2, 1)}, {"padding": "same", "dilation_rate": 2},
    {"padding": "same", "kernel_size": (2, 4)}, {"padding": "valid", "groups": 2, "activation": "relu"},
    {"padding": "same", "data_format": "channels_first", "strides": 2}, {"padding": "valid", "use_bias": False},
]


@pytest.mark.parametrize("kw", CONV2D_CASES, ids=[str(kw) for kw in CONV2D_CASES])
def test_conv2d_matches_keras(kw):
    kw = {"kernel_size": 3, **kw}
    shape = (3, 4, 9, 8) if kw.get("data_format") == "channels_first" else (3, 9, 8, 4)
    x = np.random.default_rng(5).normal(size=shape).astype("float32")
    klayer, layer = keras.layers.Conv2D(6, **kw), L.Conv2D(6, **kw)
    copy_weights(klayer, layer, x)
    assert_same(layer(torch.from_numpy(x)), klayer(x))
    for s in [shape, (None, *shape[1:])]:
        assert layer.compute_output_shape(s) == tuple(klayer.compute_output_shape(s))


def test_conv2d_weights_copy_both_ways():
    x = np.random.default_rng(6).normal(size=(2, 7, 7, 3)).astype("float32")
    layer, klayer = L.Conv2D(4, (3, 2), padding="same"), keras.layers.Conv2D(4, (3, 2), padding="same")
    layer(torch.from_numpy(x))
    klayer(x)
    klayer.set_weights(layer.get_weights())  # lstmkit -> Keras
    assert_same(klayer(x), layer(torch.from_numpy(x)))
    assert [w.path for w in layer.weights] == [w.path for w in klayer.weights]


POOL_CASES = [
    ("MaxPooling2D", {}), ("MaxPooling2D", {"pool_size": 3, "strides": 2}),
    ("MaxPooling2D", {"pool_size": (3, 2), "padding": "same"}),
    ("MaxPooling2D", {"pool_size": 2, "strides": 1, "padding": "same", "data_format": "channels_first"}),
    ("AveragePooling2D", {"pool_size": 2}), ("AveragePooling2D", {"pool_size": 3, "strides": 1, "padding": "same"}),
    ("AveragePooling2D", {"pool_size": (4, 3), "strides": 1, "padding": "same"}),  # rows pad (1, 2): edges repeated
    ("AveragePooling2D", {"pool_size": 2, "strides": 2, "padding": "same", "data_format": "channels_first"}),
    ("GlobalMaxPooling2D", {}), ("GlobalAveragePooling2D", {"keepdims": True}),
    ("GlobalAveragePooling2D", {"data_format": "channels_first"}),
]


@pytest.mark.parametrize("cls,kw", POOL_CASES, ids=[f"{c}-{kw}" for c, kw in POOL_CASES])
def test_pooling2d_matches_keras(cls, kw):
    x = np.random.default_rng(6).normal(size=(3, 7, 9, 4)).astype("float32")
    layer, klayer = getattr(L, cls)(**kw), getattr(keras.layers, cls)(**kw)
    assert_same(layer(torch.from_numpy(x)), klayer(x))
    assert layer.compute_output_shape((None, 7, 9, 4)) == tuple(klayer.compute_output_shape((None, 7, 9, 4)))


B, T = 3, 4
CONV_LSTM_CASES = [
    ("ConvLSTM2D", {"padding": "same"}),
    ("ConvLSTM2D", {"padding": "valid", "strides": 2}),
    ("ConvLSTM2D", {"padding": "same", "dilation_rate": 2, "kernel_size": (3, 2)}),
    ("ConvLSTM2D", {"padding": "valid", "data_format": "channels_first", "use_bias": False}),
    ("ConvLSTM2D", {"padding": "same", "activation": "relu", "recurrent_activation": "hard_sigmoid",
                    "unit_forget_bias": False, "kernel_size": 2}),
    ("ConvLSTM1D", {"padding": "same"}),
    ("ConvLSTM1D", {"padding": "valid", "strides": 2, "data_format": "channels_first"}),
]


def conv_lstm_input(cls, kw, seed=7):
    first = kw.get("data_format") == "channels_first"
    frame = (5, 6) if cls == "ConvLSTM2D" else (7,)
    shape = (B, T, 3, *frame) if first else (B, T, *frame, 3)
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def masks():
    right = np.ones((B, T), dtype=bool)
    right[1, 2:] = False
    right[2, 1:] = False
    return {"none": None, "right": right, "left": right[:, ::-1].copy()}


@pytest.mark.parametrize("cls,kw", CONV_LSTM_CASES, ids=[f"{c}-{kw}" for c, kw in CONV_LSTM_CASES])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["fwd", "bwd"])
@pytest.mark.parametrize("mask_kind", ["none", "right", "left"])
@pytest.mark.parametrize("return_sequences", [True, False], ids=["seq", "last"])
def test_conv_lstm_matches_keras(cls, kw, go_backwards, mask_kind, return_sequences):
    kw = {"kernel_size": 3, **kw, "go_backwards": go_backwards, "return_sequences": return_sequences,
          "return_state": True}
    x = conv_lstm_input(cls, kw)
    mask = masks()[mask_kind]
    klayer, layer = getattr(keras.layers, cls)(4, **kw), getattr(L, cls)(4, **kw)
    copy_weights(klayer, layer, x)
    call = {} if mask is None else {"mask": mask}
    ours = layer(torch.from_numpy(x), **({} if mask is None else {"mask": torch.from_numpy(mask)}))
    theirs = klayer(x, **call)
    assert_same(ours, theirs)  # output, h, c
    for s in [x.shape, (None, *x.shape[1:])]:
        assert layer.compute_output_shape(s) == tuple(tuple(t) for t in klayer.compute_output_shape(s))


def test_conv_lstm_gradients_match_keras():
    """Forward and every gradient (input, kernel, recurrent_kernel, bias) for random upstream gradients."""
    kw = {"kernel_size": 3, "padding": "same", "return_sequences": True, "return_state": True}
    x = conv_lstm_input("ConvLSTM2D", kw)
    klayer, layer = keras.layers.ConvLSTM2D(4, **kw), L.ConvLSTM2D(4, **kw)
    copy_weights(klayer, layer, x)
    rng = np.random.default_rng(8)
    upstream = [torch.from_numpy(rng.normal(size=s).astype("float32")) for s in [(B, T, 5, 6, 4), *[(B, 5, 6, 4)] * 2]]
    grads = []
    for lay, weights in ((klayer, [w.value for w in klayer.weights]), (layer, [w.value for w in layer.weights])):
        xt = torch.from_numpy(x).requires_grad_(True)
        loss = sum((o * u).sum() for o, u in zip(lay(xt), upstream))
        grads.append(torch.autograd.grad(loss, [xt, *weights]))
    assert len(grads[1]) == 4  # input, kernel, recurrent_kernel, bias
    assert_same(grads[1], grads[0], tol={"atol": 1e-4, "rtol": 1e-4})


def test_conv_lstm_initial_state_matches_keras():
    kw = {"kernel_size": 3, "padding": "valid", "return_state": True}
    x = conv_lstm_input("ConvLSTM2D", kw)
    klayer, layer = keras.layers.ConvLSTM2D(4, **kw), L.ConvLSTM2D(4, **kw)
    copy_weights(klayer, layer, x)
    rng = np.random.default_rng(9)
    h0, c0 = (rng.normal(size=(B, 3, 4, 4)).astype("float32") for _ in range(2))
    assert_same(layer(torch.from_numpy(x), initial_state=[torch.from_numpy(h0), torch.from_numpy(c0)]),
                klayer(x, initial_state=[h0, c0]))


def test_stateful_conv_lstm_carries_states_like_keras():
    kw = {"kernel_size": 3, "padding": "same", "stateful": True}
    x1, x2 = conv_lstm_input("ConvLSTM2D", kw, 10), conv_lstm_input("ConvLSTM2D", kw, 11)
    klayer, layer = keras.layers.ConvLSTM2D(4, **kw), L.ConvLSTM2D(4, **kw)
    copy_weights(klayer, layer, x1)
    klayer.reset_state()
    layer.reset_state()
    for x in (x1, x2):  # the second batch starts from the first one's final states
        assert_same(layer(torch.from_numpy(x)), klayer(x))
    fresh = L.ConvLSTM2D(4, kernel_size=3, padding="same")
    fresh(torch.from_numpy(x2))
    fresh.set_weights(layer.get_weights())
    assert not torch.allclose(layer(torch.from_numpy(x2)), fresh(torch.from_numpy(x2)))
    layer.reset_state()
    torch.testing.assert_close(layer(torch.from_numpy(x2)), fresh(torch.from_numpy(x2)))
    model = lk.Sequential([lk.Input(batch_shape=x1.shape), L.ConvLSTM2D(4, **kw)])
    model.predict(x1, verbose=0)
    assert model.layers[0].states[0].abs().sum() > 0
    model.reset_states()  # an RNN: Model.reset_states() reaches it
    assert model.layers[0].states[0].abs().sum() == 0
    with pytest.raises(ValueError, match=r"conv_lstm2d.*stateful with batch size 3 but got a batch of 2"):
        layer(torch.from_numpy(x1[:2]))


@pytest.mark.parametrize("cls,kw", [
    ("ConvLSTM2D", {"filters": 3, "kernel_size": (3, 2), "strides": (1, 2), "padding": "same",
                    "data_format": "channels_first", "dilation_rate": 1, "activation": "relu",
                    "recurrent_activation": "hard_sigmoid", "unit_forget_bias": False, "dropout": 0.25,
                    "recurrent_dropout": 0.5, "seed": 4, "return_sequences": True, "go_backwards": True,
                    "kernel_regularizer": "l2", "recurrent_constraint": "non_neg", "use_bias": False}),
    ("ConvLSTM1D", {"filters": 2, "kernel_size": 3, "return_state": True, "stateful": True}),
    ("Conv2D", {"filters": 4, "kernel_size": 3, "strides": 2, "padding": "same", "groups": 2, "activation": "relu",
                "bias_regularizer": "l1", "kernel_constraint": "max_norm"}),
    ("MaxPooling2D", {"pool_size": 3, "padding": "same", "data_format": "channels_first"}),
    ("AveragePooling2D", {"pool_size": (2, 3), "strides": 1}),
    ("GlobalMaxPooling2D", {"keepdims": True}), ("GlobalAveragePooling2D", {"data_format": "channels_first"}),
], ids=lambda v: v if isinstance(v, str) else "")
def test_configs_match_keras_and_round_trip(cls, kw):
    ours, theirs = getattr(L, cls)(**kw, name="x").get_config(), getattr(keras.layers, cls)(**kw, name="x").get_config()
    theirs.pop("dtype")  # Keras' dtype policy; lstmkit layers are float32

    def comparable(config):
        """Tuples as lists, serialized objects as (class name, their non-None options, floats as float32): lstmkit
        writes {"class_name", "config"}, Keras adds "module" and "registered_name" (and keeps L1(0.01) in float32)."""
        out = {}
        for key, v in config.items():
            if isinstance(v, dict) and "class_name" in v:
                v = (v["class_name"], {a: np.float32(b) if isinstance(b, float) else b for a, b in v["config"].items()
                                       if b is not None})
            out[key] = list(v) if isinstance(v, tuple) else v
        return out

    assert comparable(ours) == comparable(theirs)
    layer = getattr(L, cls)(**kw, name="x")
    assert getattr(L, cls).from_config(layer.get_config()).get_config() == layer.get_config()


def test_conv_lstm_dropout_masks_are_drawn_once_per_batch():
    """Frames alike at every step, no recurrent kernel and a closed forget gate make every step's output the
    same function of the input masks: equal steps mean masks shared by the steps; another call draws new ones."""
    layer = L.ConvLSTM2D(3, 3, padding="same", dropout=0.5, return_sequences=True, seed=3)
    x = torch.from_numpy(np.repeat(conv_lstm_input("ConvLSTM2D", {})[:, :1], T, axis=1))
    layer(x)
    kernel, recurrent, bias = layer.get_weights()
    bias[3:6] = -50.0  # f = sigmoid(-50) = 0: c_t = i * tanh(z_c), no memory of the step before
    layer.set_weights([kernel, np.zeros_like(recurrent), bias])
    plain = layer(x)
    out = layer(x, training=True)
    assert not torch.allclose(out, plain)
    for t in range(1, T):
        torch.testing.assert_close(out[:, t], out[:, 0])
    assert not torch.allclose(layer(x, training=True), out)  # new masks for a new batch
    torch.testing.assert_close(layer(x, training=False), plain)  # no dropout at inference
    twin = L.ConvLSTM2D(3, 3, padding="same", dropout=0.5, return_sequences=True, seed=3)
    twin(x)
    twin.set_weights(layer.get_weights())
    first = L.ConvLSTM2D(3, 3, padding="same", dropout=0.5, return_sequences=True, seed=3)
    first(x)
    first.set_weights(layer.get_weights())
    torch.testing.assert_close(twin(x, training=True), first(x, training=True))  # the seed fixes the masks


def test_conv_lstm_recurrent_dropout_masks_are_drawn_once_per_batch():
    """Four state masks (one per gate), drawn once: the masked recurrent convolution equals four convolutions of
    the state times fixed masks, so a step by hand with the layer's masks reproduces the layer."""
    layer = L.ConvLSTM1D(2, 3, padding="same", recurrent_dropout=0.5, return_sequences=True, seed=5)
    x = torch.from_numpy(conv_lstm_input("ConvLSTM1D", {}))
    layer(x)
    randomize(layer)
    out = layer(x, training=True)
    cell = layer.cell
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(5)
    keep = torch.rand((B, 8, 7), generator=gen) >= 0.5  # (B, 4F, steps'): the layer's draw, from its seed
    rec = keep.float() / 0.5
    h = c = torch.zeros(B, 2, 7)
    zx = cell.input_conv(x.flatten(0, 1).movedim(-1, 1)).unflatten(0, (B, T))
    expected = []
    for t in range(T):
        parts = [cell.recurrent_conv(h * rec[:, 2 * g:2 * g + 2])[:, 2 * g:2 * g + 2] for g in range(4)]
        h, c = cell.gates(zx[:, t] + torch.cat(parts, 1), c)
        expected.append(h.movedim(1, -1))
    torch.testing.assert_close(out, torch.stack(expected, 1), **KERAS_TOL)


def test_a_conv_lstm2d_model_trains():
    rng = np.random.default_rng(12)
    x = rng.normal(size=(32, 3, 6, 6, 1)).astype("float32")
    y = (x[:, :, :3].mean(axis=(1, 2, 3, 4)) > x[:, :, 3:].mean(axis=(1, 2, 3, 4))).astype("float32")[:, None]
    model = lk.Sequential([lk.Input((3, 6, 6, 1)), L.ConvLSTM2D(4, 3, padding="same", return_sequences=True),
                           L.ConvLSTM2D(4, 3), L.MaxPooling2D(), L.Conv2D(4, 2, activation="relu"),
                           L.GlobalAveragePooling2D(), L.Dense(1, activation="sigmoid")])
    model.compile(optimizer=lk.optimizers.Adam(0.02), loss="binary_crossentropy")
    history = model.fit(x, y, epochs=8, batch_size=8, verbose=0).history["loss"]
    assert history[-1] < 0.8 * history[0], history


def test_a_model_with_the_new_layers_saves_and_loads(tmp_path):
    model = lk.Sequential([lk.Input((2, 6, 6, 2)), L.ConvLSTM2D(3, 3, padding="same"), L.Conv2D(2, 2),
                           L.AveragePooling2D(2, padding="same"), L.GlobalMaxPooling2D()])
    x = np.random.default_rng(13).normal(size=(2, 2, 6, 6, 2)).astype("float32")
    model.save(tmp_path / "m.keras")
    loaded = lk.models.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


@pytest.mark.parametrize("make,x,message", [
    (lambda: L.Conv2D(2, 3), np.zeros((2, 5, 5), "float32"), r"Layer 'conv2d.*' \(Conv2D\).*\(batch, rows, cols, "
                                                              r"channels\), got \(2, 5, 5\)"),
    (lambda: L.ConvLSTM2D(2, 3), np.zeros((2, 3, 5, 5), "float32"),
     r"\(ConvLSTM2D\): expects inputs of shape \(batch, time, rows, cols, channels\), got \(2, 3, 5, 5\)"),
    (lambda: L.ConvLSTM1D(2, 3, data_format="channels_first"), np.zeros((2, 3, 5), "float32"),
     r"\(ConvLSTM1D\): expects inputs of shape \(batch, time, channels, steps\)"),
    (lambda: L.ConvLSTM2D(2, 5), np.zeros((2, 3, 4, 4, 1), "float32"), r"\(ConvLSTM2D\).*smaller than the kernel"),
    (lambda: L.MaxPooling2D(3), np.zeros((2, 2, 2, 1), "float32"), r"\(MaxPooling2D\).*smaller than pool_size"),
], ids=["conv2d-rank", "conv-lstm2d-rank", "conv-lstm1d-rank", "conv-lstm-kernel", "pool-size"])
def test_wrong_inputs_are_named_errors(make, x, message):
    with pytest.raises(ValueError, match=message):
        make()(torch.from_numpy(x))


def test_a_channel_mismatch_after_building_is_a_named_error():
    conv, lstm = L.Conv2D(2, 3), L.ConvLSTM2D(2, 3)
    conv(torch.zeros(1, 5, 5, 3))
    lstm(torch.zeros(1, 2, 5, 5, 3))
    with pytest.raises(ValueError, match=r"\(Conv2D\): was built for 3 channels, got an input of shape \(1, 5, 5, 4\)"):
        conv(torch.zeros(1, 5, 5, 4))
    with pytest.raises(ValueError, match=r"\(ConvLSTM2D\): was built for frames of \(3, 5, 5\).*\(1, 2, 5, 5, 4\)"):
        lstm(torch.zeros(1, 2, 5, 5, 4))
    with pytest.raises(ValueError, match=r"ConvLSTM2D: dropout must be in \[0, 1\)"):
        L.ConvLSTM2D(2, 3, dropout=1.0)
