"""Adadelta, Adamax, Nadam, Ftrl and Lion (and the optimizers lstmkit had: SGD, RMSprop, Adam, AdamW, Adagrad):
the weights after several training steps equal Keras 3's (torch backend) within float32 tolerance, the
defaults and configs are Keras', names resolve, and their slots go into a .keras file that Keras reads."""

import keras
import numpy as np
import pytest

import lstmkit.keras as lk

from .conftest import to_numpy

CASES = {
    "Adadelta": {},
    "Adadelta-lr1": {"learning_rate": 1.0, "rho": 0.9},
    "Adamax": {"learning_rate": 0.01},
    "Adamax-betas": {"learning_rate": 0.02, "beta_1": 0.8, "beta_2": 0.95, "epsilon": 1e-5},
    "Nadam": {"learning_rate": 0.01},
    "Nadam-wd": {"learning_rate": 0.01, "weight_decay": 0.1, "beta_2": 0.99},
    "Ftrl": {"learning_rate": 0.1},
    "Ftrl-regularized": {"learning_rate": 0.05, "l1_regularization_strength": 0.01,
                         "l2_regularization_strength": 0.02, "l2_shrinkage_regularization_strength": 0.03,
                         "beta": 0.1, "learning_rate_power": -0.7, "initial_accumulator_value": 0.2},
    "Lion": {"learning_rate": 0.003},
    "Lion-clip": {"learning_rate": 0.003, "beta_1": 0.7, "beta_2": 0.9, "global_clipnorm": 0.5},
    "SGD": {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True},
    "RMSprop": {"learning_rate": 0.01, "centered": True, "momentum": 0.5},
    "Adam": {"learning_rate": 0.01, "amsgrad": True},
    "AdamW": {"learning_rate": 0.01},
    "Adagrad": {"learning_rate": 0.05},
}
STEPS = 6


def _optimizer(K, case):
    return getattr(K.optimizers, case.split("-")[0])(**CASES[case])


def _model(K, optimizer):
    """Dense(5, tanh) -> Dense(2) on 3 inputs with fixed weights, compiled with `optimizer` and MSE."""
    model = K.Sequential([K.Input((3,)), K.layers.Dense(5, activation="tanh"), K.layers.Dense(2)])
    rng = np.random.default_rng(11)
    model.set_weights([rng.normal(size=s).astype("float32") for s in [(3, 5), (5,), (5, 2), (2,)]])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def _batches():
    rng = np.random.default_rng(5)
    return [(rng.normal(size=(16, 3)).astype("float32"), rng.normal(size=(16, 2)).astype("float32"))
            for _ in range(STEPS)]


def _trajectory(K, case):
    model = _model(K, _optimizer(K, case))
    out = []
    for x, y in _batches():
        model.train_on_batch(x, y)
        out.append([to_numpy(w).copy() for w in model.get_weights()])
    return model, out


@pytest.mark.parametrize("case", list(CASES))
def test_trajectory_equals_keras(case):
    _, ours = _trajectory(lk, case)
    _, theirs = _trajectory(keras, case)
    start = _model(lk, "sgd").get_weights()
    assert not np.allclose(ours[-1][0], start[0])  # the weights moved
    for step, (a_step, b_step) in enumerate(zip(ours, theirs)):
        for a, b in zip(a_step, b_step):
            np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6, err_msg=f"{case} after step {step + 1}")


@pytest.mark.parametrize("name", ["Adadelta", "Adamax", "Nadam", "Ftrl", "Lion"])
def test_defaults_and_config_are_keras(name):
    ours, theirs = getattr(lk.optimizers, name)(), getattr(keras.optimizers, name)()
    want = theirs.get_config()
    got = ours.get_config()
    for key, value in got.items():
        if key != "name":
            assert want[key] == pytest.approx(value) if isinstance(value, float) else want[key] == value, key
    assert set(want) - set(got) <= {"use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor",
                                    "gradient_accumulation_steps"}
    again = lk.optimizers.get({"class_name": name, "config": want})  # Keras' own config, extra keys and all
    assert type(again) is type(ours)
    assert again.get_config() == pytest.approx({**got, "name": want["name"], "learning_rate": want["learning_rate"]})
    assert type(lk.optimizers.get(name.lower())) is type(ours)


def test_arguments_keras_refuses_are_refused(K):
    with pytest.raises(ValueError, match=r"`beta_1` must be in the \[0, 1\] range"):
        K.optimizers.Lion(beta_1=0.0)
    with pytest.raises(ValueError, match=r"`learning_rate_power` needs to be negative or zero"):
        K.optimizers.Ftrl(learning_rate_power=0.5)
    with pytest.raises(ValueError, match=r"`l1_regularization_strength` needs to be positive or zero"):
        K.optimizers.Ftrl(l1_regularization_strength=-1.0)


@pytest.mark.parametrize("case", ["Adadelta", "Adamax", "Nadam", "Ftrl", "Lion"])
def test_the_keras_file_holds_the_slots_keras_reads(tmp_path, case):
    model, _ = _trajectory(lk, case)
    model.save(tmp_path / "m.keras")
    theirs = keras.saving.load_model(tmp_path / "m.keras")
    back = lk.models.load_model(tmp_path / "m.keras")
    assert int(to_numpy(theirs.optimizer.iterations)) == back.optimizer.iterations == STEPS
    x, y = _batches()[0]
    for m in (model, theirs, back):
        m.train_on_batch(x, y)
    for a, b, c in zip(model.get_weights(), theirs.get_weights(), back.get_weights()):
        np.testing.assert_allclose(to_numpy(b), to_numpy(a), rtol=2e-5, atol=2e-6)
        np.testing.assert_allclose(to_numpy(c), to_numpy(a), rtol=1e-6, atol=1e-7)
