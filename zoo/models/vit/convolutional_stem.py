"""A convolutional stem in place of the patchify projection of a ViT."""

import keras
from keras import ops

from zoo.layers.patch_embedding import prepend_class_token
from zoo.layers.quantized_policies import add_quantized_policies


@keras.saving.register_keras_serializable(package="zoo")
class ConvolutionalStem(keras.layers.Layer):
    """Stride-2 3×3 convolutions, then a 1×1 projection: one token per patch.

    The hybrid input of "An Image is Worth 16x16 Words" (section 3.1) in the
    form of "Early Convolutions Help Transformers See Better" (Xiao et al.,
    2021): each 3×3 convolution with stride 2 (batch normalization, ReLU)
    halves the image, ``len(filters)`` of them reach the patch grid, and a
    1×1 convolution makes tokens of ``hidden_dim``. The token grid is the
    patchify stem's, so position embeddings, the encoder and the heads are
    unchanged; the overlapping receptive fields make training converge much
    faster on small datasets, for a few percent more compute.

    Args:
        patch_size: side of the patch each token stands for; must be
            ``2 ** len(filters)``.
        hidden_dim: size of each token.
        filters: output channels of each stride-2 convolution.
        use_class_token: prepend a learned class token.

    Call arguments:
        inputs: (batch, height, width, channels), height and width divisible by
            ``patch_size``.
        training: batch normalization uses batch statistics when True.

    Examples:
        >>> import keras
        >>> from zoo.models.vit import ConvolutionalStem
        >>> stem = ConvolutionalStem(patch_size=4, hidden_dim=16, filters=(8, 16))
        >>> tuple(stem(keras.random.normal((2, 28, 28, 1))).shape)
        (2, 49, 16)
    """

    def __init__(
        self, patch_size, hidden_dim, filters=(32, 64), use_class_token=False, **kwargs
    ):
        super().__init__(**kwargs)
        filters = [int(f) for f in filters]
        if not filters or any(f < 1 for f in filters):
            raise ValueError(
                f"`filters` must be a non-empty list of positive integers; received "
                f"{filters!r}"
            )
        if patch_size != 2 ** len(filters):
            raise ValueError(
                f"`patch_size` must be 2 ** len(filters) = {2 ** len(filters)} for "
                f"{len(filters)} stride-2 convolutions; received {patch_size!r}"
            )
        if not isinstance(hidden_dim, int) or hidden_dim < 1:
            raise ValueError(
                f"`hidden_dim` must be a positive integer; received {hidden_dim!r}"
            )
        self.patch_size = patch_size
        self.hidden_dim = hidden_dim
        self.filters = filters
        self.use_class_token = use_class_token

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                "`inputs` must have rank 4 (batch, height, width, channels); "
                f"received shape {tuple(input_shape)}"
            )
        for size, axis in ((input_shape[1], "height"), (input_shape[2], "width")):
            if size is not None and size % self.patch_size:
                raise ValueError(
                    f"The input {axis} must be divisible by the patch size; "
                    f"received {axis} {size} and patch size {self.patch_size}"
                )
        policy = self.dtype_policy
        self.convolutions, self.norms = [], []
        shape = tuple(input_shape)
        for i, count in enumerate(self.filters):
            convolution = keras.layers.Conv2D(
                count,
                3,
                strides=2,
                padding="same",
                use_bias=False,
                dtype=policy,
                name=f"conv_{i}",
            )
            convolution.build(shape)
            shape = convolution.compute_output_shape(shape)
            norm = keras.layers.BatchNormalization(dtype=policy, name=f"norm_{i}")
            norm.build(shape)
            self.convolutions.append(convolution)
            self.norms.append(norm)
        self.projection = keras.layers.Dense(
            self.hidden_dim, dtype=policy, name="projection"
        )
        self.projection.build(shape)
        if self.use_class_token:
            self.class_token = self.add_weight(
                name="class_token", shape=(1, 1, self.hidden_dim), initializer="zeros"
            )
        self.built = True

    def call(self, inputs, training=None):
        x = inputs
        for convolution, norm in zip(self.convolutions, self.norms):
            x = ops.relu(norm(convolution(x), training=training))
        tokens = self.projection(x)
        grid = ops.shape(tokens)
        tokens = ops.reshape(tokens, (grid[0], grid[1] * grid[2], self.hidden_dim))
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
                "filters": list(self.filters),
                "use_class_token": self.use_class_token,
            }
        )
        return config
