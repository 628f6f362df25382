"""The encoder-decoder Transformer backbone of "Attention Is All You Need"."""

import keras
from keras import ops

from zoo.layers import (
    Dropout,
    LayerNormalization,
    TokenAndPositionEmbedding,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
)
from zoo.layers.quantized_policies import add_quantized_policies
from zoo.layers.validation import check_bool, check_positive_int, check_rate
from zoo.models.functional_model import FunctionalModel


@keras.saving.register_keras_serializable(package="zoo")
class Seq2SeqBackbone(FunctionalModel):
    """Encoder-decoder Transformer: token ids in, decoder hidden states out.

    A functional model over ``{"encoder_token_ids", "decoder_token_ids"}``
    (id 0 is padding on both sides). Besides the full teacher-forced pass it
    exposes, in ``keras.ops``, what incremental decoding needs: ``encode``,
    ``init_caches`` and ``decode_step`` over explicit key/value caches.

    Args:
        source_vocabulary_size: ids of the encoder's vocabulary.
        target_vocabulary_size: ids of the decoder's vocabulary.
        num_encoder_layers: encoder blocks.
        num_decoder_layers: decoder blocks.
        hidden_dim: model width (``d_model``).
        num_heads: attention heads; must divide ``hidden_dim``.
        intermediate_dim: feed-forward width.
        source_sequence_length: longest encoder input.
        target_sequence_length: longest decoder input (the start token
            included); also the length of the decoding cache.
        dropout: dropout on residual branches and embeddings.
        attention_dropout: dropout on attention probabilities.
        activation: feed-forward activation.
        normalize_first: pre-norm blocks (adds a final layer norm to encoder
            and decoder); ``False`` is the paper's post-norm.
        position_encoding: ``"sinusoidal"`` (the paper) or ``"learned"``.
        shared_embeddings: one embedding table for both sides; needs equal
            vocabulary sizes and sequence lengths.
        dtype: dtype policy of every layer (e.g. ``"mixed_bfloat16"``); None
            for the global policy.

    Examples:
        >>> import keras
        >>> from zoo.models.seq2seq import Seq2SeqBackbone
        >>> backbone = Seq2SeqBackbone(30, 40, 1, 1, 16, 2, 32, 12, 10)
        >>> ids = {"encoder_token_ids": keras.ops.ones((2, 7), "int32"),
        ...        "decoder_token_ids": keras.ops.ones((2, 5), "int32")}
        >>> tuple(backbone(ids).shape)
        (2, 5, 16)
    """

    def __init__(
        self,
        source_vocabulary_size,
        target_vocabulary_size,
        num_encoder_layers,
        num_decoder_layers,
        hidden_dim,
        num_heads,
        intermediate_dim,
        source_sequence_length,
        target_sequence_length,
        dropout=0.1,
        attention_dropout=0.0,
        activation="relu",
        normalize_first=False,
        position_encoding="sinusoidal",
        shared_embeddings=False,
        dtype=None,
        **kwargs,
    ):
        for name, value in (
            ("source_vocabulary_size", source_vocabulary_size),
            ("target_vocabulary_size", target_vocabulary_size),
            ("num_encoder_layers", num_encoder_layers),
            ("num_decoder_layers", num_decoder_layers),
            ("hidden_dim", hidden_dim),
            ("num_heads", num_heads),
            ("source_sequence_length", source_sequence_length),
            ("target_sequence_length", target_sequence_length),
        ):
            check_positive_int(value, name)
        check_rate(dropout, "dropout")
        check_rate(attention_dropout, "attention_dropout")
        check_bool(shared_embeddings, "shared_embeddings")
        if hidden_dim % num_heads:
            raise ValueError(
                f"num_heads must divide hidden_dim; received hidden_dim={hidden_dim}, "
                f"num_heads={num_heads}"
            )
        if shared_embeddings and (
            source_vocabulary_size != target_vocabulary_size
            or source_sequence_length != target_sequence_length
        ):
            raise ValueError(
                "shared_embeddings=True expects equal source and target vocabulary "
                "sizes and sequence lengths; received vocabulary sizes "
                f"{source_vocabulary_size}/{target_vocabulary_size} and lengths "
                f"{source_sequence_length}/{target_sequence_length}"
            )

        def embedding(vocabulary_size, length, name):
            return TokenAndPositionEmbedding(
                vocabulary_size,
                length,
                hidden_dim,
                position_encoding=position_encoding,
                scale_embedding=True,
                dtype=dtype,
                name=name,
            )

        block_arguments = dict(
            num_heads=num_heads,
            intermediate_dim=intermediate_dim,
            dropout=dropout,
            attention_dropout=attention_dropout,
            activation=activation,
            normalize_first=normalize_first,
            dtype=dtype,
        )
        self.encoder_embedding = embedding(
            source_vocabulary_size, source_sequence_length, "encoder_embedding"
        )
        self.decoder_embedding = (
            self.encoder_embedding
            if shared_embeddings
            else embedding(
                target_vocabulary_size, target_sequence_length, "decoder_embedding"
            )
        )
        self.embedding_dropout = Dropout(dropout, dtype=dtype, name="embedding_dropout")
        self.encoder_blocks = [
            TransformerEncoderBlock(**block_arguments, name=f"encoder_block_{i}")
            for i in range(num_encoder_layers)
        ]
        self.decoder_blocks = [
            TransformerDecoderBlock(**block_arguments, name=f"decoder_block_{i}")
            for i in range(num_decoder_layers)
        ]
        # Pre-norm stacks leave the residual stream unnormalized; the paper's
        # post-norm blocks already end in a layer norm.
        self.encoder_norm = self.decoder_norm = None
        if normalize_first:
            self.encoder_norm = LayerNormalization(
                epsilon=1e-5, dtype=dtype, name="encoder_norm"
            )
            self.decoder_norm = LayerNormalization(
                epsilon=1e-5, dtype=dtype, name="decoder_norm"
            )

        encoder_ids = keras.Input((None,), dtype="int32", name="encoder_token_ids")
        decoder_ids = keras.Input((None,), dtype="int32", name="decoder_token_ids")
        encoded, encoder_mask = self._encode(encoder_ids, None)
        x = self.embedding_dropout(self.decoder_embedding(decoder_ids))
        decoder_mask = ops.not_equal(decoder_ids, 0)
        for block in self.decoder_blocks:
            x = block(
                x,
                encoded,
                decoder_padding_mask=decoder_mask,
                encoder_padding_mask=encoder_mask,
            )
        if self.decoder_norm is not None:
            x = self.decoder_norm(x)
        super().__init__(
            inputs={"encoder_token_ids": encoder_ids, "decoder_token_ids": decoder_ids},
            outputs=x,
            **kwargs,
        )
        if dtype is not None:
            # keras.Model's functional constructor drops `dtype`: without this
            # the model would report (and save) the global policy, not the
            # one its layers compute in, and reload in the wrong precision.
            self.dtype_policy = dtype
        self.source_vocabulary_size = source_vocabulary_size
        self.target_vocabulary_size = target_vocabulary_size
        self.num_encoder_layers = num_encoder_layers
        self.num_decoder_layers = num_decoder_layers
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.source_sequence_length = source_sequence_length
        self.target_sequence_length = target_sequence_length
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.activation = activation
        self.normalize_first = normalize_first
        self.position_encoding = position_encoding
        self.shared_embeddings = shared_embeddings

    def _encode(self, encoder_token_ids, training):
        mask = ops.not_equal(encoder_token_ids, 0)
        x = self.embedding_dropout(
            self.encoder_embedding(encoder_token_ids), training=training
        )
        for block in self.encoder_blocks:
            x = block(x, padding_mask=mask, training=training)
        if self.encoder_norm is not None:
            x = self.encoder_norm(x)
        return x, mask

    def encode(self, encoder_token_ids):
        """Run the encoder (inference mode).

        Args:
            encoder_token_ids: (batch, source) int ids, 0 for padding.

        Returns:
            ``(encoder_outputs, encoder_padding_mask)``: (batch, source,
            hidden) and (batch, source) boolean.
        """
        return self._encode(encoder_token_ids, False)

    @property
    def head_dim(self):
        return self.hidden_dim // self.num_heads

    def init_caches(self, encoder_outputs):
        """Return empty self-attention caches and the filled cross-attention ones.

        Returns:
            ``(self_caches, cross_caches)``: (batch, layers, 2,
            target_sequence_length, heads, head_dim) zeros, and (batch,
            layers, 2, source, heads, head_dim) projected encoder keys and
            values, computed once per input.
        """
        batch = ops.shape(encoder_outputs)[0]
        self_caches = ops.zeros(
            (
                batch,
                self.num_decoder_layers,
                2,
                self.target_sequence_length,
                self.num_heads,
                self.head_dim,
            ),
            dtype=self.decoder_embedding.compute_dtype,
        )
        cross_caches = ops.stack(
            [
                block.cross_attention.compute_cache(encoder_outputs)
                for block in self.decoder_blocks
            ],
            axis=1,
        )
        return self_caches, cross_caches

    def decode_step(
        self,
        token_ids,
        index,
        self_caches,
        cross_caches,
        encoder_padding_mask,
        return_attention_scores=False,
    ):
        """Run the decoder on the tokens at ``index`` (inference mode).

        Args:
            token_ids: (batch, 1) the tokens at position ``index``.
            index: scalar int, their position.
            self_caches: from ``init_caches`` or the previous step.
            cross_caches: from ``init_caches``.
            encoder_padding_mask: (batch, source) boolean from ``encode``.
            return_attention_scores: also return the last block's
                cross-attention probabilities (batch, heads, 1, source).

        Returns:
            ``(hidden, self_caches)``: (batch, 1, hidden) and the updated
            caches; then the scores when asked for.
        """
        x = self.decoder_embedding(token_ids, start_index=index)
        updated = []
        scores = None
        for i, block in enumerate(self.decoder_blocks):
            outputs = block(
                x,
                encoder_padding_mask=encoder_padding_mask,
                self_attention_cache=self_caches[:, i],
                self_attention_cache_update_index=index,
                cross_attention_cache=cross_caches[:, i],
                return_attention_scores=return_attention_scores,
                training=False,
            )
            x, cache = outputs[0], outputs[1]
            if return_attention_scores:
                scores = outputs[-1]["cross_attention"]
            updated.append(cache)
        if self.decoder_norm is not None:
            x = self.decoder_norm(x)
        results = (x, ops.stack(updated, axis=1))
        return results + (scores,) if return_attention_scores else results

    def get_config(self):
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "source_vocabulary_size": self.source_vocabulary_size,
            "target_vocabulary_size": self.target_vocabulary_size,
            "num_encoder_layers": self.num_encoder_layers,
            "num_decoder_layers": self.num_decoder_layers,
            "hidden_dim": self.hidden_dim,
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "source_sequence_length": self.source_sequence_length,
            "target_sequence_length": self.target_sequence_length,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "activation": self.activation,
            "normalize_first": self.normalize_first,
            "position_encoding": self.position_encoding,
            "shared_embeddings": self.shared_embeddings,
        }
        # Quantized sublayers are rebuilt in their policies from a map.
        return add_quantized_policies(config, self)

    @classmethod
    def from_config(cls, config):
        return cls(**config)
