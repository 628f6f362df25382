"""Token embedding plus a learned or sinusoidal position signal."""

import math

import keras
from keras import ops

from zoo.layers.position_embedding import PositionEmbedding, check_sequence_fits
from zoo.layers.quantized_policies import add_quantized_policies
from zoo.layers.sinusoidal_position_encoding import SinusoidalPositionEncoding
from zoo.layers.validation import check_choice, check_positive_int, check_rank

POSITION_ENCODINGS = ("learned", "sinusoidal")


@keras.saving.register_keras_serializable(package="zoo")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Embeds token ids and adds their positions.

    Args:
        vocabulary_size: number of token ids.
        sequence_length: longest input accepted (the learned table's size).
        embedding_dim: size of each embedding vector.
        position_encoding: ``"learned"`` (a ``PositionEmbedding`` table) or
            ``"sinusoidal"`` (the paper's fixed encoding).
        mask_zero: treat id 0 as padding and attach a Keras mask that
            downstream layers (attention, blocks) pick up.
        scale_embedding: multiply token embeddings by ``sqrt(embedding_dim)``
            as in "Attention Is All You Need".
        embeddings_initializer: initializer of the token table.

    Call arguments:
        inputs: (batch, length) integer token ids.
        start_index: position of the first token (the cache index during
            incremental decoding).

    Examples:
        >>> import keras
        >>> from zoo.layers import TokenAndPositionEmbedding
        >>> layer = TokenAndPositionEmbedding(100, 16, 8, mask_zero=True)
        >>> tuple(layer(keras.ops.array([[5, 7, 0]])).shape)
        (1, 3, 8)
    """

    def __init__(
        self,
        vocabulary_size,
        sequence_length,
        embedding_dim,
        position_encoding="learned",
        mask_zero=False,
        scale_embedding=False,
        embeddings_initializer="uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(vocabulary_size, "vocabulary_size")
        check_positive_int(sequence_length, "sequence_length")
        check_positive_int(embedding_dim, "embedding_dim")
        check_choice(position_encoding, "position_encoding", POSITION_ENCODINGS)
        self.vocabulary_size = vocabulary_size
        self.sequence_length = sequence_length
        self.embedding_dim = embedding_dim
        self.position_encoding = position_encoding
        self.mask_zero = mask_zero
        self.scale_embedding = scale_embedding
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.token_embedding = keras.layers.Embedding(
            vocabulary_size,
            embedding_dim,
            embeddings_initializer=self.embeddings_initializer,
            mask_zero=mask_zero,
            # `trainable=False` given here reached no sublayer: none existed.
            trainable=self.trainable,
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        if position_encoding == "learned":
            self.position_embedding = PositionEmbedding(
                sequence_length,
                trainable=self.trainable,
                dtype=self.dtype_policy,
                name="position_embedding",
            )
        else:
            self.position_embedding = SinusoidalPositionEncoding(
                trainable=self.trainable,
                dtype=self.dtype_policy,
                name="position_embedding",
            )
        self.supports_masking = mask_zero

    def build(self, input_shape):
        check_rank(input_shape, 2, "inputs", "(batch, length) of token ids")
        check_sequence_fits(input_shape[1], self.sequence_length)
        self.token_embedding.build(input_shape)
        self.position_embedding.build((*input_shape, self.embedding_dim))
        self.built = True

    def call(self, inputs, start_index=0):
        check_sequence_fits(inputs.shape[1], self.sequence_length, start_index)
        # Quantized, Keras' Embedding returns float32 under a mixed policy,
        # which the position encoding (in the compute dtype) cannot be added to.
        embedded = ops.cast(self.token_embedding(inputs), self.compute_dtype)
        if self.scale_embedding:
            embedded = embedded * ops.cast(
                math.sqrt(self.embedding_dim), embedded.dtype
            )
        return embedded + self.position_embedding(embedded, start_index=start_index)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.embedding_dim)

    @property
    def embeddings(self):
        """The token embedding table, e.g. to tie an output projection to it.

        After ``model.quantize("int8")`` or ``"int4"`` this is the table the
        quantized layer looks tokens up in (its integers times their scales),
        in the compute dtype.
        """
        if self.token_embedding.quantization_mode is None:
            return self.token_embedding.embeddings
        # Keras' quantized `Embedding.embeddings` is the raw integer table
        # (unpacked for int4) without its per-row scales: a projection tied
        # to it would scale every token's logit by its own factor. Looking
        # every row up goes through the layer's own dequantization, whatever
        # the mode and block size.
        ids = ops.arange(self.vocabulary_size, dtype="int32")
        return self.token_embedding(ids)

    def get_config(self):
        config = super().get_config()
        # Quantized sublayers are rebuilt in their policies from a map.
        add_quantized_policies(config, self)
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "sequence_length": self.sequence_length,
                "embedding_dim": self.embedding_dim,
                "position_encoding": self.position_encoding,
                "mask_zero": self.mask_zero,
                "scale_embedding": self.scale_embedding,
                "embeddings_initializer": keras.initializers.serialize(
                    self.embeddings_initializer
                ),
            }
        )
        return config
