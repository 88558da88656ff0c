"""The errors lstmkit raises on purpose, each a message that is the whole story.

`LstmkitError` is their base: the `lstmkit` command prints one of them as one line (`lstmkit:
error: ...`) and exits with status 2, never a traceback (`--debug` shows it). `RunInterrupted`
ends a run stopped by SIGINT or SIGTERM after its last finished epoch was kept; its exit status
is the shell's for that signal (130, 143).
"""

from __future__ import annotations

import signal


class LstmkitError(Exception):
    """An error whose message names what was expected, what came, and (for a file) which file."""


class FileFormatError(LstmkitError, ValueError):
    """A file that exists but cannot be read as what it should be (corrupt, truncated, keys missing)."""

    def __init__(self, path: object, what: str) -> None:
        super().__init__(f"{path}: {what}")
        self.path = path


class RunInterrupted(LstmkitError):
    """A run stopped by a signal; `checkpoint` is the folder a `--resume` continues from (or None)."""

    def __init__(self, signum: int, message: str, checkpoint: object = None) -> None:
        super().__init__(message)
        self.signum = signum
        self.checkpoint = checkpoint

    @property
    def exit_status(self) -> int:
        """128 + the signal number, as a shell reports a process the signal ended (130, 143)."""
        return 128 + int(self.signum)

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name


class ShapeError(LstmkitError, ValueError, RuntimeError):
    """A tensor of the wrong shape or size given to a torch.nn drop-in: a ValueError as lstmkit
    raises elsewhere, and a RuntimeError as torch.nn raises for the same mistake, with torch's own
    phrase in the message, so code written against torch (`except RuntimeError`, assertRaisesRegex)
    keeps working."""
