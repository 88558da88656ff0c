"""Part-of-speech tagging on Universal Dependencies English EWT (UPOS, or Penn XPOS), with a two-layer
bidirectional LSTM over word embeddings plus character features (a character BiLSTM per word).

    word (lower-cased) -> Embedding(word_dim)  ┐
    characters -> Embedding(char_dim) -> BiLSTM(char_hidden), last states ┘ concat -> dropout
    -> BiLSTM(hidden) x layers -> dropout -> Linear(tags)

Trained with Adam (lr 2e-3, betas 0.9/0.9, Dozat & Manning 2017), batches of sentences of similar
length, gradient norm clipped at 5, dropout 0.33, frequency-based word dropout (Kiperwasser &
Goldberg 2016: a training word seen n times becomes <unk> with probability a / (a + n), so <unk>
is learned from the rare words it stands for at test time). The weights of the epoch with the best
dev accuracy are kept and scored on test. Goal: >= 95% per-token UPOS accuracy on test.

The run folder (`--out`) holds config.json, history.json, metrics.json, curves.png, confusion.png
(gold x predicted tags on test), model.safetensors + model.json (weights and the sizes to rebuild
the tagger, no pickle) and encoding.json (word, character and tag tables); `load_tagger(DIR)` and
`tag(...)` read them back.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

import lstmkit.nn
from lstmkit.errors import FileFormatError
from lstmkit.experiments.base import open_run
from lstmkit.experiments.configs import PosConfig as Config
from lstmkit.experiments.reporting import epoch_progress, load_model_files, print_results, save_curves, save_model
from lstmkit.io import atomic_savefig, write_json
from lstmkit.runtime import resolve_device, set_seed

PAD, UNK = 0, 1
IGNORE = -100  # the tag of padding: cross_entropy's ignore_index


# ----- encoding ---------------------------------------------------------------------------------
class Vocab:
    """A string <-> id table with padding 0 and unknown 1."""

    def __init__(self, items: list[str]) -> None:
        self.itos = ["<pad>", "<unk>", *items]
        self.stoi = {s: i for i, s in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def ids(self, items: list[str]) -> list[int]:
        return [self.stoi.get(s, UNK) for s in items]


@dataclass
class Encoding:
    """How words become ids: lower-cased words, characters as written (at most `max_chars`), tags by name."""

    words: Vocab
    chars: Vocab
    tags: list[str]
    max_chars: int
    word_counts: list[int]  # training count of each word id (0 for padding and unknown)

    def clip(self, word: str) -> str:
        """A long word keeps its first and last characters: prefixes and suffixes both tell the tag."""
        if len(word) <= self.max_chars:
            return word
        head = self.max_chars // 2
        return word[:head] + word[len(word) - (self.max_chars - head):]

    def to_json(self) -> dict[str, Any]:
        return {"format": "lstmkit.pos/1", "lowercase_words": True, "max_chars": self.max_chars,
                "words": self.words.itos[2:], "chars": self.chars.itos[2:], "tags": self.tags,
                "word_counts": self.word_counts}

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Encoding:
        if obj.get("format") != "lstmkit.pos/1":
            raise ValueError(f"not a POS encoding (expected format 'lstmkit.pos/1'), got {str(obj)[:80]!r}")
        return cls(Vocab(obj["words"]), Vocab(obj["chars"]), list(obj["tags"]), int(obj["max_chars"]),
                   list(obj["word_counts"]))


Tagged = list[tuple[list[str], list[str]]]  # sentences as (words, tags)


def build_encoding(train: Tagged, tags: list[str], max_chars: int) -> Encoding:
    """Word and character tables from the training sentences only (characters seen at least twice)."""
    words = Counter(w.lower() for ws, _ in train for w in ws)
    chars = Counter(ch for ws, _ in train for w in ws for ch in w)
    word_vocab = Vocab(sorted(words))
    counts = [0, 0, *(words[w] for w in word_vocab.itos[2:])]
    return Encoding(word_vocab, Vocab(sorted(c for c, n in chars.items() if n >= 2)), tags, max_chars, counts)


@dataclass
class Encoded:
    """Sentences as arrays: word ids (n,), character ids (n, C) right-padded, tag ids (n,)."""

    words: list[np.ndarray]
    chars: list[np.ndarray]
    tags: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.words)


def encode(sents: Tagged, enc: Encoding) -> Encoded:
    tag_id = {t: i for i, t in enumerate(enc.tags)}
    words, chars, tags = [], [], []
    for ws, ts in sents:
        unknown = sorted(set(ts) - set(tag_id))
        if unknown:
            raise ValueError(f"tags {unknown} are not in the tag set {enc.tags}")
        words.append(np.array(enc.words.ids([w.lower() for w in ws]), dtype=np.int64))
        ids = [enc.chars.ids(list(enc.clip(w))) for w in ws]
        c = np.zeros((len(ws), max(map(len, ids), default=1)), dtype=np.int64)
        for t, row in enumerate(ids):
            c[t, : len(row)] = row
        chars.append(c)
        tags.append(np.array([tag_id[t] for t in ts], dtype=np.int64))
    return Encoded(words, chars, tags)


def batches(data: Encoded, batch_size: int, rng: np.random.Generator | None = None):
    """(words (B, T), chars (B, T, C), tags (B, T)) of sentences of similar length, to keep padding small.

    With `rng` (training) sentences of equal length are mixed and the batch order is shuffled every epoch."""
    lengths = np.array([len(w) for w in data.words])
    order = np.arange(len(lengths)) if rng is None else rng.permutation(len(lengths))
    order = order[np.argsort(lengths[order], kind="stable")]
    chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(chunks)
    for idx in chunks:
        B, T = len(idx), int(lengths[idx].max())
        C = max(data.chars[i].shape[1] for i in idx)
        words = np.zeros((B, T), dtype=np.int64)
        tags = np.full((B, T), IGNORE, dtype=np.int64)
        chars = np.zeros((B, T, C), dtype=np.int64)
        for b, i in enumerate(idx):
            n, c = data.chars[i].shape
            words[b, :n] = data.words[i]
            tags[b, :n] = data.tags[i]
            chars[b, :n, :c] = data.chars[i]
        yield torch.from_numpy(words), torch.from_numpy(chars), torch.from_numpy(tags)


# ----- the model --------------------------------------------------------------------------------
class Tagger(nn.Module):
    """Words (B, T) and their characters (B, T, C) -> tag scores (B, T, tags)."""

    def __init__(self, n_words: int, n_chars: int, n_tags: int, config: Config,
                 word_counts: list[int] | None = None) -> None:
        super().__init__()
        c = config
        self.word_emb = nn.Embedding(n_words, c.word_dim, padding_idx=PAD)
        self.char_emb = nn.Embedding(n_chars, c.char_dim, padding_idx=PAD)
        self.char_lstm = lstmkit.nn.LSTM(c.char_dim, c.char_hidden, batch_first=True, bidirectional=True,
                                         backend=c.backend)
        self.lstm = lstmkit.nn.LSTM(c.word_dim + 2 * c.char_hidden, c.hidden, num_layers=c.layers,
                                    bidirectional=True, batch_first=True, dropout=c.dropout, backend=c.backend)
        self.drop = nn.Dropout(c.dropout)
        self.out = nn.Linear(2 * c.hidden, n_tags)
        counts = torch.tensor(word_counts if word_counts is not None else [0] * n_words, dtype=torch.float32)
        # P(training word -> <unk>) = a / (a + count); padding and <unk> themselves stay as they are
        keep_as_is = counts == 0
        self.register_buffer("unk_rate", torch.where(keep_as_is, 0.0, c.word_dropout / (c.word_dropout + counts)),
                             persistent=False)

    def forward(self, words: torch.Tensor, chars: torch.Tensor) -> torch.Tensor:
        real = words != PAD  # (B, T)
        if self.training:
            drop = torch.rand(words.shape, device=words.device) < self.unk_rate[words]
            words = words.masked_fill(drop, UNK)
        # the characters of each distinct word in the batch, read once
        types, where = torch.unique(chars[real], dim=0, return_inverse=True)  # (N, C), (real words,)
        char_len = (types != PAD).sum(1).clamp(min=1)  # (N,)
        _, (h, _) = self.char_lstm(self.char_emb(types), lengths=char_len)  # h (2, N, char_hidden)
        char_types = torch.cat([h[0], h[1]], dim=1)  # (N, 2*char_hidden)
        char_feat = char_types.new_zeros(*words.shape, char_types.shape[1])  # (B, T, 2*char_hidden)
        char_feat[real] = char_types[where]
        x = self.drop(torch.cat([self.word_emb(words), char_feat], dim=2))  # (B, T, word_dim + 2*char_hidden)
        out, _ = self.lstm(x, lengths=real.sum(1))  # (B, T, 2*hidden)
        return self.out(self.drop(out))  # (B, T, tags)


def build(config: Config, enc: Encoding) -> Tagger:
    return Tagger(len(enc.words), len(enc.chars), len(enc.tags), config, enc.word_counts)


# ----- data, scoring, figures -------------------------------------------------------------------
def load_split(split: str, tags: str, limit: int | None = None) -> Tagged:
    from lstmkit.data import ud

    return [(s.words, s.upos if tags == "upos" else s.xpos) for s in ud.load(split, limit=limit)]


def tag_set(tags: str, *splits: Tagged) -> list[str]:
    """UPOS: its 17 tags; XPOS: every tag of the treebank's splits (a tag unseen in training counts as an error)."""
    from lstmkit.data import ud

    if tags == "upos":
        return list(ud.UPOS_TAGS)
    return sorted({t for split in splits for _, ts in split for t in ts})


