"""Time series from a CSV file or a DataFrame, ready for a forecaster.

One pipeline, in order:

1. ``read_frame``: read a ``.csv`` (or take a DataFrame), find the time
   column, parse it, and reject unsorted or duplicate timestamps.
2. ``select_columns``: pick the target columns (forecast) and the known-future
   covariate columns; unknown and non-numeric columns are errors.
3. ``regularize``: detect missing values and missing or off-grid timestamps
   and report them (``SeriesReport``); they are errors unless interpolation
   is asked for explicitly.
4. ``split_bounds``: a chronological train/validation/test split, 70/10/20 by
   default, rounded as in the Autoformer/PatchTST code.
5. ``StandardScaler``: per-column z-scores fit on the training rows only.
6. ``SeriesData.dataset``: sliding windows on ``tf.data``.

A window starting at row ``t`` holds ``lookback`` rows of history
(``t - lookback .. t - 1``) and ``horizon`` rows to forecast (``t .. t +
horizon - 1``). A window belongs to the split that holds its whole forecast;
its history may reach back into the previous split, as in the papers' code, so
that no forecast row of one split is seen by another.

``load_series`` runs all of it. Importing this module does not import
TensorFlow.

Examples:
    >>> from zoo.data.series import load_series
    >>> data = load_series("ETTh1.csv", lookback=336, horizon=96)  # doctest: +SKIP
    >>> train = data.dataset("train", batch_size=32, shuffle=True)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from zoo.data.passes import reshuffled_passes

DEFAULT_SPLIT = (0.7, 0.1, 0.2)
"""Train, validation and test fractions of the rows."""

SPLITS = ("train", "validation", "test")
"""Names of the three chronological splits."""

TIME_COLUMN_NAMES = ("date", "time", "timestamp", "datetime", "ds")
"""Column names taken as the time column when none is named (any case)."""

UTC_OFFSET = r"(?:Z|[+-]\d\d:?\d\d)$"
"""A timestamp's trailing UTC offset: ``Z``, ``+01:00`` or ``-0500``."""

CALENDAR_FEATURES = {
    # name: (unit extracted from the timestamp, its period)
    "minute_of_hour": (lambda t: t.minute, 60.0),
    "hour_of_day": (lambda t: t.hour + t.minute / 60.0, 24.0),
    "day_of_week": (lambda t: t.day_of_week + t.hour / 24.0, 7.0),
    "day_of_month": (lambda t: t.day - 1.0, 31.0),
    "day_of_year": (lambda t: t.day_of_year - 1.0, 365.25),
    "month_of_year": (lambda t: t.month - 1.0, 12.0),
}
"""Calendar features computable from timestamps; each gives a sine and a cosine
column, ``sin(2π·unit/period)`` and ``cos(2π·unit/period)``, so that midnight
follows 23:30 smoothly."""


# --- 1. reading -------------------------------------------------------------


def read_frame(source, time_column=None) -> pd.DataFrame:
    """Read a series into a DataFrame indexed by its timestamps.

    A numeric time column holds Unix epoch seconds (as
    ``pd.to_datetime(unit="s")`` reads them). When the UTC offset of the
    timestamps changes between rows (``+01:00`` and ``+02:00`` across a
    daylight-saving change), daily or coarser data keep their local dates and
    finer data are read in UTC.

    Args:
        source: a path to a ``.csv`` file with a header row, or a
            ``pandas.DataFrame`` (whose time column, or else its
            ``DatetimeIndex``, gives the timestamps).
        time_column: the column holding the timestamps; None looks for one
            named ``date``, ``time``, ``timestamp``, ``datetime`` or ``ds``
            (any case).

    Returns:
        A copy of the data with a ``DatetimeIndex`` named after the time
        column and every other column kept as it was read.

    Raises:
        ValueError: for a missing file, a file that is not ``.csv``, no or an
            unknown time column, timestamps that do not parse, or timestamps
            that are unsorted or duplicated.

    Examples:
        >>> from zoo.data.series import read_frame
        >>> frame = read_frame("ETTh1.csv", time_column="date")  # doctest: +SKIP
    """
    if isinstance(source, pd.DataFrame):
        frame = source.copy()
        # Columns are named by strings everywhere after this (targets,
        # covariates, the saved scaler); a DataFrame made from an array
        # labels them 0, 1, ...
        frame.columns = frame.columns.map(str)
        origin = "the DataFrame"
        if time_column is None and isinstance(frame.index, pd.DatetimeIndex):
            frame.index = _local_dates(frame.index)
            frame.index.name = frame.index.name or "time"
            return _check_order(frame, origin)
    else:
        # A quoted "~/h.csv" (zoo predict's history) reaches here unexpanded.
        path = Path(os.path.expanduser(os.fspath(source)))
        if path.suffix.lower() != ".csv":
            raise ValueError(
                f"series source must be a .csv file or a DataFrame; received "
                f"{str(path)!r}"
            )
        if path.is_dir():
            raise ValueError(
                f"series source {str(path)!r} is a folder; expected a .csv file"
            )
        if not path.is_file():
            raise ValueError(f"series file not found: {str(path)!r}")
        origin = str(path)
        frame = _read_csv(path)
    column = _find_time_column(frame, time_column, origin)
    times = _parse_times(frame[column], column, origin)
    frame = frame.drop(columns=[column])
    frame.index = _local_dates(pd.DatetimeIndex(times, name=column))
    return _check_order(frame, origin)


