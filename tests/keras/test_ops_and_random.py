"""keras.ops and keras.random, run on Keras itself (torch backend) and on lstmkit.keras with the same
expected numbers (from NumPy or written out): values, axis/keepdims, Keras' dtype promotion,
Variables as inputs with gradients reaching them, control flow, a user's cell built from ops that
trains inside RNN, and the random ops' determinism, shapes, dtypes and distributions. lstmkit's error
messages and its equality with Keras' random numbers on the CPU are checked on lstmkit alone."""

import numpy as np
import pytest
import torch

import lstmkit.keras as lk
from tests.keras.conftest import to_numpy
from tests.tolerances import KERAS_TOL

X = np.arange(24, dtype="float32").reshape(2, 3, 4) / 4 - 2.5  # values in [-2.5, 3.25], no ties on any axis
M = np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]], dtype="float32")


def close(got, expected, **tol):
    np.testing.assert_allclose(to_numpy(got), np.asarray(expected), **(tol or {"rtol": 1e-6, "atol": 1e-6}))


def dense_kernel(K, values):
    layer = K.layers.Dense(values.shape[1], use_bias=False)
    layer.build((None, values.shape[0]))
    layer.kernel.assign(values)
    return layer.kernel


def test_ops_is_a_module_of_the_package():
    from lstmkit.keras import ops, random

    assert lk.ops is ops and lk.random is random
    assert ops.nn.softmax is ops.softmax


# ----- values against NumPy
ELEMENTWISE = [
    ("add", (M, 2.0), M + 2), ("subtract", (M, M[::-1]), M - M[::-1]), ("multiply", (M, M), M * M),
    ("divide", (M, 2.0), M / 2), ("true_divide", (M, 4.0), M / 4), ("negative", (M,), -M), ("square", (M,), M * M),
    ("sqrt", (np.abs(M),), np.sqrt(np.abs(M))), ("exp", (M,), np.exp(M)), ("log", (np.abs(M),), np.log(np.abs(M))),
    ("log1p", (np.abs(M),), np.log1p(np.abs(M))), ("abs", (M,), np.abs(M)), ("power", (np.abs(M), 1.5), np.abs(M) ** 1.5),
    ("maximum", (M, 0.75), np.maximum(M, 0.75)), ("minimum", (M, M[::-1]), np.minimum(M, M[::-1])),
    ("clip", (M, -1.0, 2.0), np.clip(M, -1, 2)), ("tanh", (M,), np.tanh(M)), ("sign", (M,), np.sign(M)),
    ("round", (np.array([0.5, 1.5, 2.5, -0.5, 1.4]),), [0.0, 2.0, 2.0, -0.0, 1.0]),  # half to even
    ("floor", (M / 3,), np.floor(M / 3)), ("ceil", (M / 3,), np.ceil(M / 3)),
    ("floor_divide", (M, 2.0), np.floor_divide(M, 2)), ("mod", (M, 2.0), np.mod(M, 2)),
    ("sigmoid", (M,), 1 / (1 + np.exp(-M))), ("relu", (M,), np.maximum(M, 0)),
    ("softplus", (M,), np.log1p(np.exp(M))), ("silu", (M,), M / (1 + np.exp(-M))),
    ("leaky_relu", (M,), np.where(M > 0, M, 0.2 * M)),  # Keras' slope, not torch's 0.01
    ("relu6", (M * 3,), np.clip(M * 3, 0, 6)), ("elu", (M,), np.where(M > 0, M, np.exp(M) - 1)),
    ("softsign", (M,), M / (1 + np.abs(M))), ("hard_sigmoid", (M,), np.clip(M / 6 + 0.5, 0, 1)),
    ("gelu", (M,), 0.5 * M * (1 + np.tanh(np.sqrt(2 / np.pi) * (M + 0.044715 * M ** 3)))),  # approximate=True default
]


@pytest.mark.parametrize("name, args, expected", ELEMENTWISE, ids=[c[0] for c in ELEMENTWISE])
def test_elementwise_values_equal_numpy(K, name, args, expected):
    close(getattr(K.ops, name)(*args), expected, rtol=1e-5, atol=1e-6)