@dataclass
class Scores:
    loss: float
    accuracy: float
    oov_accuracy: float | None  # on the words absent from the training sentences
    confusion: np.ndarray  # (gold, predicted) counts


def evaluate(model: Tagger, data: Encoded, batch_size: int, device: torch.device) -> Scores:
    """Mean loss, per-token accuracy (all words, and the unknown ones) and the confusion counts."""
    was_training = model.training
    model.eval()
    n_tags = model.out.out_features
    confusion = np.zeros((n_tags, n_tags), dtype=np.int64)
    loss_sum, oov_right, oov_total = 0.0, 0, 0
    with torch.no_grad():
        for words, chars, tags in batches(data, batch_size):
            words, chars, tags = words.to(device), chars.to(device), tags.to(device)
            scores = model(words, chars)  # (B, T, tags)
            loss_sum += nn.functional.cross_entropy(scores.flatten(0, 1), tags.flatten(), ignore_index=IGNORE,
                                                    reduction="sum").item()
            real = tags != IGNORE
            pred = scores.argmax(-1)
            np.add.at(confusion, (tags[real].cpu().numpy(), pred[real].cpu().numpy()), 1)
            oov = real & (words == UNK)
            oov_total += int(oov.sum())
            oov_right += int((pred == tags)[oov].sum())
    model.train(was_training)
    tokens = int(confusion.sum())
    if tokens == 0:
        raise ValueError("no tokens to score")
    return Scores(loss_sum / tokens, float(np.trace(confusion) / tokens),
                  oov_right / oov_total if oov_total else None, confusion)