def _read_csv(path):
    """``pd.read_csv`` of a ``.csv`` (gzip-compressed too, as a ``.tsv`` may be);
    a ``ValueError`` that names the file where it holds no table."""
    with open(path, "rb") as file:
        # By its bytes: pandas goes by the name, and this one ends in .csv.
        compressed = file.read(2) == b"\x1f\x8b"
    try:
        return pd.read_csv(path, compression="gzip" if compressed else None)
    except pd.errors.EmptyDataError:
        raise ValueError(
            f"series file {str(path)!r} is empty; expected a .csv with a header "
            "row and a time column"
        ) from None
    except UnicodeDecodeError as error:
        raise ValueError(
            f"series file {str(path)!r}: expected UTF-8 text; received the bytes "
            f"{error.object[error.start : error.end + 3]!r}, which are not UTF-8 "
            "(convert the file, e.g. with iconv)"
        ) from None
    except (OSError, EOFError) as error:
        if not compressed:
            raise
        raise ValueError(
            f"series file {str(path)!r}: expected a gzip-compressed .csv; "
            f"received a broken gzip file ({error})"
        ) from None


def _local_dates(index):
    """Daily or coarser timestamps of a time zone with daylight saving, as
    local dates; any other index unchanged."""
    if index.tz is None or len(index) < 2:
        return index
    offsets = {t.utcoffset() for t in index}
    local = index.tz_localize(None)
    # Local midnights are 23 or 25 hours apart across a daylight-saving
    # change, off any daily grid; their dates are what the user means, as
    # for .csv text whose UTC offset changes (see _parse_times).
    if len(offsets) > 1 and (local - local.normalize()).nunique() == 1:
        return local
    return index


def _parse_times(values, column, origin):
    expected = "timestamps"
    if pd.api.types.is_numeric_dtype(values):
        # Numbers are Unix epoch seconds, as pd.to_datetime(unit="s") reads
        # them; pandas' default unit (nanoseconds) would put any date in 1970.
        expected = "Unix epoch seconds"
        times = pd.to_datetime(values, unit="s", errors="coerce")
        # Milliseconds read as seconds land in year 51969, past what the
        # nanosecond steps below can hold.
        times = times.where((times >= pd.Timestamp.min) & (times <= pd.Timestamp.max))
    else:
        try:
            times = pd.to_datetime(values, errors="coerce")
        except ValueError:
            # UTC offsets that change between rows (+01:00, then +02:00 after a
            # daylight-saving change). Daily or coarser data (one time of day)
            # keep their local dates, which in UTC would drift an hour off the
            # daily grid; finer data are read in UTC, where steps stay regular.
            local = values.astype(str).str.replace(UTC_OFFSET, "", regex=True)
            times = pd.to_datetime(local, errors="coerce")
            if (times - times.dt.normalize()).nunique() > 1:
                times = pd.to_datetime(values, errors="coerce", utc=True)
    bad = np.flatnonzero(times.isna().to_numpy())
    if len(bad):
        raise ValueError(
            f"time column {column!r} of {origin} must hold {expected}; row "
            f"{bad[0]} holds {values.iloc[bad[0]]!r} ({len(bad)} unparseable "
            "value(s))"
        )
    return times


def _find_time_column(frame, time_column, origin):
    if time_column is not None:
        if time_column not in frame.columns:
            raise ValueError(
                f"time_column {time_column!r} is not a column of {origin}; "
                f"columns: {list(map(str, frame.columns))}"
            )
        return time_column
    for column in frame.columns:
        if str(column).lower() in TIME_COLUMN_NAMES:
            return column
    raise ValueError(
        f"no time column in {origin}: expected a column named one of "
        f"{list(TIME_COLUMN_NAMES)}, or one named by the data option ?time=NAME "
        f"after the .csv path (time_column=NAME in Python); received columns "
        f"{list(map(str, frame.columns))}"
    )


def _check_order(frame, origin):
    index = frame.index
    steps = np.diff(_nanoseconds(index))
    if (steps < 0).any():
        row = int(np.flatnonzero(steps < 0)[0]) + 1
        raise ValueError(
            f"timestamps of {origin} must be sorted in increasing order; row "
            f"{row} ({index[row]}) comes after row {row - 1} ({index[row - 1]}). "
            "Sort the rows by time first."
        )
    if (steps == 0).any():
        row = int(np.flatnonzero(steps == 0)[0]) + 1
        count = int((steps == 0).sum())
        raise ValueError(
            f"timestamps of {origin} must be unique; {index[row]} appears more "
            f"than once (rows {row - 1} and {row}; {count} duplicate(s)). "
            "Aggregate or drop the duplicates first."
        )
    return frame


# --- 2. columns --------------------------------------------------------------


