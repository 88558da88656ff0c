"""Deep Learning with Python, 1st edition, 6.3 and 6.4, a Keras 2 program: the book's `generator` of past
windows and the temperature `delay` steps later, the "same as the last reading" baseline, then Conv1D +
MaxPooling1D + GRU (6.4) and a GRU fed the windows reversed (6.3), trained with `fit_generator` and
`validation_steps`. On Beijing's hourly weather (Jena is not in the data folder). Keras 3 has no
fit_generator, so its copy of the program calls fit on the same generators (with steps_per_epoch)."""

import numpy as np
import pytest

import lstmkit.keras
from tests.keras.programs.book import generator
from tests.keras.programs.real_data import beijing_weather

lookback, step, delay, batch_size = 72, 3, 6, 64


@pytest.fixture(scope="module")
def float_data():
    data, _ = beijing_weather(3000)
    mean = data[:2000].mean(axis=0)
    data -= mean
    std = data[:2000].std(axis=0)
    data /= std
    return data


def fit(K, model, train_gen, val_gen, val_steps, epochs):
    if K is lstmkit.keras:
        with pytest.warns(DeprecationWarning, match="fit_generator"):
            return model.fit_generator(train_gen, steps_per_epoch=8, epochs=epochs, validation_data=val_gen,
                                       validation_steps=val_steps, verbose=0)
    return model.fit(train_gen, steps_per_epoch=8, epochs=epochs, validation_data=val_gen,
                     validation_steps=val_steps, verbose=0)


@pytest.mark.parametrize("program", ["conv1d_gru", "reversed_gru"])
def test_the_books_generator_programs(K, float_data, program):
    np.random.seed(0)
    K.utils.set_random_seed(0)
    reverse = program == "reversed_gru"
    train_gen = generator(float_data, lookback=lookback, delay=delay, min_index=0, max_index=2000, shuffle=True,
                          step=step, batch_size=batch_size, reverse=reverse)
    val_gen = generator(float_data, lookback=lookback, delay=delay, min_index=2001, max_index=2600, step=step,
                        batch_size=batch_size, reverse=reverse)
    val_steps = (2600 - 2001 - lookback) // batch_size
    samples, targets = next(generator(float_data, lookback, delay, 2001, 2600, step=step, batch_size=batch_size))
    assert samples.shape == (batch_size, lookback // step, 4) and targets.shape == (batch_size,)
    np.testing.assert_array_equal(samples[0], float_data[2001:2001 + lookback:step])
    assert targets[0] == float_data[2001 + lookback + delay, 1]
    naive_mae = float(np.mean(np.abs(samples[:, -1, 1] - targets)))

    model = K.models.Sequential()
    if program == "conv1d_gru":
        model.add(K.layers.Conv1D(16, 5, activation="relu", input_shape=(None, float_data.shape[-1])))
        model.add(K.layers.MaxPooling1D(3))
        model.add(K.layers.Conv1D(16, 5, activation="relu"))
        model.add(K.layers.GRU(16, dropout=0.1, recurrent_dropout=0.5))
    else:
        model.add(K.layers.GRU(16, input_shape=(None, float_data.shape[-1])))
    model.add(K.layers.Dense(1))
    model.compile(optimizer=K.optimizers.RMSprop(), loss="mae")
    history = fit(K, model, train_gen, val_gen, val_steps, epochs=5).history
    assert sorted(history) == ["loss", "val_loss"] and len(history["loss"]) == 5
    assert history["loss"][-1] < history["loss"][0] and history["val_loss"][-1] < history["val_loss"][0]
    preds = np.asarray(model.predict(samples, verbose=0))
    assert preds.shape == (batch_size, 1) and np.isfinite(preds).all()
    assert 0 < naive_mae < 1  # normalised units: six hours of temperature change
