"""lstmkit.keras.utils.get_file against Keras 3.15.1's own `keras.utils.get_file` (which needs no TensorFlow) on
local file:// and http://127.0.0.1 origins: the same returned paths and extracted trees; then what lstmkit adds
(whole-or-nothing files, hash errors naming both hashes, refused unsafe archives, one-paragraph offline errors,
a copy in $LSTMKIT_DATA_DIR used instead of the network)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import os
import socket
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from lstmkit.data.errors import DataError
from lstmkit.keras.utils import get_file
from lstmkit.keras.utils.get_file import FileHashError, UnsafeArchiveError

PAYLOAD = b"the first line\nthe second line\n" * 50


@pytest.fixture(autouse=True)
def _no_data_dir(monkeypatch):
    monkeypatch.delenv("LSTMKIT_DATA_DIR", raising=False)


@pytest.fixture
def origin(tmp_path) -> tuple[Path, str]:
    """A plain file served as a file:// URL."""
    src = tmp_path / "src"
    src.mkdir()
    path = src / "words.txt"
    path.write_bytes(PAYLOAD)
    return path, path.as_uri()


def make_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


MEMBERS = {"data/train/a.txt": b"alpha", "data/train/b.txt": b"beta", "data/README": b"read me"}


def tree(folder: str) -> dict[str, bytes]:
    root = Path(folder)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def no_leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.name.endswith((".part", ".old"))]


@pytest.mark.parametrize("kwargs", [
    {},
    {"fname": "saved.txt"},
    {"extract": True},
    {"extract": True, "fname": "data.tar.gz"},
    {"extract": True, "fname": "mydata"},
    {"untar": True, "fname": "mydata"},
    {"extract": True, "archive": "zip"},
    {"extract": True, "fname": "bundle.zip", "archive": "zip"},
])
def test_paths_and_trees_match_keras(tmp_path, kwargs):
    import keras

    kwargs = dict(kwargs)
    archive = kwargs.pop("archive", "tar")
    if kwargs.get("extract") or kwargs.get("untar"):
        maker, name = (make_tar, "data.tar.gz") if archive == "tar" else (make_zip, "data.zip")
        url = maker(tmp_path / name, MEMBERS).as_uri()
    else:
        (tmp_path / "plain.txt").write_bytes(PAYLOAD)
        url = (tmp_path / "plain.txt").as_uri()
    ours = get_file(origin=url, cache_dir=str(tmp_path / "ours"), **kwargs)
    (tmp_path / "keras").mkdir()  # Keras falls back to /tmp/.keras for a cache_dir that does not exist yet
    theirs = keras.utils.get_file(origin=url, cache_dir=str(tmp_path / "keras"), **kwargs)
    assert os.path.relpath(ours, tmp_path / "ours") == os.path.relpath(theirs, tmp_path / "keras")
    if os.path.isdir(theirs):
        assert tree(ours) == tree(theirs) and tree(ours)[os.path.join("data", "train", "a.txt")] == b"alpha"
        assert sorted(os.listdir(tmp_path / "ours" / "datasets")) == sorted(os.listdir(tmp_path / "keras" / "datasets"))
    else:
        assert Path(ours).read_bytes() == Path(theirs).read_bytes() == PAYLOAD


def test_default_cache_is_keras_home(tmp_path, monkeypatch, origin):
    _, url = origin
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "home"))
    assert get_file(origin=url) == str(tmp_path / "home" / "datasets" / "words.txt")
    absolute = tmp_path / "elsewhere"
    assert get_file(origin=url, cache_dir=str(tmp_path / "c"), cache_subdir=str(absolute)) == str(absolute / "words.txt")


def test_a_cached_file_is_not_downloaded_again_unless_forced(tmp_path, origin):
    path, url = origin
    cache = str(tmp_path / "cache")
    first = get_file(origin=url, cache_dir=cache)
    path.write_bytes(b"changed upstream")
    assert get_file(origin=url, cache_dir=cache) == first and Path(first).read_bytes() == PAYLOAD
    assert Path(get_file(origin=url, cache_dir=cache, force_download=True)).read_bytes() == b"changed upstream"


def test_hashes_sha256_and_md5(tmp_path, origin):
    _, url = origin
    sha, md5 = hashlib.sha256(PAYLOAD).hexdigest(), hashlib.md5(PAYLOAD).hexdigest()
    assert Path(get_file(origin=url, cache_dir=str(tmp_path / "a"), file_hash=sha)).read_bytes() == PAYLOAD
    assert Path(get_file(origin=url, cache_dir=str(tmp_path / "b"), md5_hash=md5)).read_bytes() == PAYLOAD
    assert Path(get_file(origin=url, cache_dir=str(tmp_path / "c"), file_hash=md5,
                         hash_algorithm="md5")).read_bytes() == PAYLOAD


def test_a_wrong_hash_names_both_and_saves_nothing(tmp_path, origin):
    _, url = origin
    wrong = "0" * 64
    with pytest.raises(FileHashError) as caught:
        get_file(origin=url, cache_dir=str(tmp_path / "cache"), file_hash=wrong)
    message = str(caught.value)
    assert wrong in message and hashlib.sha256(PAYLOAD).hexdigest() in message and "sha256" in message
    assert isinstance(caught.value, ValueError)  # Keras raises ValueError here
    folder = tmp_path / "cache" / "datasets"
    assert list(folder.iterdir()) == []
    with pytest.raises(FileHashError, match=rf"md5 of .* is {hashlib.md5(PAYLOAD).hexdigest()}, not the expected "
                                            "0{32}"):
        get_file(origin=url, cache_dir=str(tmp_path / "cache"), md5_hash="0" * 32)