def test_gelu_exact_and_comparisons(K):
    from math import erf

    close(K.ops.gelu(M, approximate=False), [[0.5 * v * (1 + erf(v / np.sqrt(2))) for v in row] for row in M],
          rtol=1e-5, atol=1e-6)
    a, b = np.array([1, 2, 3]), np.array([3, 2, 1])
    for name, fn in [("equal", np.equal), ("not_equal", np.not_equal), ("greater", np.greater), ("less", np.less),
                     ("greater_equal", np.greater_equal), ("less_equal", np.less_equal)]:
        got = getattr(K.ops, name)(a, b)
        assert K.ops.dtype(got) == "bool"
        np.testing.assert_array_equal(to_numpy(got), fn(a, b))
    t, f = np.array([True, True, False]), np.array([True, False, False])
    np.testing.assert_array_equal(to_numpy(K.ops.logical_and(t, f)), [True, False, False])
    np.testing.assert_array_equal(to_numpy(K.ops.logical_or(t, f)), [True, True, False])
    np.testing.assert_array_equal(to_numpy(K.ops.logical_not(t)), [False, False, True])
    np.testing.assert_array_equal(to_numpy(K.ops.isnan(np.array([1.0, np.nan, np.inf]))), [False, True, False])
    np.testing.assert_array_equal(to_numpy(K.ops.isfinite(np.array([1.0, np.nan, np.inf]))), [True, False, False])


REDUCTIONS = ["sum", "mean", "max", "min", "prod", "std", "var", "all", "any"]
AXES = [None, 0, -1, 1, (0, 2), (-1, 0)]


@pytest.mark.parametrize("keepdims", [False, True], ids=["drop", "keep"])
@pytest.mark.parametrize("axis", AXES, ids=[f"axis{a}" for a in AXES])
@pytest.mark.parametrize("name", REDUCTIONS)
def test_reductions_over_axes_equal_numpy(K, name, axis, keepdims):
    if K.__name__ == "keras" and axis is None and keepdims and name in ("sum", "max", "min", "prod"):
        pytest.skip("Keras 3.15 on torch drops keepdims when axis=None here (NumPy and lstmkit keep (1, 1, 1))")
    x = X / 2 if name == "prod" else X
    got = getattr(K.ops, name)(x, axis=axis, keepdims=keepdims)
    expected = getattr(np, name)(x, axis=axis, keepdims=keepdims)
    assert tuple(got.shape) == expected.shape
    close(got, expected, rtol=1e-5, atol=1e-5)


def test_arg_cumulative_sort_and_top_k(K):
    x = X.reshape(6, 4)[[3, 0, 5, 1, 4, 2]]
    for name in ("argmax", "argmin"):
        for axis in (None, 0, 1, -1):
            got = getattr(K.ops, name)(x, axis=axis)
            assert K.ops.dtype(got) == "int32"
            np.testing.assert_array_equal(to_numpy(got), getattr(np, name)(x, axis=axis))
    close(K.ops.cumsum(x, axis=1), np.cumsum(x, axis=1))
    close(K.ops.cumsum(x), np.cumsum(x))  # axis None: flattened
    close(K.ops.cumprod(x / 2, axis=0), np.cumprod(x / 2, axis=0), rtol=1e-5)
    close(K.ops.sort(x, axis=0), np.sort(x, axis=0))
    np.testing.assert_array_equal(to_numpy(K.ops.argsort(x, axis=-1)), np.argsort(x, axis=-1))
    values, indices = K.ops.top_k(np.array([[0.0, 5.0, 2.0, 7.0], [1.0, -1.0, 3.0, 0.0]]), 2)
    close(values, [[7.0, 5.0], [3.0, 1.0]])
    np.testing.assert_array_equal(to_numpy(indices), [[3, 1], [2, 0]])
    close(K.ops.logsumexp(M, axis=1), np.log(np.exp(M).sum(axis=1)), rtol=1e-5)


# ----- making and reshaping arrays
def test_shapes_and_reshaping(K):
    ops = K.ops
    assert ops.shape(X) == (2, 3, 4) and isinstance(ops.shape(torch.zeros(2, 3)), tuple)
    assert ops.ndim(X) == 3 and int(ops.size(X)) == 24
    assert tuple(ops.reshape(X, (4, -1)).shape) == (4, 6)
    close(ops.transpose(X), X.T)
    close(ops.transpose(X, (1, 0, 2)), X.transpose(1, 0, 2))
    assert tuple(ops.expand_dims(M, 0).shape) == (1, 2, 3) and tuple(ops.expand_dims(M, -1).shape) == (2, 3, 1)
    assert tuple(ops.expand_dims(M, (0, 2)).shape) == (1, 2, 1, 3)
    assert tuple(ops.squeeze(np.zeros((1, 3, 1))).shape) == (3,)
    assert tuple(ops.squeeze(np.zeros((1, 3, 1)), axis=-1).shape) == (1, 3)
    close(ops.concatenate([M, M * 2], axis=-1), np.concatenate([M, M * 2], axis=-1))
    close(ops.concatenate([M, M], axis=0), np.concatenate([M, M]))
    close(ops.stack([M, -M], axis=1), np.stack([M, -M], axis=1))
    parts = ops.split(X, 2, axis=-1)
    assert len(parts) == 2 and all(tuple(p.shape) == (2, 3, 2) for p in parts)
    close(parts[1], X[..., 2:])
    cut = ops.split(np.arange(6), [2, 5])
    assert [to_numpy(c).tolist() for c in cut] == [[0, 1], [2, 3, 4], [5]]
    close(ops.tile(M, (2, 1)), np.tile(M, (2, 1)))
    close(ops.repeat(M, 2, axis=1), np.repeat(M, 2, axis=1))
    close(ops.repeat(M, 2), np.repeat(M, 2))
    close(ops.flip(M, axis=1), M[:, ::-1])
    close(ops.flip(M), M[::-1, ::-1])
    close(ops.pad(M, ((1, 0), (0, 2))), np.pad(M, ((1, 0), (0, 2))))
    close(ops.pad(M, ((0, 0), (1, 1)), constant_values=9.0), np.pad(M, ((0, 0), (1, 1)), constant_values=9))
    close(ops.slice(X, (1, 0, 1), (1, 2, 3)), X[1:2, 0:2, 1:4])


