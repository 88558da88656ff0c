"""Download one file over HTTP(S): a connect/read timeout, a progress bar, a length and sha256
check, and a temporary file in the destination folder that becomes the file only when whole.

Every failure (no network, refused connection, HTTP error, a transfer cut short, a wrong
checksum) raises `DataError` with one paragraph naming the file and the address, and leaves no
partial file behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import socket
import sys
import tempfile
import urllib.error
import urllib.request
from collections.abc import Collection, Iterator
from pathlib import Path

from lstmkit.data.errors import DataError

CHUNK = 1 << 16
DEFAULT_TIMEOUT = 30.0  # seconds to connect, and the longest wait for any one read


def sha256_of(path: str | os.PathLike) -> str:
    """The sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _reason(e: BaseException) -> str:
    """What went wrong, in words, from the exception urllib or the socket raised."""
    if isinstance(e, urllib.error.HTTPError):
        return f"the server answered HTTP {e.code} {e.reason}"
    if isinstance(e, urllib.error.URLError) and isinstance(e.reason, BaseException):
        e = e.reason
    if isinstance(e, TimeoutError):
        return "the connection timed out"
    if isinstance(e, ConnectionRefusedError):
        return "the connection was refused (offline, or no server at that address)"
    if isinstance(e, socket.gaierror):
        return "the host name could not be resolved (offline?)"
    if isinstance(e, urllib.error.URLError):
        return f"the address could not be reached ({e.reason})"
    return f"{type(e).__name__}: {e}"


@contextlib.contextmanager
def _progress(label: str, total: int | None, show: bool) -> Iterator:
    """A rich progress bar on stderr (or nothing); yields `advance(n_bytes)`."""
    if not show:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeRemainingColumn(), console=Console(stderr=True)) as bar:
        task = bar.add_task(f"downloading {label}", total=total)
        yield lambda n: bar.advance(task, n)


def download_to_temp(url: str, folder: str | os.PathLike, label: str, *, sha256: Collection[str] = (),
                     timeout: float = DEFAULT_TIMEOUT, progress: bool | None = None, hint: str = "") -> Path:
    """Download `url` into a new temporary file in `folder` and return its path.

    The caller moves the file into place (or converts it) and the temporary file is removed on
    any failure. `sha256`: accepted hashes (empty: not checked). `progress`: None shows a bar
    when stderr is a terminal. `hint` ends every error message (where to put the file by hand).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    show = sys.stderr.isatty() if progress is None else progress

    def fail(what: str) -> DataError:
        return DataError(f"Could not download {label} from {url}: {what}. {hint}".strip())

    request = urllib.request.Request(url, headers={"User-Agent": "lstmkit"})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise fail(_reason(e)) from None
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{label}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with response, os.fdopen(fd, "wb") as out:
            length = response.headers.get("Content-Length")
            expected = int(length) if length and length.isdigit() else None
            digest, received = hashlib.sha256(), 0
            try:
                with _progress(label, expected, show) as advance:
                    while block := response.read(CHUNK):
                        out.write(block)
                        digest.update(block)
                        received += len(block)
                        advance(len(block))
            except (OSError, http.client.HTTPException) as e:
                raise fail(_reason(e) + f" after {received:,} bytes") from None
            out.flush()
            os.fsync(out.fileno())
        if expected is not None and received != expected:
            raise fail(f"the transfer was cut short: {received:,} of {expected:,} bytes arrived; nothing was saved")
        got = digest.hexdigest()
        if sha256 and got not in sha256:
            raise fail(f"the file arrived with sha256 {got}, not the pinned {' or '.join(sha256)} "
                       "(a corrupted transfer or a changed upstream file); nothing was saved")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def download(url: str, dest: str | os.PathLike, *, sha256: Collection[str] = (), timeout: float = DEFAULT_TIMEOUT,
             progress: bool | None = None, hint: str = "") -> Path:
    """Download `url` to `dest`, which appears only once the whole file has arrived and checked out."""
    dest = Path(dest)
    tmp = download_to_temp(url, dest.parent, dest.name, sha256=sha256, timeout=timeout, progress=progress, hint=hint)
    os.replace(tmp, dest)
    return dest
