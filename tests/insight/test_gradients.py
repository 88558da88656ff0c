"""Gradient flow: the per-step norms against autograd computed independently, on whole-sequence runs.

∂ℓ/∂x_t: one forward over the whole sequence, `torch.autograd.grad` with respect to the input.
∂ℓ/∂h_t: the total derivative through all later steps equals the gradient with respect to the initial
state of a run over x[t+1:] started from (h_t, c_t) (the Markov property of the recurrence).
"""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import torch

import lstmkit.nn
from lstmkit.insight import gradient_flow, gradient_flow_figure
from lstmkit.insight.gradients import GradientFlow, memory_gradient_flow
from lstmkit.insight.tasks import MemoryModel, recall_batch

CLASSES = {"lstm": lstmkit.nn.LSTM, "gru": lstmkit.nn.GRU, "simple_rnn": lstmkit.nn.RNN}
B, T, I, H = 3, 7, 4, 5


def _setup(kind, batch_first=True):
    rnn = CLASSES[kind](I, H, batch_first=batch_first, backend="reference", dtype=torch.float64)
    head = torch.nn.Linear(H, 2, dtype=torch.float64)
    y = torch.tensor([0, 1, 1])
    x = torch.randn(B, T, I, dtype=torch.float64)

    def loss_fn(h_last):
        return torch.nn.functional.cross_entropy(head(h_last), y, reduction="none")

    return rnn, x, loss_fn


def _run(rnn, x, state):
    """Whole-sequence forward on batch-first x (B, t, I) from `state`; the last hidden state (B, H)."""
    out, _ = rnn(x if rnn.batch_first else x.transpose(0, 1), state)
    return out[:, -1] if rnn.batch_first else out[-1]


def _mean_norm(g):
    return g.norm(dim=-1).mean(0)


@pytest.mark.parametrize("batch_first", [True, False], ids=["batch_first", "time_first"])
@pytest.mark.parametrize("kind", list(CLASSES))
def test_gradient_norms_match_autograd_on_whole_sequences(kind, batch_first):
    rnn, x, loss_fn = _setup(kind, batch_first)
    flow = gradient_flow(rnn, x, loss_fn)
    assert flow.kind == kind and flow.distance.tolist() == list(range(T - 1, -1, -1))

    xg = x.clone().requires_grad_(True)
    (gx,) = torch.autograd.grad(loss_fn(_run(rnn, xg, None)).sum(), xg)  # (B, T, I)
    np.testing.assert_allclose(flow.dx, _mean_norm(gx).numpy(), rtol=1e-10, atol=1e-14)

    expected_dh = []
    for t in range(T):
        with torch.no_grad():
            _, state = rnn(x[:, : t + 1] if batch_first else x[:, : t + 1].transpose(0, 1))
        if kind == "lstm":
            h_t, c_t = (s.clone().requires_grad_(True) for s in state)
            start = (h_t, c_t)
        else:
            h_t = state.clone().requires_grad_(True)
            start = h_t
        h_last = _run(rnn, x[:, t + 1 :], start) if t < T - 1 else h_t[0]
        (g,) = torch.autograd.grad(loss_fn(h_last).sum(), h_t)  # (1, B, H)
        expected_dh.append(float(_mean_norm(g[0])))
    np.testing.assert_allclose(flow.dh, expected_dh, rtol=1e-10, atol=1e-14)
    assert all(p.grad is None for p in rnn.parameters())  # the measurement leaves .grad alone


def test_torch_nn_modules_give_the_same_flow_on_the_same_weights():
    """torch.nn's cuDNN-free CPU LSTM, an implementation independent of lstmkit's, with copied weights."""
    rnn, x, loss_fn = _setup("lstm")
    ref = torch.nn.LSTM(I, H, batch_first=True, dtype=torch.float64)
    ref.load_state_dict(rnn.state_dict())
    ours, theirs = gradient_flow(rnn, x, loss_fn), gradient_flow(ref, x, loss_fn)
    np.testing.assert_allclose(ours.dh, theirs.dh, rtol=1e-10)
    np.testing.assert_allclose(ours.dx, theirs.dx, rtol=1e-10)


def test_the_simple_rnn_backward_recursion_by_hand():
    """For h_t = tanh(a_t), ∂ℓ/∂h_{t-1} = R^T((1 - h_t²) ⊙ ∂ℓ/∂h_t): per sequence, checked step by step."""
    rnn, x, loss_fn = _setup("simple_rnn")
    with torch.no_grad():
        out, _ = rnn(x)  # (B, T, H)
    h_last = out[:, -1].clone().requires_grad_(True)
    (g,) = torch.autograd.grad(loss_fn(h_last).sum(), h_last)
    norms = [g.norm(dim=1).mean()]
    for t in range(T - 1, 0, -1):
        g = ((1 - out[:, t] ** 2) * g) @ rnn.weight_hh_l0.detach()  # (B, H): row-vector form of R^T v
        norms.append(g.norm(dim=1).mean())
    flow = gradient_flow(rnn, x, loss_fn)
    np.testing.assert_allclose(flow.dh, torch.stack(norms[::-1]).numpy(), rtol=1e-10)


def test_memory_model_flow_uses_its_head_and_task_loss():
    torch.manual_seed(0)
    model = MemoryModel("gru", 6, 8, 3)
    batch = recall_batch(5, 4, symbols=3, distractors=3, generator=torch.Generator().manual_seed(1))
    flow = memory_gradient_flow(model, "recall", batch)
    xg = batch.x.clone().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(model(xg), batch.y, reduction="sum")
    (gx,) = torch.autograd.grad(loss, xg)
    np.testing.assert_allclose(flow.dx, _mean_norm(gx).numpy(), rtol=1e-5, atol=1e-9)


def test_bad_input_is_a_clear_error():
    _, x, loss_fn = _setup("lstm")
    with pytest.raises(ValueError, match="num_layers=2"):
        gradient_flow(lstmkit.nn.LSTM(I, H, num_layers=2, batch_first=True, dtype=torch.float64), x, loss_fn)
    with pytest.raises(ValueError, match="bidirectional=True"):
        gradient_flow(lstmkit.nn.GRU(I, H, bidirectional=True, batch_first=True, dtype=torch.float64), x, loss_fn)
    with pytest.raises(ValueError, match="LSTM, GRU or RNN module"):
        gradient_flow(torch.nn.Linear(I, H), x, loss_fn)
    rnn = lstmkit.nn.RNN(I, H, batch_first=True, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"one loss per sequence, shape \(3,\)"):
        gradient_flow(rnn, x, lambda h: h.sum())
    with pytest.raises(ValueError, match="batch, time, features"):
        gradient_flow(rnn, x[0], loss_fn)


def test_the_figure_has_two_log_panels_with_a_line_per_model_and_stage():
    d = np.arange(4, -1, -1)
    flows = {m: {s: GradientFlow(m, d, np.linspace(1, 0.01, 5), np.linspace(2, 0.02, 5)) for s in ("init", "trained")}
             for m in ("simple_rnn", "lstm")}
    fig = gradient_flow_figure(flows, title="t")
    ax_h, ax_x = fig.axes
    assert ax_h.get_yscale() == ax_x.get_yscale() == "log"
    assert len(ax_h.lines) == len(ax_x.lines) == 4
    np.testing.assert_array_equal(ax_x.lines[0].get_ydata(), np.linspace(2, 0.02, 5))
    with pytest.raises(ValueError, match="no gradient flows"):
        gradient_flow_figure({})
