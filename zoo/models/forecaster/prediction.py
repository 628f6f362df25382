"""Forecasts from a history ``.csv``: the numbers, a table and a plot."""

import numpy as np
from keras import ops


def forecast_csv(model, state, csv_path):
    """Forecast what follows the history in ``csv_path``, in original units.

    Args:
        model: a trained forecaster.
        state: the run's ``series.json`` content.
        csv_path: a ``.csv`` with the time column and the target columns and
            at least ``lookback`` rows; the last ``lookback`` are used. For a
            model with known-future covariates the file ends with
            ``horizon`` more rows that hold the covariates' future values
            (their target cells may be empty).

    Returns:
        A dict with ``times`` and ``history`` (lookback, targets),
        ``future_times``, ``forecast`` (horizon, targets[, quantiles]),
        ``targets`` and ``quantiles``.

    Raises:
        ValueError: if the file is too short, lacks a column, or has gaps.
    """
    import pandas as pd

    from zoo.data import series

    options = state["options"]
    lookback, horizon = options["lookback"], options["horizon"]
    targets, covariates = options["target"], options["covariates"]
    frame = series.read_frame(csv_path, options["time"])
    series.select_columns(frame, targets, covariates)
    future = None
    if covariates:
        if len(frame) < lookback + horizon:
            raise ValueError(
                f"INPUT: expected {lookback} history rows and then {horizon} rows "
                f"of future {covariates}; received {len(frame)} rows"
            )
        frame, future = frame.iloc[:-horizon], frame.iloc[-horizon:]
        if future[covariates].isna().any().any():
            raise ValueError(
                f"INPUT: expected the last {horizon} rows to hold the future "
                f"values of {covariates}; some are missing"
            )
    frame, _ = series.regularize(frame, targets + covariates)
    if len(frame) < lookback:
        raise ValueError(
            f"INPUT: expected at least lookback = {lookback} rows of history; "
            f"received {len(frame)} in {csv_path}"
        )
    frame = frame.iloc[-lookback:]
    scaler = series.StandardScaler.from_dict(state["scaler"])
    step = frame.index[-1] - frame.index[-2]
    future_times = pd.DatetimeIndex(
        [frame.index[-1] + step * (i + 1) for i in range(horizon)]
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
    }


def format_forecast(forecast):
    """Render `forecast_csv`'s result as CSV text, one row per future step."""
    quantiles = forecast["quantiles"]
    header = ["time"]
    for name in forecast["targets"]:
        if quantiles:
            header += [f"{name}_q{q:g}" for q in quantiles]
        else:
            header.append(name)
    lines = [",".join(header)]
    for time, row in zip(forecast["future_times"], forecast["forecast"]):
        cells = np.asarray(row).reshape(-1)
        lines.append(",".join([str(time)] + [f"{v:.6g}" for v in cells]))
    return "\n".join(lines)


def plot_forecast(forecast, path, column=0):
    """Draw one target's history, forecast and interval to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from zoo.models.forecaster.evaluation import median_index

    quantiles = forecast["quantiles"]
    values = np.asarray(forecast["forecast"])[:, column]
    figure, axes = plt.subplots(figsize=(10, 3.5))
    axes.plot(forecast["times"], forecast["history"][:, column], label="history")
    if quantiles:
        axes.fill_between(
            forecast["future_times"],
            values[:, 0],
            values[:, -1],
            alpha=0.3,
            label=f"{quantiles[0]:g}-{quantiles[-1]:g} quantile interval",
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
