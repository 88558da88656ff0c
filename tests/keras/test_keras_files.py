"""Real Keras files both ways: `.keras`, `.weights.h5` and Keras 2 `.h5` made by Keras 3.15.1 (torch backend)
load into lstmkit.keras and predict Keras' numbers; lstmkit's `.keras` and weights files open in Keras and
predict lstmkit's numbers; files lstmkit cannot map are refused with the file, the layer and the reason."""

import io
import json
import zipfile

import h5py
import numpy as np
import pytest
import torch

import lstmkit.keras as lk
from lstmkit.errors import FileFormatError

keras = pytest.importorskip("keras")

ATOL = 1e-6  # float32 predictions of the same weights on both libraries
# functional(): the embedding's mask reaches Conv1D, which drops it with a warning on both libraries (as meant)
pytestmark = pytest.mark.filterwarnings("ignore:Layer 'conv1d.*mask:UserWarning")
V, T = 30, 7  # vocabulary, sequence length


def tokens(n=5, seed=0):
    """Token ids with left padding (zeros) of different lengths, as pad_sequences makes them."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, V, (n, T))
    for i in range(n):
        x[i, : i % 4] = 0
    return x


def labels(n=5):
    return (np.arange(n) % 2).astype("float32")[:, None]


def imdb(K, rnn):
    """The IMDB-style model: Embedding -> LSTM / GRU / SimpleRNN -> Dense sigmoid."""
    L = K.layers
    return K.Sequential([K.Input((None,), dtype="int32"), L.Embedding(V, 6),
                         getattr(L, rnn)(5), L.Dense(1, activation="sigmoid")])


def stacked_bidirectional(K):
    """Embedding(mask_zero) -> Bidirectional(GRU, return_sequences) -> Bidirectional(GRU) -> Dense."""
    L = K.layers
    return K.Sequential([K.Input((None,), dtype="int32"), L.Embedding(V, 6, mask_zero=True),
                         L.Bidirectional(L.GRU(4, return_sequences=True)), L.Bidirectional(L.GRU(3)),
                         L.Dense(1, activation="sigmoid")])


def functional(K):
    """Two recurrent paths over a masked embedding, Conv1D, pooling, TimeDistributed, Dropout, Masking."""
    L = K.layers
    inp = K.Input((None,), dtype="int32", name="tokens")
    e = L.Embedding(V, 4, mask_zero=True)(inp)
    a = L.LSTM(3, return_sequences=True)(e)
    b = L.SimpleRNN(3, return_sequences=True, go_backwards=False)(e)
    x = L.Concatenate()([a, b])
    x = L.TimeDistributed(L.Dense(4, activation="tanh"))(x)
    x = L.Masking()(x)
    x = L.Conv1D(3, 2, padding="same")(x)
    x = L.MaxPooling1D(2, padding="same")(x)
    x = L.Dropout(0.3)(L.GlobalAveragePooling1D()(x))
    return K.Model(inp, L.Dense(2, activation="softmax")(x), name="two_paths")


def cells(K):
    """RNN over a cell and over stacked cells, normalization layers: the HDF5 groups of cells and their lists."""
    L = K.layers
    return K.Sequential([K.Input((T, 3)), L.RNN(L.LSTMCell(4), return_sequences=True), L.LayerNormalization(),
                         L.RNN([L.GRUCell(3), L.SimpleRNNCell(2)], return_sequences=True), L.BatchNormalization(),
                         L.Flatten(), L.Dense(1)])


MODELS = {"imdb_lstm": lambda K: imdb(K, "LSTM"), "imdb_gru": lambda K: imdb(K, "GRU"),
          "imdb_simplernn": lambda K: imdb(K, "SimpleRNN"), "stacked_bidirectional_gru": stacked_bidirectional}


def trained(K, build, seed=0):
    """A model compiled with Adam and fitted one step, so that it has optimizer state to save."""
    if K is keras:
        keras.utils.set_random_seed(seed)
    else:
        torch.manual_seed(seed)
    model = build(K)
    model.compile(optimizer=K.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(tokens(), labels(), epochs=1, batch_size=5, verbose=0, shuffle=False)
    return model


def keras_predict(model, x):
    return np.asarray(model.predict(x, verbose=0))


def lk_predict(model, x):
    return model.predict(x, verbose=0)


def optimizer_arrays_keras(model):
    return [np.asarray(v.numpy()) for v in model.optimizer.variables]


def optimizer_arrays_lk(model):
    """lstmkit's optimizer as Keras lists its variables: iterations, learning rate, slots per variable."""
    from lstmkit.keras.keras_format import _optimizer_arrays

    return _optimizer_arrays(model, model.optimizer)


