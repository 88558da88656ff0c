"""Movie-review sentiment on IMDB: the classic Keras programs (Deep Learning with Python), on lstmkit.keras.

Embedding(num_words, 32) -> a recurrent or convolutional body -> Dense(1, sigmoid); rmsprop,
binary cross-entropy, batch 128, reviews padded or cut to their last 500 tokens (padding on the
left), the last 20% of the training reviews held out for validation (Keras' validation_split).
Book targets (best validation accuracy): SimpleRNN 0.85, LSTM 0.89, bidirectional LSTM 0.88, Conv1D 0.84.
`mingru`/`minlstm` are not from the book: two residual blocks of the minRNN paper's kind (pre-LayerNorm
minRNN and MLP, `_min_rnn_blocks`), read at the last step; one bare layer learned far slower.

`--source indices` reads Keras' word indices (`imdb.load_data(num_words)`); `--source text` reads the
50,000 raw reviews and encodes them with lstmkit's tokenizer and a vocabulary of the `num_words` most
frequent words of the training reviews that are trained on (not the held-out 20%, not the test set).

The run folder (`--out`) holds config.json, history.json (per-epoch loss/acc/val_loss/val_acc),
metrics.json, curves.png, model.keras (lstmkit.keras `model.save`: a zip of a JSON config and
safetensors weights, no pickle) and encoding.json (how to turn a text into the model's ids), which
`lstmkit inspect gates --run DIR` reads (see `lstmkit.insight.runs`).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from lstmkit.experiments import configs
from lstmkit.experiments.base import open_run
from lstmkit.experiments.configs import INDEX_FROM, OOV_CHAR, START_CHAR
from lstmkit.experiments.configs import ImdbConfig as Config
from lstmkit.experiments.configs import imdb_split_point as split_point
from lstmkit.experiments.reporting import print_results, save_curves
from lstmkit.io import write_json
from lstmkit.runtime import resolve_device, set_seed

MODELS, SOURCES, MIN_MAXLEN = configs.IMDB_MODELS, configs.SOURCES, configs.MIN_MAXLEN  # this experiment's names


def build(config: Config) -> Any:
    """The compiled Keras model of `config.model`, as the book writes it (recurrences on `config.backend`)."""
    from lstmkit.keras import layers
    from lstmkit.keras.models import Sequential

    u, backend = config.units, config.backend
    body = {
        "simplernn": lambda: [layers.SimpleRNN(u, backend=backend)],
        "lstm": lambda: [layers.LSTM(u, backend=backend)],
        "gru": lambda: [layers.GRU(u, backend=backend)],
        "bilstm": lambda: [layers.Bidirectional(layers.LSTM(u, backend=backend))],
        "stacked-lstm": lambda: [layers.LSTM(u, return_sequences=True, backend=backend),
                                 layers.LSTM(u, backend=backend)],
        "conv1d": lambda: [layers.Conv1D(32, 7, activation="relu"), layers.MaxPooling1D(5),
                           layers.Conv1D(32, 7, activation="relu"), layers.GlobalMaxPooling1D()],
        "conv1d-lstm": lambda: [layers.Conv1D(32, 7, activation="relu"), layers.MaxPooling1D(5),
                                layers.LSTM(u, backend=backend)],
        # the xLSTM's sLSTM, 4 heads of 8, on its own backends ("auto": its CPU kernel where it builds)
        "slstm": lambda: [layers.SLSTM(u, num_heads=4, backend=backend if backend in ("reference", "cpu") else "auto")],
        # Ba, Kiros & Hinton 2016: LN on both projections and on the cell state (an lstmkit extension of Keras' LSTM)
        "ln-lstm": lambda: [layers.LSTM(u, layer_norm=True, backend=backend)],
    }
    if config.model in MIN_RNN_BLOCKS:
        model = _min_rnn_blocks(config)
    else:
        model = Sequential([layers.Input(shape=(config.maxlen,), dtype="int32"), layers.Embedding(config.num_words, 32),
                            *body[config.model](), layers.Dense(1, activation="sigmoid")],
                           name=f"imdb_{config.model.replace('-', '_')}")
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"],
                  device=str(resolve_device(config.device)))
    return model


# Feng et al. 2024 use minGRU/minLSTM as stacked layers in residual blocks: one layer's gates see x_t
# alone, a second layer's gates see the first's outputs, so context. On IMDB one
# MinGRU(32) reached 0.709 best val acc against the LSTM's 0.881; on 8,000 reviews, 4 epochs, one layer
# reached 0.62, two plain stacked layers 0.62, a z-gate bias of -1 0.65, rmsprop at 3e-3 0.65, and two
# of these blocks 0.71 (the LSTM 0.86).
MIN_RNN_BLOCKS = {"mingru": "MinGRU", "minlstm": "MinLSTM"}
MIN_RNN_DEPTH = 2


def _min_rnn_blocks(config: Config) -> Any:
    """Embedding(num_words, units) -> 2 x [x + MinRNN(LN(x)); x + MLP(LN(x)), MLP = Dense(4 units, gelu)
    -> Dense(units)] -> LN -> the last step (the last real token: padding is on the left) -> Dense(1)."""
    from lstmkit.keras import layers
    from lstmkit.keras.models import Model

    u, recurrent = config.units, getattr(layers, MIN_RNN_BLOCKS[config.model])
    inputs = layers.Input(shape=(config.maxlen,), dtype="int32")
    x = layers.Embedding(config.num_words, u)(inputs)  # (B, T, u): the residual stream
    for _ in range(MIN_RNN_DEPTH):
        x = layers.Add()([x, recurrent(u, return_sequences=True)(layers.LayerNormalization()(x))])
        mlp = layers.Dense(4 * u, activation="gelu")(layers.LayerNormalization()(x))  # (B, T, 4u)
        x = layers.Add()([x, layers.Dense(u)(mlp)])
    last = layers.LayerNormalization()(x)[:, -1]  # (B, u)
    return Model(inputs, layers.Dense(1, activation="sigmoid")(last), name=f"imdb_{config.model}")


Split = tuple[np.ndarray, np.ndarray]


def load(config: Config) -> tuple[Split, Split, Split, dict[str, Any]]:
    """Padded (x, y) for training, validation and test, and encoding.json: how a new text becomes ids."""
    from lstmkit.data.sequence import pad_sequences

    if config.source == "indices":
        from lstmkit.data import imdb

        (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=config.num_words, start_char=START_CHAR,
                                                              oov_char=OOV_CHAR, index_from=INDEX_FROM)
        if config.limit is not None:
            x_train, y_train = x_train[: config.limit], y_train[: config.limit]
        if config.eval_limit is not None:
            x_test, y_test = x_test[: config.eval_limit], y_test[: config.eval_limit]
        x_train, x_test = (pad_sequences(x, maxlen=config.maxlen) for x in (x_train, x_test))
        encoding = {"source": "indices", "num_words": config.num_words, "maxlen": config.maxlen,
                    "start_char": START_CHAR, "oov_char": OOV_CHAR, "index_from": INDEX_FROM,
                    "padding": "pre", "truncating": "pre"}
    else:
        (x_train, y_train), (x_test, y_test), vocab = _text_data(config)
        encoding = {"source": "text", "maxlen": config.maxlen, "padding": "pre", "truncating": "pre",
                    "vocabulary": vocab.to_json()}
    cut = split_point(len(x_train), config.validation_split)
    train = (np.asarray(x_train[:cut]), np.asarray(y_train[:cut]))
    val = (np.asarray(x_train[cut:]), np.asarray(y_train[cut:]))
    return train, val, (np.asarray(x_test), np.asarray(y_test)), encoding


def _text_data(config: Config) -> tuple[Split, Split, Any]:
    """The raw reviews, shuffled as `imdb.load_text_data` does (seed 113, train first), limited, tokenized;
    the vocabulary is built on the reviews that are trained on only."""
    from lstmkit.data import imdb
    from lstmkit.data.sequence import pad_sequences
    from lstmkit.data.text import Vocabulary, tokenize

    train, test = imdb.read_reviews()
    rng = np.random.RandomState(113)  # Keras' IMDB shuffle (imdb.load_text_data's): both sources order alike
    train, test = (s.take(rng.permutation(len(s))) for s in (train, test))
    if config.limit is not None:
        train = train.take(np.arange(min(config.limit, len(train))))
    if config.eval_limit is not None:
        test = test.take(np.arange(min(config.eval_limit, len(test))))
    train_tokens = [tokenize(t) for t in train.texts]
    fit_part = train_tokens[: split_point(len(train_tokens), config.validation_split)]
    vocab = Vocabulary.build(fit_part, max_tokens=config.num_words)

    def pad(tokens: list[list[str]]) -> np.ndarray:
        return pad_sequences([vocab.encode(t) for t in tokens], maxlen=config.maxlen)

    return (pad(train_tokens), train.labels), (pad([tokenize(t) for t in test.texts]), test.labels), vocab


def summarize(history: dict[str, list[float]], epoch_seconds: list[float]) -> dict[str, Any]:
    """The best validation accuracy and its epoch (1-based), the final one, and the time per epoch."""
    val_acc = history["val_acc"]
    best = int(np.argmax(val_acc))
    return {"best_val_accuracy": float(val_acc[best]), "best_epoch": best + 1, "final_val_accuracy": float(val_acc[-1]),
            "epoch_seconds": [round(float(s), 3) for s in epoch_seconds],
            "seconds_per_epoch": round(float(np.mean(epoch_seconds)), 3) if epoch_seconds else None}


def run(config: Config) -> dict:
    set_seed(config.seed)
    resolve_device(config.device)  # fails early and clearly when cuda is asked for and absent
    with open_run(config) as run:
        config = run.config  # a resumed run's own options
        out = run.out
        set_seed(config.seed)
        (x_train, y_train), (x_val, y_val), (x_test, y_test), encoding = load(config)
        set_seed(config.seed)  # the same weights and batch order whatever the loading drew
        model = build(config)
        backup = run.backup()  # a checkpoint per epoch; a resumed run starts from the last one
        history = model.fit(x_train, y_train, epochs=config.epochs, batch_size=config.batch_size,
                            validation_data=(x_val, y_val), verbose=1, callbacks=[backup])
        test_loss, test_acc = model.evaluate(x_test, y_test, batch_size=512, verbose=0)
        hist, epoch_times = backup.full_history(history), backup.full_epoch_times(history)
        metrics = {
            "model": config.model, "source": config.source, **summarize(hist, epoch_times),
            "test_loss": float(test_loss), "test_accuracy": float(test_acc), "epochs": config.epochs,
            "train_examples": len(x_train), "val_examples": len(x_val), "test_examples": len(x_test),
            "params": int(sum(p.numel() for p in model.parameters())),
        }
        write_json(out / "history.json", hist)
        write_json(out / "encoding.json", encoding)
        save_curves(hist, out / "curves.png", title=f"IMDB {config.model} ({config.source})")
        model.save(str(out / "model.keras"))
        write_json(out / "metrics.json", metrics)  # last: a run with metrics.json has all its files
    print_results(f"imdb {config.model} ({config.source})", {
        "best validation accuracy": metrics["best_val_accuracy"], "best epoch": metrics["best_epoch"],
        "final validation accuracy": metrics["final_val_accuracy"], "test accuracy": metrics["test_accuracy"],
        "seconds per epoch": metrics["seconds_per_epoch"]})
    return {**metrics, "config": asdict(config)}
