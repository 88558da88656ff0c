"""Gates of a real IMDB sentiment LSTM reading a review, token by token.

Until `lstmkit run imdb` (the Keras facade) writes run folders, this trains the book's model with
lstmkit.nn and a plain torch loop: Embedding(10000, 32) -> LSTM(32) -> Dense(1, sigmoid), Keras'
initialisation (glorot / orthogonal / forget bias 1) and Keras' RMSprop (lr 1e-3, rho 0.9, eps 1e-7),
batch 128, reviews padded or cut to --maxlen. It reports the test accuracy, appends it to
benchmarks/results/insight_imdb_gates.jsonl and draws `lstmkit.insight.gates_figure` for each text.

    python benchmarks/insight_imdb_gates.py --epochs 2 --maxlen 200 --out docs/img/gates_imdb.png
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from insight_record import append_result
from torch import nn

import lstmkit.nn
from lstmkit.data import imdb
from lstmkit.data.sequence import pad_sequences
from lstmkit.insight import gates_figure
from lstmkit.insight.runs import make_encoder
from lstmkit.insight.tasks import keras_init_
from lstmkit.io import atomic_savefig

TEXTS = [
    "This movie was a complete waste of time. The plot was boring and the acting was terrible, "
    "although the music was wonderful.",
    "I expected nothing and was blown away: a beautiful, funny and moving film with a brilliant cast. "
    "The first half hour is slow but do not give up.",
]


class Sentiment(nn.Module):
    def __init__(self, num_words: int, units: int) -> None:
        super().__init__()
        self.emb = nn.Embedding(num_words, 32)
        nn.init.uniform_(self.emb.weight, -0.05, 0.05)  # Keras' Embedding initialiser
        self.lstm = lstmkit.nn.LSTM(32, units, batch_first=True)
        keras_init_(self.lstm)
        self.out = nn.Linear(units, 1)
        nn.init.xavier_uniform_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(self.emb(ids))  # (B, T, units)
        return torch.sigmoid(self.out(h[:, -1]))  # (B, 1)


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for s in range(0, len(x), 512):
            p = model(torch.as_tensor(x[s : s + 512], dtype=torch.long))[:, 0]
            correct += int(((p > 0.5).long() == torch.as_tensor(y[s : s + 512])).sum())
    model.train()
    return correct / len(x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--maxlen", type=int, default=200)
    ap.add_argument("--train", type=int, default=25000, help="training reviews used")
    ap.add_argument("--test", type=int, default=5000, help="test reviews scored")
    ap.add_argument("--units", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="PNG path; the k-th text goes to STEM_k.png")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    num_words = 10000
    (x_tr, y_tr), (x_te, y_te) = imdb.load_data(num_words=num_words)
    x_tr = pad_sequences(x_tr[: args.train], maxlen=args.maxlen)
    x_te = pad_sequences(x_te[: args.test], maxlen=args.maxlen)
    y_tr, y_te = np.asarray(y_tr[: args.train]), np.asarray(y_te[: args.test])
    model = Sentiment(num_words, args.units)
    optim = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    history = []
    for epoch in range(args.epochs):
        order = rng.permutation(len(x_tr))
        for s in range(0, len(order), 128):
            idx = order[s : s + 128]
            p = model(torch.as_tensor(x_tr[idx], dtype=torch.long))[:, 0]
            loss = nn.functional.binary_cross_entropy(p, torch.as_tensor(y_tr[idx], dtype=torch.float32))
            optim.zero_grad()
            loss.backward()
            optim.step()
        acc = accuracy(model, x_te, y_te)
        history.append(acc)
        print(f"epoch {epoch + 1}: test accuracy {acc:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    encode = make_encoder(imdb.get_word_index(), num_words=num_words, index_from=3)
    import matplotlib.pyplot as plt

    stem = args.out.rsplit(".", 1)[0]
    for k, text in enumerate(TEXTS):
        ids, tokens = encode(text)
        fig = gates_figure(model, ids, tokens, maxlen=args.maxlen,
                           title=f"IMDB LSTM(32), test accuracy {history[-1]:.3f}: gates and states per token")
        atomic_savefig(fig, f"{stem}_{k}.png", dpi=80)
        plt.close(fig)
    append_result("insight_imdb_gates.jsonl", {"benchmark": "imdb_gates_model", "settings": vars(args),
                                               "test_accuracy_per_epoch": history,
                                               "seconds": round(time.perf_counter() - t0, 1)})


if __name__ == "__main__":
    main()
