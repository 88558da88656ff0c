"""Beijing hourly weather (the real file) and Jena (a small file in its exact schema)."""

from __future__ import annotations

import numpy as np
import pytest

from lstmkit.data import weather
from lstmkit.data.errors import DataError
from tests.data.samples import jena_csv


@pytest.fixture(scope="module")
def beijing(shared_data):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LSTMKIT_DATA_DIR", str(shared_data))
        return weather.load_beijing(pm25="nan")


def test_beijing_rows_hours_and_ranges(beijing):
    assert len(beijing) == 43_824  # 5 years of hours with one leap day
    assert str(beijing.times[0]) == "2010-01-01T00" and str(beijing.times[-1]) == "2014-12-31T23"
    assert (np.diff(beijing.times) == np.timedelta64(1, "h")).all()  # no gaps
    temp = beijing.column("TEMP")
    assert (temp.min(), temp.max()) == (-19.0, 42.0)
    assert np.isnan(beijing.column("pm2.5")).sum() == 2_067
    assert beijing.columns == ("pm2.5", "DEWP", "TEMP", "PRES", "Iws", "Is", "Ir",
                               "cbwd_NE", "cbwd_NW", "cbwd_SE", "cbwd_cv")
    onehot = beijing.values[:, 7:]
    assert set(np.unique(onehot)) == {0.0, 1.0} and (onehot.sum(axis=1) == 1).all()
    assert np.isfinite(beijing.values[:, 1:]).all()


def test_beijing_first_rows_as_in_the_file(beijing):
    # the csv's rows 26-27: 2010-01-02 01:00 and 02:00 ... pm2.5 148, 159; DEWP -15, -11; TEMP -4, -5; wind SE
    np.testing.assert_array_equal(beijing.values[25:27, :4], [[148, -15, -4, 1020], [159, -11, -5, 1021]])
    assert beijing.values[26, 9] == 1.0  # cbwd_SE


def test_beijing_pm25_interpolation_and_drops(shared_data, monkeypatch, beijing):
    monkeypatch.setenv("LSTMKIT_DATA_DIR", str(shared_data))
    filled = weather.load_beijing()  # pm25="interpolate"
    raw, pm = beijing.column("pm2.5"), filled.column("pm2.5")
    assert not np.isnan(pm).any()
    known = ~np.isnan(raw)
    np.testing.assert_array_equal(pm[known], raw[known])
    first = np.flatnonzero(known)[0]
    assert first == 24 and (pm[:first] == raw[first]).all()  # the first day has no reading: held from hour 24
    gap = np.flatnonzero(~known[first:])[0] + first  # the first gap after readings start
    left, right = gap - 1, np.flatnonzero(known[gap:])[0] + gap
    expected = raw[left] + (raw[right] - raw[left]) * (gap - left) / (right - left)
    assert pm[gap] == pytest.approx(expected)
    slim = weather.load_beijing(pm25="drop", wind="drop")
    assert slim.columns == ("DEWP", "TEMP", "PRES", "Iws", "Is", "Ir")
    np.testing.assert_array_equal(slim.values, beijing.values[:, 1:7])


def test_beijing_bad_options():
    with pytest.raises(ValueError, match='pm25 must be "interpolate", "nan" or "drop"'):
        weather.load_beijing(pm25="zero")
    with pytest.raises(ValueError, match='wind must be "onehot" or "drop"'):
        weather.load_beijing(wind="angle")


def test_jena_in_its_exact_schema(tmp_path):
    path = tmp_path / "jena_climate_2009_2016.csv"
    path.write_text(jena_csv(12))
    table = weather.load_jena(path)
    assert len(table) == 12 and len(table.columns) == 14
    assert table.columns[0] == "p (mbar)" and table.columns[-1] == "wd (deg)"
    assert str(table.times[0]) == "2009-01-01T00:10:00" and str(table.times[-1]) == "2009-01-01T02:00:00"
    np.testing.assert_allclose(table.column("T (degC)"), -8.0 + np.arange(12) / 100)
    assert table.column("wv (m/s)")[3] == 0.0 and table.column("max. wv (m/s)")[3] == 0.0  # -9999 error code
    raw = weather.load_jena(path, clean=False)
    assert raw.column("wv (m/s)")[3] == -9999.0


def test_jena_found_in_the_data_dir(empty_data_dir):
    (empty_data_dir / "jena_climate_2009_2016.csv").write_text(jena_csv(5))
    assert len(weather.load_jena()) == 5


def test_jena_with_other_columns_is_a_data_error(tmp_path):
    path = tmp_path / "jena.csv"
    path.write_text(jena_csv(3).replace('"T (degC)"', '"T (K)"'))
    with pytest.raises(DataError, match="cannot be read as the Jena climate record"):
        weather.load_jena(path)
