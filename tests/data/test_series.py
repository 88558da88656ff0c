"""The small classic series: row counts, means and date ranges from the shared README; the Table type."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit.data import series
from lstmkit.data.errors import DataError


@pytest.fixture
def real_data(shared_data, monkeypatch):
    monkeypatch.setenv("LSTMKIT_DATA_DIR", str(shared_data))


@pytest.mark.parametrize("loader, column, rows, mean, first, last", [
    (series.load_airline_passengers, "Passengers", 144, 280.299, "1949-01", "1960-12"),
    (series.load_daily_min_temperatures, "Temp", 3_650, 11.178, "1981-01-01", "1990-12-31"),
    (series.load_sunspots, "Sunspots", 2_820, 51.266, "1749-01", "1983-12"),
])
def test_series(real_data, loader, column, rows, mean, first, last):
    table = loader()
    assert len(table) == rows and table.columns == (column,)
    assert table.column(column).mean() == pytest.approx(mean, abs=5e-4)
    assert str(table.times[0]) == first and str(table.times[-1]) == last
    assert (np.diff(table.times).astype(int) > 0).all()


def test_airline_first_values(real_data):
    table = series.load_airline_passengers()
    assert table.column("Passengers")[:3].tolist() == [112.0, 118.0, 132.0]


def test_table_slicing_and_columns():
    table = series.Table(np.arange(4).astype("datetime64[D]"), np.arange(8.0).reshape(4, 2), ("a", "b"))
    part = table[1:3]
    assert len(part) == 2 and part.column("b").tolist() == [3.0, 5.0]
    with pytest.raises(ValueError, match="no column 'c'; the columns are a, b"):
        table.column("c")
    with pytest.raises(ValueError, match=r"values of shape \(len\(times\), len\(columns\)\) = \(4, 2\)"):
        series.Table(table.times, np.zeros((4, 3)), ("a", "b"))


def test_a_file_that_is_not_the_series_is_a_data_error(tmp_path):
    path = tmp_path / "airline-passengers.csv"
    path.write_text('"Month","Passengers"\n"1949-01",lots\n')
    with pytest.raises(DataError, match="cannot be read as a Passengers series"):
        series.load_airline_passengers(path)
