"""The names of the long-range memory tasks, recurrences and initialisations, without torch.

`lstmkit.insight.tasks` (the tasks and their model) and the `lstmkit run memory` config both read
them; they sit apart so that the command's `--help` lists them without importing torch.
"""

TASKS = ("recall", "adding")
MODELS = ("simple_rnn", "lstm", "gru")
INITS = ("keras", "torch", "chrono")
