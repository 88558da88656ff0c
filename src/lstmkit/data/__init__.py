"""Real data for the experiments, one module per data set, sharing one cache and download helper.

    imdb      Keras' IMDB word indices (`load_data`, `get_word_index`) and the raw reviews (`load_text_data`)
    text      lstmkit's tokenizer and `Vocabulary` (padding 0, unknown 1)
    ud        Universal Dependencies English EWT with UPOS and XPOS tags
    weather   Beijing hourly weather (`load_beijing`) and the Jena climate record (`load_jena`)
    series    airline passengers, Melbourne minimum temperatures, sunspots; the `Table` type
    windows   forecasting windows, chronological splits, train-only normalisation
    sequence  Keras' `pad_sequences`, `to_categorical`, `timeseries_dataset_from_array`
    cache     `locate` / `fetch` / `verify`: `$LSTMKIT_DATA_DIR`, then `$LSTMKIT_CACHE_DIR`
              (default ~/.cache/lstmkit), then the upstream address, checked against pinned sha256
"""

from lstmkit.data import imdb, series, text, ud, weather, windows
from lstmkit.data.cache import Verified, cache_dir, data_dir, fetch, find, list_datasets, locate, search_dirs, verify
from lstmkit.data.commands import cli_fetch, cli_list, cli_verify
from lstmkit.data.errors import DataError
from lstmkit.data.registry import REGISTRY, DataFile, FileVariant
from lstmkit.data.sequence import TimeseriesDataset, pad_sequences, timeseries_dataset_from_array, to_categorical
from lstmkit.data.series import Table, load_airline_passengers, load_daily_min_temperatures, load_sunspots
from lstmkit.data.text import Vocabulary, tokenize
from lstmkit.data.weather import load_beijing, load_jena
from lstmkit.data.windows import ForecastData, Normalizer, SplitRanges, Windows, chronological_split, forecast_windows

__all__ = [
    "REGISTRY", "DataError", "DataFile", "FileVariant", "ForecastData", "Normalizer", "SplitRanges", "Table",
    "TimeseriesDataset", "Verified", "Vocabulary", "Windows", "cache_dir", "chronological_split", "cli_fetch",
    "cli_list", "cli_verify", "data_dir", "fetch", "find", "forecast_windows", "imdb", "list_datasets",
    "load_airline_passengers", "load_beijing", "load_daily_min_temperatures", "load_jena", "load_sunspots", "locate",
    "pad_sequences", "search_dirs", "series", "text", "timeseries_dataset_from_array", "to_categorical", "tokenize",
    "ud", "verify", "weather", "windows",
]