def h5_layout(blob):
    """Every dataset of a weights.h5 as {path: shape}, and every group's `name` attribute."""
    out = {}
    with h5py.File(io.BytesIO(blob), "r") as f:
        f.visititems(lambda name, obj: out.__setitem__(name, obj.shape if isinstance(obj, h5py.Dataset) else None))
    return out


def member(path, name):
    with zipfile.ZipFile(path) as z:
        return z.read(name)


def rezip(src, dst, name, data):
    with zipfile.ZipFile(src) as z, zipfile.ZipFile(dst, "w") as out:
        for m in z.namelist():
            out.writestr(m, data if m == name else z.read(m))
    return dst


# ----- (a) files made by Keras load into lstmkit -------------------------------------------------------------
@pytest.mark.parametrize("name", list(MODELS))
def test_a_keras_made_keras_file_loads_and_predicts_keras_numbers(name, tmp_path):
    km = trained(keras, MODELS[name])
    path = tmp_path / "k.keras"
    km.save(path)
    model = lk.models.load_model(path)
    x = tokens(6, seed=1)
    np.testing.assert_allclose(lk_predict(model, x), keras_predict(km, x), rtol=0, atol=ATOL)
    assert [type(la).__name__ for la in model.layers] == [type(la).__name__ for la in km.layers]
    # the compile config and the optimizer state came along: Adam, its learning rate, its step and its slots
    assert type(model.optimizer).__name__ == "Adam" and model.optimizer.learning_rate == pytest.approx(0.01)
    assert model.optimizer.iterations == 1
    ours, theirs = optimizer_arrays_lk(model), optimizer_arrays_keras(km)
    assert len(ours) == len(theirs)
    for a, b in zip(ours[2:], theirs[2:]):
        np.testing.assert_array_equal(a, b)


def test_a_keras_made_functional_file_with_masks_loads(tmp_path):
    """Keras records the masks it computed as op layers (NotEqual, LogicalOr, ...) passed as mask=; lstmkit
    drops them (it propagates masks itself) and predicts the same numbers."""
    keras.utils.set_random_seed(1)
    km = functional(keras)
    km.save(tmp_path / "f.keras")
    config = json.loads(member(tmp_path / "f.keras", "config.json"))
    assert "NotEqual" in [la["class_name"] for la in config["config"]["layers"]]
    model = lk.models.load_model(tmp_path / "f.keras")
    x = tokens(6, seed=2)
    np.testing.assert_allclose(lk_predict(model, x), keras_predict(km, x), rtol=0, atol=ATOL)
    assert "NotEqual" not in [type(la).__name__ for la in model.layers]


@pytest.mark.parametrize("name", ["imdb_gru", "stacked_bidirectional_gru"])
def test_a_keras_weights_h5_loads_into_an_lstmkit_model(name, tmp_path):
    km = trained(keras, MODELS[name], seed=2)
    km.save_weights(tmp_path / "k.weights.h5")
    model = MODELS[name](lk)
    before = lk_predict(model, tokens())
    model.load_weights(tmp_path / "k.weights.h5")
    x = tokens(6, seed=3)
    np.testing.assert_allclose(lk_predict(model, x), keras_predict(km, x), rtol=0, atol=ATOL)
    assert np.abs(lk_predict(model, tokens()) - before).max() > 1e-3  # the weights did change


@pytest.mark.parametrize("writer", ["model.save", "legacy_h5_format"])
def test_a_keras_legacy_h5_model_loads(writer, tmp_path):
    from keras.src.legacy.saving import legacy_h5_format

    km = trained(keras, stacked_bidirectional, seed=3)
    path = tmp_path / "k.h5"
    if writer == "model.save":
        km.save(path)
    else:
        legacy_h5_format.save_model_to_hdf5(km, str(path))
    model = lk.models.load_model(path)
    x = tokens(6, seed=4)
    np.testing.assert_allclose(lk_predict(model, x), keras_predict(km, x), rtol=0, atol=ATOL)
    assert type(model.optimizer).__name__ == "Adam" and model.optimizer.learning_rate == pytest.approx(0.01)


