"""save / load_model / save_weights / load_weights round trips (safetensors + JSON, no pickle), plot_history."""

import json
import re
import zipfile

import numpy as np
import pytest
import torch

import lstmkit.keras as lk
from lstmkit.keras import layers as L


def data(n=16, t=6):
    rng = np.random.default_rng(0)
    return rng.integers(0, 30, (n, t)), rng.integers(0, 2, n).astype("float32")


def sequential():
    model = lk.Sequential([lk.Input((6,), dtype="int32"), L.Embedding(30, 4, mask_zero=True),
                           L.Bidirectional(L.GRU(3, return_sequences=True, reset_after=False), merge_mode="sum"),
                           L.LSTM(3, kernel_regularizer="l2", dropout=0.1), L.BatchNormalization(),
                           L.Dense(1, activation="sigmoid")])
    model.compile(optimizer=lk.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy", metrics=["acc"])
    return model


def functional():
    inp = lk.Input((6,), dtype="int32")
    e = L.Embedding(30, 4)(inp)
    a = L.Conv1D(5, 3, padding="same", activation="relu")(e)
    b = L.SimpleRNN(5, return_sequences=True)(e)
    x = L.GlobalMaxPooling1D()(L.Add()([a, b]))
    model = lk.Model(inp, L.Dense(1, activation="sigmoid")(L.Dropout(0.2)(x)), name="two_paths")
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.parametrize("build", [sequential, functional])
def test_save_and_load_model_round_trip(build, tmp_path):
    x, y = data()
    model = build()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    with zipfile.ZipFile(path) as z:
        assert sorted(z.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]  # Keras 3's format
        assert not any(n.endswith((".pkl", ".pt", ".pickle")) for n in z.namelist())
        config = json.loads(z.read("config.json"))
    assert config["class_name"] == type(model).__name__ and config["compile_config"]["loss"]
    loaded = lk.models.load_model(path)
    assert type(loaded) is type(model) and [la.name for la in loaded.layers] == [la.name for la in model.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0))
    # the optimizer's state came along: one more step from both gives the same weights
    torch.manual_seed(3)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False)
    torch.manual_seed(3)
    loaded.fit(x, y, epochs=1, batch_size=16, verbose=0, shuffle=False)
    assert loaded.optimizer.iterations == model.optimizer.iterations
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_save_weights_and_load_weights(tmp_path):
    x, _ = data()
    model = sequential()
    model.predict(x, verbose=0)
    path = tmp_path / "m.weights.safetensors"
    model.save_weights(path)
    other = sequential()
    other.load_weights(path)
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))
    model.save(tmp_path / "m.keras")
    third = sequential()
    third.load_weights(tmp_path / "m.keras")
    np.testing.assert_array_equal(third.predict(x, verbose=0), model.predict(x, verbose=0))


def test_load_weights_rejects_another_architecture(tmp_path):
    model = sequential()
    path = tmp_path / "m.weights.safetensors"
    model.save_weights(path)
    other = lk.Sequential([lk.Input((6,), dtype="int32"), L.Embedding(30, 4), L.LSTM(2), L.Dense(1)])
    with pytest.raises(ValueError, match="holds 16 weights but model"):
        other.load_weights(path)
    same_count = lk.Sequential([lk.Input((6,), dtype="int32"), L.Embedding(31, 4, mask_zero=True),
                                L.Bidirectional(L.GRU(3, return_sequences=True, reset_after=False), merge_mode="sum"),
                                L.LSTM(3), L.BatchNormalization(), L.Dense(1, activation="sigmoid")])
    with pytest.raises(ValueError, match=r"weight 0 \(layer 'embedding.*'\) has shape \(30, 4\) in .* but \(31, 4\)"):
        same_count.load_weights(path)


def test_save_needs_the_keras_suffix_and_files_are_not_pickles(tmp_path):
    model = sequential()
    with pytest.raises(ValueError, match=r"'\.keras'"):
        model.save(tmp_path / "model.h5")
    bogus = tmp_path / "bogus.keras"
    bogus.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not a zip"):
        lk.models.load_model(bogus)


def test_json_config_round_trip():
    model = functional()
    rebuilt = lk.models.model_from_json(model.to_json())
    assert rebuilt.count_params() == model.count_params()
    assert [type(la).__name__ for la in rebuilt.layers] == [type(la).__name__ for la in model.layers]


