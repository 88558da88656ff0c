"""callbacks.TensorBoard: the event files read back with TensorBoard's own reader (EventAccumulator) hold the
fit's logs exactly, at Keras' steps and under Keras' tags and folders; the layout test runs on Keras too
(its TensorBoard writes through tf.summary, so that side needs TensorFlow)."""

import importlib.util
import sys

import numpy as np
import pytest

import lstmkit.keras as lk

if importlib.util.find_spec("tensorflow") is not None:
    # Keras' TensorBoard (the parity side) writes with tf.summary. TensorFlow is imported here, at collection,
    # before an lstmkit TensorBoard is made in this process: one made first, with TensorFlow not yet imported,
    # switches TensorBoard to its TF-free file access, and tf.summary then finds no TensorFlow 2 (see
    # lstmkit/keras/tensorboard.py). keras first: it loads triton, without which TF 2.21 aborts after torch.
    import keras  # noqa: F401
    import tensorflow  # noqa: F401


def _weights(model):
    """Keras' names of the weights (a Sequential's under its name; the names count up in a process)."""
    lstm, dense = (f"{model.name}/{layer.name}" for layer in model.layers)
    return [f"{lstm}/lstm_cell/kernel", f"{lstm}/lstm_cell/recurrent_kernel", f"{lstm}/lstm_cell/bias",
            f"{dense}/kernel", f"{dense}/bias"]


def _data(rng, n):
    x = rng.normal(size=(n, 5, 3)).astype("float32")
    y = (rng.random((n, 1)) > 0.5).astype("float32")
    return x, y


def _model(K):
    model = K.Sequential([K.Input((5, 3)), K.layers.LSTM(4), K.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["acc"])
    return model


def _fit(K, rng, log_dir, callbacks=(), **tensorboard):
    """3 epochs of 4 training batches (8 samples, batch 2) and 1 validation batch (4 samples)."""
    x, y = _data(rng, 8)
    vx, vy = _data(rng, 4)
    model = _model(K)
    board = K.callbacks.TensorBoard(log_dir=str(log_dir), **tensorboard)
    history = model.fit(x, y, batch_size=2, epochs=3, validation_data=(vx, vy), validation_batch_size=4, verbose=0,
                        callbacks=[*callbacks, board])
    return model, history, board


def _read(folder):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0, "images": 0})
    events.Reload()
    return events


def _layout(log_dir):
    """{folder: {tag: (kind, steps)}}; kind is the plugin (Keras writes TF2 tensor summaries, torch's writer
    the older scalar and histogram values: both are what TensorBoard shows under the same tag)."""
    out = {}
    for folder in sorted(p for p in log_dir.iterdir() if p.is_dir()):
        events, tags = _read(folder), {}
        for tag in events.Tags()["scalars"]:
            tags[tag] = ("scalars", [e.step for e in events.Scalars(tag)])
        for tag in events.Tags()["histograms"]:
            tags[tag] = ("histograms", [e.step for e in events.Histograms(tag)])
        for tag in events.Tags()["tensors"]:
            tags[tag] = (events.SummaryMetadata(tag).plugin_data.plugin_name, [e.step for e in events.Tensors(tag)])
        out[folder.name] = tags
    return out


def test_layout_and_steps_follow_keras(K, rng, tmp_path):
    if K is not lk:
        pytest.importorskip("tensorflow")  # imported after keras: TF 2.21 imported right after torch aborts
    model, _, _ = _fit(K, rng, tmp_path / "logs", histogram_freq=2, update_freq=2, write_steps_per_second=True)
    epochs, batches = [0, 1, 2], [2, 4, 6, 8, 10, 12]  # 12 training batches, counted from 1
    train = {f"epoch_{n}": ("scalars", epochs) for n in ("loss", "acc", "learning_rate", "steps_per_second")}
    train |= {f"batch_{n}": ("scalars", batches) for n in ("loss", "acc", "steps_per_second")}
    train |= {f"{w}/histogram": ("histograms", [0, 2]) for w in _weights(model)}
    train["keras"] = ("graph_keras_model", [0])
    # one validation batch per epoch: with update_freq=2 the evaluation is recorded when the validation
    # batches counted so far are even (epoch 1, after 8 optimizer steps), Keras' record_if
    validation = {"epoch_loss": ("scalars", epochs), "epoch_acc": ("scalars", epochs),
                  "evaluation_loss_vs_iterations": ("scalars", [8]), "evaluation_acc_vs_iterations": ("scalars", [8])}
    assert _layout(tmp_path / "logs") == {"train": train, "validation": validation}


