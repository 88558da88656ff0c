"""Real data for the experiments, one module per data set, sharing one cache and download helper.

    imdb      Keras' IMDB word indices (`load_data`, `get_word_index`) and the raw reviews (`load_text_data`)
    text      lstmkit's tokenizer and `Vocabulary` (padding 0, unknown 1)
    ud        Universal Dependencies English EWT with UPOS and XPOS tags
    weather   Beijing hourly weather (`load_beijing`) and the Jena climate record (`load_jena`)
    series    airline passengers, Melbourne minimum temperatures, sunspots; the `Table` type
    windows   forecasting windows, chronological splits, train-only normalisation
    sequence  Keras' `pad_sequences`, `to_categorical`, `timeseries_dataset_from_array`
    dataset   `Dataset`: tf.data's map/batch/unbatch/take/skip/shuffle/cache/prefetch on NumPy
    cache     `locate` / `fetch` / `verify`: `$LSTMKIT_DATA_DIR`, then `$LSTMKIT_CACHE_DIR`
              (default ~/.cache/lstmkit), then the upstream address, checked against pinned sha256
"""

from __future__ import annotations

from lstmkit._lazy import lazy_getattr

# name -> the submodule that defines it. Loaded on first use: `lstmkit run EXPERIMENT --help` reads
# `memory_names` from here, and importing every data set's module first (numpy, the download
# helper) took 150 of the 175 ms the help needed.
_SUBMODULES = ("cache", "commands", "convert", "dataset", "download", "errors", "imdb", "memory", "memory_names", "npz",
               "registry", "sequence", "series", "text", "ud", "weather", "windows")
_FROM = {
    **dict.fromkeys(["Verified", "cache_dir", "data_dir", "fetch", "find", "list_datasets", "locate", "search_dirs",
                     "verify"], "cache"),
    **dict.fromkeys(["cli_fetch", "cli_list", "cli_verify"], "commands"),
    "DataError": "errors",
    "Dataset": "dataset",
    **dict.fromkeys(["REGISTRY", "DataFile", "FileVariant"], "registry"),
    **dict.fromkeys(["TimeseriesDataset", "pad_sequences", "timeseries_dataset_from_array", "to_categorical"],
                    "sequence"),
    **dict.fromkeys(["Table", "load_airline_passengers", "load_daily_min_temperatures", "load_sunspots"], "series"),
    **dict.fromkeys(["Vocabulary", "tokenize"], "text"),
    **dict.fromkeys(["load_beijing", "load_jena"], "weather"),
    **dict.fromkeys(["ForecastData", "Normalizer", "SplitRanges", "Windows", "chronological_split",
                     "forecast_windows"], "windows"),
}


__getattr__ = lazy_getattr(__name__, _SUBMODULES, _FROM)


def __dir__() -> list[str]:
    return sorted(set(__all__) | set(_SUBMODULES))


__all__ = [
    "REGISTRY", "DataError", "DataFile", "Dataset", "FileVariant", "ForecastData", "Normalizer", "SplitRanges", "Table",
    "TimeseriesDataset", "Verified", "Vocabulary", "Windows", "cache_dir", "chronological_split", "cli_fetch",
    "cli_list", "cli_verify", "data_dir", "fetch", "find", "forecast_windows", "imdb", "list_datasets",
    "load_airline_passengers", "load_beijing", "load_daily_min_temperatures", "load_jena", "load_sunspots", "locate",
    "pad_sequences", "search_dirs", "series", "text", "timeseries_dataset_from_array", "to_categorical", "tokenize",
    "ud", "verify", "weather", "windows",
]
