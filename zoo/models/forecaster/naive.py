"""Naive baselines: repeat the last value, or the last season."""

import keras
import numpy as np
from keras import ops


def detect_period(values, max_period=None):
    """Return the lag (at least 2) with the highest autocorrelation.

    Args:
        values: array (steps,) or (steps, channels); channels are averaged.
        max_period: the longest lag tried; default a third of the steps.

    Returns:
        The detected period as an int.

    Examples:
        >>> import numpy as np
        >>> from zoo.models.forecaster import detect_period
        >>> detect_period(np.sin(np.arange(240) * 2 * np.pi / 24))
        24
    """
    values = np.asarray(values, np.float64)
    if values.ndim == 1:
        values = values[:, None]
    values = values - values.mean(axis=0)
    steps = len(values)
    max_period = min(max_period or steps // 3, steps - 1)
    if max_period < 2:
        raise ValueError(
            f"values: expected at least 3 steps to detect a period; received {steps}"
        )
    # Mean products over the overlap (not sums) so that long lags are not
    # penalized for their shorter overlap; lags up to 4 periods are scored so
    # that the multiples of a candidate can vote for it.
    variance = (values**2).mean(axis=0) + 1e-12
    longest = min(steps - 2, 4 * max_period)
    acf = np.array(
        [
            ((values[lag:] * values[:-lag]).mean(axis=0) / variance).mean()
            for lag in range(1, longest + 1)
        ]
    )
    peaks = [
        lag
        for lag in range(2, max_period)
        if acf[lag - 1] > acf[lag - 2] and acf[lag - 1] >= acf[lag]
    ]
    if not peaks:
        return int(np.argmax(acf[1:max_period])) + 2
    # A true season's multiples correlate too; a neighbouring lag's drift away
    # (47 vs 48 steps in half-hourly data).
    candidates = {
        lag + shift
        for lag in peaks
        for shift in (-1, 0, 1)
        if 2 <= lag + shift <= max_period
    }
    scores = {
        lag: np.mean([acf[m * lag - 1] for m in range(1, 5) if m * lag <= longest])
        for lag in sorted(candidates)
    }
    best = max(scores.values())
    # The shortest season that explains nearly as much as the best one: a
    # daily cycle rather than the weekly one that contains it.
    good = [lag for lag, score in scores.items() if score >= 0.9 * best]
    first = good[0]
    return max((lag for lag in good if lag <= first + 1), key=scores.get)


def past_values(inputs):
    """The history in ``inputs``: the tensor itself, or a dict's ``past_values``.

    A series with known-future inputs comes as ``{"past_values",
    "future_covariates"}``; the baselines read the history alone, so they
    evaluate on the same batches as the forecaster.
    """
    if isinstance(inputs, dict):
        if "past_values" not in inputs:
            raise ValueError(
                "inputs: expected a tensor or a dict with 'past_values'; "
                f"received a dict with keys {sorted(inputs)}"
            )
        return inputs["past_values"]
    return inputs


@keras.saving.register_keras_serializable(package="zoo")
class SeasonalNaive(keras.Model):
    """Forecast each step as the value one period earlier.

    With ``period=1`` this is the naive forecast (the last value repeated).

    Args:
        lookback: history steps (at least ``period``).
        horizon: forecast steps.
        period: season length in steps (1 for naive); see `detect_period`.
        target_indices: channels to output; None for all.
        **kwargs: base ``keras.Model`` arguments.

    Call arguments:
        inputs: (batch, lookback, channels), or a dict whose
            ``past_values`` is that (known-future inputs are not used).

    Returns:
        (batch, horizon, targets).

    Examples:
        >>> import numpy as np
        >>> from zoo.models.forecaster import SeasonalNaive
        >>> tuple(SeasonalNaive(336, 96, period=48)(np.zeros((1, 336, 3))).shape)
        (1, 96, 3)
    """

    def __init__(self, lookback, horizon, period=1, target_indices=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(period, int) or not 1 <= period <= lookback:
            raise ValueError(
                f"`period` must be an integer from 1 to lookback={lookback}; "
                f"received {period!r}"
            )
        self.lookback = lookback
        self.horizon = horizon
        self.period = period
        self.target_indices = (
            None if target_indices is None else [int(i) for i in target_indices]
        )
        self._positions = [
            lookback - period + (step % period) for step in range(horizon)
        ]

    def build(self, input_shape=None):
        self.built = True

    def call(self, inputs):
        inputs = past_values(inputs)
        out = ops.take(ops.cast(inputs, "float32"), self._positions, axis=1)
        if self.target_indices is not None:
            out = ops.take(out, self.target_indices, axis=2)
        return out

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "lookback": self.lookback,
                "horizon": self.horizon,
                "period": self.period,
                "target_indices": self.target_indices,
            }
        )
        return config


def naive(lookback, horizon, target_indices=None):
    """The naive forecast: `SeasonalNaive` with period 1.

    Args:
        lookback: history steps per window.
        horizon: steps to forecast.
        target_indices: channels to output; None for all.
    """
    return SeasonalNaive(lookback, horizon, 1, target_indices, name="naive")