def select_columns(frame, targets=None, covariates=()):
    """Check and return the target and covariate column names.

    Args:
        frame: a DataFrame from ``read_frame``.
        targets: columns to forecast; None takes every column that is not a
            covariate.
        covariates: known-future columns (their values over the forecast
            horizon are known in advance, like a workday flag).

    Returns:
        ``(targets, covariates)`` as lists of column names.

    Raises:
        ValueError: for unknown, non-numeric, repeated or overlapping columns,
            or no target at all.
    """
    available = [str(c) for c in frame.columns]
    covariates = _names(covariates, "covariates")
    if targets is None:
        targets = [c for c in available if c not in covariates]
        # pandas names a column without a header "Unnamed: N"; most often it
        # is an index that DataFrame.to_csv wrote, and row numbers would be
        # forecast as a series.
        unnamed = [c for c in targets if re.fullmatch(r"Unnamed: \d+", c)]
        if unnamed:
            raise ValueError(
                f"column {unnamed[0]!r} has no header and would be a target; "
                "expected named columns: drop it (an index written by "
                "DataFrame.to_csv? save with index=False), or name the targets "
                "(?target=A,B; targets= in Python)"
            )
    else:
        targets = _names(targets, "targets")
    for argument, names in (("targets", targets), ("covariates", covariates)):
        unknown = [n for n in names if n not in available]
        if unknown:
            raise ValueError(
                f"{argument} names unknown column(s) {unknown}; the columns are "
                f"{available}"
            )
        if len(set(names)) != len(names):
            raise ValueError(f"{argument} repeats a column; received {names}")
    overlap = sorted(set(targets) & set(covariates))
    if overlap:
        raise ValueError(
            f"column(s) {overlap} are both targets and covariates; a column must "
            "be one or the other"
        )
    if not targets:
        raise ValueError(
            f"expected at least one target column; received targets={targets} "
            f"from columns {available}"
        )
    non_numeric = [
        n for n in targets + covariates if not pd.api.types.is_numeric_dtype(frame[n])
    ]
    if non_numeric:
        kinds = {n: str(frame[n].dtype) for n in non_numeric}
        raise ValueError(
            f"columns must be numeric; {kinds} are not"
            f"{_text_example(frame[non_numeric[0]], non_numeric[0])}. Name numeric "
            "columns as targets and covariates, leaving the others out"
        )
    # Here, not only in regularize: a model's input file at predict time has
    # future covariate rows that regularize never sees.
    check_finite(frame, targets + covariates)
    return targets, covariates


def _text_example(values, column):
    """Where a column holds text, its first value that is not a number."""
    numbers = pd.to_numeric(values, errors="coerce")
    text = np.flatnonzero((numbers.isna() & values.notna()).to_numpy())
    if not len(text):
        return ""
    value = values.iloc[text[0]]
    hint = ""
    if isinstance(value, str) and re.search(r"\d[,'\s]\d{3}|[$€£¥%]", value):
        hint = " (remove thousands separators and currency or % signs first)"
    return f"; column {column!r} row {text[0]} holds {value!r}{hint}"


FLOAT32_MAX = float(np.finfo("float32").max)
"""Largest magnitude a value may have: models and SavedModels take float32."""


def check_finite(frame, columns):
    """Raise ``ValueError`` for an infinite value or one beyond float32's range.

    Models run and serve in float32, where a larger value would become
    infinite. The message names the column, the row and the value.
    """
    values = frame[list(columns)].to_numpy("float64", na_value=np.nan)
    bad = np.isinf(values) | (np.abs(np.nan_to_num(values)) > FLOAT32_MAX)
    if not bad.any():
        return
    row, column = np.argwhere(bad)[0]
    raise ValueError(
        f"column {columns[column]!r} must hold finite numbers; row {row} "
        f"({frame.index[row]}) holds {values[row, column]:g} ({int(bad.sum())} "
        f"value(s) infinite or beyond float32's {FLOAT32_MAX:.4g}). Leave a "
        "cell empty to mark a missing value; rescale values this large."
    )


def _names(value, argument):
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise ValueError(
            f"{argument} must be a list of column names; received {value!r}"
        )
    return list(value)


# --- 3. gaps and missing values -------------------------------------------


@dataclasses.dataclass
class SeriesReport:
    """What ``regularize`` found in a series, and what it did about it.

    Attributes:
        rows: rows read.
        start: first timestamp (ISO format).
        end: last timestamp.
        frequency: the series' step as a pandas offset alias: the most
            common step between rows (``"30min"``, ``"D"``, ``"7D"``), or a
            calendar frequency (``"MS"``, ``"ME"``, ``"QS"``, ``"YS"``...) for
            month starts or ends (see ``calendar_frequency``).
        missing_values: column → number of missing (NaN) values.
        missing_timestamps: steps absent from the regular grid.
        off_grid_timestamps: timestamps that do not fall on the grid.
        interpolated: whether values were interpolated onto the grid.
        rows_after: rows after regularizing.
    """

    rows: int
    start: str
    end: str
    frequency: str
    missing_values: dict
    missing_timestamps: int
    off_grid_timestamps: int
    interpolated: bool = False
    rows_after: int = 0

    @property
    def is_clean(self) -> bool:
        """True when there was nothing to interpolate."""
        return not (
            sum(self.missing_values.values())
            or self.missing_timestamps
            or self.off_grid_timestamps
        )

    def summary(self) -> str:
        """One line per finding, for logs and error messages."""
        lines = [
            f"{self.rows} rows from {self.start} to {self.end}, every {self.frequency}"
        ]
        for column, count in self.missing_values.items():
            if count:
                lines.append(f"column {column!r}: {count} missing value(s)")
        if self.missing_timestamps:
            lines.append(
                f"{self.missing_timestamps} timestamp(s) missing from the "
                f"{self.frequency} grid"
            )
        if self.off_grid_timestamps:
            lines.append(
                f"{self.off_grid_timestamps} timestamp(s) off the {self.frequency} grid"
            )
        if self.interpolated:
            lines.append(f"interpolated linearly in time onto {self.rows_after} rows")
        return "; ".join(lines)