def _keras2_layer(class_name, name, **config):
    base = {"name": name, "trainable": True, "dtype": "float32"}
    return {"class_name": class_name, "config": {**base, **config}}


def _keras2_rnn(class_name, name, units, **extra):
    init = {"kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
            "recurrent_initializer": {"class_name": "Orthogonal", "config": {"gain": 1.0, "seed": None}},
            "bias_initializer": {"class_name": "Zeros", "config": {}}}
    config = {"return_sequences": False, "return_state": False, "go_backwards": False, "stateful": False,
              "unroll": False, "time_major": False, "units": units, "activation": "tanh",
              "recurrent_activation": "sigmoid", "use_bias": True, **init, "kernel_regularizer": None,
              "recurrent_regularizer": None, "bias_regularizer": None, "activity_regularizer": None,
              "kernel_constraint": None, "recurrent_constraint": None, "bias_constraint": None, "dropout": 0.0,
              "recurrent_dropout": 0.0, "implementation": 2, **extra}
    return _keras2_layer(class_name, name, **config)


def test_a_hand_written_keras2_h5_loads(tmp_path):
    """An .h5 in Keras 2.x's exact layout (written with h5py): its LSTM and GRU configs have Keras 2's keys
    (implementation, time_major), the InputLayer a batch_input_shape; weights as layer/cell/kernel:0."""
    U, H, E = 4, 3, 5
    layers = [
        {"class_name": "InputLayer", "config": {"batch_input_shape": [None, T], "dtype": "int32", "sparse": False,
                                                 "ragged": False, "name": "embedding_input"}},
        _keras2_layer("Embedding", "embedding", batch_input_shape=[None, T], input_dim=V, output_dim=E,
                      embeddings_initializer={"class_name": "RandomUniform",
                                              "config": {"minval": -0.05, "maxval": 0.05, "seed": None}},
                      embeddings_regularizer=None, activity_regularizer=None, embeddings_constraint=None,
                      mask_zero=True, input_length=T),
        _keras2_layer("Bidirectional", "bidirectional", merge_mode="concat",
                      layer=_keras2_rnn("GRU", "gru", U, return_sequences=True, reset_after=True)),
        _keras2_rnn("LSTM", "lstm", H, unit_forget_bias=True),
        _keras2_layer("Dense", "dense", units=1, activation="sigmoid", use_bias=True,
                      kernel_initializer={"class_name": "GlorotUniform", "config": {"seed": None}},
                      bias_initializer={"class_name": "Zeros", "config": {}}, kernel_regularizer=None,
                      bias_regularizer=None, activity_regularizer=None, kernel_constraint=None, bias_constraint=None),
    ]
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}
    rng = np.random.default_rng(5)

    def w(*shape):
        return rng.normal(0, 0.4, shape).astype("float32")

    weights = {
        "embedding": [("embedding/embeddings:0", w(V, E))],
        "bidirectional": [(f"bidirectional/{d}_gru/gru_cell/{k}:0", w(*s)) for d in ("forward", "backward")
                          for k, s in (("kernel", (E, 3 * U)), ("recurrent_kernel", (U, 3 * U)), ("bias", (2, 3 * U)))],
        "lstm": [("lstm/lstm_cell/kernel:0", w(2 * U, 4 * H)), ("lstm/lstm_cell/recurrent_kernel:0", w(H, 4 * H)),
                 ("lstm/lstm_cell/bias:0", w(4 * H))],
        "dense": [("dense/kernel:0", w(H, 1)), ("dense/bias:0", w(1))],
    }
    path = tmp_path / "keras2.h5"
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.13.1"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps(config).encode("utf8")
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = [b"embedding", b"bidirectional", b"lstm", b"dense"]
        group.attrs["backend"], group.attrs["keras_version"] = b"tensorflow", b"2.13.1"
        for layer, entries in weights.items():
            g = group.create_group(layer)
            g.attrs["weight_names"] = [n.encode("utf8") for n, _ in entries]
            for n, a in entries:
                g.create_dataset(n, data=a)
    model = lk.models.load_model(path)
    # the same weights set by hand into Keras 3's own layers give the expected numbers
    L = keras.layers
    km = keras.Sequential([keras.Input((T,), dtype="int32"), L.Embedding(V, E, mask_zero=True),
                           L.Bidirectional(L.GRU(U, return_sequences=True)), L.LSTM(H),
                           L.Dense(1, activation="sigmoid")])
    km.set_weights([a for entries in weights.values() for _, a in entries])
    x = tokens(6, seed=6)
    np.testing.assert_allclose(lk_predict(model, x), keras_predict(km, x), rtol=0, atol=ATOL)


