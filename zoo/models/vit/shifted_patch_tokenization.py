"""Shifted Patch Tokenization ("Vision Transformer for Small-Size Datasets")."""

import keras
from keras import ops

from zoo.layers.layer_normalization import LayerNormalization
from zoo.layers.patch_embedding import prepend_class_token
from zoo.layers.quantized_policies import add_quantized_policies


@keras.saving.register_keras_serializable(package="zoo")
class ShiftedPatchTokenization(keras.layers.Layer):
    """Patches of the image and of four diagonally shifted copies, as tokens.

    Each image is shifted by half a patch towards each of the four diagonals;
    the copies and the original are stacked on the channel axis, cut into
    non-overlapping patches, flattened, layer-normalized and projected. Every
    token thus sees a little of its neighbours, which helps ViTs learn from
    small datasets (Lee et al., 2021).

    Args:
        patch_size: patch side in pixels.
        hidden_dim: size of each token.
        use_class_token: prepend a learned class token.
        layer_norm_epsilon: epsilon of the patch normalization.

    Call arguments:
        inputs: (batch, height, width, channels), height and width divisible by
            ``patch_size``.

    Examples:
        >>> import keras
        >>> from zoo.models.vit import ShiftedPatchTokenization
        >>> layer = ShiftedPatchTokenization(patch_size=7, hidden_dim=16)
        >>> tuple(layer(keras.random.normal((2, 28, 28, 1))).shape)
        (2, 16, 16)
    """

    def __init__(
        self,
        patch_size,
        hidden_dim,
        use_class_token=False,
        layer_norm_epsilon=1e-6,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for value, name in ((patch_size, "patch_size"), (hidden_dim, "hidden_dim")):
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"`{name}` must be a positive integer; received {value!r}"
                )
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.use_class_token = use_class_token
        self.layer_norm_epsilon = layer_norm_epsilon

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "`inputs` must have rank 4 (batch, height, width, channels); "
                f"received shape {tuple(input_shape)}"
            )
        height, width, channels = input_shape[1:]
        for size, axis in ((height, "height"), (width, "width")):
            if size is not None and size % self.patch_size:
                raise ValueError(
                    f"The input {axis} must be divisible by the patch size; "
                    f"received {axis} {size} and patch size {self.patch_size}"
                )
        patch_dim = self.patch_size**2 * channels * 5
        self.norm = LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="norm"
        )
        self.norm.build((None, None, patch_dim))
        self.projection = keras.layers.Dense(
            self.hidden_dim, dtype=self.dtype_policy, name="projection"
        )
        self.projection.build((None, None, patch_dim))
        if self.use_class_token:
            self.class_token = self.add_weight(
                name="class_token", shape=(1, 1, self.hidden_dim), initializer="zeros"
            )
        self.built = True

    def _shift(self, x, dy, dx):
        # Pad on one side and crop on the other: a shift that fills with zeros.
        s = self.patch_size // 2
        padded = ops.pad(x, [[0, 0], [s, s], [s, s], [0, 0]])
        height, width = ops.shape(x)[1], ops.shape(x)[2]
        return ops.slice(
            padded,
            (0, s - dy, s - dx, 0),
            (ops.shape(x)[0], height, width, x.shape[-1]),
        )

    def call(self, inputs):
        s = self.patch_size // 2
        shifted = [inputs] + [
            self._shift(inputs, dy, dx)
            for dy, dx in ((-s, -s), (-s, s), (s, -s), (s, s))
        ]
        x = ops.concatenate(shifted, axis=-1)
        p = self.patch_size
        # Static sizes where known, else those of the tensor (an input of
        # any size in a functional model or a traced function).
        height, width = (
            inputs.shape[axis] if inputs.shape[axis] is not None else ops.shape(x)[axis]
            for axis in (1, 2)
        )
        channels = x.shape[-1]
        x = ops.reshape(x, (-1, height // p, p, width // p, p, channels))
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        x = ops.reshape(x, (-1, (height // p) * (width // p), p * p * channels))
        tokens = self.projection(self.norm(x))
        if self.use_class_token:
            tokens = prepend_class_token(tokens, self.class_token)
        return tokens

    def compute_output_shape(self, input_shape):
        height, width = input_shape[1], input_shape[2]
        count = None  # for a symbolic input of any size
        if height is not None and width is not None:
            count = (height // self.patch_size) * (width // self.patch_size)
            count += int(self.use_class_token)
        return (input_shape[0], count, self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        # Quantized sublayers are rebuilt in their policies from a map.
        add_quantized_policies(config, self)
        config.update(
            {
                "patch_size": self.patch_size,
                "hidden_dim": self.hidden_dim,
                "use_class_token": self.use_class_token,
                "layer_norm_epsilon": self.layer_norm_epsilon,
            }
        )
        return config
