"""Where data files are found: `$LSTMKIT_DATA_DIR`, else the cache folder, else downloaded.

    locate(name)   the path of a known file; downloads it into the cache when it is nowhere
    fetch(name)    the same, for `lstmkit data fetch NAME`
    find(name)     the path if present, without checks or download
    verify()       every present file checked against its pinned sha256 (or its header)
    list_datasets() the registry entries
    source_url(entry) where a file is downloaded from ($LSTMKIT_DATA_URL, else upstream)

The cache folder is `$LSTMKIT_CACHE_DIR`, default `~/.cache/lstmkit`. A file found on disk is
checked once per process against its accepted hashes (about 0.1 s for the 25 MB reviews file),
so a truncated or corrupted copy is caught before a loader trips over it.

`$LSTMKIT_DATA_URL`, when set, is a base address (a mirror, a local test server, a `file://`
folder) that replaces the upstream one of every file: a file is downloaded from
`$LSTMKIT_DATA_URL/<remote_name>`, the name its upstream address ends in (`imdb.npz`,
`pollution.csv`, `jena_climate_2009_2016.csv.zip`, ...). It is read when a download starts.

A download is kept under its final name only once it matches its pinned sha256 or, for a file
without one (Jena), once its registry parse check has read it in full; `$LSTMKIT_DOWNLOAD_DEADLINE`
bounds the seconds a whole download may take (see `download.py`).
"""

from __future__ import annotations

import csv
import gzip
import importlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lstmkit.data.convert import aclimdb_to_csv, extract_member
from lstmkit.data.download import DEFAULT_TIMEOUT, download_to_temp, sha256_of
from lstmkit.data.errors import DataError
from lstmkit.data.registry import REGISTRY, DataFile, lookup

_checked: set[tuple[str, int, int]] = set()  # (path, size, mtime_ns) of files that passed their check


def data_dir() -> Path | None:
    """The folder `$LSTMKIT_DATA_DIR` names, or None when it is unset."""
    value = os.environ.get("LSTMKIT_DATA_DIR", "")
    return Path(os.path.abspath(os.path.expanduser(value))) if value else None


def cache_dir() -> Path:
    """`$LSTMKIT_CACHE_DIR`, default `~/.cache/lstmkit` (created when something is downloaded)."""
    value = os.environ.get("LSTMKIT_CACHE_DIR", "")
    return Path(os.path.abspath(os.path.expanduser(value))) if value else Path.home() / ".cache" / "lstmkit"


def source_url(entry: DataFile) -> str:
    """Where `entry` is downloaded from: `$LSTMKIT_DATA_URL/<remote_name>` when that is set, else its upstream."""
    base = os.environ.get("LSTMKIT_DATA_URL", "").strip()
    return f"{base.rstrip('/')}/{entry.remote_name}" if base else entry.url


def search_dirs() -> list[Path]:
    """The folders searched, in order."""
    first, cache = data_dir(), cache_dir()
    return [first, cache] if first is not None and first != cache else [cache]


def list_datasets() -> list[DataFile]:
    """Every known data file, in a stable order."""
    return list(REGISTRY.values())


def by_hand(entry: DataFile) -> str:
    """The sentence that tells a user how to supply `entry` without lstmkit's download."""
    where = f"{cache_dir()} (or in the folder $LSTMKIT_DATA_DIR names)"
    url = source_url(entry)
    if url != entry.url:
        url += f" (the mirror $LSTMKIT_DATA_URL names; upstream: {entry.url})"
    if entry.unpack == "aclimdb":
        return (f"Download {entry.download.filename} by hand from {url} and put it in {where}: lstmkit "
                f"converts it into {entry.saved_as} when next needed; a copy of {entry.name} there works too.")
    if entry.unpack == "zip":
        return (f"Download {entry.download.filename} by hand from {url} and put it, or the "
                f"{entry.saved_as} unzipped from it, in {where}.")
    return f"Download it by hand from {url} and put it in {where}."


def _present(entry: DataFile) -> list[Path]:
    """Every accepted file name of `entry` present in the searched folders, in search order."""
    return [d / v.filename for d in search_dirs() for v in entry.variants if (d / v.filename).is_file()]


def find(name: str) -> Path | None:
    """The first present copy of `name`, or None; no check, no download."""
    paths = _present(lookup(name))
    return paths[0] if paths else None


def _read_header(path: Path, gzipped: bool) -> tuple[str, ...]:
    opener = gzip.open if gzipped else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
        line = f.readline()
    return tuple(next(csv.reader(io.StringIO(line)), []))


def problem(entry: DataFile, path: Path, filename: str | None = None) -> str | None:
    """What is wrong with `path` as a copy of `entry` under `filename` (default its own name); None: nothing."""
    filename = filename or path.name
    variant = entry.variant(filename)
    if variant.sha256:
        got = sha256_of(path)
        if got not in variant.sha256:
            return (f"its sha256 is {got}, not the pinned {' or '.join(variant.sha256)} "
                    "(a truncated or corrupted copy, or another version of the file)")
    elif entry.header is not None:
        try:
            header = _read_header(path, filename.endswith(".gz"))
        except (OSError, UnicodeDecodeError, EOFError) as e:
            return f"it cannot be read ({type(e).__name__}: {e})"
        if header != entry.header:
            return f"its columns are {list(header)[:4]}..., not the expected {list(entry.header)[:4]}..."
    return None


