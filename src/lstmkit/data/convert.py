"""Turn an upstream archive into the file lstmkit reads: the labelled aclImdb reviews into
`imdb_reviews.csv`, or one member of a zip (Jena climate) into a plain file.

Both write to a temporary file in the destination folder and return it; the caller checks the
result and moves it into place.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path

from lstmkit.data.errors import DataError
from lstmkit.io import remove_dead_temporaries

REVIEW_COLUMNS = ("split", "label", "rating", "id", "text")
# aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt; train/unsup and the bag-of-words files are left out
_REVIEW_PATH = re.compile(r"^(?:\./)?aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


def _temp_beside(dest: Path) -> Path:
    """A new temporary file beside `dest`, named as lstmkit.io names them (so that one a killed
    conversion left is removed by the next)."""
    remove_dead_temporaries(dest)
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.{os.getpid()}.", suffix=".tmp")
    os.close(fd)
    return Path(name)


def aclimdb_to_csv(archive: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Write the 50,000 labelled reviews of `aclImdb_v1.tar.gz` as the csv lstmkit reads; return the temp file.

    Columns `split,label,rating,id,text` (label 1 = pos, 0 = neg; text verbatim, `<br />` kept);
    rows ordered train-neg, train-pos, test-neg, test-pos, each by numeric id; `\\n` line ends and
    minimal quoting. This reproduces the shared `imdb_reviews.csv` byte for byte, which the caller
    checks against its pinned sha256.
    """
    dest = Path(dest)
    rows = []
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for member in tar:
                m = _REVIEW_PATH.match(member.name)
                if not m or not member.isfile():
                    continue
                split, polarity, review_id, rating = m.groups()
                f = tar.extractfile(member)
                assert f is not None  # a regular file always has content
                text = f.read().decode("utf-8")
                rows.append((split != "train", polarity == "pos", int(review_id), int(rating), text))
    except (tarfile.TarError, EOFError, OSError, UnicodeDecodeError) as e:
        raise DataError(f"{archive} is not a readable aclImdb_v1.tar.gz ({type(e).__name__}: {e}); "
                        "delete it and download it again") from None
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    tmp = _temp_beside(dest)
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(REVIEW_COLUMNS)
            for is_test, is_pos, review_id, rating, text in rows:
                writer.writerow(("test" if is_test else "train", int(is_pos), rating, review_id, text))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def extract_member(archive: str | os.PathLike, member_name: str, dest: str | os.PathLike) -> Path:
    """Copy the zip member whose file name is `member_name` (in any folder) into a temp file beside `dest`."""
    dest = Path(dest)
    try:
        with zipfile.ZipFile(archive) as z:
            names = [n for n in z.namelist() if Path(n).name == member_name and not n.startswith("__MACOSX")]
            if not names:
                raise DataError(f"{archive} holds no {member_name} (it has: {', '.join(z.namelist()[:5])})")
            tmp = _temp_beside(dest)
            try:
                with z.open(names[0]) as src, open(tmp, "wb") as out:  # zipfile checks the CRC while reading
                    shutil.copyfileobj(src, out, 1 << 20)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        raise DataError(f"{archive} is not a readable zip archive ({type(e).__name__}: {e}); "
                        "delete it and download it again") from None
    return tmp
