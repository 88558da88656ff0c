"""The Keras object model around the weights, run on Keras itself and on lstmkit.keras: Variables with
value/numpy/assign/path, weight lists that are the same objects on every access (so summary() counts
are exact), build() that builds once, set_weights straight after build()."""

import io

import numpy as np
import pytest
import torch


def dense(K, units=2, inputs=3, name="d"):
    layer = K.layers.Dense(units, name=name)
    layer.build((None, inputs))
    return layer


def test_a_weight_is_a_variable_with_keras_attributes(K):
    layer = dense(K)
    kernel = layer.kernel
    assert not isinstance(kernel, torch.Tensor)  # a handle, as on Keras' torch backend
    assert kernel.name == "kernel" and kernel.path == "d/kernel"
    assert kernel.shape == (3, 2) and kernel.ndim == 2 and kernel.dtype == "float32" and kernel.trainable
    assert isinstance(kernel.value, torch.nn.Parameter) and kernel.value.requires_grad
    assert isinstance(kernel.numpy(), np.ndarray) and kernel.numpy().shape == (3, 2)
    assert np.asarray(kernel).shape == (3, 2)
    assert layer.weights[0] is kernel and layer.weights[1] is layer.bias


def test_assign_writes_through_to_the_layer_output(K):
    layer = dense(K)
    layer.kernel.assign(np.ones((3, 2), "float32"))
    layer.bias.assign(np.array([1.0, -1.0], "float32"))
    np.testing.assert_array_equal(np.asarray(layer(np.ones((1, 3), "float32")).detach()), [[4.0, 2.0]])
    layer.bias.assign_add(np.array([1.0, 1.0], "float32"))
    layer.bias.assign_sub(np.array([0.5, 0.5], "float32"))
    np.testing.assert_array_equal(layer.bias.numpy(), [1.5, -0.5])


def test_variables_go_where_tensors_go(K):
    layer = dense(K)
    layer.kernel.assign(np.arange(6, dtype="float32").reshape(3, 2))
    x = torch.ones(1, 3)
    expected = [[6.0, 9.0]]
    for got in (torch.matmul(x, layer.kernel), x @ layer.kernel, K.ops.matmul(x, layer.kernel)):
        np.testing.assert_array_equal(np.asarray(got.detach().cpu()), expected)
    np.testing.assert_array_equal(np.asarray((layer.kernel + 1).detach()), np.arange(6).reshape(3, 2) + 1)


def test_weight_lists_are_stable_and_summary_counts_are_exact(K):
    """Keras prints Total 85 / Trainable 85 / Non-trainable 0 for this model every time (lstmkit printed
    85, 112, 103 over three runs: the GRU's weights compared by identity were fresh views)."""
    model = K.Sequential([K.Input((5, 4)), K.layers.GRU(3), K.layers.Dense(1)])
    for _ in range(3):
        assert [id(v) for v in model.weights] == [id(v) for v in model.weights]
        assert len(model.trainable_weights) == 5 and model.non_trainable_weights == []
        assert sum(int(np.prod(v.shape)) for v in model.trainable_weights) == 85
        assert model.count_params() == 85
        out = io.StringIO()
        model.summary(print_fn=lambda line, *a, out=out, **k: out.write(line + "\n"))
        text = out.getvalue()
        assert "Total params: 85" in text and "Trainable params: 85" in text and "Non-trainable params: 0" in text


def test_non_trainable_weights(K):
    norm = K.layers.BatchNormalization()
    norm.build((None, 4))
    assert [v.name for v in norm.trainable_weights] == ["gamma", "beta"]
    assert [v.name for v in norm.non_trainable_weights] == ["moving_mean", "moving_variance"]
    assert not norm.moving_mean.trainable
    layer = dense(K)
    layer.trainable = False
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 2


def test_build_by_hand_builds_once(K):
    layer = K.layers.Dense(2)
    layer.build((None, 3))
    assert layer.built
    before = layer.kernel.numpy()
    layer(np.ones((1, 3), "float32"))
    np.testing.assert_array_equal(layer.kernel.numpy(), before)  # no second build with new random weights
    layer.set_weights([np.zeros((3, 2)), np.ones(2)])  # straight after build()
    np.testing.assert_array_equal(np.asarray(layer(np.ones((1, 3), "float32")).detach()), [[1.0, 1.0]])


def test_a_custom_layer_with_add_weight(K):
    class Scale(K.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

        def call(self, x):
            return x * self.w

    layer = Scale(name="scale")
    y = layer(np.full((2, 3), 2.0, "float32"))
    np.testing.assert_array_equal(np.asarray(y.detach()), np.full((2, 3), 2.0))
    assert layer.built and [v.path for v in layer.weights] == ["scale/w"]
    layer.w.assign(np.array([1.0, 2.0, 3.0], "float32"))
    np.testing.assert_array_equal(np.asarray(layer(np.ones((1, 3), "float32")).detach()), [[1.0, 2.0, 3.0]])


def test_paths_inside_a_model(K):
    model = K.Sequential([K.Input((3,)), K.layers.Dense(2, name="d")], name="s")
    assert [v.path for v in model.weights] == ["s/d/kernel", "s/d/bias"]


@pytest.mark.parametrize("value, message", [(np.zeros((2, 2)), "shape")])
def test_assign_of_the_wrong_shape_is_refused(K, value, message):
    layer = dense(K)
    with pytest.raises(ValueError, match=message):
        layer.kernel.assign(value)
