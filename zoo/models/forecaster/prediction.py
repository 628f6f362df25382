"""Forecasts from a history ``.csv``: the numbers, a table and a plot."""

import numpy as np
from keras import ops


def forecast_csv(model, state, csv_path):
    """Forecast what follows the history in ``csv_path``, in original units.

    Args:
        model: a trained forecaster.
        state: the run's ``series.json`` content.
        csv_path: a ``.csv`` with the time column and the target columns and
            at least ``lookback`` rows sampled as the training data was; the
            last ``lookback`` are used. For a model with known-future
            covariates the file ends with exactly ``horizon`` future rows
            that continue the history's timestamps, leave the target cells
            empty and hold the covariates' future values.

    Returns:
        A dict with ``times`` and ``history`` (lookback, targets),
        ``future_times``, ``forecast`` (horizon, targets[, quantiles]),
        ``targets`` and ``quantiles``.

    Raises:
        ValueError: if the file is too short, lacks a column, has gaps, is
            sampled at another frequency than the training data, or (with
            covariates) lacks future rows or dates them off the history's grid.
    """
    from zoo.data import series

    options = state["options"]
    lookback, horizon = options["lookback"], options["horizon"]
    targets, covariates = options["target"], options["covariates"]
    frame = series.read_frame(csv_path, options["time"])
    missing = [name for name in targets + covariates if name not in frame.columns]
    if missing:
        raise ValueError(
            f"INPUT {csv_path}: expected the columns the run was trained on, "
            f"{targets + covariates}; missing {missing} (the file has "
            f"{list(frame.columns)})"
        )
    series.select_columns(frame, targets, covariates)
    future = None
    if covariates:
        frame, future = _split_future(frame, options, csv_path)
    try:
        frame, report = series.regularize(frame, targets + covariates)
    except series.SeriesGapError as error:
        # ?interpolate=true is an option of training data, not of a history.
        raise ValueError(
            f"INPUT {csv_path}: the history has gaps: {error.report.summary()}. "
            "Fill or drop them first."
        ) from None
    # Runs saved before series.json recorded the frequency have none to check.
    expected = state.get("frequency")
    if expected and report.frequency != expected:
        raise ValueError(
            f"INPUT {csv_path}: expected a history every {expected}, as the "
            f"training data; received one every {report.frequency}"
        )
    if len(frame) < lookback:
        raise ValueError(
            f"INPUT: expected at least lookback = {lookback} rows of history; "
            f"received {len(frame)} in {csv_path}"
        )
    # The next calendar months for a monthly series (MS, ME...), not +31 days.
    future_times = series.next_timestamps(frame.index, report.frequency, horizon)
    frame = frame.iloc[-lookback:]
    scaler = series.StandardScaler.from_dict(state["scaler"])
    if future is not None:
        off = np.flatnonzero(future.index != future_times)
        if len(off):
            raise ValueError(
                f"INPUT {csv_path}: the {horizon} future rows must continue the "
                f"history every {report.frequency}; future row {off[0] + 1} is "
                f"dated {future.index[off[0]]}, expected {future_times[off[0]]}"
            )
    raw_history = frame[targets].to_numpy(np.float64)
    scaled = scaler.transform(
        np.concatenate([raw_history, frame[covariates].to_numpy()], axis=1)
        if covariates
        else np.concatenate(
            [raw_history, np.zeros((lookback, len(scaler.columns) - len(targets)))], 1
        )
    ).astype(np.float32)
    inputs = scaled[None, :, : len(targets)]
    num_known = len(covariates) + 2 * len(options["calendar"])
    if num_known:
        everything = frame.index.append(future_times)
        known = [scaled[:, len(targets) :]]
        if covariates:
            future_scaled = scaler.transform(
                np.concatenate(
                    [np.zeros((horizon, len(targets))), future[covariates].to_numpy()],
                    axis=1,
                )
            )[:, len(targets) :]
            known = [np.concatenate([known[0], future_scaled])]
        else:
            known = []
        known.append(series.calendar_features(everything, options["calendar"]))
        inputs = {
            "past_values": inputs,
            "future_covariates": np.concatenate(known, axis=1)[None].astype(np.float32),
        }
    output = ops.convert_to_numpy(model(inputs, training=False))[0].astype(np.float64)
    quantiles = getattr(model, "quantiles", None)
    mean = np.asarray(scaler.mean[: len(targets)])
    std = np.asarray(scaler.scale[: len(targets)])
    if quantiles:
        output = output * std[:, None] + mean[:, None]
    else:
        output = output * std + mean
    return {
        "times": list(frame.index),
        "history": raw_history,
        "future_times": list(future_times),
        "forecast": output,
        "targets": targets,
        "quantiles": quantiles,
        # Each target's spread, for the digits that format_forecast prints.
        "scale": [float(value) for value in std],
    }


