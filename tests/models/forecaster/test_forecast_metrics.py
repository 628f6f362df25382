"""`forecast_metrics` against numpy on real seattle_weather test windows.

The windows come from `prepare_series` (the `zoo evaluate` path); the
reference numbers are recomputed here from the raw frame, scaled with the
training rows' mean and standard deviation (the documented scaled units).
"""

import numpy as np
import pytest

from zoo.models.forecaster import naive
from zoo.models.forecaster.evaluation import collect, forecast_metrics
from zoo.models.forecaster.family import prepare_series


@pytest.fixture(scope="module")
def weather_windows(seattle_frame):
    """(predictions, targets, names, scaled frame values, bounds) of naive."""
    prepared, data, state = prepare_series("seattle_weather", 64)
    names = state["options"]["target"]
    lookback, horizon = state["options"]["lookback"], state["options"]["horizon"]
    predictions, targets = collect(naive(lookback, horizon), prepared.test)
    values = seattle_frame[names].to_numpy(np.float64)
    train = values[: data.bounds[0]]
    scaled = (values - train.mean(axis=0)) / train.std(axis=0)
    return predictions, targets, names, scaled, data.bounds, horizon


def test_naive_metrics_match_numpy_on_scaled_units(weather_windows):
    predictions, targets, names, scaled, bounds, horizon = weather_windows
    # Every test window: history ends before step t, forecast t .. t+horizon.
    starts = range(bounds[1], len(scaled) - horizon + 1)
    expected_targets = np.stack([scaled[t : t + horizon] for t in starts])
    expected_point = np.stack(
        [np.repeat(scaled[t - 1 : t], horizon, 0) for t in starts]
    )
    np.testing.assert_allclose(targets, expected_targets, atol=1e-5)
    error = expected_point - expected_targets
    metrics = forecast_metrics(predictions, targets, names)
    assert metrics["mse"] == pytest.approx(np.mean(error**2), rel=1e-5)
    assert metrics["mae"] == pytest.approx(np.mean(np.abs(error)), rel=1e-5)
    for index, name in enumerate(names):
        column = error[..., index]
        assert metrics[f"mse_{name}"] == pytest.approx(np.mean(column**2), rel=1e-5)
        assert metrics[f"mae_{name}"] == pytest.approx(
            np.mean(np.abs(column)), rel=1e-5
        )


def _quantile_forecast(predictions, targets):
    """Naive forecast +- the training-free residual spread, levels 0.1/0.5/0.9."""
    spread = np.quantile(np.abs(predictions - targets), 0.8)
    return {0.1: predictions - spread, 0.5: predictions, 0.9: predictions + spread}


def test_quantile_metrics_do_not_depend_on_the_order_of_levels(weather_windows):
    predictions, targets, names = weather_windows[:3]
    by_level = _quantile_forecast(predictions, targets)
    inside = (targets >= by_level[0.1]) & (targets <= by_level[0.9])
    for order in ([0.1, 0.5, 0.9], [0.9, 0.5, 0.1], [0.5, 0.9, 0.1]):
        stacked = np.stack([by_level[q] for q in order], axis=-1)
        metrics = forecast_metrics(stacked, targets, names, quantiles=order)
        assert metrics["coverage"] == pytest.approx(float(np.mean(inside))), order
        assert metrics["interval"] == "0.1-0.9", order
        assert metrics["mse"] == pytest.approx(np.mean((predictions - targets) ** 2))
    assert 0.5 < np.mean(inside) < 1.0  # a real, non-trivial interval


def test_shapes_that_do_not_match_raise(weather_windows):
    predictions, targets, names = weather_windows[:3]
    with pytest.raises(ValueError, match="target_names"):
        forecast_metrics(predictions, targets, names[:-1])
    quantile_output = np.stack([predictions] * 3, axis=-1)
    with pytest.raises(ValueError, match="predictions"):
        forecast_metrics(quantile_output, targets, names)


def test_the_plotted_interval_runs_from_the_lowest_to_the_highest_level(
    weather_windows, seattle_frame, tmp_path, monkeypatch
):
    import matplotlib.axes

    from zoo.models.forecaster.prediction import plot_forecast

    predictions, targets = weather_windows[:2]
    by_level = _quantile_forecast(predictions[0], targets[0])
    order = [0.9, 0.5, 0.1]
    horizon = len(targets[0])
    drawn = {}

    def fill_between(self, x, low, high, **kwargs):
        drawn.update(low=np.asarray(low), high=np.asarray(high), label=kwargs["label"])

    monkeypatch.setattr(matplotlib.axes.Axes, "fill_between", fill_between)
    dates = seattle_frame["date"]
    forecast = {
        "times": dates.iloc[-2 * horizon : -horizon],
        "history": targets[1],
        "future_times": dates.iloc[-horizon:],
        "forecast": np.stack([by_level[q] for q in order], axis=-1),
        "targets": ["temp_max"],
        "quantiles": order,
    }
    plot_forecast(forecast, tmp_path / "plot.png")
    np.testing.assert_array_equal(drawn["low"], by_level[0.1][:, 0])
    np.testing.assert_array_equal(drawn["high"], by_level[0.9][:, 0])
    assert drawn["label"] == "0.1-0.9 quantile interval"
