"""Issue 20's recurrences in the experiments: `lstmkit run memory --model mingru|minlstm|slstm` puts the memory
head on lstmkit.nn's MinGRU, MinLSTM or SLSTM, and the IMDB and temperature models name an SLSTM of 4 heads
(their runs are checked by test_imdb.py and test_temperature.py, which run every model)."""

import json

import pytest
import torch

import lstmkit.nn
from lstmkit.cli import main
from lstmkit.experiments import configs, imdb, memory, temperature
from lstmkit.keras.layers import SLSTM

TINY_MEMORY = ["--hidden", "8", "--steps", "3", "--batch-size", "8", "--eval-size", "40", "--eval-every", "2"]


@pytest.mark.parametrize("kind, cls", [("mingru", lstmkit.nn.MinGRU), ("minlstm", lstmkit.nn.MinLSTM),
                                       ("slstm", lstmkit.nn.SLSTM)])
def test_memory_builds_the_head_on_each(kind, cls):
    model = memory.build(memory.Config(hidden=8, model=kind, backend="reference"), kind, 20)
    assert model.kind == kind and type(model.rnn) is cls and model.rnn.batch_first
    assert model(torch.randn(3, 7, model.rnn.input_size)).shape == (3, model.head.out_features)
    if kind == "slstm":
        assert model.rnn.num_heads == 4 and model.rnn.backend == "reference"


def test_memory_run_with_slstm(tmp_path):
    out = tmp_path / "mem"
    assert main(["run", "memory", "--model", "slstm", "--lengths", "4", *TINY_MEMORY, "--symbols", "4",
                 "--out", str(out)]) == 0
    (row,) = json.loads((out / "metrics.json").read_text())["results"]
    assert row["model"] == "slstm" and 1 <= row["steps"] <= 3 and 0.0 <= row["accuracy"] <= 1.0
    assert configs.MemoryConfig().models == list(configs.MEMORY_MODELS)  # "all" keeps the earlier four


def test_imdb_and_temperature_name_an_slstm_of_four_heads():
    model = imdb.build(imdb.Config(model="slstm", units=32, maxlen=24, backend="reference"))
    (layer,) = [m for m in model.modules() if isinstance(m, SLSTM)]
    assert layer.num_heads == 4 and layer.backend == "reference"
    # Embedding + SLSTM(32) (kernel 32x128, 4 recurrent blocks 8x32, bias 128) + Dense(1)
    assert model.count_params() == 10000 * 32 + (32 * 128 + 4 * 8 * 32 + 128) + 33
    net = temperature.build(temperature.Config(model="slstm", lookback=12), features=15)
    (layer,) = [m for m in net.modules() if isinstance(m, SLSTM)]
    assert layer.num_heads == 4 and layer.backend == "auto"


@pytest.mark.parametrize("kind, forget, keep", [("slstm", slice(8, 16), slice(0, 8)), ("minlstm", slice(0, 8), slice(8, 16)),
                                                ("mingru", None, slice(0, 8))])
def test_chrono_biases_give_each_unit_a_time_scale(kind, forget, keep):
    model = memory.build(memory.Config(hidden=8, init="chrono"), kind, 40)
    bias = next(p for n, p in model.rnn.named_parameters() if n.startswith("bias"))
    if forget is None:  # minGRU: z = σ(b_z) near 1/u, so 1 - z keeps h
        assert (bias[keep] <= 0).all() and (bias[keep] >= -torch.log(torch.tensor(40.0))).all()
    else:
        torch.testing.assert_close(bias[keep], -bias[forget])
        assert (bias[forget] >= 0).all() and (bias[forget] <= torch.log(torch.tensor(40.0))).all()
    torch_init = memory.build(memory.Config(hidden=8, init="torch"), kind, 40)
    assert next(p for n, p in torch_init.rnn.named_parameters() if n.startswith("bias")).abs().max() <= 8 ** -0.5
