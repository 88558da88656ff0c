"""The `lstmkit` command's help and version answer without importing torch (timings live in
benchmarks/cli_startup.py; tests check which modules load, not how long it takes)."""

import subprocess
import sys

import pytest

RUNNER = """
import sys
from lstmkit.cli import main
try:
    status = main(sys.argv[1:])
except SystemExit as e:
    status = e.code
print(f"status={status} torch={'torch' in sys.modules} numpy={'numpy' in sys.modules}", file=sys.stderr)
"""

# each command, and a piece of what its help must show
COMMANDS = [
    (["--help"], "lstmkit run EXPERIMENT"),
    (["--version"], "lstmkit 0.1.0"),
    (["run", "--help"], "experiments: imdb, memory, pos, temperature"),
    (["run", "imdb", "--help"], "--num-words"),
    (["run", "temperature", "--help"], "--horizon"),
    (["run", "pos", "--help"], "--char-hidden"),
    (["run", "memory", "--help"], "{recall,adding}"),
    (["data", "--help"], "{list,fetch,verify}"),
    (["data", "list", "--help"], "usage: lstmkit data list"),
    (["data", "fetch", "--help"], "usage: lstmkit data fetch"),
    (["data", "verify", "--help"], "usage: lstmkit data verify"),
    (["inspect", "--help"], "{gates,gradients,explore,serve}"),
    (["inspect", "gates", "--help"], "--text"),
    (["inspect", "gradients", "--help"], "--length"),
    (["inspect", "explore", "--help"], "usage: lstmkit inspect explore"),
    (["inspect", "serve", "--help"], "usage: lstmkit inspect serve"),
    (["bench", "--help"], "--shapes"),
]


@pytest.mark.parametrize("argv,shows", COMMANDS, ids=[" ".join(a) for a, _ in COMMANDS])
def test_help_and_version_import_no_torch(argv, shows):
    proc = subprocess.run([sys.executable, "-c", RUNNER, *argv], capture_output=True, text=True, timeout=120)
    last = proc.stderr.strip().splitlines()[-1]
    assert "status=0" in last or "status=None" in last, proc.stderr
    assert "torch=False" in last, f"lstmkit {' '.join(argv)} imported torch"
    # numpy too: through lstmkit.data's modules it was 150 of the 175 ms `lstmkit --help` took
    assert "numpy=False" in last, f"lstmkit {' '.join(argv)} imported numpy"
    assert shows in proc.stdout, proc.stdout


def test_the_runner_sees_torch_when_a_command_needs_it():
    """The check above can fail: a command that runs a recurrence does import torch."""
    proc = subprocess.run([sys.executable, "-c", RUNNER, "bench", "--kinds", "lstm", "--shapes", "2,3,4,5",
                           "--repeats", "1", "--device", "cpu"], capture_output=True, text=True, timeout=300)
    assert "torch=True" in proc.stderr.strip().splitlines()[-1], proc.stderr
