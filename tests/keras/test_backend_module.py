"""`keras.backend`: what Keras 3 still has there runs on real Keras (torch backend) and on lstmkit.keras with
the same results and errors; what lstmkit refuses (float64, channels_first defaults) says how to get it."""

import math

import numpy as np
import pytest
import torch

import lstmkit.keras as lk


@pytest.fixture
def B(K):
    """The backend module of Keras or lstmkit.keras, its global settings restored after the test."""
    backend = K.backend
    backend.clear_session(free_memory=False)
    yield backend
    backend.set_epsilon(1e-7)
    K.mixed_precision.set_global_policy("float32")
    backend.clear_session(free_memory=False)


def test_backend_name_and_defaults(B):
    assert B.backend() == "torch"
    assert B.floatx() == "float32"
    assert B.epsilon() == 1e-7
    assert B.image_data_format() == "channels_last"


def test_set_floatx_and_set_image_data_format_refuse_unknown_values(B):
    B.set_floatx("float32")
    assert B.floatx() == "float32"
    with pytest.raises(ValueError, match="Unknown `floatx` value: int32"):
        B.set_floatx("int32")
    B.set_image_data_format("channels_last")
    with pytest.raises(ValueError, match="`data_format` argument must be one of"):
        B.set_image_data_format("channels_middle")


def test_set_epsilon_changes_the_clipping_of_the_losses(K, B):
    """binary_crossentropy(1, 0) is -log(epsilon): the clip bound is the backend's epsilon at call time."""
    y_true, y_pred = torch.ones(1, 1), torch.zeros(1, 1)
    assert float(K.losses.binary_crossentropy(y_true, y_pred).reshape(-1)[0]) == pytest.approx(
        -math.log(1e-7), rel=1e-5)
    B.set_epsilon(1e-3)
    assert B.epsilon() == 1e-3
    assert float(K.losses.binary_crossentropy(y_true, y_pred).reshape(-1)[0]) == pytest.approx(
        -math.log(1e-3), rel=1e-5)


def test_clear_session_restarts_layer_names_and_get_uid_counts_them(K, B):
    first = [K.layers.Dense(1).name for _ in range(3)]
    assert first == ["dense", "dense_1", "dense_2"]
    B.clear_session(free_memory=False)
    assert K.layers.Dense(1).name == "dense"
    assert B.get_uid("dense") == 2  # the layer above took 1
    assert K.layers.Dense(1).name == "dense_2"


def test_clear_session_resets_the_dtype_policy(K, B):
    K.mixed_precision.set_global_policy("mixed_float16")
    B.clear_session(free_memory=False)
    assert K.mixed_precision.global_policy().name == "float32"


def test_is_keras_tensor(K, B):
    assert B.is_keras_tensor(K.Input((3,)))
    assert not B.is_keras_tensor(torch.zeros(2))
    assert not B.is_keras_tensor(np.zeros(2))


def test_dtype_helpers(B):
    assert B.standardize_dtype(np.float32) == "float32"
    assert B.standardize_dtype("int64") == "int64"
    assert B.is_float_dtype("float16") and not B.is_float_dtype("int32")
    assert B.is_int_dtype("uint8") and not B.is_int_dtype("bfloat16")
    assert B.result_type("int64", "float32") == "float32"
    assert B.result_type("int8", "int32") == "int32"


# ----- what lstmkit refuses, with the way to get it ------------------------------------------------------
def test_lstmkit_refuses_float64_and_channels_first_by_name():
    with pytest.raises(ValueError, match="mixed_float16"):
        lk.backend.set_floatx("float64")
    assert lk.backend.floatx() == "float32"
    with pytest.raises(ValueError, match="data_format='channels_first' to each"):
        lk.backend.set_image_data_format("channels_first")
    assert lk.backend.image_data_format() == "channels_last"
