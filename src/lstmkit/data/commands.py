"""`lstmkit data list | fetch NAME | verify`: tables on stdout, exit codes for the shell.

A DataError (offline, bad checksum, ...) propagates; the `lstmkit` command prints its one
paragraph without a traceback.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from lstmkit.data.cache import cache_dir, data_dir, fetch, find, list_datasets, source_url, verify


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def cli_list() -> int:
    """Print every known data file, where it was found (or its upstream address); return 0."""
    table = Table(title="lstmkit data files", title_justify="left")
    for column in ("name", "content", "found at / downloads from", "sha256"):
        table.add_column(column, overflow="fold")
    for entry in list_datasets():
        path = find(entry.name)
        table.add_row(entry.name, entry.description, str(path) if path else f"(missing) {source_url(entry)}",
                      "pinned" if entry.pinned else "not pinned")
    console = _console()
    console.print(table)
    console.print(f"searched: $LSTMKIT_DATA_DIR = {data_dir() or '(unset)'}, then the cache {cache_dir()}")
    return 0


def cli_fetch(name: str) -> int:
    """Find `name` (checked) or download it into the cache; print its path; return 0."""
    path = fetch(name)
    _console().print(f"{name}: {path}")
    return 0


def cli_verify() -> int:
    """Check every present data file; print a table; return 1 if any is bad, else 0."""
    results = verify()
    table = Table(title="lstmkit data verify", title_justify="left")
    for column in ("name", "status", "path", "detail"):
        table.add_column(column, overflow="fold")
    style = {"ok": "green", "unpinned": "yellow", "bad": "bold red", "missing": "dim"}
    for r in results:
        table.add_row(r.name, f"[{style[r.status]}]{r.status}[/]", str(r.path or ""), r.detail)
    _console().print(table)
    return 1 if any(r.status == "bad" for r in results) else 0
