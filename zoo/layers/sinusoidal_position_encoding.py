"""Fixed sine/cosine position encoding of "Attention Is All You Need"."""

import keras
from keras import ops

from zoo.layers.validation import check_positive_int


@keras.saving.register_keras_serializable(package="zoo")
class SinusoidalPositionEncoding(keras.layers.Layer):
    """The paper's sine/cosine position encoding, to be added to embeddings.

    ``PE(pos, 2i) = sin(pos / max_wavelength^(2i/d))`` and
    ``PE(pos, 2i+1) = cos(pos / max_wavelength^(2i/d))``. It has no weights and
    no length limit. Maths in float32, cast to the layer's dtype at the end.

    Args:
        max_wavelength: the base of the geometric progression of wavelengths
            (10,000 in the paper).

    Call arguments:
        inputs: (batch, length, features); only the shape is used.
        start_index: position of the first element (the cache index during
            incremental decoding).

    Returns:
        The encoding, with the shape of ``inputs``.

    Examples:
        >>> import keras
        >>> from zoo.layers import SinusoidalPositionEncoding
        >>> x = keras.random.normal((2, 10, 16))
        >>> tuple((x + SinusoidalPositionEncoding()(x)).shape)
        (2, 10, 16)
    """

    def __init__(self, max_wavelength=10000, **kwargs):
        super().__init__(**kwargs)
        check_positive_int(max_wavelength, "max_wavelength")
        self.max_wavelength = max_wavelength
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                "`inputs` must have rank 3 (batch, length, features); "
                f"received shape {tuple(input_shape)}."
            )
        self.built = True

    def call(self, inputs, start_index=0):
        length = ops.shape(inputs)[1]
        features = inputs.shape[-1]
        positions = ops.cast(ops.arange(length), "float32")
        positions = positions + ops.cast(start_index, "float32")
        feature_index = ops.arange(features, dtype="float32")
        # Feature k uses frequency i = k // 2: even k gets sin, odd k gets cos.
        pair_index = ops.floor(feature_index / 2.0)
        inverse_wavelengths = ops.power(
            float(self.max_wavelength), -2.0 * pair_index / features
        )
        angles = ops.einsum("t,f->tf", positions, inverse_wavelengths)
        is_even = ops.equal(ops.mod(feature_index, 2.0), 0.0)
        encoding = ops.where(is_even, ops.sin(angles), ops.cos(angles))
        encoding = ops.broadcast_to(encoding[None], ops.shape(inputs))
        return ops.cast(encoding, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"max_wavelength": self.max_wavelength})
        return config
