"""The sequence-to-sequence task model: a backbone plus an output projection."""

import keras
from keras import ops

from zoo.layers.quantized_policies import (
    add_quantized_policies,
    quantized_or_default_policy,
)
from zoo.layers.validation import check_bool, freeze_new_sublayers
from zoo.models.default_export_signature import DefaultExportSignature
from zoo.models.seq2seq.seq2seq_backbone import Seq2SeqBackbone


@keras.saving.register_keras_serializable(package="zoo")
class Seq2SeqTransformer(DefaultExportSignature, keras.Model):
    """Encoder-decoder Transformer that returns next-token logits.

    Called on ``{"encoder_token_ids", "decoder_token_ids"}`` it returns
    (batch, target, target_vocabulary_size) float32 logits (teacher forcing).
    ``encode``, ``init_caches`` and ``decode_logits`` are the pieces that
    ``zoo.decoding`` runs step by step.

    Args:
        backbone: a ``Seq2SeqBackbone``.
        tie_output_embedding: project with the transposed target embedding
            table (as in the paper) instead of a separate dense layer.

    Examples:
        >>> import keras
        >>> from zoo.models.seq2seq import Seq2SeqBackbone, Seq2SeqTransformer
        >>> backbone = Seq2SeqBackbone(30, 40, 1, 1, 16, 2, 32, 12, 10)
        >>> model = Seq2SeqTransformer(backbone)
        >>> ids = {"encoder_token_ids": keras.ops.ones((2, 7), "int32"),
        ...        "decoder_token_ids": keras.ops.ones((2, 5), "int32")}
        >>> tuple(model(ids).shape)
        (2, 5, 40)
    """

    def __init__(self, backbone, tie_output_embedding=True, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(backbone, Seq2SeqBackbone):
            raise ValueError(
                "backbone must be a Seq2SeqBackbone; received "
                f"{type(backbone).__name__}"
            )
        # The head runs in the backbone's policy. A quantized model's config
        # gives `dtype`: a map that holds the head's quantized policy.
        head_policy = quantized_or_default_policy(
            self.dtype_policy, backbone.dtype_policy
        )
        self.backbone = backbone
        check_bool(tie_output_embedding, "tie_output_embedding")
        self.tie_output_embedding = bool(tie_output_embedding)
        self.output_dense = None
        if not tie_output_embedding:
            self.output_dense = keras.layers.Dense(
                backbone.target_vocabulary_size,
                dtype=head_policy,
                name="output_dense",
            )
            self.output_dense.build((None, None, backbone.hidden_dim))
        else:
            self.output_bias = self.add_weight(
                shape=(backbone.target_vocabulary_size,),
                initializer="zeros",
                name="output_bias",
            )
        # The backbone is functional, hence built: so is this model, and a
        # .keras file loads without knowing an input shape.
        self.built = True
        # A frozen model's sublayers exist only now: a parent model (a user's
        # functional wrapper) would train them (see freeze_new_sublayers).
        freeze_new_sublayers(self)
        if not self.trainable and self.tie_output_embedding:
            self.output_bias.trainable = False

    def project(self, hidden):
        """Map decoder hidden states to float32 logits over the target vocabulary."""
        if self.output_dense is not None:
            logits = self.output_dense(hidden)
        else:
            table = self.backbone.decoder_embedding.embeddings
            logits = ops.matmul(hidden, ops.transpose(ops.cast(table, hidden.dtype)))
            logits = logits + ops.cast(self.output_bias, logits.dtype)
        # Softmax and loss in float32 even under mixed precision.
        return ops.cast(logits, "float32")

    def call(self, inputs, training=None):
        return self.project(self.backbone(inputs, training=training))

    def compute_output_shape(self, input_shape):
        """(batch, target, target_vocabulary_size) for the dict of input shapes."""
        if not isinstance(input_shape, dict) or "decoder_token_ids" not in input_shape:
            raise ValueError(
                "`input_shape` must be a dict with the shapes of "
                "'encoder_token_ids' and 'decoder_token_ids'; received "
                f"{input_shape!r}"
            )
        batch, length = tuple(input_shape["decoder_token_ids"])[:2]
        return (batch, length, self.backbone.target_vocabulary_size)

    def default_input_signature(self):
        """Two int32 id matrices of any batch and length (built in `__init__`)."""
        return [
            {
                name: keras.InputSpec(shape=(None, None), dtype="int32")
                for name in ("encoder_token_ids", "decoder_token_ids")
            }
        ]

    def compute_output_spec(self, inputs, training=None):
        # Keras' default would give compute_output_shape's shape in this
        # model's compute dtype (float16 under mixed precision); the logits
        # are float32 whatever the policy.
        shapes = keras.tree.map_structure(lambda x: x.shape, inputs)
        return keras.KerasTensor(self.compute_output_shape(shapes), dtype="float32")

    def encode(self, encoder_token_ids):
        """See ``Seq2SeqBackbone.encode``."""
        return self.backbone.encode(encoder_token_ids)

    def init_caches(self, encoder_outputs):
        """See ``Seq2SeqBackbone.init_caches``."""
        return self.backbone.init_caches(encoder_outputs)

    def decode_logits(
        self, token_ids, index, self_caches, cross_caches, encoder_padding_mask
    ):
        """Return (batch, vocabulary) logits of the next token and the new caches."""
        hidden, self_caches = self.backbone.decode_step(
            token_ids, index, self_caches, cross_caches, encoder_padding_mask
        )
        return self.project(hidden)[:, 0, :], self_caches

    @property
    def source_sequence_length(self):
        return self.backbone.source_sequence_length

    @property
    def target_sequence_length(self):
        return self.backbone.target_sequence_length

    def get_config(self):
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "tie_output_embedding": self.tie_output_embedding,
        }
        # Only a quantized model's config holds its dtype: a float model's
        # head takes the backbone's policy again.
        return add_quantized_policies(config, self)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)