class SeriesGapError(ValueError):
    """Missing values or timestamps that ``regularize`` was not asked to fill.

    Attributes:
        report: the ``SeriesReport`` of what was found.
    """

    def __init__(self, message, report):
        super().__init__(message)
        self.report = report


def regularize(frame, columns, interpolate=False):
    """Check a series for gaps and missing values; interpolate them if asked.

    The grid is the first timestamp plus multiples of the most common step,
    or, for monthly and coarser series whose timestamps are month starts or
    month ends, the calendar: month, quarter or year starts (``MS``, ``QS``,
    ``YS``) or ends (``ME``, ``QE``, ``YE``), which no fixed step follows (see
    ``calendar_frequency``). Where that grid leaves gaps, business days
    (``B``), half months (``SMS``, ``SME``) or business months (``BMS``,
    ``BME``) are the grid when they leave fewer. Missing values (NaN),
    timestamps absent from the grid and timestamps off the grid are counted.
    Without ``interpolate`` any of them raises; with it the series is put on
    the grid and the gaps filled by linear interpolation in time (values
    before the first or after the last observation of a column take the
    nearest observation).

    Args:
        frame: a DataFrame from ``read_frame``.
        columns: the columns to use.
        interpolate: fill gaps instead of raising.

    Returns:
        ``(frame, report)``: ``frame`` holds only ``columns`` as float64 on the
        regular grid; ``report`` is a ``SeriesReport``.

    Raises:
        ValueError: for fewer than two rows, or an infinite value or one
            beyond float32's range (see ``check_finite``).
        SeriesGapError: for gaps without ``interpolate``; the message lists
            what was found.
    """
    frame = frame[list(columns)].astype("float64")
    if len(frame) < 2:
        raise ValueError(f"a series needs at least 2 rows; received {len(frame)}")
    check_finite(frame, list(frame.columns))
    index = frame.index
    times = _nanoseconds(index)
    steps = np.diff(times)
    values, counts = np.unique(steps, return_counts=True)
    step = int(values[np.argmax(counts)])
    frequency = calendar_frequency(index, step)
    if frequency is None:
        offsets = times - times[0]
        on_grid = offsets % step == 0
        grid_size = int(offsets[-1] // step) + 1
        frequency = _offset_alias(step)
        grid = None  # made only if the gaps are to be filled
    else:
        grid = _calendar_grid(index, frequency)
        on_grid = index.isin(grid)
        grid_size = len(grid)
    problems = grid_size - int(on_grid.sum()) + int((~on_grid).sum())
    if problems:
        # Business days or months, half months: a grid that fits these
        # series better than any fixed step or month edge.
        fit = _business_or_semimonthly_fit(index, step, problems)
        if fit is not None:
            frequency, grid, on_grid = fit
            grid_size = len(grid)
    report = SeriesReport(
        rows=len(frame),
        start=index[0].isoformat(),
        end=index[-1].isoformat(),
        frequency=frequency,
        missing_values={c: int(frame[c].isna().sum()) for c in frame.columns},
        missing_timestamps=grid_size - int(on_grid.sum()),
        off_grid_timestamps=int((~on_grid).sum()),
        rows_after=len(frame),
    )
    for column in frame.columns:
        if frame[column].isna().all():
            raise ValueError(f"column {column!r} holds no values, only NaN")
    if report.is_clean:
        return frame, report
    if not interpolate:
        raise SeriesGapError(
            f"the series has gaps: {report.summary()}. Fill them by linear "
            "interpolation in time with the data option ?interpolate=true after "
            "the .csv path (interpolate=True in Python), or clean the data first.",
            report,
        )
    if grid is None:
        grid = pd.date_range(index[0], periods=grid_size, freq=pd.Timedelta(step))
    grid.name = index.name
    merged = frame.reindex(index.union(grid))
    merged = merged.interpolate(method="time", limit_direction="both")
    frame = merged.reindex(grid)
    report.interpolated = True
    report.rows_after = len(frame)
    return frame, report


CALENDAR_ALIASES = {
    # (unit, edge): the pandas alias of that calendar frequency
    ("month", "start"): "MS",
    ("month", "end"): "ME",
    ("quarter", "start"): "QS",
    ("quarter", "end"): "QE",
    ("year", "start"): "YS",
    ("year", "end"): "YE",
}
"""Calendar frequencies that ``regularize`` recognizes, as pandas (2.2 and up) spells them."""

# Tried, by most common step in days, when the grid of a fixed step or of
# month edges leaves a series with gaps.
_OTHER_CALENDARS = (
    ((1, 1), ("B",)),  # business days: a 1-day step and weekends missing
    ((13, 16), ("SMS", "SME")),  # the 1st and 15th; the 15th and month ends
    ((28, 35), ("BMS", "BME")),  # first and last business days of months
)


_MONTHS = "JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split()
_CALENDAR_NAMES = {*CALENDAR_ALIASES.values()}
_CALENDAR_NAMES.update(alias for _, aliases in _OTHER_CALENDARS for alias in aliases)
_CALENDAR_ALIAS = re.compile(
    r"\d*(?:"
    + "|".join(sorted(_CALENDAR_NAMES, key=len, reverse=True))
    + r")(?:-(?:"
    + "|".join(_MONTHS)
    + r"))?"
)
_SHORTEST_CALENDAR_STEP = pd.Timedelta(days=28).value


def calendar_frequency(index, step=None):
    """The calendar frequency of monthly or coarser timestamps, or None.

    Calendar months, quarters and years are no fixed number of days, so a
    monthly series has no single step. Timestamps count as calendar ones when
    their most common step is 28 days or more and at least half of them are
    month starts (day 1) or month ends (the month's last day). The number of
    months between consecutive ones (the most common) then gives the unit:
    12 a year, 3 a quarter, else months; a multiple of it gives a multiple
    (``2MS``). Quarters and years keep the months of the series (a year from
    July is ``YS-JUL``; January starts and December ends are plain ``QS``,
    ``YS``, ``QE``, ``YE``).

    Args:
        index: a sorted ``DatetimeIndex``.
        step: its most common step in nanoseconds; None computes it.

    Returns:
        A pandas offset alias such as ``"MS"``, ``"ME"``, ``"QS"``,
        ``"QE-NOV"``, ``"YS"`` or ``"2MS"``, or None for a series on no
        calendar (a fixed step such as ``"D"`` or ``"7D"`` is not one).

    Examples:
        >>> import pandas as pd
        >>> from zoo.data.series import calendar_frequency
        >>> calendar_frequency(pd.date_range("2014-01-01", periods=5, freq="MS"))
        'MS'
    """
    if len(index) < 2:
        return None
    if step is None:
        values, counts = np.unique(np.diff(_nanoseconds(index)), return_counts=True)
        step = int(values[np.argmax(counts)])
    if step < _SHORTEST_CALENDAR_STEP:
        return None
    starts = np.asarray(index.is_month_start)
    ends = np.asarray(index.is_month_end)
    edge, anchored = ("start", starts) if starts.sum() >= ends.sum() else ("end", ends)
    if 2 * anchored.sum() < len(index) or anchored.sum() < 2:
        return None
    stamps = index[anchored]
    months = np.diff(np.asarray(stamps.year * 12 + stamps.month, dtype="int64"))
    months = months[months > 0]
    if not len(months):
        return None
    values, counts = np.unique(months, return_counts=True)
    months = int(values[np.argmax(counts)])
    first = int(stamps[0].month)
    if months % 12 == 0:
        unit, count, anchor = "year", months // 12, first
        default = 1 if edge == "start" else 12
    elif months % 3 == 0:
        unit, count = "quarter", months // 3
        # Quarters from January (QS) or to December (QE) unless the series'
        # months say otherwise: QS-FEB, QE-NOV, ...
        anchor = (first - 1) % 3 + (1 if edge == "start" else 10)
        default = 1 if edge == "start" else 12
    else:
        unit, count, anchor, default = "month", months, None, None
    alias = CALENDAR_ALIASES[unit, edge]
    if anchor is not None and anchor != default:
        alias += f"-{_MONTHS[anchor - 1]}"
    return alias if count == 1 else f"{count}{alias}"


def _business_or_semimonthly_fit(index, step, problems):
    """``(alias, grid, on_grid)`` of the calendar in `_OTHER_CALENDARS` that
    leaves fewer than ``problems`` missing and off-grid timestamps, or None."""
    days = step / pd.Timedelta(days=1).value
    best = None
    for (shortest, longest), aliases in _OTHER_CALENDARS:
        if not shortest <= days <= longest:
            continue
        for alias in aliases:
            grid = _calendar_grid(index, alias)
            on_grid = index.isin(grid)
            score = len(grid) - int(on_grid.sum()) + int((~on_grid).sum())
            if score < problems:
                problems, best = score, (alias, grid, on_grid)
    return best


def is_calendar_frequency(frequency):
    """Tell whether ``frequency`` (an alias) is a calendar one (``MS``, ``QE``...)."""
    return bool(_CALENDAR_ALIAS.fullmatch(str(frequency)))


def _calendar_grid(index, frequency):
    """The ``frequency`` grid from the first timestamp on it to the last one.

    Timestamps before the first on the calendar count as off the grid, as
    any other off it; the grid keeps that first timestamp's time of day.
    """
    offset = pd.tseries.frequencies.to_offset(frequency)
    on_offset = np.asarray([offset.is_on_offset(t) for t in index])
    start = index[int(np.argmax(on_offset))]
    return pd.date_range(start, index[-1], freq=offset, name=index.name)


def next_timestamps(index, frequency, periods):
    """The ``periods`` timestamps that follow a regular series.

    Args:
        index: the series' ``DatetimeIndex``, on its grid (after
            ``regularize``), at least two rows.
        frequency: its ``SeriesReport.frequency``.
        periods: how many timestamps.

    Returns:
        A ``DatetimeIndex``: for a calendar frequency the next months,
        quarters or years (not multiples of 31 days), else the last timestamp
        plus multiples of the step.

    Examples:
        >>> import pandas as pd
        >>> from zoo.data.series import next_timestamps
        >>> index = pd.date_range("2015-10-31", periods=3, freq="ME")
        >>> [str(t.date()) for t in next_timestamps(index, "ME", 2)]
        ['2016-01-31', '2016-02-29']
    """
    if is_calendar_frequency(frequency):
        step = pd.tseries.frequencies.to_offset(frequency)
    else:
        step = index[-1] - index[-2]
    return pd.date_range(index[-1], periods=periods + 1, freq=step)[1:]


def _nanoseconds(index):
    # pandas 3 stores microseconds by default, pandas 2 nanoseconds: compare
    # steps in one unit whatever the resolution read.
    return index.as_unit("ns").asi8


def _offset_alias(step_nanoseconds):
    day = pd.Timedelta(days=1).value
    if step_nanoseconds % day == 0:
        # pandas 3 spells one day "24h"; "D" is what users write.
        days = step_nanoseconds // day
        return "D" if days == 1 else f"{days}D"
    try:
        return pd.tseries.frequencies.to_offset(pd.Timedelta(step_nanoseconds)).freqstr
    except ValueError:
        return str(pd.Timedelta(step_nanoseconds))


# --- 4. splits ----------------------------------------------------------------


def split_bounds(rows, split=DEFAULT_SPLIT):
    """Row boundaries of the chronological train, validation and test splits.

    Args:
        rows: number of rows of the series.
        split: three fractions that sum to 1 (train and test rounded down,
            validation takes the rest, as in the Autoformer/PatchTST code for
            Electricity and Weather), or three row counts (the ETT setting,
            e.g. ``(8640, 2880, 2880)``; rows after their sum are unused).

    Returns:
        ``(train_end, validation_end, test_end)``: train is rows
        ``[0, train_end)``, validation ``[train_end, validation_end)``, test
        ``[validation_end, test_end)``.

    Raises:
        ValueError: for a split that is not three positive numbers summing to
            1 or to at most ``rows``.

    Examples:
        >>> from zoo.data.series import split_bounds
        >>> split_bounds(17520)
        (12264, 14016, 17520)
    """
    if isinstance(split, np.ndarray) or (
        isinstance(split, Sequence) and not isinstance(split, str)
    ):
        # Row counts computed with NumPy come as NumPy numbers, not ints.
        split = [v.item() if isinstance(v, np.generic) else v for v in split]
    if (
        not isinstance(split, Sequence)
        or len(split) != 3
        or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in split
        )
        or min(split) <= 0
    ):
        raise ValueError(
            "split must be three positive numbers (train, validation, test): "
            f"fractions summing to 1 or row counts; received {split!r}"
        )
    if all(isinstance(v, int) for v in split) and sum(split) > 1:
        if sum(split) > rows:
            raise ValueError(
                f"split row counts {list(split)} sum to {sum(split)}, more than "
                f"the {rows} rows of the series"
            )
        train, validation, test = split
    else:
        if not math.isclose(sum(split), 1.0, abs_tol=1e-6):
            raise ValueError(
                f"split fractions must sum to 1; received {list(split)} "
                f"(sum {sum(split):g})"
            )
        train = int(rows * split[0])
        test = int(rows * split[2])
        validation = rows - train - test
    return train, train + validation, train + validation + test


