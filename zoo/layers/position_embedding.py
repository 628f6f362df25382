"""Learned position embedding."""

import keras
from keras import ops

from zoo.layers.validation import check_positive_int, known_size


@keras.saving.register_keras_serializable(package="zoo")
class PositionEmbedding(keras.layers.Layer):
    """A learned embedding per position, up to ``sequence_length`` positions.

    Args:
        sequence_length: the number of positions in the table (the longest
            input it accepts).
        initializer: initializer of the table.

    Call arguments:
        inputs: (batch, length, features); only the shape is used.
        start_index: position of the first element (the cache index during
            incremental decoding).

    Returns:
        The position embeddings, with the shape of ``inputs``.

    Examples:
        >>> import keras
        >>> from zoo.layers import PositionEmbedding
        >>> x = keras.random.normal((2, 10, 16))
        >>> tuple((x + PositionEmbedding(sequence_length=32)(x)).shape)
        (2, 10, 16)
    """

    def __init__(self, sequence_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        check_positive_int(sequence_length, "sequence_length")
        self.sequence_length = sequence_length
        self.initializer = keras.initializers.get(initializer)
        self.supports_masking = True

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(
                "`inputs` must have rank 3 (batch, length, features); "
                f"received shape {tuple(input_shape)}."
            )
        check_sequence_fits(input_shape[1], self.sequence_length)
        self.position_embeddings = self.add_weight(
            name="embeddings",
            shape=(self.sequence_length, input_shape[-1]),
            initializer=self.initializer,
        )
        self.built = True

    def call(self, inputs, start_index=0):
        check_sequence_fits(inputs.shape[1], self.sequence_length, start_index)
        length = ops.shape(inputs)[1]
        table = ops.convert_to_tensor(self.position_embeddings)
        positions = ops.slice(table, (start_index, 0), (length, table.shape[-1]))
        return ops.broadcast_to(positions[None], ops.shape(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "sequence_length": self.sequence_length,
                "initializer": keras.initializers.serialize(self.initializer),
            }
        )
        return config


def check_sequence_fits(length, sequence_length, start_index=0):
    """Raise ``ValueError`` if positions ``start_index ... + length`` leave the table.

    Only a statically known ``length`` and a Python int ``start_index`` are
    checked: a traced index (the decoding loop's) cannot be. Past the end,
    some backends would silently read the last rows instead.
    """
    if not isinstance(start_index, int):
        start_index = 0
    if start_index < 0:
        raise ValueError(
            f"`start_index` must be at least 0; received start_index={start_index}."
        )
    length = known_size(length)
    if length is not None and start_index + length > sequence_length:
        where = f" from start_index={start_index}" if start_index else ""
        raise ValueError(
            "The input sequence is longer than the position table: expected "
            f"at most sequence_length={sequence_length} positions, received "
            f"{length}{where}."
        )
