"""The download helper against a local HTTP server: success, wrong checksum, cut-short transfer,
no server, HTTP error, timeout, overall deadline. A failed download leaves no file behind."""

from __future__ import annotations

import hashlib
import re
import socket
import time

import pytest

from lstmkit.data.download import download, sha256_of
from lstmkit.data.errors import DataError
from tests.data.http_server import Route

BODY = bytes(range(256)) * 1000  # 256,000 bytes, several read chunks
BODY_SHA = hashlib.sha256(BODY).hexdigest()
HINT = "Download it by hand from there and put it in /some/folder."


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def _assert_one_paragraph(message: str, *parts: str) -> None:
    assert "\n" not in message
    for part in parts:
        assert part in message


def test_success_writes_the_whole_file(server, tmp_path):
    server.routes["/ok.bin"] = Route(BODY)
    dest = tmp_path / "ok.bin"
    assert download(server.url + "/ok.bin", dest, sha256=(BODY_SHA,), progress=False) == dest
    assert dest.read_bytes() == BODY
    assert _leftovers(tmp_path) == ["ok.bin"]


def test_success_with_progress_bar(server, tmp_path):
    server.routes["/bar.bin"] = Route(BODY)
    dest = download(server.url + "/bar.bin", tmp_path / "bar.bin", sha256=("0" * 64, BODY_SHA), progress=True)
    assert dest.read_bytes() == BODY  # any one of the accepted hashes will do


def test_wrong_checksum_saves_nothing(server, tmp_path):
    server.routes["/changed.bin"] = Route(BODY[:-1] + b"x")
    url = server.url + "/changed.bin"
    with pytest.raises(DataError) as e:
        download(url, tmp_path / "changed.bin", sha256=(BODY_SHA,), progress=False, hint=HINT)
    _assert_one_paragraph(str(e.value), "changed.bin", url, BODY_SHA, "nothing was saved", HINT)
    assert _leftovers(tmp_path) == []


def test_truncated_transfer_saves_nothing(server, tmp_path):
    server.routes["/short.bin"] = Route(BODY[:100_000], declared_length=len(BODY))  # closes after 100,000 bytes
    url = server.url + "/short.bin"
    with pytest.raises(DataError) as e:
        download(url, tmp_path / "short.bin", sha256=(BODY_SHA,), progress=False, hint=HINT)
    _assert_one_paragraph(str(e.value), "short.bin", url, "cut short", "100,000 of 256,000 bytes", HINT)
    assert _leftovers(tmp_path) == []


def test_truncated_transfer_is_caught_without_a_pinned_hash(server, tmp_path):
    server.routes["/short2.bin"] = Route(BODY[:10], declared_length=20)
    with pytest.raises(DataError, match="cut short"):
        download(server.url + "/short2.bin", tmp_path / "short2.bin", progress=False)
    assert _leftovers(tmp_path) == []


def test_no_server_is_a_refused_connection(tmp_path):
    with socket.socket() as s:  # a port that nothing listens on once this socket is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/imdb.npz"
    with pytest.raises(DataError) as e:
        download(url, tmp_path / "imdb.npz", sha256=(BODY_SHA,), progress=False, hint=HINT)
    _assert_one_paragraph(str(e.value), "imdb.npz", url, "refused", HINT)
    assert _leftovers(tmp_path) == []


def test_http_error_names_the_status(server, tmp_path):
    url = server.url + "/missing.bin"
    with pytest.raises(DataError) as e:
        download(url, tmp_path / "missing.bin", progress=False, hint=HINT)
    _assert_one_paragraph(str(e.value), url, "HTTP 404", HINT)
    assert _leftovers(tmp_path) == []


def test_a_silent_server_times_out(server, tmp_path):
    server.routes["/slow.bin"] = Route(BODY, delay=5.0)
    with pytest.raises(DataError, match="timed out"):
        download(server.url + "/slow.bin", tmp_path / "slow.bin", progress=False, timeout=0.3)
    assert _leftovers(tmp_path) == []


def test_a_trickling_download_stops_at_its_deadline(server, tmp_path):
    server.routes["/trickle.bin"] = Route(BODY[:40], trickle=0.2)  # 8 s in all; every read well within 0.5 s
    url = server.url + "/trickle.bin"
    start = time.monotonic()
    with pytest.raises(DataError) as e:
        download(url, tmp_path / "trickle.bin", progress=False, timeout=0.5, deadline=1.0, hint=HINT)
    assert time.monotonic() - start < 3.0
    _assert_one_paragraph(str(e.value), "trickle.bin", url, "deadline of 1 s", "nothing was saved",
                          "LSTMKIT_DOWNLOAD_DEADLINE", HINT)
    assert re.search(r"after [1-9] of 40 bytes", str(e.value))
    assert _leftovers(tmp_path) == []


def test_the_deadline_comes_from_the_environment(server, tmp_path, monkeypatch):
    server.routes["/trickle-env.bin"] = Route(BODY[:40], trickle=0.2)
    monkeypatch.setenv("LSTMKIT_DOWNLOAD_DEADLINE", "1")
    start = time.monotonic()
    with pytest.raises(DataError, match=r"deadline of 1 s \(LSTMKIT_DOWNLOAD_DEADLINE\)"):
        download(server.url + "/trickle-env.bin", tmp_path / "trickle-env.bin", progress=False)
    assert time.monotonic() - start < 3.0
    assert _leftovers(tmp_path) == []


def test_an_explicit_deadline_overrides_the_environment(server, tmp_path, monkeypatch):
    server.routes["/quick.bin"] = Route(BODY)
    monkeypatch.setenv("LSTMKIT_DOWNLOAD_DEADLINE", "0.000001")
    with pytest.raises(DataError, match="deadline"):
        download(server.url + "/quick.bin", tmp_path / "quick.bin", progress=False)
    assert _leftovers(tmp_path) == []
    assert download(server.url + "/quick.bin", tmp_path / "quick.bin", progress=False, deadline=60).read_bytes() == BODY


def test_the_deadline_covers_the_wait_for_an_answer(server, tmp_path):
    server.routes["/late.bin"] = Route(BODY, delay=5.0)  # silent for longer than the deadline, less than the timeout
    url = server.url + "/late.bin"
    start = time.monotonic()
    with pytest.raises(DataError) as e:
        download(url, tmp_path / "late.bin", progress=False, timeout=10.0, deadline=0.5)
    assert time.monotonic() - start < 3.0
    _assert_one_paragraph(str(e.value), "late.bin", url, "deadline of 0.5 s", "after 0 bytes")
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("value", ["soon", "0", "-5", "nan"])
def test_a_bad_deadline_in_the_environment_is_named(server, tmp_path, monkeypatch, value):
    server.routes["/never.bin"] = Route(BODY)
    monkeypatch.setenv("LSTMKIT_DOWNLOAD_DEADLINE", value)
    with pytest.raises(DataError, match=f"LSTMKIT_DOWNLOAD_DEADLINE must be a number of seconds above 0, not '{value}'"):
        download(server.url + "/never.bin", tmp_path / "never.bin", progress=False)
    assert server.hits.get("/never.bin") is None
    assert _leftovers(tmp_path) == []


def test_sha256_of_matches_hashlib(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(BODY * 5)  # more than one 1 MiB read
    assert sha256_of(path) == hashlib.sha256(BODY * 5).hexdigest()