# --- 5. scaling ---------------------------------------------------------------


class StandardScaler:
    """Per-column z-scores: ``(x - mean) / scale``, saved as plain JSON data.

    Args:
        columns: the column names, in order.
        mean: per-column means.
        scale: per-column standard deviations (population, as scikit-learn).

    Examples:
        >>> import numpy as np
        >>> from zoo.data.series import StandardScaler
        >>> scaler = StandardScaler.fit(np.array([[1.0], [3.0]]), ["x"])
        >>> scaler.transform(np.array([[3.0]])).tolist()
        [[1.0]]
    """

    def __init__(self, columns, mean, scale):
        self.columns = list(columns)
        self.mean = np.asarray(mean, dtype="float64")
        self.scale = np.asarray(scale, dtype="float64")
        if self.mean.shape != (len(self.columns),) or self.scale.shape != (
            len(self.columns),
        ):
            raise ValueError(
                f"mean and scale must hold one value per column ({len(self.columns)}"
                f"); received {self.mean.shape} and {self.scale.shape}"
            )

    @classmethod
    def fit(cls, values, columns):
        """Fit on ``values`` (rows, columns), the training rows only.

        Raises:
            ValueError: for a column that is constant over ``values`` (its
                scaled values and scaled errors would be undefined).
        """
        values = np.asarray(values, dtype="float64")
        magnitude = np.abs(values).max(axis=0, initial=0.0)
        # In units of each column's magnitude, so that squares neither
        # overflow nor underflow whatever the unit (watts, farads).
        unit = np.where(magnitude > 0, magnitude, 1.0)
        mean = (values / unit).mean(axis=0) * unit
        scale = (values / unit).std(axis=0) * unit
        # Relative to the column's magnitude too: a series measured in small
        # units is no constant one; float64 rounding of a constant stays far
        # below 1e-12 of it.
        constant = [
            f"{c!r} (always {m:g})"
            for c, m, s, size in zip(columns, mean, scale, magnitude)
            if not s > 1e-12 * size
        ]
        if constant:
            raise ValueError(
                f"column(s) {', '.join(constant)} are constant over the "
                "training split: they cannot be scaled or forecast. Leave them "
                "out of targets and covariates."
            )
        return cls(columns, mean, scale)

    def transform(self, values):
        """Scale ``values`` of shape (..., columns)."""
        return (np.asarray(values, dtype="float64") - self.mean) / self.scale

    def inverse_transform(self, values):
        """Undo ``transform``."""
        return np.asarray(values, dtype="float64") * self.scale + self.mean

    def to_dict(self):
        """Plain data for JSON."""
        return {
            "columns": self.columns,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
        }

    @classmethod
    def from_dict(cls, data):
        """Inverse of ``to_dict``."""
        return cls(data["columns"], data["mean"], data["scale"])


