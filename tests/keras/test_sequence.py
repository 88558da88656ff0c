"""keras.utils.PyDataset and Keras 2's keras.utils.Sequence as base classes that fit, evaluate and predict take:
batches by index, on_epoch_begin / on_epoch_end around every pass as Keras 3 calls them, the workers /
use_multiprocessing / max_queue_size arguments, and the same training as from the arrays themselves."""

import keras
import numpy as np
import pytest

import lstmkit.keras as lk

from .conftest import to_numpy


def _dataset_class(K):
    class Batches(K.utils.PyDataset):
        def __init__(self, n_batches=3, batch_size=4, **kwargs):
            super().__init__(**kwargs)
            rng = np.random.default_rng(0)
            self.x = rng.normal(size=(n_batches * batch_size, 3)).astype("float32")
            self.y = rng.normal(size=(n_batches * batch_size, 1)).astype("float32")
            self.n, self.batch_size, self.events = n_batches, batch_size, []

        def __len__(self):
            return self.n

        def __getitem__(self, i):
            self.events.append(i)
            s = slice(i * self.batch_size, (i + 1) * self.batch_size)
            return self.x[s], self.y[s]

        def on_epoch_begin(self):
            self.events.append("begin")

        def on_epoch_end(self):
            self.events.append("end")

    return Batches


def _model(K):
    model = K.Sequential([K.Input((3,)), K.layers.Dense(1)])
    model.set_weights([np.full((3, 1), 0.1, "float32"), np.zeros((1,), "float32")])
    model.compile(optimizer="sgd", loss="mse")
    return model


ONE_PASS = ["begin", 0, 1, 2, "end"]


def test_fit_evaluate_predict_call_the_epoch_hooks_around_each_pass(K):
    data = _dataset_class(K)()
    model = _model(K)
    model.fit(data, epochs=2, shuffle=False, verbose=0)
    assert data.events[-10:] == ONE_PASS * 2  # (Keras may add a call of its own before the first epoch)
    data.events.clear()
    model.evaluate(data, verbose=0)
    assert data.events[-5:] == ONE_PASS
    data.events.clear()
    model.predict(data, verbose=0)
    assert data.events == ONE_PASS


def test_lstmkit_calls_the_hooks_exactly_once_per_pass():
    data = _dataset_class(lk)()
    model = _model(lk)
    model.fit(data, epochs=3, shuffle=False, verbose=0, validation_data=_dataset_class(lk)())
    assert data.events == ONE_PASS * 3


def test_shuffle_draws_every_batch_once_per_epoch_in_a_new_order(K):
    data = _dataset_class(K)(n_batches=6)
    K.utils.set_random_seed(3)
    _model(K).fit(data, epochs=4, verbose=0)
    passes = [data.events[i + 1:i + 7] for i, e in enumerate(data.events) if e == "begin"][-4:]
    assert all(sorted(p) == list(range(6)) for p in passes)
    assert len({tuple(p) for p in passes}) > 1


def test_training_from_a_pydataset_equals_keras_and_the_arrays():
    weights = []
    for K in (keras, lk):
        data = _dataset_class(K)()
        model = _model(K)
        history = model.fit(data, epochs=3, shuffle=False, verbose=0)
        weights.append(([to_numpy(w) for w in model.get_weights()], history.history["loss"],
                        model.evaluate(data, verbose=0), model.predict(data, verbose=0)))
    arrays = _model(lk)
    data = _dataset_class(lk)()
    arrays.fit(data.x, data.y, batch_size=4, epochs=3, shuffle=False, verbose=0)
    (kw, kl, ke, kp), (lw, ll, le, lp) = weights
    for a, b, c in zip(lw, kw, arrays.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ll, kl, rtol=1e-6)
    np.testing.assert_allclose(le, ke, rtol=1e-6)
    np.testing.assert_allclose(lp, kp, rtol=1e-6, atol=1e-7)


def test_workers_arguments_are_kept(K):
    Batches = _dataset_class(K)
    data = Batches(workers=2, use_multiprocessing=False, max_queue_size=5)
    assert (data.workers, data.use_multiprocessing, data.max_queue_size) == (2, False, 5)
    assert (Batches().workers, Batches().use_multiprocessing, Batches().max_queue_size) == (1, False, 10)
    _model(K).fit(data, epochs=1, verbose=0)
    assert K.utils.Sequence is K.utils.PyDataset


def test_a_keras2_sequence_without_super_init_or_on_epoch_begin():
    class OldStyle(lk.utils.Sequence):  # Keras 2: no super().__init__(), only on_epoch_end
        def __init__(self):
            self.ends = 0

        def __len__(self):
            return 2

        def __getitem__(self, i):
            x = np.full((4, 3), float(i), "float32")
            return x, x.sum(axis=1, keepdims=True)

        def on_epoch_end(self):
            self.ends += 1

    data = OldStyle()
    assert data.workers == 1 and data.max_queue_size == 10
    model = _model(lk)
    with pytest.warns(DeprecationWarning, match=r"fit\(max_queue_size=, use_multiprocessing=, workers=\)"):
        history = model.fit(data, epochs=2, verbose=0, workers=4, use_multiprocessing=True, max_queue_size=8)
    assert data.ends == 2 and len(history.history["loss"]) == 2
    assert [b.shape for b in [model.predict(data, verbose=0)]] == [(8, 1)]
    with pytest.raises(ValueError, match="workers must be a non-negative integer, got -1"):
        model.fit(data, workers=-1, verbose=0)
    with pytest.raises(TypeError, match=r"unexpected keyword arguments \['pool_size'\]"):
        model.fit(data, pool_size=2, verbose=0)


def test_a_pydataset_without_getitem_says_what_to_define():
    class Empty(lk.utils.PyDataset):
        def __len__(self):
            return 1

    with pytest.raises(NotImplementedError, match=r"must define __getitem__\(self, index\)"):
        _model(lk).fit(Empty(), verbose=0)