def test_indexing_where_and_one_hot(K):
    ops = K.ops
    close(ops.take(M, np.array([2, 0, -1]), axis=1), np.take(M, [2, 0, -1], axis=1))
    close(ops.take(M, np.array([[0, 1], [1, 0]]), axis=0), np.take(M, [[0, 1], [1, 0]], axis=0))
    close(ops.take(M, np.array([4, 1])), np.take(M, [4, 1]))  # flattened
    idx = np.argsort(M, axis=1)
    close(ops.take_along_axis(M, idx, axis=1), np.take_along_axis(M, idx, axis=1))
    close(ops.where(M > 0, M, 0.0), np.where(M > 0, M, 0))
    np.testing.assert_array_equal(to_numpy(ops.where(M > 0)), np.stack(np.nonzero(M > 0)))  # (ndim, count) on torch
    hot = ops.one_hot(np.array([0, 2, -1]), 3)
    assert ops.dtype(hot) == "float32"
    close(hot, [[1, 0, 0], [0, 0, 1], [0, 0, 0]])  # a negative index is a zero row
    close(ops.one_hot(np.array([1, 0]), 3, axis=0), [[0, 1], [1, 0], [0, 0]])
    close(ops.multi_hot(np.array([[0, 2], [1, 1]]), 4), [[1, 0, 1, 0], [0, 1, 0, 0]])


def test_new_arrays(K):
    ops = K.ops
    assert tuple(ops.zeros((2, 3)).shape) == (2, 3) and ops.dtype(ops.ones(4)) == "float32"
    close(ops.full((2, 2), 7), np.full((2, 2), 7.0))
    close(ops.eye(3, 4, k=1), np.eye(3, 4, k=1))
    close(ops.arange(1, 7, 2), [1, 3, 5])
    close(ops.zeros_like(M), np.zeros_like(M))
    close(ops.ones_like(M, dtype="int32"), np.ones((2, 3)))
    close(ops.linspace(0.0, 1.0, 5), np.linspace(0, 1, 5))
    close(ops.tril(np.ones((3, 3))), np.tril(np.ones((3, 3))))


def test_products_and_norms(K):
    ops = K.ops
    a, b = X.reshape(2, 3, 4), X.reshape(2, 4, 3)
    close(ops.matmul(a, b), a @ b, rtol=1e-5, atol=1e-5)
    close(ops.matmul(a, M[0, :2].repeat(2)), a @ M[0, :2].repeat(2), rtol=1e-5)  # matrix @ vector
    close(ops.matmul(a, b[0]), a @ b[0], rtol=1e-5)  # batch axes broadcast
    close(ops.dot(M, M.T), M @ M.T)
    close(ops.dot(2.0, M), 2 * M)
    close(ops.einsum("bij,bjk->bik", a, b), np.einsum("bij,bjk->bik", a, b), rtol=1e-5, atol=1e-5)
    close(ops.einsum("ij->j", M), M.sum(0))
    close(ops.tensordot(a, b, axes=([2], [1])), np.tensordot(a, b, axes=([2], [1])), rtol=1e-5, atol=1e-5)
    close(ops.norm(M[0]), np.linalg.norm(M[0]))
    close(ops.norm(M), np.linalg.norm(M))  # Frobenius
    close(ops.norm(M, axis=1, keepdims=True), np.linalg.norm(M, axis=1, keepdims=True), rtol=1e-6)
    close(ops.norm(M, ord=1, axis=-1), np.abs(M).sum(-1))


