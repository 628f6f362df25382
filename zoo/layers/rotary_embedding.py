"""Rotary position embedding (RoFormer)."""

import keras
from keras import ops

from zoo.layers.validation import check_positive_int


@keras.saving.register_keras_serializable(package="zoo")
class RotaryEmbedding(keras.layers.Layer):
    """Rotates feature pairs by an angle proportional to the position (RoFormer).

    Feature ``i`` is paired with feature ``i + d/2`` and the pair is rotated
    by ``position / max_wavelength^(2i/d)``. Rotations keep vector norms, and
    the dot product of a rotated query at position ``m`` with a rotated key at
    position ``n`` depends only on ``m - n``, which is what makes attention
    relative. Maths in float32, cast to the layer's dtype at the end.

    Args:
        max_wavelength: the longest wavelength of the rotation angles.
        scaling_factor: positions are divided by this (position interpolation
            for longer contexts).
        sequence_axis: the axis of the input that holds positions.

    Call arguments:
        inputs: (batch, length, ..., features) with an even number of features.
        start_index: position of the first element along ``sequence_axis``
            (the cache index during incremental decoding).

    Examples:
        >>> import keras
        >>> from zoo.layers import RotaryEmbedding
        >>> q = keras.random.normal((2, 6, 4, 16))  # batch, length, heads, dim
        >>> tuple(RotaryEmbedding()(q).shape)
        (2, 6, 4, 16)
    """

    def __init__(
        self, max_wavelength=10000, scaling_factor=1.0, sequence_axis=1, **kwargs
    ):
        super().__init__(**kwargs)
        check_positive_int(max_wavelength, "max_wavelength")
        if not scaling_factor > 0:
            raise ValueError(
                "`scaling_factor` must be positive; received "
                f"scaling_factor={scaling_factor!r}."
            )
        self.max_wavelength = max_wavelength
        self.scaling_factor = scaling_factor
        self.sequence_axis = sequence_axis
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(
                "`inputs` must have rank 3 or more (batch, length, ..., "
                f"features); received shape {tuple(input_shape)}."
            )
        features = input_shape[-1]
        if features is not None and features % 2:
            raise ValueError(
                "The last dimension of `inputs` must be even for rotary "
                f"embedding; received {features}."
            )
        self.built = True

    def call(self, inputs, start_index=0):
        axis = self.sequence_axis % len(inputs.shape)
        features = inputs.shape[-1]
        length = ops.shape(inputs)[axis]
        positions = ops.cast(ops.arange(length), "float32")
        positions = (positions + ops.cast(start_index, "float32")) / self.scaling_factor
        exponents = ops.arange(0, features, 2, dtype="float32") / features
        inverse_frequencies = 1.0 / ops.power(float(self.max_wavelength), exponents)
        angles = ops.einsum("t,f->tf", positions, inverse_frequencies)
        angles = ops.concatenate([angles, angles], axis=-1)
        # Put the (length, features) angles on the input's axes.
        shape = [1] * len(inputs.shape)
        shape[axis] = length
        shape[-1] = features
        cos = ops.reshape(ops.cos(angles), shape)
        sin = ops.reshape(ops.sin(angles), shape)

        x = ops.cast(inputs, "float32")
        first, second = ops.split(x, 2, axis=-1)
        rotated_half = ops.concatenate([-second, first], axis=-1)
        return ops.cast(x * cos + rotated_half * sin, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "max_wavelength": self.max_wavelength,
                "scaling_factor": self.scaling_factor,
                "sequence_axis": self.sequence_axis,
            }
        )
        return config