def _split_future(frame, options, csv_path):
    """Split a covariate model's input into history and its future rows."""
    targets, covariates = options["target"], options["covariates"]
    horizon = options["horizon"]
    # Future rows are the trailing rows without any target value, so that a
    # plain history is never read as future covariates.
    with_target = np.flatnonzero(frame[targets].notna().any(axis=1).to_numpy())
    history_rows = int(with_target[-1]) + 1 if len(with_target) else 0
    future = frame.iloc[history_rows:]
    if len(future) != horizon:
        raise ValueError(
            f"INPUT {csv_path}: a model with covariates {covariates} needs the "
            f"history followed by {horizon} future rows, each with its time, "
            f"empty {targets} cells and the future values of {covariates}; "
            f"received {len(future)} such rows"
        )
    if future[covariates].isna().any().any():
        raise ValueError(
            f"INPUT {csv_path}: expected the last {horizon} rows to hold the "
            f"future values of {covariates}; some are missing"
        )
    return frame.iloc[:history_rows], future


def format_forecast(forecast):
    """Render `forecast_csv`'s result as CSV text, one row per future step."""
    quantiles = forecast["quantiles"]
    header = ["time"]
    for name in forecast["targets"]:
        if quantiles:
            header += [f"{name}_q{q:g}" for q in quantiles]
        else:
            header.append(name)
    per_target = len(quantiles) if quantiles else 1
    decimals = [
        places
        for scale in forecast.get("scale") or [None] * len(forecast["targets"])
        for places in [_decimals(scale)] * per_target
    ]
    lines = [",".join(header)]
    for time, row in zip(forecast["future_times"], forecast["forecast"]):
        cells = np.asarray(row).reshape(-1)
        values = [_format(v, places) for v, places in zip(cells, decimals)]
        lines.append(",".join([str(time)] + values))
    return "\n".join(lines)


def _decimals(scale):
    """Decimal places that resolve a ten-thousandth of a target's spread.

    Significant digits would not: 1e9 + 514 watts printed to six of them is
    ``1e+09`` on every row, a forecast with its variation rounded away.
    """
    if not scale or not np.isfinite(scale):
        return None
    return int(np.clip(4 - np.floor(np.log10(scale)), 0, 15))


def _format(value, places):
    return f"{value:.6g}" if places is None else f"{value:.{places}f}"


def plot_forecast(forecast, path, column=0):
    """Draw one target's history, forecast and interval to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from zoo.models.forecaster.evaluation import median_index, outer_interval

    quantiles = forecast["quantiles"]
    values = np.asarray(forecast["forecast"])[:, column]
    figure, axes = plt.subplots(figsize=(10, 3.5))
    axes.plot(forecast["times"], forecast["history"][:, column], label="history")
    if quantiles:
        lowest, highest = outer_interval(quantiles)
        axes.fill_between(
            forecast["future_times"],
            values[:, lowest],
            values[:, highest],
            alpha=0.3,
            label=f"{quantiles[lowest]:g}-{quantiles[highest]:g} quantile interval",
        )
        values = values[:, median_index(quantiles)]
    axes.plot(forecast["future_times"], values, label="forecast")
    axes.set_title(f"{forecast['targets'][column]}: history and forecast")
    axes.legend(loc="upper left")
    figure.autofmt_xdate()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
