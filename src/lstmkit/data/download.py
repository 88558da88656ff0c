"""Download one file over HTTP(S): a connect/read timeout, an overall deadline, a progress bar,
a length and sha256 check, and a temporary file in the destination folder that becomes the file
only when whole.

The timeout bounds each wait (connecting, any one read); the deadline bounds the whole download,
so a server that trickles a byte at a time cannot hold it forever. The deadline is the
`deadline` argument, else `$LSTMKIT_DOWNLOAD_DEADLINE` (seconds), else 30 minutes.

Every failure (no network, refused connection, HTTP error, a transfer cut short, a wrong
checksum, the deadline passed) raises `DataError` with one paragraph naming the file and the
address, and leaves no partial file behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import math
import os
import socket
import ssl
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Collection, Iterator
from pathlib import Path

from lstmkit.data.errors import DataError

CHUNK = 1 << 16
DEFAULT_TIMEOUT = 30.0  # seconds to connect, and the longest wait for any one read
# the longest a whole download may take: the 84 MB aclImdb archive needs 28 min at 50 kB/s
DEFAULT_DEADLINE = 30 * 60.0
DEADLINE_VARIABLE = "LSTMKIT_DOWNLOAD_DEADLINE"


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


def download_deadline(deadline: float | None = None) -> tuple[float, str]:
    """The deadline in seconds (`deadline`, else `$LSTMKIT_DOWNLOAD_DEADLINE`, else the default) and
    where it came from, for the error message."""
    if deadline is not None:
        return deadline, ""
    value = os.environ.get(DEADLINE_VARIABLE, "").strip()
    if not value:
        return DEFAULT_DEADLINE, ""
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not seconds > 0 or math.isinf(seconds):
        raise DataError(f"{DEADLINE_VARIABLE} must be a number of seconds above 0, not {value!r}.")
    return seconds, f" ({DEADLINE_VARIABLE})"


class _Watchdog:
    """Shuts down the sockets of one download when its deadline passes, which ends any read that
    waits on them: the per-read timeout alone never fires while bytes keep trickling in."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    @property
    def expired(self) -> bool:
        return self._expired or time.monotonic() >= self.end

    def _expire(self) -> None:
        with self._lock:
            self._expired = True
            for sock in self._sockets:
                _shut(sock)

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self._expired:
                _shut(sock)

    def opener(self) -> urllib.request.OpenerDirector:
        """urllib's opener, with HTTP(S) connections whose sockets this watchdog shuts down."""
        watchdog = self

        class Connection(http.client.HTTPConnection):
            def connect(self) -> None:
                super().connect()
                watchdog.watch(self.sock)

        class SecureConnection(http.client.HTTPSConnection):
            def connect(self) -> None:
                super().connect()
                watchdog.watch(self.sock)

        class Handler(urllib.request.HTTPHandler):
            def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
                return self.do_open(Connection, req)

        class SecureHandler(urllib.request.HTTPSHandler):
            def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
                return self.do_open(SecureConnection, req, context=ssl.create_default_context())

        return urllib.request.build_opener(Handler, SecureHandler)


def _shut(sock: socket.socket) -> None:
    """End every wait on `sock`; an already closed socket has none."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


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
                     timeout: float = DEFAULT_TIMEOUT, deadline: float | None = None, progress: bool | None = None,
                     hint: str = "") -> Path:
    """Download `url` into a new temporary file in `folder` and return its path.

    The caller moves the file into place (or converts it) and the temporary file is removed on
    any failure. `sha256`: accepted hashes (empty: not checked). `timeout`: seconds for any one
    wait; `deadline`: seconds for the whole download (None: `$LSTMKIT_DOWNLOAD_DEADLINE`, else 30
    minutes). `progress`: None shows a bar when stderr is a terminal. `hint` ends every error
    message (where to put the file by hand).
    """
    seconds, source = download_deadline(deadline)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    show = sys.stderr.isatty() if progress is None else progress

    def fail(what: str) -> DataError:
        return DataError(f"Could not download {label} from {url}: {what}. {hint}".strip())

    def late(received: int, expected: int | None) -> DataError:
        of = "" if expected is None else f" of {expected:,}"
        return fail(f"it did not arrive within its deadline of {seconds:g} s{source}, after {received:,}{of} bytes; "
                    f"nothing was saved (set {DEADLINE_VARIABLE} to the seconds a slow link needs)")

    request = urllib.request.Request(url, headers={"User-Agent": "lstmkit"})
    with _Watchdog(seconds) as watchdog:
        try:
            response = watchdog.opener().open(request, timeout=timeout)
        except (OSError, http.client.HTTPException, ValueError) as e:
            raise (late(0, None) if watchdog.expired else fail(_reason(e))) from None
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{label}.", suffix=".part")
        tmp = Path(tmp_name)
        try:
            with response, os.fdopen(fd, "wb") as out:
                length = response.headers.get("Content-Length")
                expected = int(length) if length and length.isdigit() else None
                digest, received = hashlib.sha256(), 0
                # read1 returns what one read brings, so the deadline is checked as bytes trickle in
                read = getattr(response, "read1", response.read)
                try:
                    with _progress(label, expected, show) as advance:
                        while not watchdog.expired and (block := read(CHUNK)):
                            out.write(block)
                            digest.update(block)
                            received += len(block)
                            advance(len(block))
                except (OSError, http.client.HTTPException) as e:
                    if watchdog.expired:
                        raise late(received, expected) from None
                    raise fail(_reason(e) + f" after {received:,} bytes") from None
                if watchdog.expired:
                    raise late(received, expected)
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
             deadline: float | None = None, progress: bool | None = None, hint: str = "") -> Path:
    """Download `url` to `dest`, which appears only once the whole file has arrived and checked out."""
    dest = Path(dest)
    tmp = download_to_temp(url, dest.parent, dest.name, sha256=sha256, timeout=timeout, deadline=deadline,
                           progress=progress, hint=hint)
    os.replace(tmp, dest)
    return dest
