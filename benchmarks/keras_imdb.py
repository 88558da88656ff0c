"""The classic IMDB programs of Deep Learning with Python, run for real on lstmkit.keras.

    python benchmarks/keras_imdb.py                                  # all five models, 10 epochs, as the book
    python benchmarks/keras_imdb.py --models conv1d,lstm --epochs 2 --limit 2000
    python benchmarks/keras_imdb.py --models lstm --epochs 1 --limit 2560 --keras   # Keras 3 timed beside it
    python benchmarks/keras_imdb.py --report                         # rewrite docs/results.md from the results

Each model is Embedding(10000, 32) -> body -> Dense(1, sigmoid), rmsprop, binary cross-entropy, batch 128,
reviews padded or cut to 500 tokens, the last 20% of the training reviews for validation, exactly as the
book's code. Recorded per model (one JSON line in benchmarks/results/keras_imdb.jsonl, with the machine,
the versions and the recurrence backend): best and final validation accuracy, test accuracy on all
25,000 test reviews, seconds per epoch (training batches only, and with validation), and the loop's
per-batch overhead: the share of each batch's wall time spent outside forward + backward + optimizer
step (fetching the batch, metrics, callbacks, progress), which must stay under 10%.
`--keras` also times Keras 3 itself on the same data and model (its torch backend unless KERAS_BACKEND
says otherwise; TensorFlow is not installed here), one epoch, for seconds per epoch side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import append_jsonl, environment, replace_section

from lstmkit import shapes

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "keras_imdb.jsonl"
DOC = ROOT / "docs" / "results.md"
MODELS = ["simplernn", "lstm", "gru", "bilstm", "conv1d"]
BOOK = {"simplernn": 0.85, "lstm": 0.89, "gru": None, "bilstm": 0.88, "conv1d": 0.838}  # best val acc reported


def build(api: Any, name: str, maxlen: int) -> Any:
    """The book's model `name`, from a Keras-like module `api` (lstmkit.keras or keras)."""
    layers = api.layers
    body = {
        "simplernn": lambda: [layers.SimpleRNN(32)],
        "lstm": lambda: [layers.LSTM(32)],
        "gru": lambda: [layers.GRU(32)],
        "bilstm": lambda: [layers.Bidirectional(layers.LSTM(32))],
        "conv1d": lambda: [layers.Conv1D(32, 7, activation="relu"), layers.MaxPooling1D(5),
                           layers.Conv1D(32, 7, activation="relu"), layers.GlobalMaxPooling1D()],
    }[name]()
    model = api.models.Sequential([api.Input(shape=(maxlen,), dtype="int32"), layers.Embedding(10000, 32), *body,
                                   layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    return model


def load(maxlen: int, limit: int | None, test_limit: int | None) -> tuple:
    from lstmkit.keras.datasets import imdb
    from lstmkit.keras.preprocessing.sequence import pad_sequences

    (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=10000)
    if limit:
        x_train, y_train = x_train[:limit], y_train[:limit]
    if test_limit:
        x_test, y_test = x_test[:test_limit], y_test[:test_limit]
    return (pad_sequences(x_train, maxlen=maxlen), np.asarray(y_train)), (pad_sequences(x_test, maxlen=maxlen),
                                                                           np.asarray(y_test))


def append(record: dict[str, Any]) -> None:
    append_jsonl(RESULTS, record)


def run_lstmkit(name: str, data: tuple, args: argparse.Namespace) -> dict[str, Any]:
    import lstmkit.keras as lk

    lk.utils.set_random_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = data
    model = build(lk, name, args.maxlen)
    if args.backend != "auto":
        model.set_backend(args.backend)
    t0 = time.perf_counter()
    history = model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
                        validation_split=0.2, verbose=args.verbose)
    fit_seconds = time.perf_counter() - t0
    test_loss, test_acc = model.evaluate(x_test, y_test, batch_size=512, verbose=0)
    stats = history.loop_stats
    epochs_with_val = [a + b for a, b in zip(stats["epoch_seconds"], stats["validation_seconds"])]
    val_acc = history.history["val_acc"]
    return {
        "framework": "lstmkit.keras", "model": name, "params": model.count_params(),
        "best_val_acc": max(val_acc), "best_epoch": int(np.argmax(val_acc)) + 1, "final_val_acc": val_acc[-1],
        "test_acc": float(test_acc), "test_loss": float(test_loss), "history": history.history,
        "seconds_per_epoch": float(np.median(stats["epoch_seconds"])),
        "seconds_per_epoch_with_validation": float(np.median(epochs_with_val)),
        "epoch_seconds": stats["epoch_seconds"], "fit_seconds": fit_seconds,
        "loop_overhead": stats["overhead"], "batches": stats["batches"],
        "ms_per_batch": 1e3 * stats["batch_seconds"] / max(stats["batches"], 1),
        "ms_per_step": 1e3 * stats["step_seconds"] / max(stats["batches"], 1),
    }


def run_keras(name: str, data: tuple, args: argparse.Namespace) -> dict[str, Any]:
    """Keras 3 itself on the same data: one timed epoch (after a one-batch warm-up)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    keras.utils.set_random_seed(args.seed)
    (x_train, y_train), _ = data
    model = build(keras, name, args.maxlen)

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds = time.perf_counter() - self.t0

    model.fit(x_train[:args.batch_size], y_train[:args.batch_size], epochs=1, batch_size=args.batch_size, verbose=0)
    timer = Timer()
    history = model.fit(x_train, y_train, epochs=1, batch_size=args.batch_size, validation_split=0.2,
                        verbose=args.verbose, callbacks=[timer])
    return {"framework": f"keras {keras.__version__} ({keras.backend.backend()} backend)", "model": name,
            "params": model.count_params(), "seconds_per_epoch_with_validation": timer.seconds,
            "val_acc_after_1_epoch": history.history["val_acc"][-1]}


def report() -> None:
    """docs/results.md from the JSON lines: the newest record per (model, framework, epochs, limit)."""
    from lstmkit.io import atomic_write_text

    rows = [json.loads(line) for line in RESULTS.read_text().splitlines() if line.strip()] if RESULTS.exists() else []
    latest: dict[tuple, dict] = {}
    for r in rows:
        latest[(r["model"], r["framework"], r["epochs"], r["limit"])] = r
    full = [r for r in latest.values()
            if r["framework"] == "lstmkit.keras" and r["limit"] is None and r["epochs"] == 10]
    partial = [r for r in latest.values() if r["framework"] == "lstmkit.keras" and r not in full]
    peers = [r for r in latest.values() if r["framework"] != "lstmkit.keras"]
    lines = ["## IMDB, the classic Keras programs on lstmkit.keras", "",
             "From `benchmarks/keras_imdb.py`, recorded in `benchmarks/results/keras_imdb.jsonl` with the machine, "
             "library versions and commit.", "",
             "Embedding(10000, 32) → body → Dense(1, sigmoid); rmsprop, binary cross-entropy, batch 128, maxlen 500,",
             "validation on the last 20% of the 25,000 training reviews, test on all 25,000 test reviews.", ""]
    order = {m: i for i, m in enumerate(MODELS)}

    def env(r: dict) -> str:
        e = r["environment"]
        return (f"{e['processor']}, {e['torch_threads']} threads, torch {e['torch']}, backend {e['auto_backend']}, "
                f"commit {e['commit']}, {e['date']}")

    lines += ["### Full runs (10 epochs, all the data)", ""]
    if full:
        lines += ["| model | params | best val acc (epoch) | book | final val acc | test acc | s/epoch (train) | "
                  "s/epoch (+val) | loop overhead | machine |", "|---|---|---|---|---|---|---|---|---|---|"]
        for r in sorted(full, key=lambda r: order[r["model"]]):
            book = BOOK.get(r["model"])
            lines.append(f"| {r['model']} | {r['params']:,} | {r['best_val_acc']:.4f} ({r['best_epoch']}) | "
                         f"{'-' if book is None else f'{book:.3f}'} | {r['final_val_acc']:.4f} | {r['test_acc']:.4f} | "
                         f"{r['seconds_per_epoch']:.1f} | {r['seconds_per_epoch_with_validation']:.1f} | "
                         f"{100 * r['loop_overhead']:.2f}% | {env(r)} |")
    missing = [m for m in MODELS if m not in {r["model"] for r in full}]
    if missing:
        lines += ["", f"**Not measured in full yet:** {', '.join(missing)} (see the shorter runs below for their "
                  "time per epoch on this machine)."]
    if partial:
        lines += ["", "### Shorter runs (fewer epochs or a slice of the training reviews)", "",
                  "| model | epochs | training reviews | best val acc | test acc (reviews) | s/epoch (train) | "
                  "ms/batch | loop overhead | machine |", "|---|---|---|---|---|---|---|---|---|"]
        for r in sorted(partial, key=lambda r: (order[r["model"]], r["epochs"])):
            lines.append(f"| {r['model']} | {r['epochs']} | {r['limit'] or 25000} | {r['best_val_acc']:.4f} | "
                         f"{r['test_acc']:.4f} ({r['test_limit'] or 25000}) | {r['seconds_per_epoch']:.1f} | "
                         f"{r['ms_per_batch']:.0f} | {100 * r['loop_overhead']:.2f}% | {env(r)} |")
    if peers:
        lines += ["", "### Keras 3 itself on the same data (one epoch, seconds including validation)", "",
                  "| model | framework | training reviews | s/epoch (+val) | lstmkit.keras s/epoch (+val), same run |",
                  "|---|---|---|---|---|"]
        for r in sorted(peers, key=lambda r: order[r["model"]]):
            lines.append(f"| {r['model']} | {r['framework']} | {r['limit'] or 25000} | "
                         f"{r['seconds_per_epoch_with_validation']:.1f} | {r.get('lstmkit_seconds_per_epoch', '-')} |")
    peer_file = RESULTS.with_name("keras_imdb_peer.jsonl")
    tf_rows = [json.loads(x) for x in peer_file.read_text().splitlines() if x.strip()] if peer_file.exists() else []
    if tf_rows:
        newest = {r["model"]: r for r in tf_rows}
        ours = {r["model"]: r for r in full}
        lines += ["", "### Keras 3 itself, the same programs on the same reviews (full runs, "
                  "`benchmarks/keras_imdb_peer.py`)", "",
                  "| model | framework | best val acc (epoch) | test acc | s/epoch | "
                  "lstmkit.keras best val acc / test acc |",
                  "|---|---|---|---|---|---|"]
        for name in sorted(newest, key=lambda m: order[m]):
            r = newest[name]
            mine = ours.get(name)
            lines.append(f"| {name} | {r['framework']} | {r['best_val_acc']:.4f} ({r['best_epoch']}) | "
                         f"{r['test_acc']:.4f} | {sorted(r['epoch_seconds'])[len(r['epoch_seconds']) // 2]:.1f} | "
                         + (f"{mine['best_val_acc']:.4f} / {mine['test_acc']:.4f}" if mine else "-") + " |")
        lines += ["", "Keras ran in its own process beside the other jobs of the machine, so its seconds per epoch "
                  "here are not a speed comparison (that one is in docs/benchmarks.md, with the machine quiet)."]
    lines += ["", "The loop overhead is the share of each training batch's wall time spent outside forward, backward "
              "and the optimizer step (`lstmkit.train.LoopStats`).", ""]
    if not DOC.exists() or not DOC.read_text().startswith("# Results"):
        atomic_write_text(DOC, "# Results\n\nEvery figure here comes from a script under `benchmarks/`, with the "
                          "machine and library versions recorded beside it.\n")
    replace_section(DOC, "keras_imdb", "\n".join(lines))


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(MODELS), help=f"comma-separated, from {MODELS}")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--limit", type=int, default=None, help="use only the first N training reviews")
    p.add_argument("--test-limit", type=int, default=None, help="evaluate on the first N test reviews")
    p.add_argument("--maxlen", type=int, default=shapes.IMDB[1])  # the named IMDB shape (B, T, I, H)
    p.add_argument("--batch-size", type=int, default=shapes.IMDB[0])
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--backend", default="auto", help="lstmkit.ops backend for the recurrent layers")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", type=int, default=2)
    p.add_argument("--keras", action="store_true", help="also time Keras 3 itself for one epoch")
    p.add_argument("--no-record", action="store_true", help="print only, write nothing")
    p.add_argument("--report", action="store_true", help="only rewrite docs/results.md from the results")
    args = p.parse_args(argv)
    if args.report:
        report()
        return 0
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        p.error(f"unknown models {unknown}; choose from {MODELS}")
    if args.threads:
        torch.set_num_threads(args.threads)
    env = environment(for_record=not args.no_record)  # before training: a dirty tree refuses at once
    data = load(args.maxlen, args.limit, args.test_limit)
    common = {"epochs": args.epochs, "limit": args.limit, "test_limit": args.test_limit, "maxlen": args.maxlen,
              "batch_size": args.batch_size, "seed": args.seed, "backend": args.backend,
              "command": " ".join(["benchmarks/keras_imdb.py", *argv])}
    for name in models:
        result = {**common, **run_lstmkit(name, data, args), "environment": env}
        print(json.dumps({k: v for k, v in result.items() if k not in ("history", "environment")}, indent=1))
        if not args.no_record:
            append(result)
        if args.keras:
            peer = {**common, "epochs": 1, **run_keras(name, data, args), "environment": env,
                    "lstmkit_seconds_per_epoch": round(result["seconds_per_epoch_with_validation"], 1)}
            print(json.dumps({k: v for k, v in peer.items() if k != "environment"}, indent=1))
            if not args.no_record:
                append(peer)
    if not args.no_record:
        report()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
