"""Stochastic depth: drop a whole residual branch per example."""

import keras
from keras import ops

from zoo.layers.dropout import random_uniform
from zoo.layers.validation import check_rate


@keras.saving.register_keras_serializable(package="zoo")
class DropPath(keras.layers.Layer):
    """Zeroes the whole input of some examples in training (stochastic depth).

    Applied to a residual branch, each example skips the branch with
    probability ``rate``; kept branches are scaled by ``1 / (1 - rate)`` so the
    expected output is unchanged ("Deep Networks with Stochastic Depth").

    Args:
        rate: probability of dropping the branch of an example.
        seed: seed of the random draw.

    Call arguments:
        inputs: (batch, ...) the residual branch.
        training: drop only in training.

    Examples:
        >>> import keras
        >>> from zoo.layers import DropPath
        >>> tuple(DropPath(0.1)(keras.ops.ones((4, 3, 8)), training=True).shape)
        (4, 3, 8)
    """

    def __init__(self, rate=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        check_rate(rate, "rate")
        self.rate = rate
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        keep = 1.0 - self.rate
        noise_shape = (ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        # Drawn as Dropout draws: a different draw on each tf.distribute replica.
        draw = random_uniform(noise_shape, self.seed_generator)
        kept = ops.cast(draw < keep, inputs.dtype)
        return inputs * kept / ops.cast(keep, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
