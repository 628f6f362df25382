"""Transformer encoder block: self-attention and feed-forward."""

import keras

from zoo.layers.call_arguments import call_arguments
from zoo.layers.masking import check_attention_mask, check_padding_mask, implicit_mask
from zoo.layers.transformer_block_base import TransformerBlockBase
from zoo.layers.validation import freeze_new_sublayers


@keras.saving.register_keras_serializable(package="zoo")
class TransformerEncoderBlock(TransformerBlockBase):
    """One encoder layer of "Attention Is All You Need".

    Multi-head self-attention, then a position-wise feed-forward network
    (``intermediate_dim`` units with ``activation``, back to the hidden size),
    each inside a residual connection with dropout and layer normalization.
    With the defaults (post-norm, ReLU, epsilon 1e-5) its outputs equal
    ``keras_hub.layers.TransformerEncoder`` given the same weights.

    Args:
        num_heads: attention heads; must divide the hidden size.
        intermediate_dim: units of the feed-forward hidden layer.
        dropout: dropout on each residual branch.
        attention_dropout: dropout on the attention probabilities.
        activation: feed-forward activation, e.g. ``"relu"`` or ``"gelu"``.
        layer_norm_epsilon: epsilon of the layer normalizations.
        normalize_first: pre-norm (``True``) or post-norm (``False``).
        drop_path_rate: stochastic depth rate of each residual branch.
        use_rotary_embedding: rotary position embedding inside attention.
        kernel_initializer: initializer of every kernel.
        bias_initializer: initializer of every bias.

    Call arguments:
        inputs: (batch, length, hidden).
        padding_mask: (batch, length) boolean, ``True`` for real tokens;
            defaults to the implicit Keras mask of ``inputs``.
        attention_mask: (batch, length, length) boolean.
        return_attention_scores: also return (batch, heads, length, length)
            attention probabilities.
        training: whether dropout is active.

    Examples:
        >>> import keras
        >>> from zoo.layers import TransformerEncoderBlock
        >>> block = TransformerEncoderBlock(num_heads=2, intermediate_dim=32)
        >>> tuple(block(keras.random.normal((2, 5, 8))).shape)
        (2, 5, 8)
    """

    def build(self, inputs_shape):
        self._check_hidden(inputs_shape, "inputs")
        self.self_attention = self._attention(
            "self_attention",
            inputs_shape,
            inputs_shape,
            rotary=self.use_rotary_embedding,
        )
        self.self_attention_norm = self._norm("self_attention_norm", inputs_shape)
        self._build_feedforward(inputs_shape)
        self._build_residual_tools(inputs_shape)
        freeze_new_sublayers(self)
        self.built = True

    def call(
        self,
        inputs,
        padding_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
    ):
        self._check_call_arguments(inputs, padding_mask, attention_mask)
        if padding_mask is None:
            padding_mask = implicit_mask(inputs)

        def attention(x):
            out = self.self_attention(
                x,
                x,
                value_mask=padding_mask,
                attention_mask=attention_mask,
                return_attention_scores=return_attention_scores,
                training=training,
            )
            return out if return_attention_scores else (out,)

        x, *scores = self._residual(
            inputs, self.self_attention_norm, attention, training
        )
        x = self._feedforward(x, training)
        return (x, scores[0]) if return_attention_scores else x

    def _check_call_arguments(self, inputs, padding_mask, attention_mask):
        self._check_features(inputs, "inputs")
        check_padding_mask(padding_mask, inputs, inputs.shape[1], "padding_mask")
        check_attention_mask(attention_mask, inputs, inputs.shape[1], "attention_mask")

    def compute_output_spec(self, *args, **kwargs):
        # As `MultiHeadAttention.compute_output_spec`: the scores too.
        given = call_arguments(TransformerEncoderBlock.call, self, *args, **kwargs)
        inputs = given["inputs"]
        self._check_call_arguments(
            inputs, given["padding_mask"], given["attention_mask"]
        )
        output = keras.KerasTensor(inputs.shape, dtype=self.compute_dtype)
        if not given["return_attention_scores"]:
            return output
        _, scores, _ = self.self_attention.output_specs(inputs, inputs, True)
        return output, scores
