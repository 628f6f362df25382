"""Reversible instance normalization (RevIN, Kim et al., ICLR 2022)."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="zoo")
class ReversibleInstanceNorm(keras.layers.Layer):
    """Normalizes each series window by its own mean and scale, reversibly.

    Distribution shift between training and test windows is the main failure
    of deep forecasters on non-stationary series; removing each window's level
    and scale before the network and restoring them after it undoes most of
    it. Statistics run in float32 under mixed precision.

    Args:
        num_channels: channels of the series (for the affine weights).
        affine: learn a per-channel scale and shift after normalizing.
        epsilon: added to the variance.
        **kwargs: base layer arguments.

    Call arguments (`normalize`):
        inputs: (batch, steps, channels).

    Returns of `normalize`: ``(normalized, mean, std)``; pass ``mean`` and
    ``std`` to `denormalize`, which accepts (batch, steps, channels[, q]).

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> from zoo.models.forecaster import ReversibleInstanceNorm
        >>> revin = ReversibleInstanceNorm(3)
        >>> x = np.random.default_rng(0).normal(5.0, 2.0, (2, 48, 3)).astype("float32")
        >>> y, mean, std = revin.normalize(x)
        >>> x_again = revin.denormalize(y, mean, std)
        >>> bool(np.allclose(keras.ops.convert_to_numpy(x_again), x, atol=1e-4))
        True
    """

    def __init__(self, num_channels, affine=True, epsilon=1e-5, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(num_channels, int) or num_channels < 1:
            raise ValueError(
                f"`num_channels` must be a positive integer; received {num_channels!r}"
            )
        self.num_channels = num_channels
        self.affine = affine
        self.epsilon = epsilon

    def build(self, input_shape=None):
        if self.affine:
            self.gamma = self.add_weight(
                name="gamma", shape=(self.num_channels,), initializer="ones"
            )
            self.beta = self.add_weight(
                name="beta", shape=(self.num_channels,), initializer="zeros"
            )
        self.built = True

    def normalize(self, inputs):
        """Return ``(normalized, mean, std)`` over the steps axis."""
        if not self.built:
            self.build(inputs.shape)
        x = ops.cast(inputs, "float32")
        mean = ops.stop_gradient(ops.mean(x, axis=1, keepdims=True))
        std = ops.stop_gradient(
            ops.sqrt(ops.var(x, axis=1, keepdims=True) + self.epsilon)
        )
        y = (x - mean) / std
        if self.affine:
            y = y * ops.cast(self.gamma, "float32") + ops.cast(self.beta, "float32")
        return ops.cast(y, self.compute_dtype), mean, std

    def denormalize(self, inputs, mean, std):
        """Undo `normalize` with its ``mean`` and ``std``."""
        y = ops.cast(inputs, "float32")
        extra = len(y.shape) - 3
        gamma_beta_shape = (self.num_channels,) + (1,) * extra
        if self.affine:
            gamma = ops.reshape(ops.cast(self.gamma, "float32"), gamma_beta_shape)
            beta = ops.reshape(ops.cast(self.beta, "float32"), gamma_beta_shape)
            y = (y - beta) / (gamma + self.epsilon * self.epsilon)
        for _ in range(extra):
            mean, std = mean[..., None], std[..., None]
        return y * std + mean

    def call(self, inputs):
        return self.normalize(inputs)[0]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_channels": self.num_channels,
                "affine": self.affine,
                "epsilon": self.epsilon,
            }
        )
        return config
