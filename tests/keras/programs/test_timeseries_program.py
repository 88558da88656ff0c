"""Deep Learning with Python, 2nd edition, chapter 10 (3rd edition, chapter 13), and keras-io's
timeseries_weather_forecasting.py, on Beijing's hourly weather (the real hourly series in the data folder; Jena
is not there): timeseries_dataset_from_array with sampling_rate, sequence_length and a delayed target,
`.take(1)` and the batches' `.numpy()`, the common-sense baseline, and a GRU with dropout and
recurrent_dropout trained on MAE. lstmkit.keras only: Keras 3 builds these datasets with tf.data."""

import numpy as np
import pytest

from lstmkit import keras
from lstmkit.keras import layers
from tests.keras.programs.real_data import beijing_weather

sampling_rate = 2
sequence_length = 24
delay = sampling_rate * (sequence_length + 6 - 1)  # the temperature 6 hours after the last window step
batch_size = 64


@pytest.fixture(scope="module")
def series():
    raw_data, temperature = beijing_weather(2400)
    num_train_samples = int(0.5 * len(raw_data))
    num_val_samples = int(0.25 * len(raw_data))
    mean = raw_data[:num_train_samples].mean(axis=0)
    raw_data -= mean
    std = raw_data[:num_train_samples].std(axis=0)
    raw_data /= std
    return raw_data, temperature, num_train_samples, num_val_samples, mean, std


def datasets(raw_data, temperature, num_train_samples, num_val_samples, shuffle=True):
    def make(start, end):
        return keras.utils.timeseries_dataset_from_array(
            raw_data[:-delay], targets=temperature[delay:], sampling_rate=sampling_rate,
            sequence_length=sequence_length, shuffle=shuffle, batch_size=batch_size, start_index=start,
            end_index=end)
    return (make(0, num_train_samples), make(num_train_samples, num_train_samples + num_val_samples),
            make(num_train_samples + num_val_samples, None))


def test_windows_and_targets_are_the_books(series):
    raw_data, temperature, num_train_samples, num_val_samples, _, _ = series
    train_dataset, _, _ = datasets(raw_data, temperature, num_train_samples, num_val_samples)
    for samples, targets in train_dataset.take(1):
        assert samples.numpy().shape == (batch_size, sequence_length, 4)
        assert targets.numpy().shape == (batch_size,)
    span = (sequence_length - 1) * sampling_rate + 1
    assert sum(len(t) for _, t in train_dataset) == num_train_samples - span + 1
    _, val_dataset, _ = datasets(raw_data, temperature, num_train_samples, num_val_samples, shuffle=False)
    samples, targets = next(iter(val_dataset))
    start = num_train_samples
    np.testing.assert_array_equal(samples.numpy()[0], raw_data[start:start + span:sampling_rate])
    np.testing.assert_array_equal(samples.numpy()[3], raw_data[start + 3:start + 3 + span:sampling_rate])
    assert targets.numpy()[3] == temperature[start + 3 + delay]


def test_keras_preprocessing_timeseries_dataset_from_array_is_the_utils_one(series):
    """keras-io's weather example calls `keras.preprocessing.timeseries_dataset_from_array` (Keras 3 exports
    it there too)."""
    raw_data, temperature, *_ = series
    a = keras.preprocessing.timeseries_dataset_from_array(raw_data[:200], temperature[30:230], sequence_length=12,
                                                          sampling_rate=2, batch_size=32)
    b = keras.utils.timeseries_dataset_from_array(raw_data[:200], temperature[30:230], sequence_length=12,
                                                  sampling_rate=2, batch_size=32)
    for (xa, ya), (xb, yb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())


def test_common_sense_baseline_and_a_gru_with_recurrent_dropout(series):
    raw_data, temperature, num_train_samples, num_val_samples, mean, std = series
    train_dataset, val_dataset, test_dataset = datasets(raw_data, temperature, num_train_samples, num_val_samples)

    def evaluate_naive_method(dataset):
        total_abs_err = 0.0
        samples_seen = 0
        for samples, targets in dataset:
            preds = samples[:, -1, 1] * std[1] + mean[1]
            total_abs_err += float(np.sum(np.abs(np.asarray(preds) - np.asarray(targets))))
            samples_seen += samples.shape[0]
        return total_abs_err / samples_seen

    baseline = evaluate_naive_method(val_dataset)
    assert 1.0 < baseline < 6.0  # degrees C: six hours of change in Beijing

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(sequence_length, raw_data.shape[-1]))
    x = layers.GRU(16, dropout=0.1, recurrent_dropout=0.25)(inputs)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(1)(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])
    history = model.fit(train_dataset, epochs=4, validation_data=val_dataset, verbose=0).history
    assert sorted(history) == ["loss", "mae", "val_loss", "val_mae"]
    assert history["mae"][-1] < history["mae"][0] and history["val_mae"][-1] < history["val_mae"][0]
    test_mae = model.evaluate(test_dataset, verbose=0)[1]
    assert np.isfinite(test_mae)
    for samples, _ in test_dataset.take(1):
        preds = np.asarray(model.predict(samples.numpy(), verbose=0))
        assert preds.shape == (batch_size, 1)
        assert temperature.min() - 10 < preds.min() and preds.max() < temperature.max() + 10