# --- calendar features --------------------------------------------------------


def calendar_features(index, names):
    """Sine and cosine calendar features of timestamps.

    Args:
        index: a ``DatetimeIndex``.
        names: keys of ``CALENDAR_FEATURES``, e.g. ``["hour_of_day",
            "day_of_week"]``.

    Returns:
        float64 array (len(index), 2 * len(names)): for each name its sine,
        then its cosine.

    Raises:
        ValueError: for an unknown name.

    Examples:
        >>> import pandas as pd
        >>> from zoo.data.series import calendar_features
        >>> calendar_features(pd.date_range("2014-01-01", periods=2, freq="6h"),
        ...                   ["hour_of_day"]).round(3).tolist()
        [[0.0, 1.0], [1.0, 0.0]]
    """
    names = _names(names, "calendar")
    unknown = [n for n in names if n not in CALENDAR_FEATURES]
    if unknown:
        raise ValueError(
            f"calendar names unknown feature(s) {unknown}; expected among "
            f"{list(CALENDAR_FEATURES)}"
        )
    columns = []
    for name in names:
        unit, period = CALENDAR_FEATURES[name]
        angle = 2.0 * np.pi * np.asarray(unit(index), dtype="float64") / period
        columns += [np.sin(angle), np.cos(angle)]
    return np.stack(columns, axis=-1) if columns else np.zeros((len(index), 0))