def test_softmax_over_axes(K):
    def np_softmax(x, axis):
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    for axis in (-1, 0, 1, (0, 2)):
        close(K.ops.softmax(X, axis=axis), np_softmax(X, axis), rtol=1e-5, atol=1e-7)
        close(K.ops.log_softmax(X, axis=axis), np.log(np_softmax(X, axis)), rtol=1e-5, atol=1e-5)
    close(K.ops.softmax(M, axis=None), np_softmax(M, None), rtol=1e-5, atol=1e-7)  # every element together


# ----- dtypes as Keras promotes them
I32, I8, F16, F64 = (np.array([1, 2], d) for d in ("int32", "int8", "float16", "float64"))
DTYPES = [
    ("convert_to_tensor", (np.zeros(2),), "float64"),  # a NumPy float64 array stays float64
    ("convert_to_tensor", ([1.0, 2.0],), "float32"), ("convert_to_tensor", ([1, 2],), "int32"),
    ("convert_to_tensor", (1.5,), "float32"), ("convert_to_tensor", (3,), "int32"),
    ("convert_to_tensor", (True,), "bool"), ("convert_to_tensor", (np.zeros(2, "int64"),), "int64"),
    ("add", (I32, 1.5), "float32"), ("add", (I32, 1), "int32"), ("add", (I8, 1), "int8"),
    ("add", (F16, 1.5), "float16"), ("add", (F64, np.ones(2, "float32")), "float64"),
    ("add", (I8, F16), "float16"), ("add", (1, 2), "int32"), ("add", (1.0, 2), "float32"),
    ("multiply", (I32, 2.0), "float32"), ("divide", (I32, 2), "float32"), ("divide", (np.array([1, 2]), 2), "float32"),
    ("power", (I32, 2), "int32"), ("power", (I32, 2.0), "float32"), ("maximum", (I32, 1.5), "float32"),
    ("maximum", (I8, 1), "int8"), ("minimum", (F16, 2.0), "float16"),
    ("sqrt", (I32,), "float32"), ("exp", (np.array([1]),), "float32"), ("tanh", (I32,), "float32"),
    ("log", (I32,), "float32"), ("floor", (I32,), "float32"), ("round", (I32,), "int32"), ("abs", (I32,), "int32"),
    ("mean", (I32,), "float32"), ("sum", (I32,), "int32"), ("sum", (np.array([True, False]),), "int32"),
    ("sum", (I8,), "int32"), ("sum", (F16,), "float16"), ("prod", (I8,), "int32"), ("max", (I32,), "int32"),
    ("std", (I32,), "float32"), ("var", (F64,), "float32"),  # Keras' var is 32-bit ("cumsum", (np.array([True, False]),), "int32"),
    ("argmax", (F64,), "int32"), ("norm", (I32,), "float32"), ("matmul", (I8, I8), "int32"),
    ("matmul", (I32.astype("float32"), np.ones(2, "float64")), "float32"), ("where", (np.array([True, False]), 1, 0.5), "float32"),
    ("arange", (5,), "int32"), ("arange", (0.0, 5), "float32"), ("arange", (0, 5, 0.5), "float32"),
    ("full", ((2,), 3), "float32"), ("zeros", ((2,),), "float32"), ("eye", (2,), "float32"),
    ("one_hot", (np.array([0, 1]), 2), "float32"), ("softmax", (F64,), "float64"),
    ("equal", (I32, 1.0), "bool"), ("cast", (M, "int32"), "int32"), ("cast", (I32, "float16"), "float16"),
]


@pytest.mark.parametrize("name, args, dtype", DTYPES, ids=[f"{c[0]}-{i}" for i, c in enumerate(DTYPES)])
def test_dtypes_follow_keras(K, name, args, dtype):
    assert K.ops.dtype(getattr(K.ops, name)(*args)) == dtype


def test_cast_and_convert_to_numpy(K):
    np.testing.assert_array_equal(to_numpy(K.ops.cast(np.array([1.7, -1.7]), "int32")), [1, -1])  # truncates
    out = K.ops.convert_to_numpy(K.ops.add(torch.ones(2, requires_grad=True), 1.0))
    assert isinstance(out, np.ndarray) and out.tolist() == [2.0, 2.0]


