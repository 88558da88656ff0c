"""The memory tasks' data: labels, shapes, determinism by seed, and the recall label recoverable only
from the first step; the model initialisations; a tiny training run that learns."""

import math

import pytest
import torch

from lstmkit.insight import tasks


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def test_recall_batch_labels_and_shapes():
    b = tasks.recall_batch(50, 12, symbols=5, distractors=3, generator=_gen(0))
    assert b.x.shape == (50, 13, 8) and b.y.shape == (50,) and b.y.dtype == torch.long
    ids = b.x.argmax(2)  # (B, T)
    assert torch.equal(b.x.sum(2), torch.ones(50, 13))  # one-hot at every step
    assert torch.equal(ids[:, 0], b.y)  # the label is the symbol at step 0 ...
    assert bool((ids[:, 1:] >= 5).all()) and bool((ids[:, 1:] < 8).all())  # ... and every later step a distractor
    assert set(b.y.tolist()) == set(range(5))


def test_tasks_are_deterministic_by_seed():
    for make in (lambda g: tasks.recall_batch(20, 9, generator=g), lambda g: tasks.adding_batch(20, 30, generator=g)):
        a, b, c = make(_gen(3)), make(_gen(3)), make(_gen(4))
        assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
        assert not torch.equal(a.x, c.x)


def _nearest_mean_accuracy(train, test, steps):
    """A classifier of the label from the symbol counts over `steps`: nearest class mean."""
    def feats(b):
        return b.x[:, steps].sum(1)  # (B, I)

    means = torch.stack([feats(train)[train.y == k].mean(0) for k in range(4)])  # (K, I)
    pred = torch.cdist(feats(test), means).argmin(1)
    return float((pred == test.y).float().mean())


def test_recall_label_is_only_recoverable_from_the_first_step():
    train = tasks.recall_batch(4000, 20, symbols=4, distractors=4, generator=_gen(10))
    test = tasks.recall_batch(4000, 20, symbols=4, distractors=4, generator=_gen(11))
    assert _nearest_mean_accuracy(train, test, slice(0, 1)) == 1.0
    # the distractors alone: chance, 0.25 +- 3 standard errors (sqrt(.25 * .75 / 4000) = 0.0068)
    assert abs(_nearest_mean_accuracy(train, test, slice(1, 21)) - 0.25) < 3 * math.sqrt(0.25 * 0.75 / 4000)


def test_adding_batch_follows_hochreiter_and_schmidhuber():
    L = 40
    b = tasks.adding_batch(300, L, generator=_gen(1))
    assert b.x.shape == (300, L, 2) and b.y.shape == (300,)
    values, marker = b.x[..., 0], b.x[..., 1]
    assert bool((values >= -1).all()) and bool((values <= 1).all())
    assert torch.equal(marker.sum(1), torch.full((300,), 2.0))  # exactly two marked steps
    pos = marker.nonzero()[:, 1].view(300, 2)  # (B, 2) sorted positions
    assert bool((pos[:, 1] < L // 2 - 1).all())  # both among the first L/2 - 1 steps
    firsts = torch.where(pos[:, 0] < 10, pos[:, 0], pos[:, 1])
    assert bool((pos.min(1).values < 10).all()) and bool((firsts < 10).all())
    expected = 0.5 + (values * marker).sum(1) / 4
    torch.testing.assert_close(b.y, expected, rtol=0, atol=1e-6)
    assert float(b.y.min()) >= 0 and float(b.y.max()) <= 1


def test_bad_task_arguments_are_clear_errors():
    with pytest.raises(ValueError, match=r"length must be an integer >= 1, got 0"):
        tasks.recall_batch(4, 0)
    with pytest.raises(ValueError, match=r"length must be an integer >= 6, got 5"):
        tasks.adding_batch(4, 5)
    with pytest.raises(ValueError, match="symbols >= 2"):
        tasks.recall_batch(4, 3, symbols=1)
    with pytest.raises(ValueError, match="unknown task 'copy'"):
        tasks.make_batch("copy", 4, 3, 2, 2, _gen(0))
    with pytest.raises(ValueError, match="unknown model 'rnn'"):
        tasks.MemoryModel("rnn", 3, 4, 2)
    with pytest.raises(ValueError, match="unknown init 'xavier'"):
        tasks.MemoryModel("lstm", 3, 4, 2, init="xavier")


def test_keras_init_matches_keras_defaults():
    m = tasks.MemoryModel("lstm", 6, 8, 2, init="keras")
    H = 8
    b = m.rnn.bias_ih_l0.detach()
    assert torch.equal(b[H : 2 * H], torch.ones(H))  # unit_forget_bias
    assert torch.equal(torch.cat([b[:H], b[2 * H :]]), torch.zeros(3 * H))
    assert torch.equal(m.rnn.bias_hh_l0.detach(), torch.zeros(4 * H))
    R = m.rnn.weight_hh_l0.detach()  # (4H, H) = Keras' orthogonal (H, 4H) transposed: orthonormal columns
    torch.testing.assert_close(R.T @ R, torch.eye(H), atol=1e-5, rtol=0)
    bound = math.sqrt(6 / (6 + 4 * H))  # glorot_uniform on Keras' (I, 4H) kernel
    assert float(m.rnn.weight_ih_l0.detach().abs().max()) <= bound


def test_chrono_init_spreads_memory_time_scales():
    span = 50
    lstm = tasks.MemoryModel("lstm", 6, 16, 2, init="chrono", chrono_span=span).rnn
    H = 16
    f, i = lstm.bias_ih_l0[H : 2 * H].detach(), lstm.bias_ih_l0[:H].detach()
    assert bool((f >= 0).all()) and bool((f <= math.log(span - 1)).all())
    assert torch.equal(i, -f)
    gru = tasks.MemoryModel("gru", 6, 16, 2, init="chrono", chrono_span=span).rnn
    z = gru.bias_ih_l0[H : 2 * H].detach()
    assert bool((z >= 0).all()) and bool((z <= math.log(span - 1)).all()) and float(z.std()) > 0


def test_a_tiny_recall_problem_is_learned():
    torch.manual_seed(0)
    val = tasks.recall_batch(256, 3, symbols=3, distractors=2, generator=_gen(99))
    model = tasks.MemoryModel("lstm", 5, 16, 3)
    before = tasks.evaluate(model, "recall", val)[0]
    hist = tasks.train(model, "recall", 3, 200, batch_size=32, lr=1e-2, symbols=3, distractors=2,
                       generator=_gen(1), val=val, eval_every=20, target=0.99)
    loss, acc = tasks.evaluate(model, "recall", val)
    assert acc >= 0.99 and loss < before
    assert hist["val_score"][-1] == acc and hist["step"][-1] < 200  # stopped early at the target