def calendar_column_names(names):
    """Column names of ``calendar_features(index, names)``."""
    return [f"{name}_{part}" for name in names for part in ("sin", "cos")]


# --- 6. windows ---------------------------------------------------------------


@dataclasses.dataclass
class SeriesData:
    """A checked, split and scaled series, and its windows.

    Attributes:
        frame: the series on its regular grid, original units, target then
            covariate columns.
        targets: target column names.
        covariates: known-future covariate column names.
        calendar: calendar feature names (see ``CALENDAR_FEATURES``).
        lookback: history rows per window.
        horizon: forecast rows per window.
        bounds: ``split_bounds`` of the series.
        scaler: ``StandardScaler`` of the targets, then the covariates.
        report: the ``SeriesReport`` of the checks.
        values: scaled targets, float32 (rows, targets).
        known: scaled covariates and calendar features, float32 (rows, K).
    """

    frame: pd.DataFrame
    targets: list
    covariates: list
    calendar: list
    lookback: int
    horizon: int
    bounds: tuple
    scaler: StandardScaler
    report: SeriesReport
    values: np.ndarray
    known: np.ndarray

    @property
    def num_known(self):
        """Number of known-future input columns (covariates + calendar)."""
        return self.known.shape[1]

    def window_starts(self, split, stride=1):
        """First forecast row of each window of ``split``, every ``stride`` rows."""
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}; received {split!r}")
        check_positive_int(stride, "stride")
        begin = (0,) + tuple(self.bounds[:2])
        first = max(begin[SPLITS.index(split)], self.lookback)
        last = self.bounds[SPLITS.index(split)] - self.horizon
        return np.arange(first, last + 1, stride, dtype="int64")

    def arrays(self, split, stride=1):
        """The windows of ``split`` as NumPy arrays.

        Returns:
            ``(inputs, targets)``: inputs (n, lookback, targets), or a dict
            with ``past_values`` and ``future_covariates`` (n, lookback +
            horizon, K) when there are known-future inputs; targets (n,
            horizon, targets). All scaled, float32.
        """
        starts = self.window_starts(split, stride)
        past = np.arange(-self.lookback, 0)[None, :] + starts[:, None]
        future = np.arange(self.horizon)[None, :] + starts[:, None]
        inputs = self.values[past]
        if self.num_known:
            everything = np.concatenate([past, future], axis=1)
            inputs = {
                "past_values": inputs,
                "future_covariates": self.known[everything],
            }
        return inputs, self.values[future]

    def dataset(self, split, batch_size, stride=1, shuffle=False, seed=0):
        """A batched ``tf.data.Dataset`` of ``(inputs, targets)`` windows.

        Windows are sliced from the series on the fly, so memory holds the
        series once, not once per window.

        Args:
            split: ``"train"``, ``"validation"`` or ``"test"``.
            batch_size: windows per batch.
            stride: rows between the starts of consecutive windows.
            shuffle: reshuffle the windows on each pass (seeded).
            seed: the shuffle seed.

        Returns:
            The dataset; inputs and targets as in ``arrays``. With
            ``shuffle``, it also has ``stream_from_pass(index)``, the endless
            stream of its passes from pass ``index`` on (`zoo.data.passes`),
            which `training.recipe.fit` trains on so that a resumed run
            starts at its pass at once.
        """
        import tensorflow as tf  # Deferred: reading a CSV should not need it.

        check_positive_int(batch_size, "batch_size")
        starts = self.window_starts(split, stride)
        values = tf.constant(self.values)
        known = tf.constant(self.known)
        lookback, horizon, has_known = self.lookback, self.horizon, self.num_known > 0

        def window(start):
            past = values[start - lookback : start]
            target = values[start : start + horizon]
            if has_known:
                covariates = known[start - lookback : start + horizon]
                return {"past_values": past, "future_covariates": covariates}, target
            return past, target

        def windows(window_starts):
            dataset = window_starts.map(window, num_parallel_calls=tf.data.AUTOTUNE)
            # The same batches: one of the whole split is all a larger size
            # gives. tf.data's fused map-and-batch sizes its buffers by the
            # batch size, and 10**12 hung the first step.
            return dataset.batch(min(batch_size, max(1, len(starts))))

        if shuffle:
            return reshuffled_passes(tf.constant(starts), seed, windows)
        dataset = windows(tf.data.Dataset.from_tensor_slices(starts))
        return dataset.prefetch(tf.data.AUTOTUNE)