def _parse_problem(entry: DataFile, path: Path) -> str | None:
    """What `entry`'s parse check finds wrong with `path`, read in full; None: nothing."""
    if entry.parse_check is None:
        return "it has neither a pinned sha256 nor a parse check, so nothing vouches for it"
    module, _, function = entry.parse_check.partition(":")
    parse: Callable[[Path], str | None] = getattr(importlib.import_module(module), function)
    return parse(path)


def _bad_copy(entry: DataFile, path: Path, what: str) -> DataError:
    return DataError(f"{path} is not a good copy of {entry.name}: {what}. Delete it and run "
                     f"`lstmkit data fetch {entry.name}` to download it again, or replace it by hand "
                     f"with the file from {entry.url}.")


def check(entry: DataFile, path: Path) -> Path:
    """Raise DataError unless `path` is a good copy of `entry`; remembered per process."""
    if _key(path) not in _checked:
        what = problem(entry, path)
        if what is not None:
            raise _bad_copy(entry, path, what)
        _checked.add(_key(path))
    return path


def _key(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path.resolve()), stat.st_size, stat.st_mtime_ns


def locate(name: str, *, download: bool = True, progress: bool | None = None, timeout: float = DEFAULT_TIMEOUT,
           deadline: float | None = None) -> Path:
    """The path of the known data file `name`, checked; downloaded into the cache when missing.

    `name` is a registry name (`imdb.npz`, `en_ewt-ud-train.conllu.gz`, ...), another accepted
    file name (`en_ewt-ud-train.conllu`) or a stem (`en_ewt-ud-train`). Raises DataError when it
    is missing and cannot be downloaded (or `download=False`), or when the copy found is bad.
    `timeout` bounds each wait of a download, `deadline` the whole of it (see `download_to_temp`).
    """
    entry = lookup(name)
    present = _present(entry)
    if present:
        return check(entry, present[0])
    if not download:
        raise DataError(f"{entry.name} was not found in {' or '.join(map(str, search_dirs()))}. " + by_hand(entry))
    return _download(entry, progress=progress, timeout=timeout, deadline=deadline)


def fetch(name: str, *, progress: bool | None = None, timeout: float = DEFAULT_TIMEOUT,
          deadline: float | None = None) -> Path:
    """Make `name` available (found and checked, or downloaded into the cache) and return its path."""
    return locate(name, download=True, progress=progress, timeout=timeout, deadline=deadline)


def _download(entry: DataFile, *, progress: bool | None, timeout: float, deadline: float | None) -> Path:
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / entry.saved_as
    url, hint = source_url(entry), by_hand(entry)
    if entry.unpack is None:
        tmp = download_to_temp(url, folder, entry.saved_as, sha256=entry.download.sha256, timeout=timeout,
                               deadline=deadline, progress=progress, hint=hint)
    else:
        tmp = _unpack(entry, url, dest, progress=progress, timeout=timeout, deadline=deadline, hint=hint)
    try:
        what = problem(entry, tmp, dest.name)
        if what is None and not entry.variant(dest.name).sha256:
            what = _parse_problem(entry, tmp)  # no hash vouches for it: read it in full before keeping it
        if what is not None:
            raise DataError(f"The {entry.saved_as} made from {url} is not as expected: {what}; "
                            f"nothing was saved. {hint}")
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _checked.add(_key(dest))
    return dest


def _unpack(entry: DataFile, url: str, dest: Path, *, progress: bool | None, timeout: float, deadline: float | None,
            hint: str) -> Path:
    """The converted file in a temp file beside `dest`, from an archive found on disk or downloaded from `url`."""
    archive = next((d / entry.download.filename for d in search_dirs() if (d / entry.download.filename).is_file()),
                   None)
    downloaded = archive is None
    if archive is None:
        archive = download_to_temp(url, dest.parent, entry.download.filename, sha256=entry.download.sha256,
                                   timeout=timeout, deadline=deadline, progress=progress, hint=hint)
    elif entry.download.sha256 and sha256_of(archive) not in entry.download.sha256:
        raise DataError(f"{archive} is not a good copy of {entry.download.filename}: its sha256 is not the pinned "
                        f"{' or '.join(entry.download.sha256)}. Delete it; {hint}")
    try:
        if entry.unpack == "aclimdb":
            return aclimdb_to_csv(archive, dest)
        return extract_member(archive, entry.saved_as, dest)
    finally:
        if downloaded:
            archive.unlink(missing_ok=True)


@dataclass(frozen=True)
class Verified:
    """One line of `verify()`: a data file, where it was found, and whether it is good."""

    name: str
    path: Path | None
    status: str  # "ok", "unpinned" (no hash known; its header was checked), "bad" or "missing"
    detail: str = ""


def verify(names: list[str] | None = None) -> list[Verified]:
    """Check every present copy of the known files (or of `names`) against their pinned sha256."""
    entries = [lookup(n) for n in names] if names else list_datasets()
    results = []
    for entry in entries:
        present = _present(entry)
        if not present:
            results.append(Verified(entry.name, None, "missing", f"will be downloaded from {source_url(entry)}"))
        for path in present:
            what = problem(entry, path)
            if what is not None:
                results.append(Verified(entry.name, path, "bad", what))
            elif not entry.variant(path.name).sha256:
                results.append(Verified(entry.name, path, "unpinned", "no sha256 is pinned; its columns are right"))
            else:
                results.append(Verified(entry.name, path, "ok", "sha256 matches"))
    return results
