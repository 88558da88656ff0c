"""keras.optimizers.schedules: every schedule's value at each step equals Keras 3's (torch backend), configs
match Keras', a subclass of LearningRateSchedule drives any optimizer, and a model compiled with a schedule
saves and loads (lstmkit's zip and the .keras file, which real Keras opens too) and trains on as before."""

import keras
import numpy as np
import pytest
import torch

import lstmkit.keras as lk
from lstmkit.keras.models.saving import save_lstmkit_zip

from .conftest import to_numpy

STEPS = [0, 1, 2, 3, 5, 7, 10, 11, 15, 20, 33, 40, 64, 100]

CASES = {
    "exponential": ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=10, decay_rate=0.5)),
    "exponential-staircase": ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=7, decay_rate=0.3,
                                                       staircase=True)),
    "piecewise": ("PiecewiseConstantDecay", dict(boundaries=[5, 10, 33], values=[1.0, 0.5, 0.1, 0.01])),
    "polynomial": ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=20, end_learning_rate=0.01,
                                           power=0.5)),
    "polynomial-cycle": ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=15, power=2.0, cycle=True)),
    "inverse-time": ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=3, decay_rate=0.5)),
    "inverse-time-staircase": ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=3, decay_rate=0.5,
                                                        staircase=True)),
    "cosine": ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=40, alpha=0.1)),
    "cosine-warmup": ("CosineDecay", dict(initial_learning_rate=0.0, decay_steps=40, warmup_target=0.2,
                                          warmup_steps=10)),
    "cosine-warmup-from-1e-3": ("CosineDecay", dict(initial_learning_rate=1e-3, decay_steps=30, alpha=0.05,
                                                    warmup_target=0.01, warmup_steps=7)),
    "restarts": ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=5)),
    "restarts-t1-m": ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=6, t_mul=1.0,
                                                  m_mul=0.5, alpha=0.1)),
    "restarts-t3": ("CosineDecayRestarts", dict(initial_learning_rate=0.2, first_decay_steps=4, t_mul=3.0, m_mul=0.7)),
}


def _make(K, case):
    name, kwargs = CASES[case]
    return getattr(K.optimizers.schedules, name)(**kwargs)


@pytest.mark.parametrize("case", list(CASES))
def test_values_per_step_equal_keras(case):
    ours, theirs = _make(lk, case), _make(keras, case)
    got = np.array([ours(s) for s in STEPS], dtype=np.float32)
    want = np.array([to_numpy(theirs(s)) for s in STEPS], dtype=np.float32)
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-9)
    assert len(set(got.tolist())) > 2  # the case exercises a schedule that moves


@pytest.mark.parametrize("case", list(CASES))
def test_config_equals_keras_and_round_trips(case):
    ours, theirs = _make(lk, case), _make(keras, case)
    assert ours.get_config() == theirs.get_config()
    again = type(ours).from_config(ours.get_config())
    assert [again(s) for s in STEPS] == [ours(s) for s in STEPS]
    assert lk.optimizers.schedules.serialize(ours) == keras.optimizers.schedules.serialize(theirs)
    back = lk.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(theirs))
    assert type(back) is type(ours) and back.get_config() == ours.get_config()


def test_bad_arguments_are_refused_as_keras_does(K):
    S = K.optimizers.schedules
    with pytest.raises(ValueError, match=r"`decay_steps` must be > 0. Received: decay_steps=0"):
        S.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.9)
    with pytest.raises(ValueError, match="length of boundaries should be 1 less than the length of values"):
        S.PiecewiseConstantDecay([1, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match=r"`first_decay_steps` must be > 0"):
        S.CosineDecayRestarts(0.1, first_decay_steps=-1)


def test_base_class_asks_for_call_and_get_config(K):
    class NoCall(K.optimizers.schedules.LearningRateSchedule):
        pass

    with pytest.raises(NotImplementedError, match=r"must override `__call__\(self, step\)`"):
        NoCall()(0)
    with pytest.raises(NotImplementedError, match="must override `get_config\\(\\)`"):
        NoCall().get_config()


OPTIMIZERS = ["SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Adadelta", "Adamax", "Nadam", "Ftrl", "Lion"]


def _dense_model(K, optimizer):
    """Dense(3) on 4 inputs with fixed weights, compiled with `optimizer`."""
    model = K.Sequential([K.Input((4,)), K.layers.Dense(3)])
    rng = np.random.default_rng(7)
    model.set_weights([rng.normal(size=(4, 3)).astype("float32"), rng.normal(size=(3,)).astype("float32")])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def _batch(seed=3):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(8, 4)).astype("float32"), rng.normal(size=(8, 3)).astype("float32")


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_takes_a_schedule_and_reads_its_rate_per_step(K, name):
    schedule = K.optimizers.schedules.ExponentialDecay(0.05, decay_steps=2, decay_rate=0.5)
    model = _dense_model(K, getattr(K.optimizers, name)(learning_rate=schedule))
    x, y = _batch()
    rates = []
    for _ in range(3):
        model.train_on_batch(x, y)
        rates.append(float(to_numpy(model.optimizer.learning_rate)))
    np.testing.assert_allclose(rates, [0.05 * 0.5 ** (s / 2) for s in (1, 2, 3)], rtol=1e-6)
    with pytest.raises(TypeError, match="created with a `LearningRateSchedule`"):
        model.optimizer.learning_rate = 0.1


