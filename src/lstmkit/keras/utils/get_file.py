"""`get_file`: Keras 3.15.1's download-and-cache helper (keras/src/utils/file_utils.py) on lstmkit's downloader.

Kept from Keras: the cache folder (`cache_dir`, else `$KERAS_HOME`, else `~/.keras`; /tmp/.keras when that
cannot be written) with `cache_subdir` under it (an absolute `cache_subdir` is used as it is); the file name
from `fname` or the origin's last path part; the paths returned (`<fname>` for a file; with `extract`, the
archive saved as `<fname>_archive` and extracted into `<fname>/`, or for an `fname` with a dot, e.g.
`data.tar.gz`, saved as `data.tar.gz` and extracted into `data_extracted/`); `file_hash` as sha256 (64
hex digits) or md5 (`hash_algorithm`, `md5_hash`); a cached file whose hash is wrong is downloaded again.

lstmkit's own: the download goes through `lstmkit.data.download` (timeouts, a deadline, the file kept only
when whole and its hash is right); a file of the origin's name in `$LSTMKIT_DATA_DIR` is used instead of
the network; a failure is one `DataError` paragraph naming the address and where a copy can be put by hand;
an archive is extracted into a temporary folder that replaces the target folder only when complete, and an
archive with a member that would land outside it (an absolute path, "..", a link out, a device file) is
refused as a whole. Keras extracts again on every call; here an existing extraction folder is kept unless
the archive was just downloaded. An archive that matches no format is an error (Keras warns and returns a
folder that does not exist).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.parse
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

from lstmkit.data.cache import data_dir
from lstmkit.data.download import download_to_temp
from lstmkit.data.errors import DataError


class FileHashError(DataError, ValueError):
    """A downloaded (or supplied) file whose hash is not the one asked for."""


class UnsafeArchiveError(DataError, ValueError):
    """An archive with a member that would be written outside its extraction folder."""


def keras_home() -> str:
    """`$KERAS_HOME`, else `~/.keras` (Keras' cache base)."""
    return os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")


def hash_file(path: str | os.PathLike, algorithm: str = "sha256", file_hash: str | None = None) -> str:
    """The hex digest of a file: sha256, md5, or for "auto" sha256 when `file_hash` has 64 digits, else md5."""
    if algorithm not in ("auto", "sha256", "md5"):
        raise ValueError(f'hash_algorithm must be "auto", "sha256" or "md5", got {algorithm!r}')
    use_sha256 = algorithm == "sha256" or (algorithm == "auto" and file_hash is not None and len(file_hash) == 64)
    digest = hashlib.sha256() if use_sha256 else hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _algorithm_name(algorithm: str, file_hash: str) -> str:
    if algorithm == "auto":
        return "sha256" if len(file_hash) == 64 else "md5"
    return algorithm


def _writable_base(cache_dir: str) -> str:
    base = os.path.expanduser(cache_dir)
    try:
        os.makedirs(base, exist_ok=True)
        writable = os.access(base, os.W_OK)
    except OSError:  # not creatable: the /tmp fallback, as Keras falls back for a folder it cannot write
        writable = False
    if writable:
        return base
    return os.path.join("/tmp" if os.path.isdir("/tmp") else tempfile.gettempdir(), ".keras")


def _targets(fname: str, provided: bool, datadir: str, extract: bool) -> tuple[str, str | None]:
    """(where the download is saved, where it is extracted or None), as Keras names them."""
    if not extract:
        return os.path.join(datadir, fname), None
    if provided and "." in fname:
        stem = fname[: fname.find(".")]
        return os.path.join(datadir, fname), os.path.join(datadir, f"{stem}_extracted")
    return os.path.join(datadir, f"{fname}_archive"), os.path.join(datadir, fname)


def _local_copy(names: list[str]) -> Path | None:
    """A file of one of `names` in `$LSTMKIT_DATA_DIR`, if there is one."""
    folder = data_dir()
    if folder is None:
        return None
    return next((folder / n for n in names if n and (folder / n).is_file()), None)


def _copy_to_temp(source: Path, folder: str) -> Path:
    fd, name = tempfile.mkstemp(dir=folder, prefix=f".{source.name}.", suffix=".part")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as f:
            shutil.copyfileobj(f, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _fetch(origin: str, target: str, file_hash: str | None, algorithm: str, names: list[str]) -> None:
    """`origin` (or its copy in $LSTMKIT_DATA_DIR) saved whole as `target`, its hash checked first."""
    folder = os.path.dirname(target)
    local = _local_copy(names)
    where = data_dir()
    lstmkit_dir = (f"or put it in $LSTMKIT_DATA_DIR (now {where}) as {names[0]}" if where is not None else
                   f"or set $LSTMKIT_DATA_DIR to a folder that holds it as {names[0]}")
    hint = f"Put a copy of the file at {target} by hand, {lstmkit_dir}, and call get_file again."
    if local is not None:
        tmp = _copy_to_temp(local, folder)
        source = f"{local} (found in $LSTMKIT_DATA_DIR)"
    else:
        print(f"Downloading data from {origin}")
        tmp = download_to_temp(origin, folder, os.path.basename(target), hint=hint)
        source = origin
    try:
        if file_hash is not None:
            got = hash_file(tmp, algorithm, file_hash)
            if got != file_hash.lower():
                raise FileHashError(
                    f"Incomplete or corrupted file detected: the {_algorithm_name(algorithm, file_hash)} of "
                    f"{source} is {got}, not the expected {file_hash}; nothing was saved at {target}.")
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _unsafe_reason(name: str) -> str | None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if ".." in path.parts:
        return 'a ".." path part'
    return None


def _check_tar(archive: tarfile.TarFile, file_path: str) -> None:
    for member in archive.getmembers():
        reason = _unsafe_reason(member.name)
        if reason is None and (member.issym() or member.islnk()):
            target = member.linkname if member.islnk() else str(PurePosixPath(member.name).parent / member.linkname)
            reason = _unsafe_reason(os.path.normpath(target)) or (
                "a link out of the archive's folder" if os.path.normpath(target).startswith("..") else None)
            reason = None if reason is None else f"a link to {member.linkname!r}, {reason}"
        if reason is None and not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
            reason = "a device, FIFO or other special file"
        if reason is not None:
            raise UnsafeArchiveError(f"Refusing to extract {file_path}: its member {member.name!r} has {reason}, "
                                     "which would be written outside the extraction folder; nothing was extracted.")


def _check_zip(archive: zipfile.ZipFile, file_path: str) -> None:
    for info in archive.infolist():
        reason = _unsafe_reason(info.filename)
        if reason is not None:
            raise UnsafeArchiveError(f"Refusing to extract {file_path}: its member {info.filename!r} has {reason}, "
                                     "which would be written outside the extraction folder; nothing was extracted.")


def extract_archive(file_path: str, path: str, archive_format: Any = "auto") -> bool:
    """Extract a tar (.tar, .tar.gz, .tar.bz2, .tar.xz) or zip archive into the folder `path`, which appears only
    once complete (replacing an older one). False when no format in `archive_format` matches."""
    if archive_format is None:
        return False
    formats = ["tar", "zip"] if archive_format == "auto" else (
        [archive_format] if isinstance(archive_format, str) else list(archive_format))
    for kind in formats:
        if kind not in ("tar", "zip"):
            raise ValueError(f'archive_format must be "auto", "tar", "zip", None or a list of those, got {kind!r}')
    for kind in formats:
        if not (tarfile.is_tarfile(file_path) if kind == "tar" else zipfile.is_zipfile(file_path)):
            continue
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        tmp = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(path)}.", suffix=".part")
        try:
            if kind == "tar":
                with tarfile.open(file_path) as tar:
                    _check_tar(tar, file_path)
                    tar.extractall(tmp, filter="data")
            else:
                with zipfile.ZipFile(file_path) as zf:
                    _check_zip(zf, file_path)
                    zf.extractall(tmp)
            old = None
            if os.path.lexists(path):
                old = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(path)}.", suffix=".old")
                os.replace(path, os.path.join(old, "previous"))
            os.replace(tmp, path)
            if old is not None:
                shutil.rmtree(old)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return True
    return False


