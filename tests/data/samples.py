"""Small files in the exact schema of data sets that are not at hand (Jena) or are too big to serve."""

from __future__ import annotations

import datetime as dt
import io
import tarfile

JENA_HEADER = ('"Date Time","p (mbar)","T (degC)","Tpot (K)","Tdew (degC)","rh (%)","VPmax (mbar)","VPact (mbar)",'
               '"VPdef (mbar)","sh (g/kg)","H2OC (mmol/mol)","rho (g/m**3)","wv (m/s)","max. wv (m/s)","wd (deg)"')


def jena_csv(rows: int, bad_wind_row: int | None = 3) -> str:
    """`rows` 10-minute records from 01.01.2009 00:10:00 in the Jena file's format; temperature is
    `-8.0 + row / 100`; row `bad_wind_row` carries the -9999 wind-speed error code."""
    start = dt.datetime(2009, 1, 1, 0, 10)
    lines = [JENA_HEADER]
    for i in range(rows):
        t = start + dt.timedelta(minutes=10 * i)
        wv = -9999.0 if i == bad_wind_row else 1.0 + i % 7 / 10
        values = [996.5 + i / 1000, -8.0 + i / 100, 265.4, -8.9, 93.3, 3.33, 3.11, 0.22, 1.94, 3.12, 1307.75,
                  wv, wv + 0.5 if wv > 0 else wv, 152.3]
        lines.append(t.strftime("%d.%m.%Y %H:%M:%S") + "," + ",".join(f"{v:.2f}" for v in values))
    return "\n".join(lines) + "\n"


def aclimdb_tar(reviews: list[tuple[str, str, int, int, str]], extra: dict[str, str] | None = None) -> bytes:
    """A `.tar.gz` laid out like aclImdb_v1: reviews are (split, "pos"|"neg", id, rating, text); `extra`
    adds other members (path -> text) that the converter must ignore."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        members = {f"aclImdb/{s}/{p}/{i}_{r}.txt": text for s, p, i, r, text in reviews}
        members.update(extra or {})
        for name, text in members.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()
