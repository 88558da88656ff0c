"""`keras.config` on real Keras (torch backend) and on lstmkit.keras: the same defaults, the settings shared with
`keras.backend` and `keras.mixed_precision`, and the switches the books and keras-io programs call
(interactive logging, unsafe deserialization, the max_epochs / max_steps_per_epoch caps)."""

import numpy as np
import pytest
import torch

import lstmkit.keras as lk
from lstmkit.keras import config as lk_config


@pytest.fixture
def C(K):
    """The config module of Keras or lstmkit.keras, every global it has restored after the test."""
    yield K.config
    K.config.set_epsilon(1e-7)
    K.config.set_dtype_policy("float32")
    K.config.enable_interactive_logging()
    K.config.enable_traceback_filtering()
    K.config.set_max_epochs(None)
    K.config.set_max_steps_per_epoch(None)
    if K is lk:
        lk_config._STATE["safe_mode"] = None
    else:
        from keras.src.backend.common import global_state

        global_state.set_global_attribute("safe_mode_saving", None)


def _model(K, seed=0):
    K.utils.set_random_seed(seed)
    model = K.Sequential([K.Input((6, 3)), K.layers.LSTM(4), K.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def _data(n=32):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 6, 3)).astype("float32"), rng.normal(size=(n, 1)).astype("float32")


def test_defaults(C):
    assert C.backend() == "torch"
    assert C.floatx() == "float32"
    assert C.epsilon() == 1e-7
    assert C.image_data_format() == "channels_last"
    assert C.dtype_policy().name == "float32"
    assert C.is_interactive_logging_enabled() is True
    assert C.is_traceback_filtering_enabled() is True
    assert C.max_epochs() is None and C.max_steps_per_epoch() is None


def test_backend_module_reads_the_same_settings(K, C):
    C.set_epsilon(1e-4)
    assert K.backend.epsilon() == 1e-4
    K.backend.set_epsilon(1e-5)
    assert C.epsilon() == 1e-5
    C.set_floatx("float32")
    assert K.backend.floatx() == "float32"
    assert K.backend.image_data_format() == C.image_data_format() == "channels_last"


def test_set_epsilon_is_what_the_losses_clip_with(K, C):
    y_true, y_pred = torch.ones(1, 1), torch.zeros(1, 1)
    C.set_epsilon(1e-3)
    loss = float(K.losses.binary_crossentropy(y_true, y_pred).reshape(-1)[0])
    assert loss == pytest.approx(-np.log(1e-3), rel=1e-5)


def test_dtype_policy_is_the_mixed_precision_global_policy(K, C):
    C.set_dtype_policy("mixed_bfloat16")
    assert C.dtype_policy().name == "mixed_bfloat16"
    assert K.mixed_precision.global_policy().name == "mixed_bfloat16"
    layer = K.layers.Dense(2)
    assert layer.compute_dtype == "bfloat16" and layer.variable_dtype == "float32"
    K.mixed_precision.set_global_policy("float32")
    assert C.dtype_policy().name == "float32"
    C.set_dtype_policy(K.mixed_precision.DTypePolicy("mixed_float16"))
    assert K.mixed_precision.global_policy().name == "mixed_float16"


def test_set_dtype_policy_refuses_what_is_not_a_policy(C):
    with pytest.raises(ValueError, match=r"Invalid `policy` argument.*Received: policy=None"):
        C.set_dtype_policy(None)


def test_traceback_filtering_switch(C):
    C.disable_traceback_filtering()
    assert C.is_traceback_filtering_enabled() is False
    C.enable_traceback_filtering()
    assert C.is_traceback_filtering_enabled() is True


def test_interactive_logging_switch(C):
    C.disable_interactive_logging()
    assert C.is_interactive_logging_enabled() is False
    C.enable_interactive_logging()
    assert C.is_interactive_logging_enabled() is True


def test_lstmkit_prints_no_progress_while_interactive_logging_is_off(capsys):
    """Keras sends the progress lines to absl's logger then (which, with TensorFlow installed, still writes
    them out); lstmkit, which has no absl, prints none."""
    model = _model(lk)
    x, y = _data()
    try:
        model.fit(x, y, epochs=1, batch_size=16, verbose=1)
        assert "loss" in capsys.readouterr().out
        lk.config.disable_interactive_logging()
        model.fit(x, y, epochs=1, batch_size=16, verbose=1)
        model.evaluate(x, y, verbose=1)
        model.predict(x, verbose=1)
        assert capsys.readouterr().out == ""
    finally:
        lk.config.enable_interactive_logging()
    model.evaluate(x, y, verbose=1)
    assert "loss" in capsys.readouterr().out


class _CountBatches:
    def __init__(self, K):
        class Count(K.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.batches = []

            def on_epoch_begin(self, epoch, logs=None):
                self.batches.append(0)

            def on_train_batch_end(self, batch, logs=None):
                self.batches[-1] += 1

        self.callback = Count()


def test_max_epochs_and_max_steps_per_epoch_cap_fit(K, C):
    model = _model(K)
    x, y = _data(64)
    C.set_max_epochs(2)
    C.set_max_steps_per_epoch(2)  # of 4 batches: both epochs take 2 (Keras goes on where the last one stopped)
    assert C.max_epochs() == 2 and C.max_steps_per_epoch() == 2
    count = _CountBatches(K).callback
    with pytest.warns(UserWarning, match="Limiting epochs to 2"):
        history = model.fit(x, y, epochs=5, batch_size=16, verbose=0, callbacks=[count])
    assert len(history.history["loss"]) == 2
    assert count.batches == [2, 2]
    C.set_max_epochs(None)
    C.set_max_steps_per_epoch(None)
    count = _CountBatches(K).callback
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[count])
    assert count.batches == [4, 4]


def test_enable_unsafe_deserialization_lets_load_model_rebuild_a_lambda(K, C, tmp_path):
    import keras

    km = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2), keras.layers.Lambda(lambda t: t * 2.0 + 1.0)])
    km.save(tmp_path / "lam.keras")
    with pytest.raises(ValueError, match=r"(?i)lambda"):
        K.saving.load_model(tmp_path / "lam.keras")
    C.enable_unsafe_deserialization()
    model = K.saving.load_model(tmp_path / "lam.keras")
    x = np.random.default_rng(1).normal(size=(4, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(model.predict(x, verbose=0)), km.predict(x, verbose=0), rtol=1e-6,
                               atol=1e-6)


def test_lstmkit_refuses_settings_it_cannot_honour_with_the_way_to_get_them():
    with pytest.raises(ValueError, match=r"mixed_precision\.set_global_policy"):
        lk.config.set_floatx("float16")
    with pytest.raises(ValueError, match="data_format='channels_first' to each"):
        lk.config.set_image_data_format("channels_first")
    with pytest.raises(ValueError, match="non-negative integer or None"):
        lk.config.set_max_epochs(-1)
    assert lk.config.floatx() == "float32" and lk.config.image_data_format() == "channels_last"
