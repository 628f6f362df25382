"""Image classification with a Vision Transformer backbone."""

import numbers

import keras

from zoo.layers import Dropout
from zoo.layers.quantized_policies import (
    add_quantized_policies,
    quantized_or_default_policy,
    quantized_policy_map,
    with_default_policy,
)
from zoo.layers.validation import check_rate
from zoo.models.functional_model import FunctionalModel
from zoo.models.vit.vit_backbone import ViTBackbone, resize_backbone


@keras.saving.register_keras_serializable(package="zoo")
class ViTClassifier(FunctionalModel):
    """A `ViTBackbone` with a classification head.

    The class token (or the mean of the tokens, when the backbone has no class
    token) goes through dropout, an optional hidden layer and a dense layer
    that returns float32 logits, also under mixed precision.

    Args:
        backbone: a `ViTBackbone`.
        num_classes: number of classes.
        head_hidden_dim: units of a tanh hidden layer before the logits (the
            paper's pre-training head), or None for a single dense layer.
        head_dropout: dropout before the head.

    Call arguments:
        images: float (batch, height, width, channels), normalized.

    Returns:
        (batch, num_classes) float32 logits.

    Examples:
        >>> import keras
        >>> from zoo.models.vit import ViTClassifier
        >>> from zoo.models.vit import ViTBackbone
        >>> backbone = ViTBackbone(28, 7, 16, 1, 2, 32, num_channels=1)
        >>> tuple(ViTClassifier(backbone, num_classes=10)(keras.ops.zeros((2, 28, 28, 1))).shape)
        (2, 10)
    """

    def __init__(
        self, backbone, num_classes, head_hidden_dim=None, head_dropout=0.0, **kwargs
    ):
        if not isinstance(backbone, ViTBackbone):
            raise ValueError(
                f"`backbone` must be a ViTBackbone; received {type(backbone).__name__}"
            )
        if (
            isinstance(num_classes, bool)
            or not isinstance(num_classes, numbers.Integral)
            or num_classes < 2
        ):
            raise ValueError(
                f"`num_classes` must be an integer of at least 2; received "
                f"{num_classes!r}"
            )
        # A NumPy integer (``labels.max() + 1``) as a Python int, which Keras'
        # Dense and the JSON config need.
        num_classes = int(num_classes)
        if head_hidden_dim is not None and (
            isinstance(head_hidden_dim, bool)
            or not isinstance(head_hidden_dim, numbers.Integral)
            or head_hidden_dim < 0
        ):
            raise ValueError(
                "`head_hidden_dim` must be a positive integer, or 0 or None for no "
                "hidden layer; received "
                f"{head_hidden_dim!r}"
            )
        head_hidden_dim = None if head_hidden_dim is None else int(head_hidden_dim)
        check_rate(head_dropout, "head_dropout")
        # === Layers ===
        self.backbone = backbone
        # The head computes in the backbone's policy, not the global one, so
        # that a saved model loads in the precision it was trained in.
        # A quantized model's config gives `dtype`: a map that holds the head's
        # quantized policies.
        policy = quantized_or_default_policy(
            kwargs.pop("dtype", None), backbone.dtype_policy
        )
        if backbone.use_class_token:
            self.pooling = None
        else:
            self.pooling = keras.layers.GlobalAveragePooling1D(
                dtype=policy, name="pooling"
            )
        self.head_dropout_layer = Dropout(
            head_dropout, dtype=policy, name="head_dropout"
        )
        self.head_hidden = None
        if head_hidden_dim:
            self.head_hidden = keras.layers.Dense(
                head_hidden_dim, activation="tanh", dtype=policy, name="head_hidden"
            )
        # float32 logits keep the softmax and loss stable under mixed precision.
        self.logits = keras.layers.Dense(
            num_classes, dtype=with_default_policy(policy, "float32"), name="logits"
        )

        # === Functional model ===
        images = keras.Input(backbone.input.shape[1:], name="images")
        tokens = backbone(images)
        pooled = tokens[:, 0] if self.pooling is None else self.pooling(tokens)
        x = self.head_dropout_layer(pooled)
        if self.head_hidden is not None:
            x = self.head_hidden(x)
        outputs = self.logits(x)
        super().__init__(inputs=images, outputs=outputs, **kwargs)
        self.dtype_policy = policy  # the functional constructor drops `dtype`

        # === Config ===
        self.num_classes = num_classes
        self.head_hidden_dim = head_hidden_dim
        self.head_dropout = head_dropout

    @property
    def image_size(self):
        """The (height, width) the model takes."""
        return self.backbone.image_size

    def with_image_size(self, image_size):
        """A copy for another image size, with interpolated position embeddings.

        Use it to fine-tune or evaluate at a new resolution from trained
        weights.

        Examples:
            >>> import keras
            >>> from zoo.models.vit import ViTClassifier
            >>> from zoo.models.vit import ViTBackbone
            >>> backbone = ViTBackbone(28, 7, 16, 1, 2, 32, num_channels=1)
            >>> model = ViTClassifier(backbone, 10).with_image_size(56)
            >>> tuple(model(keras.ops.zeros((1, 56, 56, 1))).shape)
            (1, 10)
        """
        copy = ViTClassifier(
            resize_backbone(self.backbone, image_size),
            self.num_classes,
            head_hidden_dim=self.head_hidden_dim,
            head_dropout=self.head_dropout,
            # A quantized head is copied into a quantized head.
            dtype=quantized_policy_map(self),
        )
        for name in ("head_hidden", "logits"):
            layer = getattr(self, name)
            if layer is not None:
                getattr(copy, name).set_weights(layer.get_weights())
        return copy

    def get_config(self):
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "num_classes": self.num_classes,
            "head_hidden_dim": self.head_hidden_dim,
            "head_dropout": self.head_dropout,
        }
        # Only a quantized model's config holds its dtype: a float model's
        # head takes the backbone's policy again.
        return add_quantized_policies(config, self)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        backbone = config["backbone"]
        if isinstance(backbone, dict):
            config["backbone"] = keras.saving.deserialize_keras_object(backbone)
        return cls(**config)
