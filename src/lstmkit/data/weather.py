"""Hourly and 10-minute weather records as `Table`s, for temperature forecasting.

Beijing (`beijing_pm25_hourly.csv.gz`, UCI Beijing PM2.5; Liang et al. 2015, CC BY 4.0): 43,824
hours from 2010-01-01 00:00 to 2014-12-31 23:00, no gaps. Columns kept, in this order:
`pm2.5` (µg/m³), `DEWP` (dew point, °C), `TEMP` (°C), `PRES` (hPa), `Iws` (cumulated wind speed,
m/s), `Is`, `Ir` (cumulated hours of snow, of rain), then the combined wind direction `cbwd`
one-hot as `cbwd_NE, cbwd_NW, cbwd_SE, cbwd_cv` (cv = calm and variable). The running number
`No` and the date columns become `times`. pm2.5 is missing (`NA`) in 2,067 hours, the first 24
among them: `pm25="interpolate"` (default) fills them linearly in time (the leading ones take
the first reading), `"nan"` keeps NaN, `"drop"` drops the column. `wind="drop"` drops cbwd.

Jena (`jena_climate_2009_2016.csv`, Max Planck Institute for Biogeochemistry): 14 measurements
every 10 minutes from 2009-01-01 00:10, the columns of `JENA_COLUMNS` after "Date Time".
The wind speeds hold -9999 as an error code in a few rows; `clean=True` (default) sets those
to 0, as the Keras weather-forecasting example does.
"""

from __future__ import annotations

import csv
import gzip
import zlib
from pathlib import Path

import numpy as np

from lstmkit.data.cache import locate
from lstmkit.data.errors import DataError
from lstmkit.data.registry import JENA_COLUMNS
from lstmkit.data.series import Table

BEIJING_COLUMNS = ("No", "year", "month", "day", "hour", "pm2.5", "DEWP", "TEMP", "PRES", "cbwd", "Iws", "Is", "Ir")
WIND_DIRECTIONS = ("NE", "NW", "SE", "cv")
_BEIJING_NUMBERS = ("pm2.5", "DEWP", "TEMP", "PRES", "Iws", "Is", "Ir")


_CSV_ERRORS = (OSError, EOFError, zlib.error, UnicodeDecodeError, ValueError, csv.Error)


def _csv_rows(file: Path, header: tuple[str, ...]) -> list[list[str]]:
    """The rows of a csv (gzipped when its name ends in .gz) after checking its header; raises one of `_CSV_ERRORS`."""
    opener = gzip.open if file.name.endswith(".gz") else open
    with opener(file, "rt", encoding="utf-8-sig", newline="") as f:
        reader = csv.reader(f)
        found = tuple(next(reader, ()))
        if found != header:
            raise ValueError(f"its columns are {list(found)}, not the expected {list(header)}")
        rows = [r for r in reader if r]
    for n, r in enumerate(rows, start=2):
        if len(r) != len(header):
            raise ValueError(f"line {n} has {len(r)} fields, not {len(header)}")
    return rows


def _read_csv(file: Path, header: tuple[str, ...], what: str) -> list[list[str]]:
    """`_csv_rows`, with a DataError that says what to do when the file cannot be read."""
    try:
        return _csv_rows(file, header)
    except _CSV_ERRORS as e:
        raise DataError(f"{file} cannot be read as the {what} ({type(e).__name__}: {e}). If it is a data file "
                        f"lstmkit found, delete it and run `lstmkit data fetch {file.name}`, or put a good copy "
                        "there by hand.") from None


def _fill_linear(x: np.ndarray) -> np.ndarray:
    """NaNs replaced by linear interpolation between their neighbours (edges hold the nearest value)."""
    missing = np.isnan(x)
    if missing.all():
        raise ValueError("cannot interpolate a column with no values")
    index = np.arange(len(x))
    out = x.copy()
    out[missing] = np.interp(index[missing], index[~missing], x[~missing])
    return out