def test_a_hand_written_keras2_functional_h5_loads(tmp_path):
    """Keras 2's functional config: inbound_nodes as [[layer, node, tensor, kwargs]], input_layers as lists."""
    E, H = 4, 3
    layers = [
        {"class_name": "InputLayer", "name": "input_1", "inbound_nodes": [],
         "config": {"batch_input_shape": [None, T], "dtype": "int32", "sparse": False, "ragged": False,
                    "name": "input_1"}},
        {**_keras2_layer("Embedding", "embedding", input_dim=V, output_dim=E, mask_zero=False,
                         embeddings_initializer={"class_name": "RandomUniform", "config": {"seed": None}}),
         "name": "embedding", "inbound_nodes": [[["input_1", 0, 0, {}]]]},
        {**_keras2_rnn("LSTM", "lstm", H, unit_forget_bias=True), "name": "lstm",
         "inbound_nodes": [[["embedding", 0, 0, {}]]]},
        {**_keras2_layer("Dense", "dense", units=2, activation="softmax", use_bias=True), "name": "dense",
         "inbound_nodes": [[["lstm", 0, 0, {}]]]},
    ]
    config = {"class_name": "Functional", "config": {"name": "model", "layers": layers,
                                                     "input_layers": [["input_1", 0, 0]],
                                                     "output_layers": [["dense", 0, 0]]}}
    rng = np.random.default_rng(6)
    arrays = [rng.normal(0, 0.4, s).astype("float32") for s in [(V, E), (E, 4 * H), (H, 4 * H), (4 * H,), (H, 2), (2,)]]
    names = {"embedding": ["embedding/embeddings:0"],
             "lstm": ["lstm/lstm_cell/kernel:0", "lstm/lstm_cell/recurrent_kernel:0", "lstm/lstm_cell/bias:0"],
             "dense": ["dense/kernel:0", "dense/bias:0"]}
    path = tmp_path / "keras2_functional.h5"
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"], f.attrs["backend"] = b"2.11.0", b"tensorflow"
        f.attrs["model_config"] = json.dumps(config)
        group = f.create_group("model_weights")
        group.attrs["layer_names"] = [b"input_1", b"embedding", b"lstm", b"dense"]
        group.create_group("input_1").attrs["weight_names"] = []
        it = iter(arrays)
        for layer, wnames in names.items():
            g = group.create_group(layer)
            g.attrs["weight_names"] = [n.encode() for n in wnames]
            for n in wnames:
                g.create_dataset(n, data=next(it))
    model = lk.models.load_model(path)
    inp = keras.Input((T,), dtype="int32")
    km = keras.Model(inp, keras.layers.Dense(2, activation="softmax")(keras.layers.LSTM(H)(
        keras.layers.Embedding(V, E)(inp))))
    km.set_weights(arrays)
    x = tokens(6, seed=12)
    np.testing.assert_allclose(lk_predict(model, x), keras_predict(km, x), rtol=0, atol=ATOL)


# ----- (b) files made by lstmkit open in Keras ---------------------------------------------------------------
@pytest.mark.parametrize("name", list(MODELS))
def test_b_an_lstmkit_keras_file_opens_in_keras(name, tmp_path):
    model = trained(lk, MODELS[name])
    path = tmp_path / "l.keras"
    model.save(path)
    km = keras.saving.load_model(path)
    x = tokens(6, seed=7)
    np.testing.assert_allclose(keras_predict(km, x), lk_predict(model, x), rtol=0, atol=ATOL)
    assert int(km.optimizer.iterations.numpy()) == 1
    ours, theirs = optimizer_arrays_lk(model), optimizer_arrays_keras(km)
    assert [a.shape for a in ours] == [b.shape for b in theirs]
    for a, b in zip(ours[2:], theirs[2:]):
        np.testing.assert_array_equal(a, b)
    # and back into lstmkit from what Keras writes of it
    km.save(tmp_path / "again.keras")
    np.testing.assert_allclose(lk_predict(lk.models.load_model(tmp_path / "again.keras"), x), lk_predict(model, x),
                               rtol=0, atol=ATOL)


