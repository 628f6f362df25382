"""Daily weather in Seattle, 2012 to 2015, offline.

The data is ``seattle_weather`` from the PyPI package ``vega_datasets``
(bundled locally, no download). On first use it is written as
``seattle_weather.csv`` into the data cache. Columns: ``date`` and the four
numeric columns ``precipitation`` (mm), ``temp_max``, ``temp_min`` (degrees
Celsius) and ``wind`` (m/s); the categorical ``weather`` column is dropped;
1,461 rows.
"""

from __future__ import annotations

from pathlib import Path

from zoo.data import cache

NAME = "seattle_weather"
FILE = "seattle_weather.csv"
TIME_COLUMN = "date"
TARGET = "temp_max"
COLUMNS = ("precipitation", "temp_max", "temp_min", "wind")
LENGTH = 1_461
PERIOD = 7
"""A weekly period for seasonal naive (weather has no strong one below a year)."""


def _directory() -> Path:
    return cache.cache_path("pypi", "vega_datasets", NAME)


def is_cached() -> bool:
    """Tell whether the CSV is already in the data cache."""
    return cache.is_complete(_directory())


def fetch() -> Path:
    """Write ``seattle_weather.csv`` into the data cache if it is not there yet.

    Returns:
        The directory that holds ``seattle_weather.csv``.

    Raises:
        RuntimeError: if the ``vega_datasets`` package is missing.
    """
    return cache.cached_csv(_directory(), FILE, _read_package)


def _read_package():
    try:
        from vega_datasets import local_data
    except ImportError as error:
        raise RuntimeError(
            "seattle_weather comes from the PyPI package `vega_datasets`; install "
            "it with `pip install vega_datasets` (or the project's [data] extra)"
        ) from error
    return local_data.seattle_weather()[[TIME_COLUMN, *COLUMNS]]


def load():
    """Return the series as a ``pandas.DataFrame`` with a ``date`` column."""
    import pandas as pd

    path = fetch() / FILE
    frame = pd.read_csv(path, parse_dates=[TIME_COLUMN])
    cache.check_count(path, "rows", len(frame), LENGTH)
    return frame
