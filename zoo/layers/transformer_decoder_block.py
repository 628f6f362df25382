"""Transformer decoder block: causal self-attention, cross-attention, feed-forward."""

import keras

from zoo.layers.cache_index import python_cache_index
from zoo.layers.call_arguments import call_arguments
from zoo.layers.masking import check_attention_mask, check_padding_mask, implicit_mask
from zoo.layers.transformer_block_base import TransformerBlockBase
from zoo.layers.validation import freeze_new_sublayers


@keras.saving.register_keras_serializable(package="zoo")
class TransformerDecoderBlock(TransformerBlockBase):
    """One decoder layer of "Attention Is All You Need".

    Masked (causal) self-attention, then encoder-decoder cross-attention when
    the block is built with an ``encoder_sequence``, then a position-wise
    feed-forward network; each inside a residual connection with dropout and
    layer normalization. Without an encoder sequence it is a decoder-only
    (GPT-style) block. With the defaults its outputs equal
    ``keras_hub.layers.TransformerDecoder`` given the same weights.

    Incremental decoding passes the key/value caches as tensors in and out:
    ``self_attention_cache`` of shape (batch, 2, max_length, heads, head_dim)
    is updated at ``self_attention_cache_update_index``, and
    ``cross_attention_cache`` (from ``cross_attention.compute_cache``) holds
    the projected encoder keys and values, computed once per input.

    Args: see ``TransformerEncoderBlock``; the same options apply.

    Call arguments:
        decoder_sequence: (batch, target, hidden).
        encoder_sequence: (batch, source, hidden), or ``None`` for a
            decoder-only block or when ``cross_attention_cache`` is given.
        decoder_padding_mask: (batch, target) boolean; defaults to the implicit
            Keras mask of ``decoder_sequence``. Ignored with a cache, where
            ``decoder_attention_mask`` spans (batch, target, max_length).
        decoder_attention_mask: boolean mask over self-attention.
        encoder_padding_mask: (batch, source) boolean; defaults to the implicit
            Keras mask of ``encoder_sequence``.
        encoder_attention_mask: (batch, target, source) boolean.
        use_causal_mask: mask future positions in self-attention.
        self_attention_cache: the self-attention key/value cache.
        self_attention_cache_update_index: position of this call's first token.
        cross_attention_cache: precomputed encoder keys and values.
        return_attention_scores: also return a dict with the
            ``"self_attention"`` and ``"cross_attention"`` probabilities.
        training: whether dropout is active.

    Returns:
        ``outputs``; with caches ``(outputs, self_attention_cache[,
        cross_attention_cache])``; scores, when asked for, come last.

    Examples:
        >>> import keras
        >>> from zoo.layers import TransformerDecoderBlock
        >>> block = TransformerDecoderBlock(num_heads=2, intermediate_dim=32)
        >>> target, source = keras.random.normal((2, 4, 8)), keras.random.normal((2, 6, 8))
        >>> tuple(block(target, source).shape)
        (2, 4, 8)
    """

    def build(self, decoder_sequence_shape, encoder_sequence_shape=None):
        self._check_hidden(decoder_sequence_shape, "decoder_sequence")
        self.self_attention = self._attention(
            "self_attention",
            decoder_sequence_shape,
            decoder_sequence_shape,
            rotary=self.use_rotary_embedding,
        )
        self.self_attention_norm = self._norm(
            "self_attention_norm", decoder_sequence_shape
        )
        self.cross_attention = None
        if encoder_sequence_shape is not None:
            self._check_hidden(encoder_sequence_shape, "encoder_sequence")
            self.cross_attention = self._attention(
                "cross_attention", decoder_sequence_shape, encoder_sequence_shape
            )
            self.cross_attention_norm = self._norm(
                "cross_attention_norm", decoder_sequence_shape
            )
        self._build_feedforward(decoder_sequence_shape)
        self._build_residual_tools(decoder_sequence_shape)
        freeze_new_sublayers(self)
        self.built = True

    def __call__(self, *args, **kwargs):
        kwargs = python_cache_index(kwargs, "self_attention_cache_update_index")
        return super().__call__(*args, **kwargs)

    def call(
        self,
        decoder_sequence,
        encoder_sequence=None,
        decoder_padding_mask=None,
        decoder_attention_mask=None,
        encoder_padding_mask=None,
        encoder_attention_mask=None,
        use_causal_mask=True,
        self_attention_cache=None,
        self_attention_cache_update_index=None,
        cross_attention_cache=None,
        return_attention_scores=False,
        training=None,
    ):
        self._check_call_arguments(
            decoder_sequence,
            encoder_sequence,
            decoder_padding_mask,
            decoder_attention_mask,
            encoder_padding_mask,
            encoder_attention_mask,
            self_attention_cache,
            cross_attention_cache,
        )
        has_cross = self.cross_attention is not None
        caching = self_attention_cache is not None
        if decoder_padding_mask is None and not caching:
            decoder_padding_mask = implicit_mask(decoder_sequence)
        if encoder_padding_mask is None and encoder_sequence is not None:
            encoder_padding_mask = implicit_mask(encoder_sequence)
        scores = {}

        def self_attention(x):
            out = self.self_attention(
                x,
                x,
                value_mask=None if caching else decoder_padding_mask,
                attention_mask=decoder_attention_mask,
                use_causal_mask=use_causal_mask,
                return_attention_scores=return_attention_scores,
                cache=self_attention_cache,
                cache_update_index=self_attention_cache_update_index,
                training=training,
            )
            return _collect(out, "self_attention", scores, return_attention_scores)

        x, *caches = self._residual(
            decoder_sequence, self.self_attention_norm, self_attention, training
        )
        if has_cross:

            def cross_attention(x):
                out = self.cross_attention(
                    x,
                    encoder_sequence,
                    value_mask=encoder_padding_mask,
                    attention_mask=encoder_attention_mask,
                    return_attention_scores=return_attention_scores,
                    cache=cross_attention_cache,
                    training=training,
                )
                return _collect(out, "cross_attention", scores, return_attention_scores)

            x, *cross_caches = self._residual(
                x, self.cross_attention_norm, cross_attention, training
            )
            caches += cross_caches
        x = self._feedforward(x, training)

        results = (x, *caches)
        if return_attention_scores:
            results += (scores,)
        return results[0] if len(results) == 1 else results

    def _check_call_arguments(
        self,
        decoder_sequence,
        encoder_sequence,
        decoder_padding_mask,
        decoder_attention_mask,
        encoder_padding_mask,
        encoder_attention_mask,
        self_attention_cache,
        cross_attention_cache,
    ):
        """Raise ``ValueError`` for what ``call`` cannot use, naming the argument."""
        has_cross = self.cross_attention is not None
        has_encoder_input = (
            encoder_sequence is not None or cross_attention_cache is not None
        )
        if has_cross != has_encoder_input:
            raise ValueError(
                "This decoder block was built "
                + ("with" if has_cross else "without")
                + " cross-attention, so `encoder_sequence` (or "
                "`cross_attention_cache`) must be "
                + ("given" if has_cross else "None")
                + "; received "
                + ("None." if has_cross else "a tensor.")
            )
        if has_cross and (self_attention_cache is None) != (
            cross_attention_cache is None
        ):
            raise ValueError(
                "`self_attention_cache` and `cross_attention_cache` must be "
                "given together or not at all; received "
                f"self_attention_cache={_describe(self_attention_cache)}, "
                f"cross_attention_cache={_describe(cross_attention_cache)}."
            )
        self._check_features(decoder_sequence, "decoder_sequence")
        # With a cache, self-attention's keys span all of it; the padding
        # mask is then ignored (see the docstring).
        if self_attention_cache is None:
            self_source = decoder_sequence.shape[1]
            check_padding_mask(
                decoder_padding_mask,
                decoder_sequence,
                decoder_sequence.shape[1],
                "decoder_padding_mask",
            )
        else:
            self_source = self_attention_cache.shape[2]
        check_attention_mask(
            decoder_attention_mask,
            decoder_sequence,
            self_source,
            "decoder_attention_mask",
        )
        if has_cross:
            if cross_attention_cache is None:
                cross_source = encoder_sequence.shape[1]
            else:
                cross_source = cross_attention_cache.shape[2]
            check_padding_mask(
                encoder_padding_mask,
                decoder_sequence,
                cross_source,
                "encoder_padding_mask",
            )
            check_attention_mask(
                encoder_attention_mask,
                decoder_sequence,
                cross_source,
                "encoder_attention_mask",
            )

    def compute_output_spec(self, *args, **kwargs):
        # As `MultiHeadAttention.compute_output_spec`: caches and scores too.
        given = call_arguments(TransformerDecoderBlock.call, self, *args, **kwargs)
        target = given["decoder_sequence"]
        self._check_call_arguments(
            target,
            given["encoder_sequence"],
            given["decoder_padding_mask"],
            given["decoder_attention_mask"],
            given["encoder_padding_mask"],
            given["encoder_attention_mask"],
            given["self_attention_cache"],
            given["cross_attention_cache"],
        )
        attentions = {"self_attention": (target, given["self_attention_cache"])}
        if self.cross_attention is not None:
            attentions["cross_attention"] = (
                given["encoder_sequence"],
                given["cross_attention_cache"],
            )
        with_scores = given["return_attention_scores"]
        results = [keras.KerasTensor(target.shape, dtype=self.compute_dtype)]
        scores = {}
        for name, (value, cache) in attentions.items():
            attention = getattr(self, name)
            _, scores[name], cache = attention.output_specs(
                target, value, with_scores, cache
            )
            if cache is not None:
                results.append(cache)
        if with_scores:
            results.append(scores)
        return results[0] if len(results) == 1 else tuple(results)


def _collect(attention_output, name, scores, with_scores):
    """Split an attention call's result into (output, cache...) and scores."""
    if not isinstance(attention_output, tuple):
        return (attention_output,)
    output, *rest = attention_output
    if with_scores:
        scores[name] = rest.pop(0)
    return (output, *rest)


def _describe(tensor):
    return "None" if tensor is None else f"a tensor of shape {tuple(tensor.shape)}"