@pytest.mark.parametrize("build", [stacked_bidirectional, functional, cells], ids=lambda b: b.__name__)
def test_b_the_weights_h5_layout_is_keras_own(build, tmp_path):
    """Group for group, dataset for dataset, shape for shape, what lstmkit writes is what Keras writes."""
    km, model = build(keras), build(lk)
    km.save_weights(tmp_path / "k.weights.h5")
    model.save_weights(tmp_path / "l.weights.h5")
    assert h5_layout((tmp_path / "l.weights.h5").read_bytes()) == h5_layout((tmp_path / "k.weights.h5").read_bytes())
    km.load_weights(tmp_path / "l.weights.h5")
    x = np.random.default_rng(8).normal(size=(6, T, 3)).astype("float32") if build is cells else tokens(6, seed=8)
    np.testing.assert_allclose(keras_predict(km, x), lk_predict(model, x), rtol=0, atol=ATOL)
    # the whole model both ways: Keras' options that lstmkit's layers lack (BatchNormalization's renorm_momentum,
    # InputLayer's sparse, ...) are dropped when they are off
    km.save(tmp_path / "k.keras")
    np.testing.assert_allclose(lk_predict(lk.models.load_model(tmp_path / "k.keras"), x), keras_predict(km, x),
                               rtol=0, atol=ATOL)
    model.save(tmp_path / "l.keras")
    np.testing.assert_allclose(keras_predict(keras.saving.load_model(tmp_path / "l.keras"), x),
                               lk_predict(model, x), rtol=0, atol=ATOL)


def test_b_an_lstmkit_functional_model_opens_in_keras(tmp_path):
    torch.manual_seed(4)
    model = functional(lk)
    model.save(tmp_path / "f.keras")
    km = keras.saving.load_model(tmp_path / "f.keras")
    x = tokens(6, seed=9)
    np.testing.assert_allclose(keras_predict(km, x), lk_predict(model, x), rtol=0, atol=ATOL)
    assert [la.name for la in km.layers] == [la.name for la in model.layers]


def test_b_save_weights_h5_keras2_layout_opens_in_keras(tmp_path):
    """save_weights("x.h5") writes Keras 2's layout (layer_names, weight_names), which Keras 3 reads by order;
    "x.safetensors" stays lstmkit's own format."""
    torch.manual_seed(5)
    model = stacked_bidirectional(lk)
    model.save_weights(tmp_path / "w.h5")
    with h5py.File(tmp_path / "w.h5", "r") as f:
        assert list(f.attrs["layer_names"]) == [la.name for la in model.layers]
        names = list(f[model.layers[1].name].attrs["weight_names"])  # the variables' paths, as Keras 3 writes
        assert [n.split("/", 1)[1] for n in names] == [f"{d}/gru_cell/{k}" for d in (
            model.layers[1].forward_layer.name, model.layers[1].backward_layer.name)
            for k in ("kernel", "recurrent_kernel", "bias")]
    km = stacked_bidirectional(keras)
    km.load_weights(tmp_path / "w.h5")
    x = tokens(6, seed=10)
    np.testing.assert_allclose(keras_predict(km, x), lk_predict(model, x), rtol=0, atol=ATOL)
    again = stacked_bidirectional(lk)
    again.load_weights(tmp_path / "w.h5")
    np.testing.assert_array_equal(lk_predict(again, x), lk_predict(model, x))
    model.save_weights(tmp_path / "w.safetensors")
    assert (tmp_path / "w.safetensors").read_bytes()[8:9] == b"{"  # a safetensors header, not HDF5
    assert not h5py.is_hdf5(tmp_path / "w.safetensors")


