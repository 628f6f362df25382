"""DLinear: the linear baseline of Zeng et al., AAAI 2023."""

import keras
from keras import ops

from zoo.layers.quantized_policies import add_quantized_policies
from zoo.layers.validation import freeze_new_sublayers
from zoo.models.default_export_signature import DefaultExportSignature
from zoo.models.forecaster.naive import past_values
from zoo.models.quantizable_before_call import QuantizableBeforeCall


@keras.saving.register_keras_serializable(package="zoo")
class DLinear(DefaultExportSignature, QuantizableBeforeCall, keras.Model):
    """Trend plus remainder, each mapped linearly from lookback to horizon.

    "Are Transformers Effective for Time Series Forecasting?" showed that this
    one-layer model beats many transformers; the zoo forecaster must beat it.
    A moving average splits each channel's history into trend and remainder;
    one ``Dense`` per part (shared by all channels) maps lookback → horizon.

    Args:
        lookback: history steps.
        horizon: forecast steps.
        num_channels: channels of the history.
        target_indices: channels to output; None for all.
        kernel_size: moving-average window (25 in the paper).
        **kwargs: base ``keras.Model`` arguments.

    Call arguments:
        inputs: (batch, lookback, num_channels), or a dict whose
            ``past_values`` is that (known-future inputs are not used).

    Returns:
        (batch, horizon, targets).

    Examples:
        >>> import numpy as np
        >>> from zoo.models.forecaster import DLinear
        >>> tuple(DLinear(336, 96, 3)(np.zeros((1, 336, 3))).shape)
        (1, 96, 3)
    """

    def __init__(
        self,
        lookback,
        horizon,
        num_channels,
        target_indices=None,
        kernel_size=25,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (
            ("lookback", lookback),
            ("horizon", horizon),
            ("num_channels", num_channels),
            ("kernel_size", kernel_size),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"`{name}` must be a positive integer; received {value!r}"
                )
        self.lookback = lookback
        self.horizon = horizon
        self.num_channels = num_channels
        self.target_indices = (
            None if target_indices is None else [int(i) for i in target_indices]
        )
        self.kernel_size = kernel_size
        self.seasonal = keras.layers.Dense(
            horizon, dtype=self.dtype_policy, name="seasonal"
        )
        self.trend = keras.layers.Dense(horizon, dtype=self.dtype_policy, name="trend")

    def build(self, input_shape=None):
        self.seasonal.build((None, self.lookback))
        self.trend.build((None, self.lookback))
        self.built = True
        # A frozen model's sublayers exist only now: a parent model (a user's
        # functional wrapper) would train them (see freeze_new_sublayers).
        freeze_new_sublayers(self)

    def call(self, inputs):
        x = ops.cast(past_values(inputs), self.compute_dtype)
        # Edge-replicated padding keeps the moving average's length and avoids
        # pulling the trend towards zero at both ends.
        front = ops.repeat(x[:, :1, :], (self.kernel_size - 1) // 2, axis=1)
        back = ops.repeat(x[:, -1:, :], self.kernel_size // 2, axis=1)
        padded = ops.concatenate([front, x, back], axis=1)
        total = ops.cumsum(padded, axis=1)
        total = ops.pad(total, ((0, 0), (1, 0), (0, 0)))
        trend = (total[:, self.kernel_size :] - total[:, : -self.kernel_size]) / (
            self.kernel_size
        )
        remainder = x - trend
        out = self.seasonal(ops.transpose(remainder, (0, 2, 1))) + self.trend(
            ops.transpose(trend, (0, 2, 1))
        )
        out = ops.cast(ops.transpose(out, (0, 2, 1)), "float32")
        if self.target_indices is not None:
            out = ops.take(out, self.target_indices, axis=2)
        return out

    def default_input_signature(self):
        """Float32 windows of any batch (built without recorded input shapes)."""
        return [
            keras.InputSpec(
                shape=(None, self.lookback, self.num_channels), dtype="float32"
            )
        ]

    def get_config(self):
        config = super().get_config()
        # Quantized sublayers are rebuilt in their policies from a map.
        add_quantized_policies(config, self)
        config.update(
            {
                "lookback": self.lookback,
                "horizon": self.horizon,
                "num_channels": self.num_channels,
                "target_indices": self.target_indices,
                "kernel_size": self.kernel_size,
            }
        )
        return config
