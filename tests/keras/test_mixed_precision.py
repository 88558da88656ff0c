"""Mixed precision: under "mixed_bfloat16" layers compute in bfloat16 with float32 variables, and a model
trains; "mixed_float16" wraps the optimizer in a LossScaleOptimizer; side by side with Keras."""

import numpy as np
import pytest
import torch


@pytest.fixture
def policy(K):
    def set_(name):
        K.mixed_precision.set_global_policy(name)

    yield set_
    K.mixed_precision.set_global_policy("float32")


def test_mixed_bfloat16_computes_in_bfloat16_with_float32_variables(K, policy):
    policy("mixed_bfloat16")
    dense = K.layers.Dense(2)
    y = dense(np.ones((1, 3), "float32"))
    assert y.dtype == torch.bfloat16 and dense.kernel.dtype == "float32"
    assert dense.compute_dtype == "bfloat16" and dense.variable_dtype == "float32"
    assert K.mixed_precision.global_policy().name == "mixed_bfloat16"
    lstm = K.layers.LSTM(3)
    assert lstm(np.ones((2, 4, 3), "float32")).dtype == torch.bfloat16


def test_a_model_trains_under_mixed_bfloat16(K, policy):
    policy("mixed_bfloat16")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6, 2)).astype("float32")
    y = (x[:, :, 0].sum(axis=1) > 0).astype("float32")[:, None]
    torch.manual_seed(0)
    model = K.Sequential([K.Input((6, 2)), K.layers.LSTM(8), K.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert all(v.dtype == "float32" for v in model.weights)


def test_mixed_float16_scales_the_loss(K, policy):
    policy("mixed_float16")
    model = K.Sequential([K.Input((3,)), K.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    assert type(model.optimizer).__name__ == "LossScaleOptimizer"


def test_an_unknown_policy_is_refused():
    from lstmkit.keras import mixed_precision

    with pytest.raises(ValueError, match="dtype policy must be one of"):
        mixed_precision.set_global_policy("mixed_int8")


def test_loss_scaling_skips_a_step_with_infinite_gradients_and_halves_the_scale():
    from lstmkit.keras import mixed_precision, optimizers

    w = torch.nn.Parameter(torch.ones(2))
    opt = mixed_precision.LossScaleOptimizer(optimizers.SGD(learning_rate=0.5), initial_scale=8.0,
                                             dynamic_growth_steps=2)
    opt.build([w])
    w.grad = torch.tensor([float("inf"), 1.0])
    opt.apply()
    assert torch.equal(w.detach(), torch.ones(2)) and opt.scale == 4.0  # skipped
    for _ in range(2):
        w.grad = torch.tensor([4.0, 4.0])  # scaled by 4: the real gradient is 1
        opt.apply()
    assert torch.allclose(w.detach(), torch.zeros(2)) and opt.scale == 8.0  # two good steps: doubled
