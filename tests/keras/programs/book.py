"""Deep Learning with Python (1st edition, 6.3)'s `generator`: batches of past windows of `lookback`
steps (every `step`-th reading) and the temperature (column 1) `delay` steps later; `reverse` gives the
windows reversed in time, as the book's reversed-order GRU reads them. Shared by the tests that run
the book's Keras 2 program (tests/keras/test_keras2_names.py) and its 6.3/6.4 family (programs/)."""

import numpy as np


def generator(data, lookback, delay, min_index, max_index, shuffle=False, batch_size=128, step=6, reverse=False):
    if max_index is None:
        max_index = len(data) - delay - 1
    i = min_index + lookback
    while 1:
        if shuffle:
            rows = np.random.randint(min_index + lookback, max_index, size=batch_size)
        else:
            if i + batch_size >= max_index:
                i = min_index + lookback
            rows = np.arange(i, min(i + batch_size, max_index))
            i += len(rows)
        samples = np.zeros((len(rows), lookback // step, data.shape[-1]))
        targets = np.zeros((len(rows),))
        for j, row in enumerate(rows):
            indices = range(row - lookback, row, step)
            samples[j] = data[indices]
            targets[j] = data[row + delay][1]
        yield (samples[:, ::-1, :] if reverse else samples), targets
