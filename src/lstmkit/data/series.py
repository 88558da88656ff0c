"""Time series as a `Table` (times, values, column names), and the small classic series:

    load_airline_passengers()     monthly international airline passengers (thousands), 1949-1960: 144 months
    load_daily_min_temperatures() daily minimum temperature (°C) in Melbourne, 1981-1990: 3,650 days
    load_sunspots()               monthly Zurich sunspot numbers, 1749-1983: 2,820 months

Each reads its two-column csv (a date, a number) from `$LSTMKIT_DATA_DIR`, the cache, or its
upstream address (jbrownlee/Datasets), or the file at `path`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lstmkit.data.cache import locate
from lstmkit.data.errors import DataError


@dataclass(frozen=True)
class Table:
    """Rows in time order: `times` (N,) datetime64, `values` (N, F) float64, one name per column."""

    times: np.ndarray
    values: np.ndarray
    columns: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.values.ndim != 2 or self.values.shape != (len(self.times), len(self.columns)):
            raise ValueError(f"a Table needs values of shape (len(times), len(columns)) = "
                             f"({len(self.times)}, {len(self.columns)}), got {self.values.shape}")

    def __len__(self) -> int:
        return len(self.times)

    def __getitem__(self, rows: slice | np.ndarray) -> Table:
        """The rows `rows` (a slice or an index array), as a Table."""
        return Table(self.times[rows], self.values[rows], self.columns)

    def index(self, name: str) -> int:
        """The position of column `name`."""
        try:
            return self.columns.index(name)
        except ValueError:
            raise ValueError(f"no column {name!r}; the columns are {', '.join(self.columns)}") from None

    def column(self, name: str) -> np.ndarray:
        """The values of column `name`: (N,)."""
        return self.values[:, self.index(name)]


def read_two_columns(file: Path, header: tuple[str, str], unit: str) -> Table:
    """A csv of `"date",number` rows with the given header; dates parsed as datetime64[`unit`]."""
    try:
        with open(file, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
        if not rows or tuple(rows[0]) != header:
            raise ValueError(f"its header is {rows[0] if rows else 'missing'}, not {list(header)}")
        body = [r for r in rows[1:] if r]
        times = np.array([r[0] for r in body], dtype=f"datetime64[{unit}]")
        values = np.array([float(r[1]) for r in body], dtype=np.float64)[:, None]  # (N, 1)
    except (OSError, UnicodeDecodeError, ValueError, IndexError, csv.Error) as e:
        raise DataError(f"{file} cannot be read as a {header[1]} series ({type(e).__name__}: {e}). If it is a data "
                        f"file lstmkit found, delete it and run `lstmkit data fetch {file.name}`, or put a good copy "
                        "there by hand.") from None
    return Table(times, values, (header[1],))


def load_airline_passengers(path: str | Path | None = None) -> Table:
    """Monthly airline passengers in thousands (column `Passengers`), 1949-01 to 1960-12."""
    file = locate("airline-passengers.csv") if path is None else Path(path)
    return read_two_columns(file, ("Month", "Passengers"), "M")


def load_daily_min_temperatures(path: str | Path | None = None) -> Table:
    """Daily minimum temperature in °C in Melbourne (column `Temp`), 1981-01-01 to 1990-12-31."""
    file = locate("daily-min-temperatures.csv") if path is None else Path(path)
    return read_two_columns(file, ("Date", "Temp"), "D")


def load_sunspots(path: str | Path | None = None) -> Table:
    """Monthly Zurich sunspot numbers (column `Sunspots`), 1749-01 to 1983-12."""
    file = locate("monthly-sunspots.csv") if path is None else Path(path)
    return read_two_columns(file, ("Month", "Sunspots"), "M")
