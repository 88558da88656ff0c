"""The config of every experiment: one dataclass each, the data `lstmkit run` fills from its options.

Nothing here imports torch, so that `lstmkit run EXPERIMENT --help` answers at once; each
experiment module (`imdb`, `temperature`, `pos`, `memory`) takes its `Config` from here and adds
`build` and `run`. Checking `--backend` asks `lstmkit.ops` for the registered backends, which
imports torch, so it happens when a config is made, not when the help is printed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

from lstmkit.data import memory_names


@dataclass
class RunConfig:
    """Fields every experiment has; `lstmkit run` sets them from its options. Each experiment's
    subclass names itself in `experiment`, which its run folder records."""

    experiment: ClassVar[str] = ""

    model: str = ""
    epochs: int = 1
    batch_size: int = 128
    limit: int | None = None  # use only the first N training examples
    device: str = "auto"  # cpu | cuda | auto
    backend: str = "auto"  # the lstmkit.ops backend
    seed: int = 0
    out: str = "runs/latest"
    overwrite: bool = field(default=False, metadata={
        "help": "replace the run already in --out, or an unfinished one (the old run stays until the new one ends)"})
    resume: str | None = field(default=None, metadata={
        "help": "continue the unfinished run whose --out was RESUME from its last finished epoch, with its options"})


def check_backend(backend: str) -> None:
    """`--backend` is "auto" or a registered lstmkit.ops backend."""
    from lstmkit.ops import backends  # torch: only when a config is made (see the module docstring)

    if backend != "auto" and backend not in backends():
        raise ValueError(f"--backend must be 'auto' or one of {backends()}, got {backend!r}")


# ----- imdb ---------------------------------------------------------------------------------------
IMDB_MODELS = ["simplernn", "lstm", "gru", "bilstm", "stacked-lstm", "conv1d", "conv1d-lstm", "mingru", "minlstm",
               "ln-lstm", "slstm"]
SOURCES = ["indices", "text"]
# The shortest review length each convolutional body can read: Conv1D(7) -> MaxPool(5) -> Conv1D(7)
# needs (L - 6) // 5 >= 7; Conv1D(7) -> MaxPool(5) -> LSTM needs (L - 6) // 5 >= 1.
MIN_MAXLEN = {"conv1d": 41, "conv1d-lstm": 11}
START_CHAR, OOV_CHAR, INDEX_FROM = 1, 2, 3  # imdb.load_data's defaults, as Keras


def imdb_split_point(n: int, validation_split: float) -> int:
    """Where Keras' `validation_split` cuts n samples: the first ones train, the rest validate."""
    return math.floor(n * (1.0 - validation_split))


