"""Locality Self-Attention ("Vision Transformer for Small-Size Datasets")."""

import keras
from keras import ops

from zoo.layers import MultiHeadAttention, TransformerEncoderBlock


@keras.saving.register_keras_serializable(package="zoo")
class LocalitySelfAttention(MultiHeadAttention):
    """Multi-head attention with a learned softmax temperature.

    The logits ``q·k / sqrt(d)`` are multiplied by ``exp(t)``, with one learned
    scalar ``t`` starting at 0 (the usual scale). Lee et al. (2021) learn the
    temperature so that attention can sharpen on small datasets; together with
    a diagonal mask (each token cannot attend to itself, see
    `diagonal_attention_mask`) this is Locality Self-Attention. Arguments are
    those of `zoo.layers.MultiHeadAttention`.

    Examples:
        >>> import keras
        >>> from zoo.models.vit import LocalitySelfAttention
        >>> layer = LocalitySelfAttention(num_heads=2)
        >>> tuple(layer(keras.random.normal((2, 5, 8))).shape)
        (2, 5, 8)
    """

    def build(self, query_shape, value_shape=None, key_shape=None):
        super().build(query_shape, value_shape, key_shape)
        self.log_temperature = self.add_weight(
            name="log_temperature", shape=(), initializer="zeros"
        )

    def _attend(self, q, k, v, mask, return_scores, training):
        # Scaling the queries scales every logit: the same as dividing by a
        # temperature, and it keeps the parent's fused attention path.
        factor = ops.cast(ops.exp(self.log_temperature), q.dtype)
        return super()._attend(q * factor, k, v, mask, return_scores, training)


@keras.saving.register_keras_serializable(package="zoo")
class LocalityEncoderBlock(TransformerEncoderBlock):
    """A `zoo.layers.TransformerEncoderBlock` whose attention is `LocalitySelfAttention`.

    Without an explicit ``attention_mask`` each token is masked from attending
    to itself (`diagonal_attention_mask`). Arguments are those of the encoder
    block.

    Examples:
        >>> import keras
        >>> from zoo.models.vit import LocalityEncoderBlock
        >>> block = LocalityEncoderBlock(num_heads=2, intermediate_dim=16)
        >>> tuple(block(keras.random.normal((2, 5, 8))).shape)
        (2, 5, 8)
    """

    def _attention(self, name, query_shape, value_shape, rotary=False):
        layer = LocalitySelfAttention(
            num_heads=self.num_heads,
            dropout=self.attention_dropout,
            use_rotary_embedding=rotary,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
            name=name,
        )
        layer.build(query_shape, value_shape)
        return layer

    def call(self, inputs, padding_mask=None, attention_mask=None, **kwargs):
        if attention_mask is None:
            attention_mask = diagonal_attention_mask(inputs, inputs.shape[1])
        return super().call(
            inputs, padding_mask=padding_mask, attention_mask=attention_mask, **kwargs
        )


def diagonal_attention_mask(batch_like, length):
    """A (batch, length, length) boolean mask that is False on the diagonal.

    Args:
        batch_like: a tensor whose first axis gives the batch size.
        length: the number of tokens.
    """
    mask = ops.logical_not(ops.eye(length, dtype="bool"))
    return ops.broadcast_to(mask[None], (ops.shape(batch_like)[0], length, length))
