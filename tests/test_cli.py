"""The `lstmkit` command: version, help, and clear errors for bad commands."""

import subprocess
import sys

import lstmkit
from lstmkit.cli import main


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"lstmkit {lstmkit.__version__}"


def test_console_script_is_installed():
    out = subprocess.run([sys.executable, "-m", "lstmkit.cli", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"lstmkit {lstmkit.__version__}"


def test_unknown_command_prints_usage(capsys):
    assert main(["frobnicate"]) == 2
    assert "lstmkit run EXPERIMENT" in capsys.readouterr().out


def test_unknown_experiment_is_a_clear_error(capsys):
    assert main(["run", "nonesuch"]) == 2
    err = capsys.readouterr().err
    assert "unknown experiment 'nonesuch'" in err and "imdb" in err and "Traceback" not in err