def test_b_compile_config_round_trips_through_keras(tmp_path):
    torch.manual_seed(6)
    model = imdb(lk, "LSTM")
    model.compile(optimizer=lk.optimizers.Adam(learning_rate=0.003, beta_1=0.8, amsgrad=True),
                  loss="binary_crossentropy", metrics=["accuracy", "precision"])
    model.fit(tokens(), labels(), epochs=1, batch_size=5, verbose=0, shuffle=False)
    model.save(tmp_path / "c.keras")
    km = keras.saving.load_model(tmp_path / "c.keras")
    opt = km.optimizer
    assert type(opt).__name__ == "Adam" and opt.amsgrad
    assert float(opt.learning_rate) == pytest.approx(0.003) and opt.beta_1 == pytest.approx(0.8)
    assert km.get_compile_config()["loss"]["class_name"] == "BinaryCrossentropy"
    assert km.get_compile_config()["metrics"] == ["accuracy", "precision"]
    ours, theirs = optimizer_arrays_lk(model), optimizer_arrays_keras(km)
    assert len(ours) == len(theirs) == 2 + 3 * 6  # momentum, velocity, velocity_hat of 6 variables
    for a, b in zip(ours[2:], theirs[2:]):
        np.testing.assert_array_equal(a, b)
    km.save(tmp_path / "k.keras")
    back = lk.models.load_model(tmp_path / "k.keras")
    assert type(back.optimizer).__name__ == "Adam" and back.optimizer.amsgrad
    assert back.optimizer.learning_rate == pytest.approx(0.003) and back.optimizer.beta_1 == pytest.approx(0.8)
    assert type(back._loss_fn).__name__ == "BinaryCrossentropy"
    assert back._compile_config["metrics"] == ["accuracy", "precision"]
    # one more step from the state that went through Keras equals one more step from the original
    x, y = tokens(), labels()
    model.fit(x, y, epochs=1, batch_size=5, verbose=0, shuffle=False)
    back.fit(x, y, epochs=1, batch_size=5, verbose=0, shuffle=False)
    for a, b in zip(back.get_weights(), model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_b_lstmkit_only_options_travel_in_metadata(tmp_path):
    torch.manual_seed(7)
    L = lk.layers
    model = lk.Sequential([lk.Input((None,), dtype="int32"), L.Embedding(V, 4),
                           L.Bidirectional(L.GRU(3, return_sequences=True, backend="reference"), name="bi"),
                           L.LSTM(2, backend="reference", name="lstm"), L.Dense(1)])
    model.save(tmp_path / "o.keras")
    assert "backend" not in member(tmp_path / "o.keras", "config.json").decode()
    meta = json.loads(member(tmp_path / "o.keras", "metadata.json"))
    assert meta["keras_version"] == "3.15.1" and meta["lstmkit_options"]["lstm"] == {"backend": "reference"}
    km = keras.saving.load_model(tmp_path / "o.keras")  # Keras opens it and ignores them
    x = tokens(4, seed=11)
    np.testing.assert_allclose(keras_predict(km, x), lk_predict(model, x), rtol=0, atol=ATOL)
    back = lk.models.load_model(tmp_path / "o.keras")
    assert back.layers[2].backend == "reference"
    assert back.layers[1].forward_layer.backend == back.layers[1].backward_layer.backend == "reference"


# ----- (c) refusals ------------------------------------------------------------------------------------------
def test_c_a_lambda_is_refused_unless_safe_mode_is_off(tmp_path):
    L = keras.layers
    km = keras.Sequential([keras.Input((3,)), L.Dense(2), L.Lambda(lambda t: t * 2.0 + 1.0), L.Dense(1)])
    km.save(tmp_path / "lam.keras")
    with pytest.raises(FileFormatError, match=r"lam\.keras: layer 'lambda.*': a Lambda layer holds Python bytecode.*"
                                              r"safe_mode=False"):
        lk.models.load_model(tmp_path / "lam.keras")
    model = lk.saving.load_model(tmp_path / "lam.keras", safe_mode=False)
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    np.testing.assert_allclose(lk_predict(model, x), keras_predict(km, x), rtol=0, atol=ATOL)


def test_c_an_unknown_class_is_refused_with_its_name(tmp_path):
    km = imdb(keras, "LSTM")
    km.save(tmp_path / "k.keras")
    config = member(tmp_path / "k.keras", "config.json").replace(b'"class_name": "LSTM"', b'"class_name": "PeepLSTM"')
    bad = rezip(tmp_path / "k.keras", tmp_path / "unknown.keras", "config.json", config)
    with pytest.raises(FileFormatError, match=r"unknown\.keras: layer 'lstm(_\d+)?': class 'PeepLSTM' \(module "
                                              r"'keras\.layers'\) is not an lstmkit\.keras layer"):
        lk.models.load_model(bad)


def test_c_a_keras_option_lstmkit_lacks_is_refused_by_name(tmp_path):
    km = keras.Sequential([keras.Input((3,)), keras.layers.BatchNormalization(renorm=True), keras.layers.Dense(1)])
    km.save(tmp_path / "renorm.keras")
    with pytest.raises(FileFormatError, match=r"renorm\.keras: its config\.json does not describe an lstmkit\.keras "
                                              r"model .*BatchNormalization\(renorm=True / synchronized=True\) is not supported"):
        lk.models.load_model(tmp_path / "renorm.keras")


def test_c_a_weight_of_the_wrong_shape_is_refused(tmp_path):
    km = imdb(keras, "GRU")
    km.save(tmp_path / "k.keras")
    buf = io.BytesIO(member(tmp_path / "k.keras", "model.weights.h5"))
    with h5py.File(buf, "a") as f:
        del f["layers/gru/cell/vars/1"]
        f["layers/gru/cell/vars/1"] = np.zeros((4, 15), "float32")
    bad = rezip(tmp_path / "k.keras", tmp_path / "shape.keras", "model.weights.h5", buf.getvalue())
    with pytest.raises(FileFormatError, match=r"shape\.keras \(model\.weights\.h5\): layer 'gru_cell' \(group "
                                              r"'layers/gru/cell/vars'\): variable 1 has shape \(4, 15\) in the file "
                                              r"but \(5, 15\) in the model"):
        lk.models.load_model(bad)
    model = imdb(lk, "GRU")
    with pytest.raises(FileFormatError, match=r"variable 1 has shape \(4, 15\)"):
        model.load_weights(bad)


def test_c_truncated_files_are_refused(tmp_path):
    km = imdb(keras, "SimpleRNN")
    km.save(tmp_path / "k.keras")
    km.save(tmp_path / "k.h5")
    cut = tmp_path / "cut.keras"
    cut.write_bytes((tmp_path / "k.keras").read_bytes()[:3000])
    with pytest.raises(FileFormatError, match=r"cut\.keras: not a \.keras file \(not a zip archive\)"):
        lk.models.load_model(cut)
    cut_h5 = tmp_path / "cut.h5"
    cut_h5.write_bytes((tmp_path / "k.h5").read_bytes()[:4000])
    with pytest.raises(FileFormatError, match=r"cut\.h5: not a readable HDF5 file"):
        lk.models.load_model(cut_h5)
    km.save_weights(tmp_path / "k.weights.h5")
    cut_w = tmp_path / "cut.weights.h5"
    cut_w.write_bytes((tmp_path / "k.weights.h5").read_bytes()[:2000])
    with pytest.raises(FileFormatError, match=r"cut\.weights\.h5: not a readable HDF5 file"):
        imdb(lk, "SimpleRNN").load_weights(cut_w)


@pytest.mark.parametrize("maker", ["keras", "lstmkit"])
def test_two_inputs_a_shared_layer_and_two_outputs_both_ways(maker, tmp_path):
    """A layer called twice (node index 1 in Keras' keras_history) and lists of inputs and outputs."""
    K, other = (keras, lk.models.load_model) if maker == "keras" else (lk, keras.saving.load_model)
    if K is keras:
        keras.utils.set_random_seed(9)
    else:
        torch.manual_seed(9)
    a, b = K.Input((T,), dtype="int32", name="a"), K.Input((T,), dtype="int32", name="b")
    embed, rnn = K.layers.Embedding(V, 3), K.layers.LSTM(2)
    ha, hb = rnn(embed(a)), rnn(embed(b))
    model = K.Model([a, b], [K.layers.Dense(1)(K.layers.Concatenate()([ha, hb])), K.layers.Dense(2)(ha)])
    model.save(tmp_path / "m.keras")
    loaded = other(tmp_path / "m.keras")
    x = [tokens(4, seed=13), tokens(4, seed=14)]
    ours, theirs = model.predict(x, verbose=0), loaded.predict(x, verbose=0)
    assert len(ours) == len(theirs) == 2
    for u, v in zip(ours, theirs):
        np.testing.assert_allclose(np.asarray(v), np.asarray(u), rtol=0, atol=ATOL)