def test_epoch_scalars_are_the_history(rng, tmp_path):
    model, history, board = _fit(lk, rng, tmp_path / "logs", histogram_freq=1)
    h = history.history
    train, val = _read(tmp_path / "logs" / "train"), _read(tmp_path / "logs" / "validation")
    for events, tag, key in [(train, "epoch_loss", "loss"), (train, "epoch_acc", "acc"),
                             (val, "epoch_loss", "val_loss"), (val, "epoch_acc", "val_acc")]:
        assert [(e.step, e.value) for e in events.Scalars(tag)] == list(enumerate(h[key])), tag
    assert [e.value for e in train.Scalars("epoch_learning_rate")] == [float(np.float32(1e-3))] * 3
    # update_freq="epoch": no batch scalars; evaluations after every epoch, at the optimizer's step count
    assert not [t for t in train.Tags()["scalars"] if t.startswith("batch_")]
    assert [(e.step, e.value) for e in val.Scalars("evaluation_loss_vs_iterations")] == \
        [(4, h["val_loss"][0]), (8, h["val_loss"][1]), (12, h["val_loss"][2])]
    # a histogram of every weight after every epoch; the last one is of the final weights
    assert sorted(train.Tags()["histograms"]) == sorted(f"{w}/histogram" for w in _weights(model))
    final = {board._weight_name(w): w.numpy() for layer in model.layers for w in layer.weights}
    for name, value in final.items():
        epochs = train.Histograms(f"{name}/histogram")
        assert [e.step for e in epochs] == [0, 1, 2]
        last = epochs[-1].histogram_value
        assert (last.num, last.min, last.max) == (value.size, float(value.min()), float(value.max())), name
    # write_graph: the model's JSON, which TensorBoard's graph plugin draws
    assert [e.tensor_proto.string_val for e in train.Tensors("keras")] == [[model.to_json().encode()]]
    # only the two event files, in log_dir, and the writers closed
    files = sorted(p.relative_to(tmp_path).parent.as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["logs/train", "logs/validation"]
    assert all(p.name.startswith("events.out.tfevents.") for p in tmp_path.rglob("*") if p.is_file())
    assert board._writers == {}


def test_batch_scalars_every_update_freq_steps(rng, tmp_path):
    seen = []
    record = lk.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(float(logs["loss"])))
    _, history, _ = _fit(lk, rng, tmp_path / "logs", [record], update_freq=3, write_steps_per_second=True)
    train = _read(tmp_path / "logs" / "train")
    assert [(e.step, e.value) for e in train.Scalars("batch_loss")] == [(s, seen[s - 1]) for s in (3, 6, 9, 12)]
    assert [e.step for e in train.Scalars("batch_steps_per_second")] == [3, 6, 9, 12]
    assert all(e.value > 0 for e in train.Scalars("batch_steps_per_second") + train.Scalars("epoch_steps_per_second"))
    val = _read(tmp_path / "logs" / "validation")  # validation batches 1, 2, 3: only the third is recorded
    assert [(e.step, e.value) for e in val.Scalars("evaluation_loss_vs_iterations")] == \
        [(12, history.history["val_loss"][2])]


def test_evaluate_after_fit_writes_and_closes(rng, tmp_path):
    model, _, board = _fit(lk, rng, tmp_path / "logs")
    vx, vy = _data(rng, 4)
    loss, acc = model.evaluate(vx, vy, batch_size=4, verbose=0, callbacks=[board])
    val = _read(tmp_path / "logs" / "validation")  # the fit's file and the evaluation's
    assert [(e.step, e.value) for e in val.Scalars("evaluation_loss_vs_iterations")][-1] == (12, loss)
    assert [(e.step, e.value) for e in val.Scalars("evaluation_acc_vs_iterations")][-1] == (12, acc)
    assert board._writers == {}


def test_weights_as_images(rng, tmp_path):
    x, y = _data(rng, 4)
    model = lk.Sequential([lk.Input((5, 3)), lk.layers.LSTM(4), lk.layers.Dense(2), lk.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    board = lk.callbacks.TensorBoard(log_dir=str(tmp_path / "logs"), histogram_freq=3, write_images=True)
    model.fit(x, y, batch_size=2, epochs=1, verbose=0, callbacks=[board])
    train = _read(tmp_path / "logs" / "train")
    lstm, dense, last = (f"{model.name}/{layer.name}" for layer in model.layers)
    # the last bias (1,) squeezes to a scalar, which Keras does not draw
    assert sorted(train.Tags()["images"]) == sorted(
        [f"{lstm}/lstm_cell/{w}/image" for w in ("kernel", "recurrent_kernel", "bias")]
        + [f"{dense}/kernel/image", f"{dense}/bias/image", f"{last}/kernel/image"])
    size = {tag: [(e.step, e.width, e.height) for e in train.Images(tag)] for tag in train.Tags()["images"]}
    assert size[f"{lstm}/lstm_cell/kernel/image"] == [(0, 16, 3)]  # (3, 16): its wider side across
    assert size[f"{dense}/kernel/image"] == [(0, 4, 2)]  # (4, 2) is drawn transposed
    assert size[f"{dense}/bias/image"] == [(0, 1, 2)]  # a bias: a column
    assert size[f"{last}/kernel/image"] == [(0, 1, 2)]  # (2, 1) squeezes to a bias


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"profile_batch": 2}, "profile_batch=2 is not supported"),
    ({"profile_batch": "2,4"}, "profile_batch='2,4' is not supported"),
    ({"embeddings_freq": 1}, "embeddings_freq=1 is not supported"),
    ({"update_freq": "sometimes"}, "update_freq must be 'epoch', 'batch' or an int >= 1, got 'sometimes'"),
    ({"update_freq": 0}, "update_freq must be 'epoch', 'batch' or an int >= 1, got 0"),
    ({"histogram_freq": -1}, "histogram_freq must be an int >= 0"),
])
def test_unsupported_arguments_are_refused(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace("[", r"\[")):
        lk.callbacks.TensorBoard(log_dir=str(tmp_path), **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_without_tensorboard_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # import tensorboard now raises ImportError
    with pytest.raises(ImportError, match="pip install tensorboard"):
        lk.callbacks.TensorBoard(log_dir=str(tmp_path))