def load_beijing(path: str | Path | None = None, pm25: str = "interpolate", wind: str = "onehot") -> Table:
    """Beijing hourly weather and PM2.5, 2010-2014, as a Table (see the module docstring for the columns)."""
    if pm25 not in ("interpolate", "nan", "drop"):
        raise ValueError(f'pm25 must be "interpolate", "nan" or "drop", got {pm25!r}')
    if wind not in ("onehot", "drop"):
        raise ValueError(f'wind must be "onehot" or "drop", got {wind!r}')
    file = locate("beijing_pm25_hourly.csv.gz") if path is None else Path(path)
    rows = _read_csv(file, BEIJING_COLUMNS, "Beijing PM2.5 data")
    at = {name: i for i, name in enumerate(BEIJING_COLUMNS)}
    try:
        stamps = [f"{int(r[1]):04d}-{int(r[2]):02d}-{int(r[3]):02d}T{int(r[4]):02d}" for r in rows]
        times = np.array(stamps, dtype="datetime64[h]")
        numbers = np.array([[np.nan if r[at[c]] == "NA" else float(r[at[c]]) for c in _BEIJING_NUMBERS]
                            for r in rows], dtype=np.float64)  # (N, 7)
        directions = [r[at["cbwd"]] for r in rows]
        unknown = set(directions) - set(WIND_DIRECTIONS)
        if unknown:
            raise ValueError(f"unknown wind directions {sorted(unknown)}")
    except ValueError as e:
        raise DataError(f"{file} cannot be read as the Beijing PM2.5 data (ValueError: {e}).") from None
    columns = list(_BEIJING_NUMBERS)
    if pm25 == "interpolate":
        numbers[:, 0] = _fill_linear(numbers[:, 0])
    elif pm25 == "drop":
        numbers, columns = numbers[:, 1:], columns[1:]
    if wind == "onehot":
        codes = np.array([WIND_DIRECTIONS.index(d) for d in directions])
        numbers = np.concatenate([numbers, np.eye(len(WIND_DIRECTIONS))[codes]], axis=1)  # (N, F + 4)
        columns += [f"cbwd_{d}" for d in WIND_DIRECTIONS]
    return Table(times, numbers, tuple(columns))


def load_jena(path: str | Path | None = None, clean: bool = True) -> Table:
    """The Jena climate record (14 columns every 10 minutes, 2009-2016) as a Table.

    Found in `$LSTMKIT_DATA_DIR` or the cache, else downloaded from Keras' address (no sha256 is
    pinned for it; its header is checked, and a download is read in full by `jena_problem`).
    """
    file = locate("jena_climate_2009_2016.csv") if path is None else Path(path)
    rows = _read_csv(file, JENA_COLUMNS, "Jena climate record")
    try:
        return _jena_table(rows, clean)
    except ValueError as e:
        raise DataError(f"{file} cannot be read as the Jena climate record (ValueError: {e}).") from None


def jena_problem(path: Path) -> str | None:
    """What is wrong with `path` as the Jena climate record, read in full as `load_jena` reads it; None: nothing.

    The registry's parse check for the Jena file, which has no pinned sha256: a download is kept
    only when this finds nothing wrong.
    """
    try:
        _jena_table(_csv_rows(path, JENA_COLUMNS), clean=False)
    except _CSV_ERRORS as e:
        return f"it cannot be read as the Jena climate record ({type(e).__name__}: {e})"
    return None


def _jena_table(rows: list[list[str]], clean: bool) -> Table:
    """The Table of the Jena rows (header checked, every row of 15 fields); raises ValueError."""
    # "01.01.2009 00:10:00" -> "2009-01-01T00:10:00"
    times = np.array([f"{d[6:10]}-{d[3:5]}-{d[0:2]}T{d[11:19]}" for d in (r[0] for r in rows)], dtype="datetime64[s]")
    values = np.array([r[1:] for r in rows], dtype=np.float64)  # (N, 14)
    if clean:
        for name in ("wv (m/s)", "max. wv (m/s)"):
            col = values[:, JENA_COLUMNS.index(name) - 1]
            col[col <= -9999.0] = 0.0
    return Table(times, values, JENA_COLUMNS[1:])
