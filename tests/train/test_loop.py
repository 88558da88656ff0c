"""lstmkit.train: batches, the validation split, the callback plumbing, lazy logs, timing, progress text."""

import io

import pytest
import torch

from lstmkit.train import (
    Callback,
    CallbackList,
    IterableBatches,
    LazyLogs,
    LoopStats,
    ProgressBar,
    TensorBatches,
    fit_loop,
    split_from_end,
)
from lstmkit.train.progress import format_logs, format_value


def test_tensor_batches_cover_every_sample_once_per_epoch():
    x = torch.arange(10).reshape(10, 1)
    batches = TensorBatches([x], x[:, 0], None, batch_size=4, shuffle=True)
    assert len(batches) == 3
    for _ in range(2):
        got = [b for b in batches]
        assert [len(b[0]) for b in got] == [4, 4, 2]
        assert sorted(torch.cat([b[0][:, 0] for b in got]).tolist()) == list(range(10))
        for bx, by, _ in got:
            assert torch.equal(bx[:, 0], by)  # inputs and targets stay paired
    ordered = [b[0][:, 0].tolist() for b in TensorBatches([x], None, None, 4)]
    assert ordered == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_split_from_end_is_keras_validation_split():
    x = torch.arange(10)
    (train, none), (val, _) = split_from_end([x, None], 0.25)
    # Keras: split_at = floor(10 * (1 - 0.25)) = 7, the last 3 samples validate
    assert train.tolist() == list(range(7)) and val.tolist() == [7, 8, 9] and none is None
    with pytest.raises(ValueError, match=r"validation_split must be in \(0, 1\)"):
        split_from_end([x], 1.0)


def test_iterable_batches_with_steps_keep_the_iterator():
    data = iter([(torch.zeros(2, 1), torch.ones(2))] * 5)
    batches = IterableBatches(data, steps=2)
    assert len(batches) == 2
    assert len(list(batches)) == 2 and len(list(batches)) == 2 and len(list(batches)) == 1


class Recorder(Callback):
    def __init__(self, calls):
        super().__init__()
        self.calls = calls

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))

    def on_batch_end(self, batch, logs=None):  # Keras 2 name: called from on_train_batch_end
        self.calls.append(("batch_end", batch, dict(logs)))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, dict(logs)))


def test_fit_loop_order_logs_and_stop():
    calls = []
    counter = {"n": 0}

    class Model:
        stop_training = False

    model = Model()

    def step(batch):
        counter["n"] += 1
        if counter["n"] == 5:
            model.stop_training = True

    stats = LoopStats()
    logs = fit_loop(model=model, train_step=step, train_logs=lambda: {"loss": float(counter["n"])},
                    reset_metrics=lambda: None, train_data=[1, 2, 3], epochs=3, initial_epoch=0,
                    callbacks=CallbackList([Recorder(calls)], model=model),
                    validate=lambda: {"loss": -1.0}, stats=stats)
    assert calls[0] == ("epoch_begin", 0) and calls[1] == ("batch_end", 0, {"loss": 1.0})
    assert calls[4] == ("epoch_end", 0, {"loss": 3.0, "val_loss": -1.0})
    assert calls[-1][0] == "epoch_end" and calls[-1][1] == 1  # stopped within the second epoch
    assert logs == {"loss": 5.0, "val_loss": -1.0} and stats.batches == 5 and 0.0 <= stats.overhead < 1.0


def test_lazy_logs_are_computed_once_and_only_when_read():
    reads = []
    logs = LazyLogs(lambda: reads.append(1) or {"loss": 0.5})
    assert reads == []
    assert logs["loss"] == 0.5 and dict(logs) == {"loss": 0.5} and reads == [1]


def test_callback_list_rejects_other_objects_and_skips_silent_hooks():
    with pytest.raises(ValueError, match="callbacks must be Callback objects"):
        CallbackList([object()])
    cbs = CallbackList([Callback()])
    assert all(not hooks for hooks in cbs._active.values())


def test_keras_number_format_and_progress_line():
    assert format_value(0.69314) == "0.6931" and format_value(1.5e-5) == "1.5000e-05" and format_value(0) == "0.0000"
    assert format_logs({"acc": 0.5, "loss": 0.25}) == " - acc: 0.5000 - loss: 0.2500"
    out = io.StringIO()
    bar = ProgressBar(verbose=2, file=out)
    bar.set_params({"epochs": 3, "steps": 4})
    bar.on_epoch_begin(0)
    for i in range(4):
        bar.on_train_batch_end(i, {"loss": 1.0})
    bar.on_epoch_end(0, {"loss": 0.5, "val_loss": 0.75})
    lines = out.getvalue().splitlines()
    assert lines[0] == "Epoch 1/3"
    assert lines[1].startswith("4/4 - 0s - ") and lines[1].endswith("/step - loss: 0.5000 - val_loss: 0.7500")
    with pytest.raises(ValueError, match="verbose must be 0, 1, 2"):
        ProgressBar(verbose=3)