# ----- Variables are tensors to every op, and gradients reach them
def test_variables_go_into_ops_and_gradients_reach_them(K):
    w = np.array([[1.0, -1.0], [0.5, 2.0], [0.0, 1.0]], "float32")
    kernel = dense_kernel(K, w)
    x = torch.tensor([[1.0, 2.0, 3.0]])
    close(K.ops.matmul(x, kernel), x.numpy() @ w)
    close(K.ops.add(kernel, 1), w + 1)
    close(K.ops.sum(kernel, axis=0), w.sum(0))
    close(K.ops.transpose(kernel), w.T)
    close(K.ops.concatenate([kernel, kernel], axis=1), np.concatenate([w, w], 1))
    assert K.ops.shape(kernel) == (3, 2) and K.ops.dtype(kernel) == "float32"
    loss = K.ops.sum(K.ops.square(K.ops.tanh(K.ops.matmul(x, kernel))))
    loss.backward()
    y = np.tanh(x.numpy() @ w)
    expected = x.numpy().T @ (2 * y * (1 - y ** 2))  # d/dW sum(tanh(xW)²)
    close(kernel.value.grad, expected, rtol=1e-5, atol=1e-6)
    frozen = K.ops.sum(K.ops.stop_gradient(kernel) * 3.0)
    assert not frozen.requires_grad


# ----- control flow
def test_control_flow(K):
    ops = K.ops
    assert float(ops.cond(ops.greater(2.0, 1.0), lambda: ops.ones(()), lambda: ops.zeros(()))) == 1.0

    def cumulative(carry, x):
        carry = carry + x
        return carry, carry

    last, ys = ops.scan(cumulative, ops.zeros(()), np.array([1.0, 2.0, 3.0], "float32"))
    assert float(last) == 6.0
    close(ys, [1.0, 3.0, 6.0])
    last, ys = ops.scan(cumulative, ops.zeros(()), np.array([1.0, 2.0, 3.0], "float32"), reverse=True)
    close(ys, [6.0, 5.0, 3.0])
    assert float(ops.fori_loop(0, 4, lambda i, v: v + i, ops.zeros(()))) == 6.0
    i, total = ops.while_loop(lambda i, t: i < 5, lambda i, t: (i + 1, t + i), (0, 0))
    assert int(i) == 5 and int(total) == 10
    assert int(ops.while_loop(lambda i: i < 100, lambda i: i + 1, 0, maximum_iterations=7)) == 7


# ----- a user's cell written with ops trains inside RNN
def ops_cell(K):
    class OpsCell(K.layers.Layer):
        """An Elman cell written with keras.ops only: h = tanh(x W + h_prev R + b)."""

        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.state_size = units

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform",
                                          name="kernel")
            self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="orthogonal",
                                                    name="recurrent_kernel")
            self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

        def call(self, inputs, states):
            h_prev = states[0] if isinstance(states, (list, tuple)) else states
            z = K.ops.add(K.ops.matmul(inputs, self.kernel), K.ops.matmul(h_prev, self.recurrent_kernel))
            h = K.ops.tanh(K.ops.add(z, self.bias))
            return h, [h]

    return OpsCell