@dataclass
class ImdbConfig(RunConfig):
    experiment = "imdb"
    model: str = field(default="lstm", metadata={"choices": IMDB_MODELS, "help": "the network"})
    epochs: int = 10
    batch_size: int = 128
    limit: int | None = field(default=None, metadata={"help": "use only the first N training reviews (after "
                                                               "Keras' shuffle), the validation part included"})
    source: str = field(default="indices", metadata={
        "choices": SOURCES, "help": "Keras' word indices, or the raw text through lstmkit's tokenizer"})
    num_words: int = field(default=10000, metadata={"help": "vocabulary size, padding and unknown ids included"})
    maxlen: int = field(default=500, metadata={"help": "tokens kept per review (the last ones)"})
    units: int = field(default=32, metadata={"help": "units of the recurrent layers"})
    validation_split: float = field(default=0.2, metadata={"help": "held-out fraction at the end of the training "
                                                                   "reviews"})
    eval_limit: int | None = field(default=None, metadata={"help": "test on only the first N test reviews"})
    out: str = "runs/imdb"

    def __post_init__(self) -> None:
        if self.model not in IMDB_MODELS:
            raise ValueError(f"model must be one of {', '.join(IMDB_MODELS)}, got {self.model!r}")
        if self.source not in SOURCES:
            raise ValueError(f"source must be 'indices' or 'text', got {self.source!r}")
        for name in ("epochs", "batch_size", "units", "maxlen"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.num_words <= INDEX_FROM:
            raise ValueError(f"--num-words must be above {INDEX_FROM} (ids 0-{INDEX_FROM} are padding, start, "
                             f"unknown and unused), got {self.num_words}")
        if not 0.0 < self.validation_split < 1.0:
            raise ValueError(f"--validation-split must be in (0, 1), got {self.validation_split}")
        if self.limit is not None and not 0 < imdb_split_point(self.limit, self.validation_split) < self.limit:
            raise ValueError(f"--limit {self.limit} with --validation-split {self.validation_split} leaves no review "
                             "for training or none for validation; give a larger --limit")
        if self.eval_limit is not None and self.eval_limit < 1:
            raise ValueError(f"--eval-limit must be at least 1 test review, got {self.eval_limit}")
        shortest = MIN_MAXLEN.get(self.model, 1)
        if self.maxlen < shortest:
            raise ValueError(f"--maxlen must be at least {shortest} for the {self.model} model (its convolutions and "
                             f"pooling shorten the sequence), got {self.maxlen}")
        check_backend(self.backend)


# ----- temperature --------------------------------------------------------------------------------
TEMPERATURE_MODELS = ["baseline", "dense", "lstm", "gru", "gru-dropout", "stacked-gru", "bigru", "conv1d-gru", "mingru",
                      "minlstm", "slstm"]
# conv1d-gru: Conv1D(5) -> MaxPooling1D(3) -> Conv1D(5) leaves floor((L - 4) / 3) - 4 steps; the GRU needs >= 1
CONV_MIN_LOOKBACK = 19


@dataclass
class TemperatureConfig(RunConfig):
    experiment = "temperature"
    model: str = field(default="gru", metadata={"choices": TEMPERATURE_MODELS,
                                                "help": "the network, or the common-sense baseline (no training)"})
    epochs: int = field(default=20, metadata={"help": "at most this many passes over the training windows "
                                              "(early stopping may end sooner)"})
    batch_size: int = 256
    limit: int | None = field(default=None, metadata={"help": "use only the first N training windows (in time "
                                                      "order)"})
    horizon: int = field(default=24, metadata={"help": "hours from the last input reading to the predicted one"})
    lookback: int = field(default=120, metadata={"help": "input readings per window"})
    step: int = field(default=1, metadata={"help": "hours between two input readings (the sampling period)"})
    units: int = field(default=32, metadata={"help": "units of the recurrent (or dense) layers"})
    optimizer: str = field(default="rmsprop", metadata={"choices": ["rmsprop", "adam"], "help": "Keras' defaults"})
    learning_rate: float = 1e-3
    loss: str = field(default="mae", metadata={"choices": ["mae", "mse"], "help": "training loss on the "
                                               "standardised temperature"})
    time_features: bool = field(default=True, metadata={
        "help": "add the hour of the day and the day of the year as sine/cosine inputs (--no-time-features: "
                "the 11 measured columns only, as the book's Jena model)"})
    early_stopping: bool = field(default=True, metadata={"help": "stop when the validation loss has not improved "
                                                         "for --patience epochs and keep the best weights"})
    patience: int = field(default=5, metadata={"help": "epochs without a lower validation loss before stopping "
                                               "(the validation MAE swings by 0.1-0.3 °C between epochs)"})
    out: str = "runs/temperature"

    def __post_init__(self) -> None:
        if self.model not in TEMPERATURE_MODELS:
            raise ValueError(f"--model must be one of {', '.join(TEMPERATURE_MODELS)}, got {self.model!r}")
        for name in ("horizon", "lookback", "step", "units", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"--limit must be at least 1 training window, got {self.limit}")
        if self.patience < 0:
            raise ValueError(f"--patience must be >= 0, got {self.patience}")
        if not self.learning_rate > 0:
            raise ValueError(f"--learning-rate must be positive, got {self.learning_rate}")
        if self.optimizer not in ("rmsprop", "adam"):
            raise ValueError(f"--optimizer must be rmsprop or adam, got {self.optimizer!r}")
        if self.loss not in ("mae", "mse"):
            raise ValueError(f"--loss must be mae or mse, got {self.loss!r}")
        if self.model == "conv1d-gru" and self.lookback < CONV_MIN_LOOKBACK:
            raise ValueError(f"conv1d-gru needs --lookback >= {CONV_MIN_LOOKBACK} (two convolutions of width 5 and a "
                             f"pooling by 3), got {self.lookback}")


# ----- pos ----------------------------------------------------------------------------------------
TAG_SETS = ["upos", "xpos"]


@dataclass
class PosConfig(RunConfig):
    experiment = "pos"
    model: str = field(default="bilstm", metadata={"choices": ["bilstm"], "help": "the tagger"})
    epochs: int = 20
    batch_size: int = 32
    limit: int | None = field(default=None, metadata={"help": "train on only the first N training sentences"})
    tags: str = field(default="upos", metadata={"choices": TAG_SETS, "help": "which tag set"})
    word_dim: int = 100
    char_dim: int = 32
    char_hidden: int = field(default=50, metadata={"help": "units per direction of the character BiLSTM"})
    hidden: int = field(default=128, metadata={"help": "units per direction of the sentence BiLSTM"})
    layers: int = 2
    dropout: float = 0.33
    word_dropout: float = field(default=0.25, metadata={"help": "a in a / (a + count): how often a training word "
                                                                "becomes <unk> (0 = never)"})
    max_chars: int = field(default=20, metadata={"help": "characters read per word (a longer word keeps its "
                                                         "first and last halves)"})
    lr: float = 2e-3
    eval_limit: int | None = field(default=None, metadata={"help": "score on only the first N dev and N test "
                                                                   "sentences"})
    out: str = "runs/pos"

    def __post_init__(self) -> None:
        if self.tags not in TAG_SETS:
            raise ValueError(f"tags must be 'upos' or 'xpos', got {self.tags!r}")
        for name in ("epochs", "batch_size", "word_dim", "char_dim", "char_hidden", "hidden", "layers", "max_chars"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        for name in ("limit", "eval_limit"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1 sentence, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"--dropout must be in [0, 1), got {self.dropout}")
        if self.word_dropout < 0:
            raise ValueError(f"--word-dropout must be >= 0, got {self.word_dropout}")
        if self.lr <= 0:
            raise ValueError(f"--lr must be positive, got {self.lr}")
        check_backend(self.backend)


# ----- memory -------------------------------------------------------------------------------------
# memory_names.MODELS (the recurrences of lstmkit.insight.tasks) and the layer-norm LSTM (issue 19), which the
# experiment builds as the LSTM of the same seed with layer_norm=True (lstmkit.experiments.memory.build)
MEMORY_MODELS = (*memory_names.MODELS, "ln_lstm")
# issue 20: minGRU, minLSTM (Feng et al. 2024) and the xLSTM's sLSTM, chosen by --model one at a time; "all" keeps
# the four above
MEMORY_EXTRA_MODELS = ("mingru", "minlstm", "slstm")


@dataclass
class MemoryConfig(RunConfig):
    experiment = "memory"
    model: str = field(default="all", metadata={"choices": ["all", *MEMORY_MODELS, *MEMORY_EXTRA_MODELS],
                                                "help": "which recurrence"})
    epochs: int = field(default=1, metadata={"help": "does not apply (refused): training runs --steps batches of "
                                             "fresh sequences"})
    batch_size: int = 64
    task: str = field(default="recall", metadata={"choices": list(memory_names.TASKS),
                                                  "help": "recall the first symbol, "
                                                  "or the adding problem"})
    lengths: list[int] = field(default_factory=lambda: [25, 50, 100, 200, 500],
                               metadata={"help": "numbers of distractor steps L"})
    hidden: int = field(default=32, metadata={"help": "hidden units, the same for every model"})
    steps: int = field(default=300, metadata={"help": "training batches per model and length (at most)"})
    lr: float = 1e-2
    init: str = field(default="chrono", metadata={"choices": list(memory_names.INITS),
                                                  "help": "keras: glorot/orthogonal, "
                      "forget bias 1; chrono: Keras' plus gate biases with time scales up to L (Tallec & Ollivier "
                      "2018); torch: U(+-1/sqrt(H))"})
    symbols: int = field(default=8, metadata={"help": "recall: label symbols (chance = 1/symbols)"})
    distractors: int = field(default=8, metadata={"help": "recall: distractor symbols"})
    eval_size: int = field(default=1000, metadata={"help": "held-out sequences per length"})
    eval_every: int = 25
    target: float | None = field(default=None, metadata={"help": "stop training once the held-out score reaches "
                                                         "this (default 0.99 recall, 0.95 adding)"})
    seeds: int = field(default=1, metadata={"help": "train each (model, length) from this many seeds (seed, "
                                            "seed+1, ...); metrics.json lists every run and a summary per pair"})
    quick: bool = field(default=False, metadata={"help": "lengths 10 and 60, at most 200 steps: under a minute"})
    out: str = "runs/memory"

    def __post_init__(self) -> None:
        # the options every experiment has that this one does not read: refused, not ignored
        if self.limit is not None:
            raise ValueError(f"--limit does not apply to the memory experiment (it trains on --steps batches of fresh "
                             f"sequences), got --limit {self.limit}")
        if self.epochs != 1:
            raise ValueError(f"--epochs does not apply to the memory experiment (give --steps, the training batches "
                             f"per model and length), got --epochs {self.epochs}")
        if self.quick:
            self.lengths, self.steps, self.eval_size = [10, 60], min(self.steps, 200), min(self.eval_size, 500)
        if not self.lengths:
            raise ValueError("--lengths needs at least one length")
        minimum = 1 if self.task == "recall" else 6
        bad = [n for n in self.lengths if n < minimum]
        if bad:
            raise ValueError(f"--lengths must be >= {minimum} for the {self.task} task, got {bad}")
        for name in ("hidden", "steps", "batch_size", "eval_size", "eval_every", "seeds"):
            if getattr(self, name) < (0 if name == "steps" else 1):
                raise ValueError(f"--{name.replace('_', '-')} must be positive, got {getattr(self, name)}")

    @property
    def models(self) -> list[str]:
        return list(MEMORY_MODELS) if self.model == "all" else [self.model]

    @property
    def goal(self) -> float:
        return self.target if self.target is not None else (0.99 if self.task == "recall" else 0.95)
