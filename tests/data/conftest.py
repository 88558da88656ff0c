"""Fixtures for the data tests: the real files, an empty cache per test, a local HTTP server."""

from __future__ import annotations

import http.server
import os
import threading
from pathlib import Path

import pytest

from tests.data.http_server import LocalServer


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every data test gets an empty cache folder: nothing is read from or written to ~/.cache."""
    monkeypatch.setenv("LSTMKIT_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real data files ($LSTMKIT_DATA_DIR, which CI sets to ../shared/data)."""
    value = os.environ.get("LSTMKIT_DATA_DIR")
    if not value or not Path(value).is_dir():
        pytest.skip("set LSTMKIT_DATA_DIR to the shared data folder to run the tests on real data")
    return Path(value).resolve()


@pytest.fixture
def empty_data_dir(tmp_path, monkeypatch) -> Path:
    """$LSTMKIT_DATA_DIR pointed at a new empty folder."""
    folder = tmp_path / "data"
    folder.mkdir()
    monkeypatch.setenv("LSTMKIT_DATA_DIR", str(folder))
    return folder


@pytest.fixture(scope="module")
def server():
    state = LocalServer(url="")
    release = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection; closing ends the body

        def do_GET(self):
            state.hits[self.path] = state.hits.get(self.path, 0) + 1
            route = state.routes.get(self.path)
            if route is None:
                self.send_error(404, "Not Found")
                return
            if route.delay:
                release.wait(route.delay)
            self.send_response(route.status)
            length = len(route.body) if route.declared_length is None else route.declared_length
            self.send_header("Content-Length", str(length))
            self.end_headers()
            if not route.trickle:
                self.wfile.write(route.body)
                return
            try:
                for i in range(len(route.body)):
                    if release.wait(route.trickle):
                        return
                    self.wfile.write(route.body[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                return  # the client gave up, as the deadline tests want it to

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    release.set()
    httpd.shutdown()
    httpd.server_close()