def test_plot_history_writes_a_png(tmp_path):
    x, y = data()
    history = sequential().fit(x, y, epochs=2, validation_split=0.25, verbose=0)
    path = lk.utils.plot_history(history, tmp_path / "curves.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


# ----- damaged files: every error names the file and the fault --------------------------------------------------
def _small(folder):
    """A compiled model saved as folder/m.keras (the safetensors zip lstmkit wrote before Keras' format, which
    it still reads) and folder/m.weights.safetensors."""
    from lstmkit.keras.models.saving import save_lstmkit_zip

    folder.mkdir(exist_ok=True)
    model = lk.Sequential([lk.Input((6,), dtype="int32"), L.Embedding(30, 4), L.LSTM(3), L.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    save_lstmkit_zip(model, folder / "m.keras")
    model.save_weights(folder / "m.weights.safetensors")
    return model


def _rezip(src, dst, name, data):
    """A copy of the .keras zip `src` with the member `name` holding `data`."""
    with zipfile.ZipFile(src) as z, zipfile.ZipFile(dst, "w") as out:
        for member in z.namelist():
            out.writestr(member, data if member == name else z.read(member))
    return dst


GARBAGE = b"\x10" + b"\0" * 7 + b"{not json}......"  # a safetensors header length, then no JSON header


def test_damaged_keras_files_are_named_with_their_fault(tmp_path):
    from lstmkit.errors import FileFormatError

    model = _small(tmp_path)
    raw = bytearray((tmp_path / "m.keras").read_bytes())
    with zipfile.ZipFile(tmp_path / "m.keras") as z:
        info = z.getinfo("model.weights.safetensors")
    raw[info.header_offset + 30 + len(info.filename) + 200] ^= 0xFF  # a byte inside the stored member: a bad CRC
    crc = tmp_path / "crc.keras"
    crc.write_bytes(bytes(raw))
    broken_json = _rezip(tmp_path / "m.keras", tmp_path / "json.keras", "config.json", b"{broken")
    garbage = _rezip(tmp_path / "m.keras", tmp_path / "garbage.keras", "model.weights.safetensors", GARBAGE)
    for path, fault in [(crc, r": a damaged zip archive \(Bad CRC-32 for file 'model\.weights\.safetensors'\)"),
                        (broken_json, ": its config.json is not valid JSON"),
                        (garbage, r" \(model\.weights\.safetensors\): not a readable safetensors file")]:
        with pytest.raises(FileFormatError, match=f"^{re.escape(str(path))}{fault}"):
            lk.models.load_model(path)
        with pytest.raises(FileFormatError, match=f"^{re.escape(str(path))}{fault}"):
            model.load_weights(path)
    with pytest.raises(FileNotFoundError, match=f"no model file at {re.escape(str(tmp_path / 'nope.keras'))}"):
        lk.models.load_model(tmp_path / "nope.keras")
    with pytest.raises(FileNotFoundError, match=r"nope\.weights\.safetensors"):
        model.load_weights(tmp_path / "nope.weights.safetensors")


def test_garbage_weights_file_is_named(tmp_path):
    from lstmkit.errors import FileFormatError

    model = _small(tmp_path)
    path = tmp_path / "garbage.weights.safetensors"
    path.write_bytes(GARBAGE)
    with pytest.raises(FileFormatError, match=f"^{re.escape(str(path))}: not a readable safetensors file"):
        model.load_weights(path)


def _edited_weights(folder, name, drop=(), add=()):
    """folder/m.weights.safetensors with keys dropped and added, its metadata (the count) kept."""
    from safetensors.numpy import load, save

    blob = (folder / "m.weights.safetensors").read_bytes()
    arrays = load(blob)
    count = str(len(arrays))
    for key in drop:
        del arrays[key]
    for key in add:
        arrays[key] = np.zeros(1, np.float32)
    path = folder / name
    path.write_bytes(save(arrays, metadata={"format": "lstmkit.keras", "count": count}))
    return path


def test_weights_missing_from_the_file_are_listed(tmp_path):
    from lstmkit.errors import FileFormatError

    model = _small(tmp_path)
    saved = model.get_weights()
    missing = _edited_weights(tmp_path, "missing.weights.safetensors", drop=["weights/0002"])
    with pytest.raises(FileFormatError, match=rf"^{re.escape(str(missing))}: lacks 1 of the 6 weights its metadata lists: "
                                              r"\[weights/0002\]$"):
        model.load_weights(missing)
    # one missing and one extra: the count is right, and sorted position put weights/0009 at index 5
    swapped = _edited_weights(tmp_path, "swapped.weights.safetensors", drop=["weights/0002"], add=["weights/0009"])
    other = _small(tmp_path / "other")
    own = other.get_weights()
    with pytest.raises(FileFormatError, match=r"lacks 1 of the 6 .*\[weights/0002\]; and holds keys that are not "
                                              r"among the 6 weights its metadata lists: \[weights/0009\]"):
        other.load_weights(swapped)
    for a, b in zip(other.get_weights(), own):  # nothing was loaded
        np.testing.assert_array_equal(a, b)
    with pytest.warns(UserWarning, match=r"weights/0002.*skip_mismatch"):
        other.load_weights(swapped, skip_mismatch=True)  # as Keras: what does not fit keeps its value
    for i, a in enumerate(other.get_weights()):
        np.testing.assert_array_equal(a, own[i] if i == 2 else saved[i])
    with pytest.raises(FileFormatError, match="lacks 1 of the 6 weights"):
        lk.models.load_model(_rezip(tmp_path / "m.keras", tmp_path / "missing.keras", "model.weights.safetensors",
                                    missing.read_bytes()))


def test_a_weights_file_of_another_kind_is_refused(tmp_path):
    from safetensors.numpy import save

    from lstmkit.errors import FileFormatError

    model = _small(tmp_path)
    path = tmp_path / "state.safetensors"
    path.write_bytes(save({"rnn.weight_ih_l0": np.zeros((12, 4), np.float32)}))
    with pytest.raises(FileFormatError, match=rf"^{re.escape(str(path))}: holds no lstmkit.keras weights: its keys are "
                                              r"\[rnn\.weight_ih_l0\]"):
        model.load_weights(path)
