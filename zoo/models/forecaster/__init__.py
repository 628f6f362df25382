"""Time-series forecasting: the PatchTST-style transformer and its baselines."""

from zoo.models.forecaster.dlinear import DLinear
from zoo.models.forecaster.naive import SeasonalNaive, detect_period, naive
from zoo.models.forecaster.pinball_loss import PinballLoss
from zoo.models.forecaster.presets import PRESETS
from zoo.models.forecaster.reversible_instance_norm import ReversibleInstanceNorm
from zoo.models.forecaster.time_series_forecaster import TimeSeriesForecaster

__all__ = [
    "DLinear",
    "PRESETS",
    "PinballLoss",
    "ReversibleInstanceNorm",
    "SeasonalNaive",
    "TimeSeriesForecaster",
    "detect_period",
    "naive",
]
