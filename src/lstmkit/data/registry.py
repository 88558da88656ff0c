"""The data files lstmkit knows: where each comes from and the sha256 it must have.

A file may sit on disk under more than one name (a `.gz` copy or the plain file, e.g. the
shared folder holds `en_ewt-ud-train.conllu.gz` while the treebank publishes the plain
`.conllu`); each accepted name has its own accepted hashes. `url` is the upstream address;
what it serves (`download`) is saved under `saved_as`, converted first when `unpack` says so.
A mirror (`$LSTMKIT_DATA_URL`, see `cache.py`) serves it under `remote_name`, the name `url` ends in.
A file without a pinned hash names a `parse_check`, which reads a download in full before it is kept.

Provenance of the pinned hashes (see also the shared data README):
- `imdb.npz`: the rebuild in the shared folder (`cf7338e7…`) and Keras' own download
  (`69664113…`, the hash `keras.datasets.imdb.load_data` pins); both hold the same raw word ranks.
- `imdb_word_index.json`: the shared copy's md5 is the md5 Keras pins, so its sha256 is upstream's.
- `aclImdb_v1.tar.gz`: sha256 `c40f74a1…`, as pinned by several independent projects (and md5
  `7c2ac02c…` by PaddlePaddle); lstmkit converts it into `imdb_reviews.csv` and checks the result
  against the csv's pinned sha256, so the conversion itself is verified.
- UD English EWT r2.16, Beijing PM2.5 and the small series: the sha256 of the shared files,
  fetched from the same repositories at the same commits.
- Jena climate: no hash is confirmed (two copies found online disagree), so none is pinned;
  its 15-column header is checked instead, and a download is parsed in full by the reader that
  loads it (`weather.jena_problem`) before it is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class FileVariant:
    """One name a data file may have on disk and the sha256 values accepted for it (none: unpinned)."""

    filename: str
    sha256: tuple[str, ...] = ()


@dataclass(frozen=True)
class DataFile:
    """A known data file: its name (the file name in the shared data folder), origin and checks."""

    name: str
    description: str
    url: str
    variants: tuple[FileVariant, ...]
    download: FileVariant  # what `url` serves
    saved_as: str  # the variant file name a download becomes
    unpack: str | None = None  # None: saved as served; "zip": the member `saved_as`; "aclimdb": converted to csv
    header: tuple[str, ...] | None = None  # the columns a csv must have (checked when no hash is pinned)
    note: str = ""
    aliases: tuple[str, ...] = field(default=())
    # "module:function" that reads a file in full and says what is wrong with it (None: nothing);
    # an unpinned download is kept only when this finds nothing wrong
    parse_check: str | None = None

    @property
    def pinned(self) -> bool:
        return all(v.sha256 for v in self.variants)

    @property
    def remote_name(self) -> str:
        """The file name `url` ends in: what a mirror serves (`pollution.csv` for the Beijing file)."""
        return self.url.rsplit("/", 1)[-1]

    def variant(self, filename: str) -> FileVariant:
        for v in self.variants:
            if v.filename == filename:
                return v
        raise KeyError(filename)


KERAS = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
UD_EWT = "https://raw.githubusercontent.com/UniversalDependencies/UD_English-EWT/r2.16/"
BROWNLEE = "https://raw.githubusercontent.com/jbrownlee/Datasets/d20fcb6402ae34e653d4513b00f39257bb37ed7f/"

JENA_COLUMNS = ("Date Time", "p (mbar)", "T (degC)", "Tpot (K)", "Tdew (degC)", "rh (%)", "VPmax (mbar)",
                "VPact (mbar)", "VPdef (mbar)", "sh (g/kg)", "H2OC (mmol/mol)", "rho (g/m**3)", "wv (m/s)",
                "max. wv (m/s)", "wd (deg)")


def _simple(name: str, description: str, url: str, sha256: tuple[str, ...], note: str = "") -> DataFile:
    v = FileVariant(name, sha256)
    return DataFile(name, description, url, (v,), v, name, note=note)


def _gz_or_plain(name: str, description: str, url: str, gz_sha256: str, plain_sha256: str, note: str = ""
                 ) -> DataFile:
    """A file kept gzipped in the shared folder and served plain upstream; either is accepted."""
    plain = FileVariant(name.removesuffix(".gz"), (plain_sha256,))
    return DataFile(name, description, url, (FileVariant(name, (gz_sha256,)), plain), plain, plain.filename,
                    note=note)


_EWT_NOTE = "CC BY-SA 4.0: cite 'Universal Dependencies English Web Treebank v2.16'."
_FILES = [
    _simple("imdb.npz", "IMDB reviews as Keras word ranks (25k train, 25k test)", KERAS + "imdb.npz",
            ("cf7338e70c6a73c5afa20299201407a34a3d44801a5836d7baede35166423f2c",
             "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"),
            note="Maas et al. 2011; the shared copy is a verified rebuild, Keras' download is accepted too."),
    _simple("imdb_word_index.json", "Keras' IMDB word -> rank map (88,584 words)", KERAS + "imdb_word_index.json",
            ("027313fe9a320280f3bf0fac5baf58c4a683cf39a7ed9c3d3d3912bde4284cf6",)),
    DataFile(
        "imdb_reviews.csv.gz", "the 50,000 labelled IMDB reviews as raw text (split,label,rating,id,text)",
        "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
        (FileVariant("imdb_reviews.csv.gz", ("ccdf67a68cc765c15b4c762b53d8c9e49caab3950fe153af33a42bab6654de7c",)),
         FileVariant("imdb_reviews.csv", ("f32b202764e4dfe3a2314fc821c3b248e5b7c4105db7320f39566bd907ffc1bd",))),
        FileVariant("aclImdb_v1.tar.gz", ("c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",)),
        "imdb_reviews.csv", unpack="aclimdb",
        note="Downloads Stanford's aclImdb_v1.tar.gz (84 MB) and converts its labelled reviews into the csv.",
        aliases=("aclImdb_v1.tar.gz",)),
    *(_gz_or_plain(f"en_ewt-ud-{split}.conllu.gz", f"UD English Web Treebank r2.16, {split} split (CoNLL-U)",
                   f"{UD_EWT}en_ewt-ud-{split}.conllu", gz, plain, note=_EWT_NOTE)
      for split, gz, plain in [
          ("train", "bd47e08c9e18ec12d319e84df2ccdb272ff6de1d0dba5761117d3caf8b358f7b",
           "3fb78e2b55482c8ee00caa653af436c88c9e5bc9a73ce26e4ae3ddc79d2b7e7b"),
          ("dev", "41086e3afc9ae572f899c9123f874d6d04a52e374a3d2ac7a6667ce48e3bf3e3",
           "531a54ff90d6ab12201c5a50c3e78e6ddac4de69abc4bce5d275d3cd29efe2b6"),
          ("test", "29c151eee8846d3f3ef7806c126ecac9932af2317c008c6d6b076c5e14950dbe",
           "e266e515a0a7547657ed3d90d9ba46487d6bd251f27ad4269d4e8a427c8555cd")]),
    _gz_or_plain("beijing_pm25_hourly.csv.gz", "Beijing hourly weather and PM2.5, 2010-2014 (43,824 rows)",
                 BROWNLEE + "pollution.csv",
                 "ae74d528f52cd98c8781f76ed94be9cf4a086cb5e3f6f7cffd804c50c8d96627",
                 "892e9559205d16d32623135c127a3951c12e46ea1e0b3093e107ce89a9fd60e2",
                 note="UCI Beijing PM2.5 data set (Liang et al. 2015), CC BY 4.0; fetched from jbrownlee/Datasets."),
    _simple("airline-passengers.csv", "monthly airline passengers (thousands), 1949-1960", BROWNLEE +
            "airline-passengers.csv", ("8cb51be753a718d9be5d76d7e238cc224792754676adc21faa59e954b0201621",)),
    _simple("daily-min-temperatures.csv", "daily minimum temperature in Melbourne, 1981-1990", BROWNLEE +
            "daily-min-temperatures.csv", ("8b9de63ed6789492bf497625e7f9beb96a63d367b4b0a21754006f749fa5e5da",)),
    _simple("monthly-sunspots.csv", "monthly Zurich sunspot numbers, 1749-1983", BROWNLEE + "monthly-sunspots.csv",
            ("c4ec8cc57d9f6fb6ecdb3e1f37f25b6f4badd5124c55931052b0cd2fc3bc71f3",)),
    DataFile(
        "jena_climate_2009_2016.csv", "Jena weather station, every 10 minutes, 2009-2016 (15 columns)",
        KERAS + "jena_climate_2009_2016.csv.zip",
        (FileVariant("jena_climate_2009_2016.csv"),), FileVariant("jena_climate_2009_2016.csv.zip"),
        "jena_climate_2009_2016.csv", unpack="zip", header=JENA_COLUMNS,
        note="No sha256 is pinned: no canonical hash could be confirmed. Its header is checked instead, "
             "and a download is read in full before it is kept.",
        aliases=("jena_climate_2009_2016.csv.zip",), parse_check="lstmkit.data.weather:jena_problem"),
]

REGISTRY: dict[str, DataFile] = {f.name: f for f in _FILES}


def lookup(name: str) -> DataFile:
    """The entry for `name`: a registry name, any accepted file name, an alias, or a name's stem
    (the part before the first dot, e.g. `en_ewt-ud-train` or `jena_climate_2009_2016`)."""
    if name in REGISTRY:
        return REGISTRY[name]
    for entry in REGISTRY.values():
        names = {v.filename for v in entry.variants} | set(entry.aliases) | {entry.name.split(".")[0]}
        if name in names:
            return entry
    raise ValueError(f"unknown data file {name!r}; known: {', '.join(REGISTRY)}")