def load_series(
    source,
    *,
    lookback,
    horizon,
    targets=None,
    covariates=(),
    calendar=(),
    split=DEFAULT_SPLIT,
    time_column=None,
    interpolate=False,
    scaler=None,
):
    """Read, check, split and scale a series; see the module docstring.

    Args:
        source: a ``.csv`` path or a DataFrame (see ``read_frame``).
        lookback: history rows per window.
        horizon: forecast rows per window.
        targets: columns to forecast; None for every non-covariate column.
        covariates: known-future columns (values over the horizon known in
            advance).
        calendar: calendar features from the timestamps, known-future too.
        split: see ``split_bounds``.
        time_column: see ``read_frame``.
        interpolate: fill missing values and timestamps (see ``regularize``).
        scaler: a fitted ``StandardScaler`` to reuse (its columns must be the
            targets, then the covariates); None fits one on the training rows.

    Returns:
        A ``SeriesData``.

    Raises:
        ValueError: for bad arguments or data, including a series too short
            for one window of ``lookback + horizon`` rows in every split.

    Examples:
        >>> from zoo.data.series import load_series
        >>> data = load_series(frame, lookback=336, horizon=96)  # doctest: +SKIP
    """
    check_positive_int(lookback, "lookback")
    check_positive_int(horizon, "horizon")
    frame = read_frame(source, time_column)
    targets, covariates = select_columns(frame, targets, covariates)
    calendar = _names(calendar, "calendar")
    frame, report = regularize(frame, targets + covariates, interpolate)
    bounds = split_bounds(len(frame), split)
    _check_long_enough(len(frame), bounds, lookback, horizon)
    if scaler is None:
        scaler = StandardScaler.fit(frame.to_numpy()[: bounds[0]], targets + covariates)
    elif scaler.columns != targets + covariates:
        raise ValueError(
            f"the saved scaler is for columns {scaler.columns}; received "
            f"targets + covariates {targets + covariates}"
        )
    scaled = scaler.transform(frame.to_numpy()).astype("float32")
    known = np.concatenate(
        [scaled[:, len(targets) :], calendar_features(frame.index, calendar)], axis=1
    ).astype("float32")
    return SeriesData(
        frame=frame,
        targets=targets,
        covariates=covariates,
        calendar=calendar,
        lookback=lookback,
        horizon=horizon,
        bounds=bounds,
        scaler=scaler,
        report=report,
        values=np.ascontiguousarray(scaled[:, : len(targets)]),
        known=known,
    )


def _check_long_enough(rows, bounds, lookback, horizon):
    train_end, validation_end, test_end = bounds
    needs = {
        "train": (train_end, lookback + horizon),
        "validation": (validation_end, max(lookback, train_end) + horizon),
        "test": (test_end, max(lookback, validation_end) + horizon),
    }
    for name, (end, needed) in needs.items():
        if end < needed:
            raise ValueError(
                f"the series is too short for lookback={lookback} and "
                f"horizon={horizon}: the {name} split ends at row {end} but its "
                f"first window needs rows up to {needed} ({rows} rows, splits "
                f"end at {list(bounds)}). Use a longer series or a shorter "
                "lookback or horizon."
            )


def check_positive_int(value, name):
    """Raise ``ValueError`` unless ``value`` is a positive ``int``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer; received {value!r}")