def _trajectory(K, optimizer, steps=4):
    model = _dense_model(K, optimizer)
    out = []
    for s in range(steps):
        model.train_on_batch(*_batch(s))
        out.append([to_numpy(w).copy() for w in model.get_weights()])
    return out


def test_a_subclassed_schedule_gives_keras_trajectory(K):
    class OneOverT(K.optimizers.schedules.LearningRateSchedule):
        def __init__(self, lr0):
            self.lr0 = lr0

        def __call__(self, step):
            return self.lr0 / (step + 1)

    got = _trajectory(K, K.optimizers.SGD(learning_rate=OneOverT(0.2), momentum=0.5))
    want = _trajectory(keras, keras.optimizers.SGD(learning_rate=keras.optimizers.schedules.InverseTimeDecay(
        0.2, decay_steps=1, decay_rate=1.0), momentum=0.5))
    for g, w in zip(got, want):
        for a, b in zip(g, w):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@lk.saving.register_keras_serializable(package="t16")
class HalfEvery(lk.optimizers.schedules.LearningRateSchedule):
    def __init__(self, lr0, every):
        self.lr0, self.every = lr0, every

    def __call__(self, step):
        return self.lr0 * 0.5 ** (int(step) // self.every)

    def get_config(self):
        return {"lr0": self.lr0, "every": self.every}


def _trained(optimizer, steps=3):
    model = _dense_model(lk, optimizer)
    for s in range(steps):
        model.train_on_batch(*_batch(s))
    return model


def _continues_alike(model, back, steps=3):
    for s in range(steps):
        model.train_on_batch(*_batch(10 + s))
        back.train_on_batch(*_batch(10 + s))
    for a, b in zip(model.get_weights(), back.get_weights()):
        np.testing.assert_allclose(to_numpy(a), to_numpy(b), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("fmt", ["keras", "lstmkit-zip"])
@pytest.mark.parametrize("schedule", ["cosine-warmup", "registered-subclass"])
def test_a_model_compiled_with_a_schedule_saves_and_loads(tmp_path, fmt, schedule):
    lr = _make(lk, schedule) if schedule in CASES else HalfEvery(0.05, 2)
    model = _trained(lk.optimizers.Adam(learning_rate=lr))
    path = tmp_path / "m.keras"
    (model.save if fmt == "keras" else lambda p: save_lstmkit_zip(model, p))(path)
    back = lk.models.load_model(path)
    assert type(back.optimizer._learning_rate) is type(lr)
    assert back.optimizer._learning_rate.get_config() == lr.get_config()
    assert back.optimizer.iterations == 3
    assert float(back.optimizer.learning_rate) == float(model.optimizer.learning_rate)
    _continues_alike(model, back)


def test_keras_opens_the_keras_file_with_its_schedule_and_lstmkit_opens_keras_own(tmp_path):
    lr = _make(lk, "cosine-warmup")
    model = _trained(lk.optimizers.Nadam(learning_rate=lr))
    model.save(tmp_path / "ours.keras")
    theirs = keras.saving.load_model(tmp_path / "ours.keras")
    assert isinstance(theirs.optimizer.learning_rate, torch.Tensor) or np.isscalar(theirs.optimizer.learning_rate)
    assert type(theirs.optimizer._learning_rate).__name__ == "CosineDecay"
    assert theirs.optimizer._learning_rate.get_config() == lr.get_config()
    assert int(to_numpy(theirs.optimizer.iterations)) == 3
    for a, b in zip(theirs.optimizer.variables[1:], [to_numpy(t) for t in _slots(model)]):
        np.testing.assert_allclose(to_numpy(a.value), b, rtol=1e-6)
    theirs.save(tmp_path / "theirs.keras")
    back = lk.models.load_model(tmp_path / "theirs.keras")
    assert type(back.optimizer).__name__ == "Nadam" and back.optimizer.iterations == 3
    assert back.optimizer._learning_rate.get_config() == lr.get_config()
    _continues_alike(model, back)


def _slots(model):
    """Nadam's slots in Keras' order (momentum, velocity per variable), then its momentum-factor product."""
    opt = model.optimizer
    out = []
    for p_state in opt.state:
        out.extend([p_state["momentum"], p_state["velocity"]])
    return [*out, torch.tensor(opt._product(opt.iterations))]


def test_a_plain_function_as_learning_rate_trains_but_does_not_save(tmp_path):
    model = _trained(lk.optimizers.SGD(learning_rate=lambda step: 0.1 / (1 + step)))
    with pytest.raises(ValueError, match="plain function cannot be saved"):
        model.save(tmp_path / "m.keras")
