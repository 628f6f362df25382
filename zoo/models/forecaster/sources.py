"""Data sources of the forecaster: a name or ``.csv`` path plus ``?`` options.

``zoo train --data`` takes one string, so the series options ride in it:
``PATH_OR_NAME?key=value&key=value``. Lists are comma-separated.

| key | meaning | default |
|---|---|---|
| ``lookback``, ``horizon`` | window sizes | per built-in, else 336 and 96 |
| ``target`` | columns to forecast | every non-covariate column |
| ``covariates`` | known-future columns | none |
| ``calendar`` | calendar features (``hour_of_day``, ...) | none |
| ``time`` | the time column | detected |
| ``split`` | ``0.7,0.1,0.2`` fractions or ``8640,2880,2880`` rows | 70/10/20 |
| ``stride`` | rows between training windows | the preset's, else 1 |
| ``interpolate`` | ``true`` fills gaps and NaNs linearly | ``false`` |
"""

import dataclasses

from zoo.data.source_query import positive_int_option, split_source
from zoo.registry import did_you_mean

OPTIONS = (
    "lookback",
    "horizon",
    "target",
    "covariates",
    "calendar",
    "time",
    "split",
    "stride",
    "interpolate",
)
"""Keys allowed after ``?``."""

BUILT_IN = {
    # name: (module, window defaults); one week → two days half-hourly, and
    # eight weeks → two weeks daily.
    "elecdemand": ("zoo.data.elecdemand", {"lookback": 336, "horizon": 96}),
    "seattle_weather": ("zoo.data.seattle_weather", {"lookback": 56, "horizon": 14}),
}
"""Built-in series and their default windows."""


@dataclasses.dataclass
class SourceOptions:
    """Parsed options of a source string; see the module docstring."""

    lookback: int = 336
    horizon: int = 96
    target: list | None = None
    covariates: list = dataclasses.field(default_factory=list)
    calendar: list = dataclasses.field(default_factory=list)
    time: str | None = None
    split: tuple = (0.7, 0.1, 0.2)
    stride: int | None = None
    interpolate: bool = False


def parse_source(source):
    """Split ``source`` into its location and `SourceOptions`.

    Args:
        source: ``"elecdemand"``, ``"seattle_weather"`` or a ``.csv`` path,
            optionally followed by ``?key=value&...``.

    Returns:
        ``(location, SourceOptions)``.

    Raises:
        ValueError: for an unknown key or a bad value, naming both.

    Examples:
        >>> from zoo.models.forecaster.sources import parse_source
        >>> parse_source("ETTh1.csv?target=OT&horizon=96")[1].target
        ['OT']
    """
    location, items = split_source(source, OPTIONS)
    options = SourceOptions(**BUILT_IN.get(location, (None, {}))[1])
    for key, value in items:
        if key in ("lookback", "horizon", "stride"):
            setattr(options, key, positive_int_option(value, key, source))
        elif key in ("target", "covariates", "calendar"):
            setattr(options, key, [v for v in value.split(",") if v])
        elif key == "split":
            numbers = []
            for part in value.split(","):
                try:
                    numbers.append(int(part) if part.isdigit() else float(part))
                except ValueError:
                    raise ValueError(
                        f"data option split: expected three fractions or row "
                        f"counts; received {value!r}"
                    ) from None
            options.split = tuple(numbers)
        elif key == "interpolate":
            if value.lower() not in ("true", "false"):
                raise ValueError(
                    f"data option interpolate: expected true or false; received "
                    f"{value!r}"
                )
            options.interpolate = value.lower() == "true"
        else:
            options.time = value
    return location, options


def read_source(location):
    """Return ``(frame_or_path, time_column)`` for a built-in or a ``.csv``."""
    if location in BUILT_IN:
        import importlib

        module = importlib.import_module(BUILT_IN[location][0])
        return module.load(), module.TIME_COLUMN
    if not str(location).lower().endswith(".csv"):
        # Not read_frame's own message, which is for Python callers (a
        # DataFrame is no option on the command line).
        raise ValueError(
            f"data for forecaster must be one of {', '.join(map(repr, BUILT_IN))} "
            f"or a .csv path; received {location!r}{did_you_mean(location, BUILT_IN)}"
        )
    return location, None