def get_file(fname: str | os.PathLike | None = None, origin: str | None = None, untar: bool = False,
             md5_hash: str | None = None, file_hash: str | None = None, cache_subdir: str = "datasets",
             hash_algorithm: str = "auto", extract: bool = False, archive_format: Any = "auto",
             cache_dir: str | os.PathLike | None = None, force_download: bool = False) -> str:
    """Download `origin` into the cache unless it is there (with a right hash), optionally extract it; returns
    the file's path, or the extraction folder's (see the module docstring for the names)."""
    if origin is None:
        raise ValueError('Please specify the "origin" argument (URL of the file to download).')
    if hash_algorithm not in ("auto", "sha256", "md5"):
        raise ValueError(f'hash_algorithm must be "auto", "sha256" or "md5", got {hash_algorithm!r}')
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    datadir = os.path.join(_writable_base(os.fspath(cache_dir) if cache_dir is not None else keras_home()),
                           cache_subdir)
    os.makedirs(datadir, exist_ok=True)
    provided = bool(fname)
    name = os.fspath(fname) if fname else os.path.basename(urllib.parse.urlsplit(origin).path)
    if not name:
        raise ValueError(f"Can't parse the file name from the origin provided: '{origin}'. Please specify the "
                         "`fname` argument.")
    if provided and os.sep in name:
        raise ValueError("Paths are no longer accepted as the `fname` argument. To specify the file's parent "
                         f"directory, use the `cache_dir` argument. Received: fname={name}")
    target, extraction_dir = _targets(name, provided, datadir, bool(extract or untar))
    download = force_download or not os.path.exists(target)
    if not download and file_hash is not None and hash_file(target, hash_algorithm, file_hash) != file_hash.lower():
        print(f"A local file was found, but it seems to be incomplete or outdated because the "
              f"{_algorithm_name(hash_algorithm, file_hash)} file hash does not match the original value of "
              f"{file_hash} so we will re-download the data.")
        download = True
    if download:
        remote = os.path.basename(urllib.parse.urlsplit(origin).path)
        _fetch(origin, target, file_hash, hash_algorithm, list(dict.fromkeys([remote, name])))
    if extraction_dir is None:
        return target
    if download or not os.path.isdir(extraction_dir):
        formats = "tar" if untar else archive_format
        if not extract_archive(target, extraction_dir, formats):
            tried = "tar or zip" if formats == "auto" else formats
            raise ValueError(f"Could not extract archive {target}: it is not a {tried} archive "
                             f"(archive_format={formats!r}); nothing was extracted.")
    return extraction_dir
