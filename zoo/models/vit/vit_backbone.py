"""The Vision Transformer backbone: image to encoded patch tokens."""

import keras
import numpy as np
from keras import ops

from zoo.layers import (
    Dropout,
    LayerNormalization,
    PatchEmbedding,
    PositionEmbedding,
    TransformerEncoderBlock,
)
from zoo.layers.quantized_policies import add_quantized_policies
from zoo.layers.validation import check_bool, check_rate
from zoo.models.functional_model import FunctionalModel
from zoo.models.vit.convolutional_stem import ConvolutionalStem
from zoo.models.vit.locality_self_attention import LocalityEncoderBlock
from zoo.models.vit.shifted_patch_tokenization import ShiftedPatchTokenization


def image_pair(value, name="image_size"):
    """``value`` as a (height, width) pair of positive ints; ``ValueError`` if not."""
    pair = tuple(value) if isinstance(value, (list, tuple)) else (value, value)
    if len(pair) != 2 or not all(
        isinstance(v, (int, np.integer)) and v > 0 for v in pair
    ):
        raise ValueError(
            f"`{name}` must be a positive int or a (height, width) pair of them; "
            f"received {value!r}"
        )
    return tuple(int(v) for v in pair)


@keras.saving.register_keras_serializable(package="zoo")
class ViTBackbone(FunctionalModel):
    """Vision Transformer encoder ("An Image is Worth 16x16 Words").

    Images are cut into patches, each projected to a token; a learned class
    token is prepended (or the tokens are later averaged), learned position
    embeddings are added, and pre-norm transformer blocks with stochastic depth
    encode the sequence, followed by a final layer normalization. Optionally
    Shifted Patch Tokenization and Locality Self-Attention (Lee et al., 2021)
    replace the patch embedding and the attention, for small datasets, and
    a convolutional stem (the paper's hybrid input, after Xiao et al., 2021)
    can replace the patch projection.

    An image size that is not a multiple of the patch size is resized to the
    nearest smaller multiple inside the model.

    Args:
        image_size: input (height, width), or one int for square images.
        patch_size: patch side in pixels.
        hidden_dim: token size.
        num_layers: number of encoder blocks.
        num_heads: attention heads per block.
        intermediate_dim: hidden units of each block's MLP.
        num_channels: image channels (1 for grey, 3 for RGB).
        dropout: dropout after the position embedding and in each block.
        attention_dropout: dropout on the attention probabilities.
        drop_path_rate: stochastic depth rate of the last block; it grows
            linearly from 0 over the blocks.
        use_class_token: prepend a class token (otherwise pool by averaging).
        layer_norm_epsilon: epsilon of every layer normalization.
        shifted_patch_tokenization: use Shifted Patch Tokenization.
        locality_self_attention: use Locality Self-Attention.
        conv_stem_filters: channels of the stride-2 3×3 convolutions of a
            `ConvolutionalStem` that makes the tokens instead of the patch
            projection; ``patch_size`` must then be ``2 ** len(filters)``.
            None (default) is the plain patch embedding.
        dtype: dtype policy of every layer (e.g. ``"mixed_bfloat16"``); None
            for the global policy.

    Call arguments:
        images: float (batch, height, width, num_channels), normalized.

    Returns:
        (batch, tokens, hidden_dim) encoded tokens; token 0 is the class token
        when ``use_class_token``.

    Examples:
        >>> import numpy as np
        >>> from zoo.models.vit import ViTBackbone
        >>> backbone = ViTBackbone(28, 7, 16, 1, 2, 32, num_channels=1)
        >>> tuple(backbone(np.zeros((2, 28, 28, 1))).shape)
        (2, 17, 16)
    """

    def __init__(
        self,
        image_size,
        patch_size,
        hidden_dim,
        num_layers,
        num_heads,
        intermediate_dim,
        num_channels=3,
        dropout=0.0,
        attention_dropout=0.0,
        drop_path_rate=0.0,
        use_class_token=True,
        layer_norm_epsilon=1e-6,
        shifted_patch_tokenization=False,
        locality_self_attention=False,
        conv_stem_filters=None,
        dtype=None,
        **kwargs,
    ):
        height, width = image_pair(image_size)
        for value, name in (
            (patch_size, "patch_size"),
            (hidden_dim, "hidden_dim"),
            (num_layers, "num_layers"),
            (num_heads, "num_heads"),
            (intermediate_dim, "intermediate_dim"),
        ):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, np.integer))
                or value < 1
            ):
                raise ValueError(
                    f"`{name}` must be a positive integer; received {value!r}"
                )
        # NumPy integers are accepted above; the sublayers (and Keras' own
        # layers) take only Python ints.
        patch_size, hidden_dim, num_layers, num_heads, intermediate_dim = (
            int(patch_size),
            int(hidden_dim),
            int(num_layers),
            int(num_heads),
            int(intermediate_dim),
        )
        for value, name in (
            (dropout, "dropout"),
            (attention_dropout, "attention_dropout"),
            (drop_path_rate, "drop_path_rate"),
        ):
            check_rate(value, name)
        for value, name in (
            (use_class_token, "use_class_token"),
            (shifted_patch_tokenization, "shifted_patch_tokenization"),
            (locality_self_attention, "locality_self_attention"),
        ):
            check_bool(value, name)
        if isinstance(num_channels, bool) or num_channels not in (1, 3):
            raise ValueError(
                f"`num_channels` must be 1 (grey) or 3 (RGB); received {num_channels!r}"
            )
        num_channels = int(num_channels)
        if height < patch_size or width < patch_size:
            raise ValueError(
                "The image is smaller than one patch: expected height and width "
                f"of at least patch_size={patch_size}, received image_size="
                f"{(height, width)}"
            )
        grid = (height // patch_size, width // patch_size)
        num_tokens = grid[0] * grid[1] + int(use_class_token)

        # === Layers ===
        model_size = (grid[0] * patch_size, grid[1] * patch_size)
        self.resizing = None
        if model_size != (height, width):
            self.resizing = keras.layers.Resizing(
                *model_size, dtype=dtype, name="resizing"
            )
        if conv_stem_filters and shifted_patch_tokenization:
            raise ValueError(
                "`conv_stem_filters` and `shifted_patch_tokenization` both replace "
                "the patch embedding: expected at most one; received both"
            )
        if conv_stem_filters:
            conv_stem_filters = [int(f) for f in conv_stem_filters]
            self.tokenizer = ConvolutionalStem(
                patch_size,
                hidden_dim,
                filters=conv_stem_filters,
                use_class_token=use_class_token,
                dtype=dtype,
                name="patch_embedding",
            )
        elif shifted_patch_tokenization:
            self.tokenizer = ShiftedPatchTokenization(
                patch_size,
                hidden_dim,
                use_class_token=use_class_token,
                layer_norm_epsilon=layer_norm_epsilon,
                dtype=dtype,
                name="patch_embedding",
            )
        else:
            self.tokenizer = PatchEmbedding(
                patch_size,
                hidden_dim,
                use_class_token=use_class_token,
                dtype=dtype,
                name="patch_embedding",
            )
        self.position_embedding = PositionEmbedding(
            num_tokens,
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),
            dtype=dtype,
            name="position_embedding",
        )
        self.embedding_dropout = Dropout(dropout, dtype=dtype, name="embedding_dropout")
        block_class = (
            LocalityEncoderBlock if locality_self_attention else TransformerEncoderBlock
        )
        self.blocks = [
            block_class(
                num_heads=num_heads,
                intermediate_dim=intermediate_dim,
                dropout=dropout,
                attention_dropout=attention_dropout,
                activation="gelu",
                layer_norm_epsilon=layer_norm_epsilon,
                normalize_first=True,
                # Deeper blocks are dropped more often (stochastic depth rule).
                drop_path_rate=drop_path_rate * i / max(num_layers - 1, 1),
                dtype=dtype,
                name=f"block_{i}",
            )
            for i in range(num_layers)
        ]
        self.final_norm = LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=dtype, name="final_norm"
        )

        # === Functional model ===
        images = keras.Input((height, width, num_channels), name="images")
        x = self._embed(images)
        x = self.embedding_dropout(x)
        for block in self.blocks:
            x = block(x)
        outputs = self.final_norm(x)
        super().__init__(inputs=images, outputs=outputs, **kwargs)
        if dtype is not None:
            # keras.Model's functional constructor drops `dtype`.
            self.dtype_policy = dtype

        # === Config ===
        self.image_size = (height, width)
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.num_channels = num_channels
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.drop_path_rate = drop_path_rate
        self.use_class_token = use_class_token
        self.layer_norm_epsilon = layer_norm_epsilon
        self.shifted_patch_tokenization = shifted_patch_tokenization
        self.locality_self_attention = locality_self_attention
        self.conv_stem_filters = conv_stem_filters or None
        self.grid_size = grid

    def _embed(self, images):
        x = images if self.resizing is None else self.resizing(images)
        tokens = self.tokenizer(x)
        return tokens + self.position_embedding(tokens)

    def attention_scores(self, images):
        """Attention probabilities of every block, in inference mode.

        Args:
            images: float (batch, height, width, channels), normalized.

        Returns:
            A list of (batch, heads, tokens, tokens) arrays, one per block.

        Raises:
            ValueError: if ``images`` are not of the model's size and channels.
        """
        images = ops.convert_to_tensor(images, "float32")
        expected = (*self.image_size, self.num_channels)
        if len(images.shape) == 3 and self.num_channels == 1:
            # Grey images without a channel axis, as the model's call takes them.
            images = ops.expand_dims(images, -1)
        if tuple(images.shape[1:]) != expected:
            raise ValueError(
                "`images` must have shape (batch, height, width, channels) = "
                f"(batch, {', '.join(map(str, expected))}), the model's; received "
                f"shape {tuple(images.shape)}"
            )
        x = self._embed(images)
        scores = []
        for block in self.blocks:
            x, block_scores = block(x, return_attention_scores=True, training=False)
            scores.append(block_scores)
        return scores

    def get_config(self):
        config = {
            "name": self.name,
            "trainable": self.trainable,
            # Saved so that a model trained in mixed precision loads in it,
            # whatever the global policy is when it is loaded.
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
            "image_size": list(self.image_size),
            "patch_size": self.patch_size,
            "hidden_dim": self.hidden_dim,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "num_channels": self.num_channels,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "drop_path_rate": self.drop_path_rate,
            "use_class_token": self.use_class_token,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "shifted_patch_tokenization": self.shifted_patch_tokenization,
            "locality_self_attention": self.locality_self_attention,
            "conv_stem_filters": self.conv_stem_filters,
        }
        # Quantized sublayers are rebuilt in their policies from a map.
        return add_quantized_policies(config, self)

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def interpolate_positions(table, old_grid, new_grid, num_extra):
    """Resize a (tokens, dim) position table from one patch grid to another.

    The first ``num_extra`` rows (the class token) are kept; the rest are laid
    out on ``old_grid`` and resized bicubically to ``new_grid``, as ViT does to
    fine-tune at a new resolution.
    """
    table = np.asarray(table, np.float32)
    extra, grid = table[:num_extra], table[num_extra:]
    grid = grid.reshape(old_grid[0], old_grid[1], -1)
    resized = ops.image.resize(
        grid[None], new_grid, interpolation="bicubic", antialias=False
    )
    resized = np.asarray(ops.convert_to_numpy(resized))[0]
    return np.concatenate([extra, resized.reshape(-1, table.shape[-1])], axis=0)


def resize_backbone(backbone, image_size):
    """A copy of ``backbone`` for a new image size, position embeddings interpolated.

    Every other weight is copied unchanged, so the copy fine-tunes at the new
    resolution from the trained weights.

    Args:
        backbone: a `ViTBackbone`.
        image_size: the new (height, width) or side.

    Returns:
        A new `ViTBackbone`.

    Examples:
        >>> from zoo.models.vit import ViTBackbone, resize_backbone
        >>> small = ViTBackbone(28, 7, 16, 1, 2, 32, num_channels=1)
        >>> resize_backbone(small, 56).grid_size
        (8, 8)
    """
    config = {**backbone.get_config(), "image_size": list(image_pair(image_size))}
    resized = ViTBackbone.from_config(config)
    new_layers = {layer.name: layer for layer in resized.layers}
    for old in backbone.layers:
        new = new_layers.get(old.name)
        if new is None or not old.weights:
            continue
        if old is backbone.position_embedding:
            table = interpolate_positions(
                old.get_weights()[0],
                backbone.grid_size,
                resized.grid_size,
                int(backbone.use_class_token),
            )
            new.set_weights([table])
        else:
            new.set_weights(old.get_weights())
    return resized
