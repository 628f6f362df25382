"""The pinball (quantile) loss for probabilistic forecasts."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class PinballLoss(keras.losses.Loss):
    """Mean pinball loss over quantiles.

    Minimizing it makes output ``q`` the ``quantiles[q]`` quantile of the
    target, which gives prediction intervals without assuming a distribution.

    Args:
        quantiles: the quantile levels in (0, 1), e.g. ``[0.1, 0.5, 0.9]``.
        name: loss name.
        reduction: Keras reduction.

    Call arguments:
        y_true: (batch, horizon, targets).
        y_pred: (batch, horizon, targets, len(quantiles)).

    Examples:
        >>> from zoo.models.forecaster import PinballLoss
        >>> loss = PinballLoss([0.1, 0.5, 0.9])
    """

    def __init__(self, quantiles, name="pinball_loss", reduction="sum_over_batch_size"):
        super().__init__(name=name, reduction=reduction)
        quantiles = [float(q) for q in quantiles]
        if not quantiles or any(not 0 < q < 1 for q in quantiles):
            raise ValueError(
                f"`quantiles` must be levels in (0, 1); received {quantiles!r}"
            )
        self.quantiles = quantiles

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "float32")[..., None]
        y_pred = ops.cast(y_pred, "float32")
        levels = ops.convert_to_tensor(self.quantiles, "float32")
        error = y_true - y_pred
        loss = ops.maximum(levels * error, (levels - 1.0) * error)
        return ops.mean(loss, axis=(-1, -2))

    def get_config(self):
        return {
            "quantiles": self.quantiles,
            "name": self.name,
            "reduction": self.reduction,
        }
