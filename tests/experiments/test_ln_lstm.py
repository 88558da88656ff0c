"""The layer-norm LSTM (issue 19) in the experiments: `lstmkit run imdb --model ln-lstm` builds, trains, saves
and reloads a Keras LSTM with layer_norm=True; `lstmkit run memory` trains `ln_lstm` beside the other
recurrences, from the LSTM of the same seed with layer norm added."""

import json

import numpy as np
import torch

from lstmkit.cli import main
from lstmkit.experiments import imdb, memory
from lstmkit.keras.layers import LSTM
from lstmkit.keras.models import load_model

# 40 training reviews, 24 test reviews, 24 tokens, 3 units: the reference loop trains it in about a second
TINY_IMDB = ["--limit", "40", "--eval-limit", "24", "--maxlen", "24", "--batch-size", "16", "--units", "3",
             "--epochs", "1"]
TINY_MEMORY = ["--hidden", "5", "--steps", "3", "--batch-size", "8", "--eval-size", "40", "--eval-every", "2"]


def test_imdb_ln_lstm_model_has_layer_norm_and_reloads(tmp_path):
    model = imdb.build(imdb.Config(model="ln-lstm", units=3, maxlen=24))
    (rnn,) = [m for m in model.modules() if isinstance(m, LSTM)]
    assert rnn.layer_norm is True
    norms = {w.path.split("/")[-1]: tuple(w.shape) for w in model.weights if "norm" in w.path}
    assert norms == {"input_norm_gamma": (12,), "input_norm_beta": (12,), "recurrent_norm_gamma": (12,),
                     "recurrent_norm_beta": (12,), "cell_norm_gamma": (3,), "cell_norm_beta": (3,)}

    out = tmp_path / "run"
    assert main(["run", "imdb", *TINY_IMDB, "--model", "ln-lstm", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    # Embedding(10000, 32); LSTM(3) on 32 inputs: kernels (32 + 3, 12), bias (12,), LN gain and bias (12,) for each
    # projection and (3,) for the cell; Dense(1)
    assert metrics["params"] == 10000 * 32 + (32 + 3) * 12 + 12 + 2 * (12 + 12 + 3) + 3 + 1
    saved = load_model(str(out / "model.keras"))
    (loaded,) = [m for m in saved.modules() if isinstance(m, LSTM)]
    assert loaded.layer_norm is True
    x = np.random.default_rng(3).integers(0, 10000, size=(4, 24))
    p = saved.predict(x, verbose=0)
    assert p.shape == (4, 1) and np.isfinite(p).all()


def test_memory_ln_lstm_is_the_same_seeds_lstm_with_layer_norm():
    config = memory.Config(hidden=5)
    torch.manual_seed(11)
    plain = memory.build(config, "lstm", 20)
    torch.manual_seed(11)
    ln = memory.build(config, "ln_lstm", 20)
    assert ln.kind == "ln_lstm" and ln.rnn.layer_norm is True and plain.rnn.layer_norm is False
    ln_state, plain_state = ln.state_dict(), plain.state_dict()
    assert set(ln_state) - set(plain_state) == {f"rnn.ln_{p}_{w}_l0" for p in ("ih", "hh", "c")
                                                 for w in ("weight", "bias")}
    for name, value in plain_state.items():  # chrono init and the head: the same draws
        torch.testing.assert_close(ln_state[name], value, rtol=0, atol=0)
    assert ln.rnn.ln_ih_weight_l0.shape == (20,) and bool((ln.rnn.ln_c_weight_l0 == 1).all())
    x = torch.randn(3, 7, plain.rnn.input_size)
    assert not torch.allclose(ln(x), plain(x))  # the normalisation changes the function


def test_memory_run_trains_ln_lstm_beside_the_others(tmp_path):
    out = tmp_path / "mem"
    assert main(["run", "memory", "--lengths", "4", *TINY_MEMORY, "--symbols", "4", "--out", str(out)]) == 0
    rows = json.loads((out / "metrics.json").read_text())["results"]
    assert [r["model"] for r in rows] == ["simple_rnn", "lstm", "gru", "ln_lstm"]
    ln = rows[-1]
    assert 1 <= ln["steps"] <= 3 and abs(ln["accuracy"] * 40 - round(ln["accuracy"] * 40)) < 1e-6
    assert (out / "memory.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
