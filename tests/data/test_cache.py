"""Finding, checking and fetching data files: $LSTMKIT_DATA_DIR, the cache, the upstream address
(a local server here), archives converted on arrival, `verify`, and the `lstmkit data` commands."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import shutil
import socket
import time
import zipfile

import pytest

from lstmkit.cli import main as lstmkit_main
from lstmkit.data import cache
from lstmkit.data.commands import cli_fetch, cli_list, cli_verify
from lstmkit.data.errors import DataError
from lstmkit.data.registry import REGISTRY, DataFile, FileVariant, lookup
from lstmkit.data.weather import load_jena
from tests.data.http_server import Route
from tests.data.samples import aclimdb_tar, jena_csv


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _register(monkeypatch, name: str, url: str, body: bytes) -> DataFile:
    variant = FileVariant(name, (_sha(body),))
    entry = DataFile(name, "a test file", url, (variant,), variant, name)
    monkeypatch.setitem(REGISTRY, name, entry)
    return entry


def _refused_url(path: str) -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/{path}"


# --- the registry ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name, entry", [
    ("en_ewt-ud-train.conllu.gz", "en_ewt-ud-train.conllu.gz"),
    ("en_ewt-ud-train.conllu", "en_ewt-ud-train.conllu.gz"),
    ("en_ewt-ud-train", "en_ewt-ud-train.conllu.gz"),
    ("aclImdb_v1.tar.gz", "imdb_reviews.csv.gz"),
    ("imdb_reviews.csv", "imdb_reviews.csv.gz"),
    ("jena_climate_2009_2016", "jena_climate_2009_2016.csv"),
    ("beijing_pm25_hourly.csv", "beijing_pm25_hourly.csv.gz"),
])
def test_lookup_by_any_accepted_name(name, entry):
    assert lookup(name).name == entry


def test_lookup_of_an_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown data file 'mnist.npz'; known: imdb\.npz, "):
        lookup("mnist.npz")


def test_every_upstream_address_is_https_and_every_hash_is_sha256():
    for entry in cache.list_datasets():
        assert entry.url.startswith("https://"), entry.name
        for variant in (*entry.variants, entry.download):
            assert all(len(h) == 64 and int(h, 16) >= 0 for h in variant.sha256), entry.name
    assert not REGISTRY["jena_climate_2009_2016.csv"].pinned  # no confirmed hash: its header is checked instead
    assert REGISTRY["imdb.npz"].variant("imdb.npz").sha256[1] == \
        "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"  # Keras' own download is accepted


def test_the_pinned_hashes_match_the_shared_files(shared_data, monkeypatch):
    monkeypatch.setenv("LSTMKIT_DATA_DIR", str(shared_data))
    results = {r.name: r for r in cache.verify()}
    assert set(results) == set(REGISTRY)
    assert results.pop("jena_climate_2009_2016.csv").status == "missing"  # not in the shared folder
    assert {r.status for r in results.values()} == {"ok"}
    assert all(r.path.parent == shared_data for r in results.values())


def test_every_file_is_pinned_or_parse_checked():
    for entry in cache.list_datasets():  # nothing is kept under its final name unchecked
        assert entry.pinned or entry.parse_check is not None, entry.name
    assert REGISTRY["jena_climate_2009_2016.csv"].parse_check == "lstmkit.data.weather:jena_problem"


# --- locate: where files are found -----------------------------------------------------------------

def test_locate_finds_the_shared_file_without_downloading(shared_data, monkeypatch):
    monkeypatch.setenv("LSTMKIT_DATA_DIR", str(shared_data))
    assert cache.locate("monthly-sunspots.csv") == shared_data / "monthly-sunspots.csv"
    assert list(cache.cache_dir().glob("*")) == []


def test_the_data_dir_comes_before_the_cache(shared_data, empty_data_dir):
    for folder in (empty_data_dir, cache.cache_dir()):
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copy(shared_data / "airline-passengers.csv", folder)
    assert cache.locate("airline-passengers.csv") == empty_data_dir / "airline-passengers.csv"
    (empty_data_dir / "airline-passengers.csv").unlink()
    assert cache.locate("airline-passengers.csv") == cache.cache_dir() / "airline-passengers.csv"


def test_the_plain_conllu_is_accepted_beside_the_gz(shared_data, empty_data_dir):
    plain = empty_data_dir / "en_ewt-ud-dev.conllu"
    plain.write_bytes(gzip.decompress((shared_data / "en_ewt-ud-dev.conllu.gz").read_bytes()))
    assert cache.locate("en_ewt-ud-dev.conllu.gz") == plain  # matches the pinned hash of the released file
    assert [r.status for r in cache.verify(["en_ewt-ud-dev"])] == ["ok"]


def test_a_truncated_local_copy_is_refused_with_what_to_do(shared_data, empty_data_dir):
    bad = empty_data_dir / "airline-passengers.csv"
    bad.write_bytes((shared_data / "airline-passengers.csv").read_bytes()[:1000])
    with pytest.raises(DataError) as e:
        cache.locate("airline-passengers.csv")
    message = str(e.value)
    assert "\n" not in message
    for part in (str(bad), "truncated or corrupted", "lstmkit data fetch airline-passengers.csv",
                 REGISTRY["airline-passengers.csv"].url):
        assert part in message
    [result] = cache.verify(["airline-passengers.csv"])
    assert (result.status, result.path) == ("bad", bad)
    assert cli_verify() == 1


# --- downloads ---------------------------------------------------------------------------------------

def test_a_missing_file_is_downloaded_into_the_cache_once(server, empty_data_dir, monkeypatch):
    body = b"Month,Value\n2000-01,1\n"
    server.routes["/tiny.csv"] = Route(body)
    _register(monkeypatch, "tiny.csv", server.url + "/tiny.csv", body)
    path = cache.locate("tiny.csv", progress=False)
    assert path == cache.cache_dir() / "tiny.csv"
    assert path.read_bytes() == body
    assert cache.fetch("tiny.csv", progress=False) == path
    assert server.hits["/tiny.csv"] == 1
    assert sorted(p.name for p in cache.cache_dir().iterdir()) == ["tiny.csv"]


def test_fetch_gives_up_at_its_deadline(server, empty_data_dir, monkeypatch):
    body = b"Month,Value\n" + b"2000-01,1\n" * 4
    server.routes["/trickle.csv"] = Route(body, trickle=0.2)
    _register(monkeypatch, "trickle.csv", server.url + "/trickle.csv", body)
    start = time.monotonic()
    with pytest.raises(DataError, match=r"trickle\.csv from .*/trickle\.csv: it did not arrive within its deadline"):
        cache.fetch("trickle.csv", progress=False, deadline=0.6)
    assert time.monotonic() - start < 3.0
    assert list(cache.cache_dir().iterdir()) == []


@pytest.mark.parametrize("slash", ["", "/"])
def test_lstmkit_data_url_replaces_the_address(server, empty_data_dir, monkeypatch, slash):
    body = b"Month,Value\n2001-01,2\n"
    name = f"mirrored{len(slash)}.csv"
    server.routes[f"/mirror/{name}"] = Route(body)
    _register(monkeypatch, name, _refused_url(f"upstream/folder/{name}"), body)
    monkeypatch.setenv("LSTMKIT_DATA_URL", server.url + "/mirror" + slash)  # read when the download starts
    path = cache.fetch(name, progress=False)
    assert path == cache.cache_dir() / name
    assert path.read_bytes() == body
    assert server.hits[f"/mirror/{name}"] == 1


def test_the_mirror_serves_real_files_under_their_upstream_names(shared_data, server, empty_data_dir, monkeypatch):
    served = {"airline-passengers.csv": (shared_data / "airline-passengers.csv").read_bytes(),
              "pollution.csv": gzip.decompress((shared_data / "beijing_pm25_hourly.csv.gz").read_bytes())}
    for upstream, body in served.items():
        server.routes[f"/m/{upstream}"] = Route(body)
    for name in ("airline-passengers.csv", "beijing_pm25_hourly.csv.gz"):  # upstream unreachable, path kept
        real = REGISTRY[name]
        monkeypatch.setitem(REGISTRY, name, dataclasses.replace(real, url=_refused_url(real.url.split("/", 3)[3])))
    monkeypatch.setenv("LSTMKIT_DATA_URL", server.url + "/m")
    assert cache.fetch("airline-passengers.csv", progress=False).read_bytes() == served["airline-passengers.csv"]
    beijing = cache.fetch("beijing_pm25_hourly.csv.gz", progress=False)
    assert beijing == cache.cache_dir() / "beijing_pm25_hourly.csv"  # pollution.csv saved as the registry names it
    assert beijing.read_bytes() == served["pollution.csv"]
    assert server.hits["/m/pollution.csv"] == 1


def test_an_unreachable_mirror_is_named_in_every_message(empty_data_dir, monkeypatch):
    upstream = _refused_url("data/tiny6.csv")
    _register(monkeypatch, "tiny6.csv", upstream, b"x")
    mirror = _refused_url("mirror")
    monkeypatch.setenv("LSTMKIT_DATA_URL", mirror)
    with pytest.raises(DataError) as e:
        cache.fetch("tiny6.csv", progress=False)
    message = str(e.value)
    assert f"Could not download tiny6.csv from {mirror}/tiny6.csv: the connection was refused" in message
    assert "LSTMKIT_DATA_URL" in message
    assert f"from {upstream}" not in message and f"upstream: {upstream}" in message
    assert list(cache.cache_dir().iterdir()) == []
    [result] = cache.verify(["tiny6.csv"])
    assert result.detail == f"will be downloaded from {mirror}/tiny6.csv"


def test_download_false_says_where_to_put_the_file(empty_data_dir, monkeypatch):
    entry = _register(monkeypatch, "tiny2.csv", "https://example.org/tiny2.csv", b"x")
    with pytest.raises(DataError) as e:
        cache.locate("tiny2.csv", download=False)
    for part in ("tiny2.csv was not found", str(empty_data_dir), entry.url, str(cache.cache_dir())):
        assert part in str(e.value)


def test_offline_names_the_file_the_address_and_the_folder(empty_data_dir, monkeypatch):
    url = _refused_url("tiny3.csv")
    _register(monkeypatch, "tiny3.csv", url, b"x")
    with pytest.raises(DataError) as e:
        cache.locate("tiny3.csv", progress=False)
    message = str(e.value)
    assert "\n" not in message
    for part in ("tiny3.csv", url, "refused", "Download it by hand", str(cache.cache_dir())):
        assert part in message
    assert list(cache.cache_dir().iterdir()) == []


def test_the_lstmkit_command_prints_the_paragraph_without_a_traceback(empty_data_dir, monkeypatch, capsys):
    _register(monkeypatch, "tiny4.csv", _refused_url("tiny4.csv"), b"x")
    assert lstmkit_main(["data", "fetch", "tiny4.csv"]) == 2
    err = capsys.readouterr().err
    assert "Could not download tiny4.csv" in err
    assert "Traceback" not in err


def test_cli_fetch_prints_the_path(server, empty_data_dir, monkeypatch, capsys):
    server.routes["/tiny5.csv"] = Route(b"a,b\n")
    _register(monkeypatch, "tiny5.csv", server.url + "/tiny5.csv", b"a,b\n")
    assert cli_fetch("tiny5.csv") == 0
    assert str(cache.cache_dir() / "tiny5.csv") in capsys.readouterr().out.replace("\n", "")


def test_cli_list_shows_every_file(shared_data, monkeypatch, capsys):
    monkeypatch.setenv("LSTMKIT_DATA_DIR", str(shared_data))
    assert cli_list() == 0
    out = capsys.readouterr().out
    assert "imdb.npz" in out and "not pinned" in out and str(shared_data) in out


# --- archives converted on arrival ------------------------------------------------------------------

REVIEWS = [("test", "pos", 3, 9, 'Great, "really".'), ("train", "pos", 10, 8, "Fine<br /><br />film."),
           ("train", "neg", 2, 1, "Bad."), ("train", "pos", 9, 7, "Good"), ("test", "neg", 0, 4, "Meh")]
# the order the csv must have: train-neg, train-pos, test-neg, test-pos, each by numeric id (9 before 10)
REVIEWS_CSV = (b'split,label,rating,id,text\ntrain,0,1,2,Bad.\ntrain,1,7,9,Good\ntrain,1,8,10,Fine<br /><br />film.\n'
               b'test,0,4,0,Meh\ntest,1,9,3,"Great, ""really""."\n')


def _aclimdb_entry(monkeypatch, url: str, archive: bytes) -> DataFile:
    real = REGISTRY["imdb_reviews.csv.gz"]
    entry = dataclasses.replace(
        real, url=url, variants=(real.variants[0], FileVariant("imdb_reviews.csv", (_sha(REVIEWS_CSV),))),
        download=FileVariant("aclImdb_v1.tar.gz", (_sha(archive),)))
    monkeypatch.setitem(REGISTRY, real.name, entry)
    return entry


def test_the_aclimdb_archive_is_converted_and_checked(server, empty_data_dir, monkeypatch):
    archive = aclimdb_tar(REVIEWS, extra={"aclImdb/train/unsup/5_0.txt": "unlabelled", "aclImdb/README": "r"})
    server.routes["/aclImdb_v1.tar.gz"] = Route(archive)
    _aclimdb_entry(monkeypatch, server.url + "/aclImdb_v1.tar.gz", archive)
    path = cache.locate("imdb_reviews.csv.gz", progress=False)
    assert path == cache.cache_dir() / "imdb_reviews.csv"
    assert path.read_bytes() == REVIEWS_CSV
    assert sorted(p.name for p in cache.cache_dir().iterdir()) == ["imdb_reviews.csv"]  # the archive is gone


def test_an_archive_put_there_by_hand_is_used_instead_of_downloading(empty_data_dir, monkeypatch):
    archive = aclimdb_tar(REVIEWS)
    (empty_data_dir / "aclImdb_v1.tar.gz").write_bytes(archive)
    _aclimdb_entry(monkeypatch, _refused_url("aclImdb_v1.tar.gz"), archive)
    assert cache.locate("imdb_reviews.csv.gz").read_bytes() == REVIEWS_CSV


def test_a_conversion_that_does_not_match_the_pinned_csv_saves_nothing(server, empty_data_dir, monkeypatch):
    archive = aclimdb_tar(REVIEWS[:-1])  # one review short: the csv is not the pinned one
    server.routes["/short.tar.gz"] = Route(archive)
    _aclimdb_entry(monkeypatch, server.url + "/short.tar.gz", archive)
    with pytest.raises(DataError, match="is not as expected: its sha256 is"):
        cache.locate("imdb_reviews.csv.gz", progress=False)
    assert list(cache.cache_dir().iterdir()) == []


def _zip(name: str, text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, text)
    return buf.getvalue()


def test_jena_is_unzipped_header_checked_and_loaded(server, empty_data_dir, monkeypatch):
    text = jena_csv(30)
    server.routes["/jena.zip"] = Route(_zip("jena_climate_2009_2016.csv", text))
    monkeypatch.setitem(REGISTRY, "jena_climate_2009_2016.csv",
                        dataclasses.replace(REGISTRY["jena_climate_2009_2016.csv"], url=server.url + "/jena.zip"))
    path = cache.locate("jena_climate_2009_2016", progress=False)
    assert path.read_text() == text
    assert len(load_jena()) == 30
    assert [r.status for r in cache.verify(["jena_climate_2009_2016.csv"])] == ["unpinned"]


def test_a_zip_with_other_columns_is_refused(server, empty_data_dir, monkeypatch):
    server.routes["/notjena.zip"] = Route(_zip("jena_climate_2009_2016.csv", "a,b\n1,2\n"))
    monkeypatch.setitem(REGISTRY, "jena_climate_2009_2016.csv",
                        dataclasses.replace(REGISTRY["jena_climate_2009_2016.csv"], url=server.url + "/notjena.zip"))
    with pytest.raises(DataError, match=r"its columns are \['a', 'b'\]"):
        cache.locate("jena_climate_2009_2016.csv", progress=False)
    assert list(cache.cache_dir().iterdir()) == []


def test_a_cut_zip_is_refused(server, empty_data_dir, monkeypatch):
    server.routes["/cut.zip"] = Route(_zip("jena_climate_2009_2016.csv", jena_csv(200))[:-200])
    monkeypatch.setitem(REGISTRY, "jena_climate_2009_2016.csv",
                        dataclasses.replace(REGISTRY["jena_climate_2009_2016.csv"], url=server.url + "/cut.zip"))
    with pytest.raises(DataError, match="not a readable zip archive"):
        cache.locate("jena_climate_2009_2016.csv", progress=False)
    assert list(cache.cache_dir().iterdir()) == []


@pytest.mark.parametrize("row, what", [
    pytest.param("01.01.2009 01:00:00,1,2,3,4,5,6,7,8,9,10,11,12,13,none", "could not convert string to float: 'none'",
                 id="word"),
    pytest.param("01.01.2009 01:00:00,1,2,3", "line 5 has 4 fields, not 15", id="short-row"),
    pytest.param("yesterday,1,2,3,4,5,6,7,8,9,10,11,12,13,14", "Error parsing datetime string", id="date"),
])
def test_a_jena_file_with_garbage_rows_is_not_kept(server, empty_data_dir, monkeypatch, row, what):
    lines = jena_csv(6).splitlines()
    lines[4] = row  # the right header, then a row that load_jena cannot read
    route = f"/garbage{len(row)}.zip"
    server.routes[route] = Route(_zip("jena_climate_2009_2016.csv", "\n".join(lines) + "\n"))
    url = server.url + route
    monkeypatch.setitem(REGISTRY, "jena_climate_2009_2016.csv",
                        dataclasses.replace(REGISTRY["jena_climate_2009_2016.csv"], url=url))
    with pytest.raises(DataError) as e:
        cache.locate("jena_climate_2009_2016.csv", progress=False)
    message = str(e.value)
    assert "\n" not in message
    for part in ("jena_climate_2009_2016.csv", url, "cannot be read as the Jena climate record", what,
                 "nothing was saved"):
        assert part in message
    assert list(cache.cache_dir().iterdir()) == []


def test_an_unpinned_file_without_a_parse_check_is_not_kept(server, empty_data_dir, monkeypatch):
    server.routes["/loose.csv"] = Route(b"a,b\n1,2\n")
    variant = FileVariant("loose.csv")  # no sha256 and no parse check: nothing can vouch for it
    monkeypatch.setitem(REGISTRY, "loose.csv", DataFile("loose.csv", "a test file", server.url + "/loose.csv",
                                                        (variant,), variant, "loose.csv"))
    with pytest.raises(DataError, match=r"loose\.csv made from .*/loose\.csv .*neither a pinned sha256 nor a parse"):
        cache.locate("loose.csv", progress=False)
    assert list(cache.cache_dir().iterdir()) == []