def test_a_cached_file_with_a_wrong_hash_is_downloaded_again(tmp_path, origin, capsys):
    _, url = origin
    cache = str(tmp_path / "cache")
    target = Path(get_file(origin=url, cache_dir=cache))
    target.write_bytes(b"truncated")
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    assert get_file(origin=url, cache_dir=cache, file_hash=sha) == str(target) and target.read_bytes() == PAYLOAD
    assert "A local file was found, but it seems to be incomplete or outdated" in capsys.readouterr().out


def test_over_http_from_a_local_server(tmp_path):
    served = tmp_path / "www"
    served.mkdir()
    make_tar(served / "pack.tar.gz", MEMBERS)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/pack.tar.gz"
        out = get_file(origin=url, extract=True, cache_dir=str(tmp_path / "cache"))
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert out == str(tmp_path / "cache" / "datasets" / "pack.tar.gz") and tree(out) == MEMBERS


def closed_port_url(name: str) -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{name}"


def test_offline_is_one_paragraph_naming_the_url_and_where_to_put_a_copy(tmp_path):
    url = closed_port_url("corpus.tar.gz")
    with pytest.raises(DataError) as caught:
        get_file(origin=url, cache_dir=str(tmp_path / "cache"))
    message = str(caught.value)
    target = str(tmp_path / "cache" / "datasets" / "corpus.tar.gz")
    assert "\n" not in message and url in message and target in message and "$LSTMKIT_DATA_DIR" in message
    assert "connection was refused" in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # no traceback chain
    assert list((tmp_path / "cache" / "datasets").iterdir()) == []


def test_a_copy_in_lstmkit_data_dir_is_used_instead_of_the_network(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    make_tar(shared / "corpus.tar.gz", MEMBERS)
    monkeypatch.setenv("LSTMKIT_DATA_DIR", str(shared))
    url = closed_port_url("corpus.tar.gz")
    sha = hashlib.sha256((shared / "corpus.tar.gz").read_bytes()).hexdigest()
    out = get_file(origin=url, extract=True, file_hash=sha, cache_dir=str(tmp_path / "cache"))
    assert tree(out) == MEMBERS
    with pytest.raises(FileHashError, match=r"found in \$LSTMKIT_DATA_DIR"):
        get_file(origin=url, file_hash="1" * 64, cache_dir=str(tmp_path / "other"))
    with pytest.raises(DataError, match=rf"put it in \$LSTMKIT_DATA_DIR \(now {shared}\) as missing\.bin"):
        get_file(origin=closed_port_url("missing.bin"), cache_dir=str(tmp_path / "cache"))


@pytest.mark.parametrize(("member", "reason"), [
    ("../outside.txt", 'a ".." path part'),
    ("data/../../outside.txt", 'a ".." path part'),
    ("/tmp/absolute.txt", "an absolute path"),
])
@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_unsafe_archives_are_refused_whole(tmp_path, member, reason, kind):
    name = "evil.tar.gz" if kind == "tar" else "evil.zip"
    maker = make_tar if kind == "tar" else make_zip
    url = maker(tmp_path / name, {"data/ok.txt": b"fine", member: b"escape"}).as_uri()
    cache = tmp_path / "cache"
    with pytest.raises(UnsafeArchiveError, match=rf"member '{member}' has {reason}.*nothing was extracted"):
        get_file(origin=url, extract=True, cache_dir=str(cache))
    assert not (cache / "datasets" / name).exists() and no_leftovers(cache) == []
    assert not (cache / "outside.txt").exists() and not (tmp_path / "outside.txt").exists()


def test_a_tar_link_out_of_the_folder_is_refused(tmp_path):
    path = tmp_path / "links.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("data/passwd")
        info.type, info.linkname = tarfile.SYMTYPE, "../../../etc/passwd"
        tar.addfile(info)
    with pytest.raises(UnsafeArchiveError, match=r"member 'data/passwd' has a link to '\.\./\.\./\.\./etc/passwd'"):
        get_file(origin=path.as_uri(), extract=True, cache_dir=str(tmp_path / "cache"))


def test_re_extraction_replaces_the_folder_whole(tmp_path):
    src = tmp_path / "pack.tar.gz"
    url = make_tar(src, MEMBERS).as_uri()
    cache = str(tmp_path / "cache")
    out = get_file(origin=url, extract=True, cache_dir=cache)
    make_tar(src, {"data/new.txt": b"new"})
    assert get_file(origin=url, extract=True, cache_dir=cache, force_download=True) == out
    assert tree(out) == {os.path.join("data", "new.txt"): b"new"} and no_leftovers(tmp_path / "cache") == []


def test_bad_arguments(tmp_path, origin):
    _, url = origin
    with pytest.raises(ValueError, match=r'Please specify the "origin" argument'):
        get_file("x.txt")
    with pytest.raises(ValueError, match=r"Paths are no longer accepted as the `fname` argument"):
        get_file(os.path.join("sub", "x.txt"), origin=url, cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"Can't parse the file name from the origin provided: 'http://host/'"):
        get_file(origin="http://host/", cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r'hash_algorithm must be "auto", "sha256" or "md5", got \'sha1\''):
        get_file(origin=url, hash_algorithm="sha1", cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"Could not extract archive .*words\.txt_archive: it is not a tar or zip archive"):
        get_file(origin=url, extract=True, cache_dir=str(tmp_path))