def test_a_cell_written_with_ops_trains_inside_rnn(K):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 8, 1)).astype("float32")
    y = (x.sum(axis=(1, 2)) > 0).astype("float32")
    K.utils.set_random_seed(0)
    model = K.Sequential([K.Input((8, 1)), K.layers.RNN(ops_cell(K)(8)), K.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=K.optimizers.Adam(0.02), loss="binary_crossentropy", metrics=["accuracy"])
    before = model.evaluate(x, y, verbose=0)[0]
    kernel_before = model.layers[0].cell.kernel.numpy()
    model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    after, acc = model.evaluate(x, y, verbose=0)
    assert after < 0.6 * before and acc > 0.85, (before, after, acc)
    assert np.abs(model.layers[0].cell.kernel.numpy() - kernel_before).max() > 1e-3  # the cell's weights learnt


def test_gradients_reach_every_weight_of_an_ops_cell(K):
    layer = K.layers.RNN(ops_cell(K)(3))
    out = layer(np.random.default_rng(1).normal(size=(2, 4, 5)).astype("float32"))
    K.ops.sum(K.ops.square(out)).backward()
    for v in layer.trainable_weights:
        assert v.value.grad is not None and float(v.value.grad.abs().sum()) > 0, v.path


# ----- bad input
def test_bad_input_is_refused_on_both(K):
    for call in (lambda: K.ops.matmul(np.ones((2, 3)), np.ones((4, 5))), lambda: K.ops.sum(M, axis=2),
                 lambda: K.ops.reshape(M, (4, 2)), lambda: K.ops.concatenate([M, np.ones((2, 4))], axis=0),
                 lambda: K.ops.split(M, 2, axis=1), lambda: K.ops.add(np.ones((2, 3)), np.ones((4,)))):
        with pytest.raises((ValueError, RuntimeError, IndexError)):
            call()


ERRORS = [
    (lambda: lk.ops.matmul(np.ones((2, 3)), np.ones((4, 5))),
     r"ops\.matmul: the last axis of x1 \(shape \(2, 3\)\) must match its second-to-last axis of x2 \(shape \(4, 5\)\), got 3 and 4"),
    (lambda: lk.ops.matmul(np.ones((2, 3)), np.ones(4)), r"ops\.matmul: .*its only axis of x2 \(shape \(4,\)\)"),
    (lambda: lk.ops.matmul(np.ones((2, 2, 3)), np.ones((3, 3, 4))), r"ops\.matmul: the batch axes of shapes \(2, 2, 3\) and \(3, 3, 4\) do not broadcast"),
    (lambda: lk.ops.dot(np.ones((2, 3)), np.ones((2, 3))), r"ops\.dot: the last axis of x1"),
    (lambda: lk.ops.sum(M, axis=2), r"ops\.sum: axis 2 is out of range for an input of shape \(2, 3\): expected an axis in \[-2, 1\]"),
    (lambda: lk.ops.mean(M, axis=(0, -2)), r"ops\.mean: axis \(0, -2\) names a dimension twice"),
    (lambda: lk.ops.argmax(M, axis=-3), r"ops\.argmax: axis -3 is out of range"),
    (lambda: lk.ops.softmax(M, axis=5), r"ops\.softmax: axis 5 is out of range"),
    (lambda: lk.ops.expand_dims(M, 4), r"ops\.expand_dims: axis 4 is out of range for 3 dimensions"),
    (lambda: lk.ops.squeeze(M, axis=0), r"ops\.squeeze: can only squeeze axes of size 1, but axis 0 .* has size 2"),
    (lambda: lk.ops.reshape(M, (4, 2)), r"ops\.reshape: cannot reshape an input of shape \(2, 3\) \(6 elements\) to \(4, 2\)"),
    (lambda: lk.ops.concatenate([M, np.ones((2, 4))], axis=0), r"ops\.concatenate: needs inputs of the same shape except on axis 0, got input 0 of shape \(2, 3\) and input 1 of shape \(2, 4\)"),
    (lambda: lk.ops.stack([M, M.T]), r"ops\.stack: needs inputs of the same shape"),
    (lambda: lk.ops.split(M, 2, axis=1), r"ops\.split: 2 sections do not divide axis 1 .* size 3"),
    (lambda: lk.ops.add(np.ones((2, 3)), np.ones(4)), r"ops\.add: the inputs' shapes \(2, 3\) and \(4,\) do not broadcast"),
    (lambda: lk.ops.where(M > 0, np.ones(4), 0.0), r"ops\.where: condition, x1 and x2 of shapes \(2, 3\), \(4,\) and \(\) do not broadcast"),
    (lambda: lk.ops.take(M, np.array([3]), axis=1), r"ops\.take: indices must be in \[-3, 3\) .* got indices from 3 to 3"),
    (lambda: lk.ops.take(M, np.array([0.5])), r"ops\.take: indices must be integers"),
    (lambda: lk.ops.transpose(M, (0, 0)), r"ops\.transpose: axes must be a permutation"),
    (lambda: lk.ops.slice(M, (1, 1), (2, 2)), r"ops\.slice: the block \[1, 3\) on axis 0 does not fit in its 2 elements"),
    (lambda: lk.ops.top_k(np.ones(3), 5), r"ops\.top_k: k must be in \[0, 3\]"),
    (lambda: lk.ops.one_hot(np.array([3]), 3), r"ops\.one_hot: indices must be below num_classes=3, got 3"),
    (lambda: lk.ops.pad(M, ((1, 1),) * 3), r"ops\.pad: pad_width needs a \(before, after\) pair per axis"),
    (lambda: lk.ops.tile(M, "x"), r"ops\.tile: invalid literal for int\(\).*\(inputs: shape \(2, 3\) float32; 'x'\)"),
    (lambda: lk.ops.convert_to_tensor(["a", "b"]), r"ops\.convert_to_tensor: cannot convert \['a', 'b'\] \(list of str32\) to a tensor: expected numbers"),
    (lambda: lk.ops.map(lambda v: v, lk.Input((3,))), r"ops\.map: got a symbolic KerasTensor .* calls a function of yours"),
    (lambda: lk.random.SeedGenerator("x"), r"SeedGenerator: argument `seed` must be an integer"),
    (lambda: lk.random.normal((2,), seed="x"), r"argument `seed` must be an integer, a SeedGenerator or None"),
    (lambda: lk.random.uniform((2,), dtype="int32"), r"random\.uniform needs a floating-point dtype"),
    (lambda: lk.random.randint((2,), 0, 5, dtype="float32"), r"random\.randint needs an integer dtype"),
    (lambda: lk.random.categorical(np.zeros(3), 2), r"random\.categorical: logits must be 2-D"),
    (lambda: lk.random.dropout(np.ones(3), 1.5), r"random\.dropout: rate must be in \[0, 1\]"),
    (lambda: lk.random.dropout(np.ones((2, 3)), 0.5, noise_shape=(2, 2), seed=1), r"noise_shape \(2, 2\) does not broadcast"),
]


@pytest.mark.parametrize("call, message", ERRORS, ids=[f"error{i}" for i in range(len(ERRORS))])
def test_bad_input_names_the_op_what_it_expected_and_what_came(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ----- random
DRAWS = {
    "normal": lambda K, seed: K.random.normal((3, 4), seed=seed),
    "uniform": lambda K, seed: K.random.uniform((3, 4), minval=-1.0, maxval=2.0, seed=seed),
    "randint": lambda K, seed: K.random.randint((3, 4), 0, 100, seed=seed),
    "truncated_normal": lambda K, seed: K.random.truncated_normal((3, 4), seed=seed),
    "categorical": lambda K, seed: K.random.categorical(np.zeros((2, 5), "float32"), 6, seed=seed),
    "shuffle": lambda K, seed: K.random.shuffle(np.arange(12).reshape(6, 2), seed=seed),
    "dropout": lambda K, seed: K.random.dropout(torch.ones(4, 5), 0.5, seed=seed),
    "gamma": lambda K, seed: K.random.gamma((3, 4), alpha=2.0, seed=seed),
    "beta": lambda K, seed: K.random.beta((3, 4), alpha=2.0, beta=3.0, seed=seed),
}


@pytest.mark.parametrize("name", DRAWS)
def test_the_same_integer_seed_gives_the_same_numbers_and_a_seed_generator_new_ones(K, name):
    draw = DRAWS[name]
    first, again, other = to_numpy(draw(K, 42)), to_numpy(draw(K, 42)), to_numpy(draw(K, 43))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    gen_a, gen_b = K.random.SeedGenerator(7), K.random.SeedGenerator(7)
    a1, a2 = to_numpy(draw(K, gen_a)), to_numpy(draw(K, gen_a))
    b1, b2 = to_numpy(draw(K, gen_b)), to_numpy(draw(K, gen_b))
    assert not np.array_equal(a1, a2)  # the generator moved on
    np.testing.assert_array_equal(a1, b1)  # the same initial seed, the same sequence
    np.testing.assert_array_equal(a2, b2)


def test_seed_generator_state(K):
    gen = K.random.SeedGenerator(seed=42)
    state = gen.state
    assert state.name == "seed_generator_state" and state.path.endswith("/seed_generator_state")
    assert state.dtype == "int32" and state.shape == (2,) and not state.trainable
    assert to_numpy(gen.next()).tolist() == [42, 0] and state.numpy().tolist() == [42, 1]
    assert to_numpy(gen.next()).tolist() == [42, 1] and state.numpy().tolist() == [42, 2]
    assert gen.get_config()["seed"] == 42
    restored = K.random.SeedGenerator.from_config(gen.get_config())
    assert restored.state.numpy().tolist() == [42, 0]
    state.assign(np.array([42, 1], "int32"))  # rewinding the state replays the draws
    replay = K.random.normal((3,), seed=gen)
    gen.state.assign(np.array([42, 1], "int32"))
    np.testing.assert_array_equal(to_numpy(K.random.normal((3,), seed=gen)), to_numpy(replay))


def test_set_random_seed_fixes_unseeded_draws(K):
    K.utils.set_random_seed(11)
    a = to_numpy(K.random.normal((5,)))
    b = to_numpy(K.random.normal((5,)))
    K.utils.set_random_seed(11)
    np.testing.assert_array_equal(to_numpy(K.random.normal((5,))), a)
    np.testing.assert_array_equal(to_numpy(K.random.normal((5,))), b)
    assert not np.array_equal(a, b)


def test_random_shapes_dtypes_and_ranges(K):
    r = K.random
    assert tuple(r.normal((2, 3), seed=1).shape) == (2, 3) and K.ops.dtype(r.normal((2,), seed=1)) == "float32"
    assert K.ops.dtype(r.normal((2,), dtype="float64", seed=1)) == "float64"
    assert tuple(r.uniform((), seed=1).shape) == ()
    u = to_numpy(r.uniform((1000,), minval=1.0, maxval=3.0, seed=1))
    assert u.min() >= 1.0 and u.max() < 3.0
    i = r.randint((1000,), -2, 3, seed=1)
    assert K.ops.dtype(i) == "int32" and set(to_numpy(i).tolist()) == {-2, -1, 0, 1, 2}
    t = to_numpy(r.truncated_normal((10000,), mean=1.0, stddev=2.0, seed=1))
    assert t.min() >= -3.0 and t.max() <= 5.0
    logits = np.eye(4) * 1e5 + 1e6  # each row certain of its own index (Keras' test)
    c = r.categorical(logits, 10, seed=1)
    assert K.ops.dtype(c) == "int32" and tuple(c.shape) == (4, 10)
    np.testing.assert_array_equal(to_numpy(c), np.tile(np.arange(4)[:, None], (1, 10)))
    x = np.arange(100).reshape(10, 10)
    s = to_numpy(r.shuffle(x, seed=0))
    assert not np.array_equal(s, x) and np.array_equal(np.sort(s, axis=0), x)  # rows permuted column by column
    s1 = to_numpy(r.shuffle(x, axis=1, seed=0))
    assert not np.array_equal(s1, x) and np.array_equal(np.sort(s1, axis=1), x)
    g = to_numpy(r.gamma((1000,), alpha=0.5, seed=1))
    assert g.min() > 0 and K.ops.dtype(r.gamma((2,), alpha=2.0, dtype="float16", seed=1)) == "float16"


def test_dropout(K):
    x = torch.ones(200, 50)  # Keras' dropout(rate=1) takes tensors only
    np.testing.assert_array_equal(to_numpy(K.random.dropout(x, 0.0, seed=0)), to_numpy(x))
    np.testing.assert_array_equal(to_numpy(K.random.dropout(x, 1.0, seed=0)), np.zeros((200, 50)))
    for seed in (0, None):
        out = to_numpy(K.random.dropout(x, 0.3, seed=seed))
        kept = out[out != 0]
        np.testing.assert_allclose(kept, np.full_like(kept, 1 / 0.7), rtol=1e-6)  # scaled by 1 / (1 - rate)
        assert abs((out == 0).mean() - 0.3) < 0.02  # 10,000 draws: 4.6 standard errors
    shared = to_numpy(K.random.dropout(torch.ones(4, 6, 5), 0.5, noise_shape=(None, 1, 5), seed=3))
    assert (shared == shared[:, :1, :]).all() and 0 < (shared == 0).mean() < 1  # one mask for every step


@pytest.mark.parametrize("name, draw, mean, std", [
    ("normal", lambda K: K.random.normal((100000,), mean=2.0, stddev=3.0, seed=5), 2.0, 3.0),
    ("uniform", lambda K: K.random.uniform((100000,), minval=-1.0, maxval=1.0, seed=5), 0.0, np.sqrt(1 / 3)),
    ("truncated_normal", lambda K: K.random.truncated_normal((100000,), stddev=1.0, seed=5), 0.0, 0.8796),
    ("gamma", lambda K: K.random.gamma((100000,), alpha=3.0, seed=5), 3.0, np.sqrt(3.0)),
    ("beta", lambda K: K.random.beta((100000,), alpha=2.0, beta=6.0, seed=5), 0.25, np.sqrt(12 / (64 * 9))),
])
def test_distributions_have_their_mean_and_spread(K, name, draw, mean, std):
    """100,000 samples: the mean's standard error is std / 316, so 5 of them is 1.6% of std."""
    s = to_numpy(draw(K)).astype("float64")
    assert abs(s.mean() - mean) < 5 * std / np.sqrt(s.size), (s.mean(), mean)
    assert abs(s.std() / std - 1) < 0.02, (s.std(), std)


def test_categorical_follows_the_softmax():
    for K in (pytest.importorskip("keras"), lk):
        draws = to_numpy(K.random.categorical(np.log(np.array([[0.2, 0.3, 0.5]], "float32")), 30000, seed=2))
        frequencies = np.bincount(draws[0], minlength=3) / draws.size
        np.testing.assert_allclose(frequencies, [0.2, 0.3, 0.5], atol=0.015)


# ----- lstmkit draws Keras' own numbers on the CPU (same seeds, same torch samplers)
EQUAL_DRAWS = ["normal", "uniform", "randint", "truncated_normal", "categorical", "shuffle", "dropout", "gamma",
               "beta"]


@pytest.mark.parametrize("name", EQUAL_DRAWS)
def test_lstmkit_draws_kerass_numbers(name):
    keras = pytest.importorskip("keras")
    if keras.src.backend.torch.core.get_device() != "cpu":
        pytest.skip("Keras draws on its default device; lstmkit on the CPU")
    draw = DRAWS[name]
    torch.testing.assert_close(torch.as_tensor(to_numpy(draw(lk, 123))), torch.as_tensor(to_numpy(draw(keras, 123))),
                               **KERAS_TOL)
    ours, theirs = lk.random.SeedGenerator(9), keras.random.SeedGenerator(9)
    for _ in range(3):
        torch.testing.assert_close(torch.as_tensor(to_numpy(draw(lk, ours))),
                                   torch.as_tensor(to_numpy(draw(keras, theirs))), **KERAS_TOL)