def confusion_figure(confusion: np.ndarray, labels: list[str], title: str):  # type: ignore[no-untyped-def]
    """Rows: gold tags, columns: predicted; colour = fraction of the gold tag, numbers = counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rates = confusion / np.maximum(confusion.sum(1, keepdims=True), 1)
    size = max(6.0, 0.45 * len(labels) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=90)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title)
    if len(labels) <= 25:  # counts stay readable up to about the UPOS size
        for i, j in zip(*np.nonzero(confusion)):
            ax.text(j, i, str(confusion[i, j]), ha="center", va="center", fontsize=6,
                    color="white" if rates[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of the gold tag")
    fig.tight_layout()
    return fig


# ----- reading a run back -----------------------------------------------------------------------
def load_tagger(run_dir: str | Path, device: str = "cpu") -> tuple[Tagger, Encoding]:
    """The trained tagger of a `lstmkit run pos` folder (in eval mode) and its encoding."""
    run = Path(run_dir)
    for name in ("model.safetensors", "model.json", "encoding.json"):
        if not (run / name).is_file():
            raise ValueError(f"{run} lacks {name}: expected the --out folder of `lstmkit run pos`")
    weights, meta = load_model_files(run / "model")
    enc = Encoding.from_json(json.loads((run / "encoding.json").read_text()))
    config = Config(**{k: v for k, v in meta["config"].items() if k in Config.__dataclass_fields__})
    model = build(config, enc)
    own = model.state_dict()
    missing, extra = sorted(set(own) - set(weights)), sorted(set(weights) - set(own))
    if missing or extra:
        raise FileFormatError(run / "model.safetensors", f"its weights do not fit the tagger its model.json "
                                                         f"describes: missing {missing}, unexpected {extra}")
    wrong = [k for k in own if tuple(own[k].shape) != tuple(weights[k].shape)]
    if wrong:
        raise FileFormatError(run / "model.safetensors", "weights of the wrong shape: " + ", ".join(
            f"{k} {tuple(weights[k].shape)} (the tagger has {tuple(own[k].shape)})" for k in wrong))
    model.load_state_dict(weights)
    return model.to(device).eval(), enc


def tag(model: Tagger, enc: Encoding, sentences: list[list[str]], batch_size: int = 64) -> list[list[str]]:
    """The predicted tags of tokenized sentences, in their order."""
    if any(not s for s in sentences):
        raise ValueError("every sentence needs at least one word")
    data = encode([(ws, [enc.tags[0]] * len(ws)) for ws in sentences], enc)
    device = next(model.parameters()).device
    lengths = np.array([len(w) for w in data.words])
    order = np.argsort(lengths, kind="stable")  # the order `batches` reads them in
    preds: list[list[str]] = []
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for words, chars, _ in batches(data, batch_size):
            best = model(words.to(device), chars.to(device)).argmax(-1).cpu()  # (B, T)
            preds.extend([enc.tags[i] for i in row] for row in best.tolist())
    model.train(was_training)
    result: list[list[str]] = [[] for _ in sentences]
    for k, i in enumerate(order):
        result[i] = preds[k][: lengths[i]]
    return result


# ----- the run ----------------------------------------------------------------------------------
def run(config: Config) -> dict:
    resolve_device(config.device)  # fails early and clearly when cuda is asked for and absent
    with open_run(config) as run:
        return _run(run)


def _checkpoint(epoch: int, model: nn.Module, optim: torch.optim.Optimizer, rng: np.random.Generator,
                history: dict[str, list[float]], epoch_seconds: list[float], best: tuple[float, int, Any]
                ) -> dict[str, Any]:
    """Everything the epochs after `epoch` depend on: a resume from it ends as an uninterrupted run."""
    from lstmkit.train.checkpoint import random_state, torch_optimizer_state

    return {"epoch": epoch, "weights": dict(model.state_dict()), "optimizer": torch_optimizer_state(optim),
            "batch_rng": rng.bit_generator.state, "random": random_state(), "history": history,
            "epoch_seconds": epoch_seconds, "best_acc": best[0], "best_epoch": best[1], "best_state": best[2]}


def _run(run: Any) -> dict:
    from lstmkit.train import checkpoint

    config, out = run.config, run.out  # a resumed run's own options
    set_seed(config.seed)
    device = resolve_device(config.device)
    train_s = load_split("train", config.tags, config.limit)
    dev_s, test_s = (load_split(s, config.tags, config.eval_limit) for s in ("dev", "test"))
    enc = build_encoding(train_s, tag_set(config.tags, train_s, dev_s, test_s), config.max_chars)
    train, dev, test = (encode(s, enc) for s in (train_s, dev_s, test_s))
    set_seed(config.seed)
    model = build(config, enc).to(device)
    optim = torch.optim.Adam(model.parameters(), lr=config.lr, betas=(0.9, 0.9))
    rng = np.random.default_rng(config.seed)
    history: dict[str, list[float]] = {"loss": [], "acc": [], "val_loss": [], "val_acc": []}
    n_batches = (len(train) + config.batch_size - 1) // config.batch_size
    epoch_seconds: list[float] = []
    best_acc, best_epoch, best_state = -1.0, 0, None
    start = 0
    saved_path = run.checkpoint_dir / "checkpoint.safetensors"
    if run.resumed and saved_path.exists():
        saved = checkpoint.load(saved_path)
        model.load_state_dict(saved["weights"])
        checkpoint.load_torch_optimizer_state(optim, saved["optimizer"])
        rng.bit_generator.state = saved["batch_rng"]
        checkpoint.set_random_state(saved["random"])
        history, epoch_seconds = saved["history"], saved["epoch_seconds"]
        best_acc, best_epoch, best_state = saved["best_acc"], saved["best_epoch"], saved["best_state"]
        start = run.epochs_done = int(saved["epoch"])
    for epoch in range(start, config.epochs):
        model.train()
        loss_sum, correct, tokens = 0.0, 0, 0
        t0 = time.perf_counter()
        with epoch_progress(epoch, config.epochs, n_batches) as advance:
            for words, chars, tags_b in batches(train, config.batch_size, rng):
                words, chars, tags_b = words.to(device), chars.to(device), tags_b.to(device)
                scores = model(words, chars)  # (B, T, tags)
                loss = nn.functional.cross_entropy(scores.flatten(0, 1), tags_b.flatten(), ignore_index=IGNORE)
                optim.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                optim.step()
                real = tags_b != IGNORE
                n = int(real.sum())
                loss_sum += loss.item() * n
                correct += int((scores.argmax(-1) == tags_b)[real].sum())
                tokens += n
                advance(loss=loss_sum / tokens, acc=correct / tokens)
        epoch_seconds.append(time.perf_counter() - t0)
        val = evaluate(model, dev, 2 * config.batch_size, device)
        for k, v in (("loss", loss_sum / tokens), ("acc", correct / tokens), ("val_loss", val.loss),
                     ("val_acc", val.accuracy)):
            history[k].append(v)
        if val.accuracy > best_acc:  # keep the weights of the best dev epoch
            best_acc, best_epoch = val.accuracy, epoch + 1
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        checkpoint.save(saved_path, _checkpoint(epoch + 1, model, optim, rng, history, epoch_seconds,
                                                (best_acc, best_epoch, best_state)))
        run.epochs_done = epoch + 1
    assert best_state is not None  # epochs >= 1
    model.load_state_dict(best_state)
    test_scores = evaluate(model, test, 2 * config.batch_size, device)
    metrics = {
        "model": config.model, "tags": config.tags, "best_val_accuracy": best_acc, "best_epoch": best_epoch,
        "dev_accuracy": best_acc, "final_val_accuracy": history["val_acc"][-1],
        "test_accuracy": test_scores.accuracy, "test_oov_accuracy": test_scores.oov_accuracy,
        "test_loss": test_scores.loss, "epochs": config.epochs,
        "epoch_seconds": [round(s, 3) for s in epoch_seconds],
        "seconds_per_epoch": round(float(np.mean(epoch_seconds)), 3),
        "train_sentences": len(train), "train_tokens": int(sum(map(len, train.words))),
        "dev_tokens": int(sum(map(len, dev.words))), "test_tokens": int(test_scores.confusion.sum()),
        "params": int(sum(p.numel() for p in model.parameters())),
    }
    write_json(out / "history.json", history)
    write_json(out / "encoding.json", enc.to_json())
    save_curves(history, out / "curves.png", title=f"POS tagger ({config.tags.upper()}) on EWT")
    import matplotlib.pyplot as plt

    fig = confusion_figure(test_scores.confusion, enc.tags,
                           f"{config.tags.upper()} on EWT test: gold x predicted (accuracy {test_scores.accuracy:.4f})")
    try:
        atomic_savefig(fig, out / "confusion.png", dpi=110)
    finally:
        plt.close(fig)
    save_model(model.state_dict(), {"experiment": "pos", "config": asdict(config), "n_words": len(enc.words),
                                    "n_chars": len(enc.chars), "tags": enc.tags}, out / "model")
    write_json(out / "metrics.json", metrics)  # last: a run with metrics.json has all its files
    print_results(f"pos ({config.tags})", {
        "best dev accuracy": best_acc, "best epoch": best_epoch, "test accuracy": test_scores.accuracy,
        "test accuracy, unknown words": test_scores.oov_accuracy if test_scores.oov_accuracy is not None else "-",
        "seconds per epoch": metrics["seconds_per_epoch"]})
    return metrics
