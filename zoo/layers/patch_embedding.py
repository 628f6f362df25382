"""Non-overlapping patches of images or series to tokens."""

import keras
from keras import ops

from zoo.layers.validation import check_positive_int, check_rank, freeze_new_sublayers


def prepend_class_token(tokens, class_token):
    """Put a learned (1, 1, dim) ``class_token`` before each row of ``tokens``.

    Shared by every tokenizer that offers ViT's class token.
    """
    class_token = ops.broadcast_to(
        ops.cast(class_token, tokens.dtype), (ops.shape(tokens)[0], 1, tokens.shape[-1])
    )
    return ops.concatenate([class_token, tokens], axis=1)


@keras.saving.register_keras_serializable(package="zoo")
class PatchEmbedding(keras.layers.Layer):
    """Cuts inputs into patches and projects each to a token.

    Images (batch, height, width, channels) give (batch, patches, hidden_dim)
    tokens in row-major patch order, as in "An Image is Worth 16x16 Words";
    series (batch, length, channels) give one token per ``patch_size`` steps
    (PatchTST). The projection is a convolution whose kernel is the patch and
    whose stride is ``stride``, which is the same as flattening each patch and
    applying one dense layer. Patches overlap when ``stride`` is smaller than
    ``patch_size`` (PatchTST uses patch 16, stride 8).

    Args:
        patch_size: patch side in pixels (int or (height, width)) for images,
            or steps per patch for series.
        hidden_dim: size of each token.
        use_class_token: prepend a learned class token (ViT).
        stride: steps between patch starts, an int or one per spatial axis;
            None (default) is ``patch_size``: patches that do not overlap.
            ``(size - patch_size)`` must be a multiple of it on every axis.
        kernel_initializer: initializer of the projection kernel.
        bias_initializer: initializer of the projection bias.

    Call arguments:
        inputs: (batch, height, width, channels) or (batch, length, channels).

    Examples:
        >>> import keras
        >>> from zoo.layers import PatchEmbedding
        >>> layer = PatchEmbedding(patch_size=7, hidden_dim=16, use_class_token=True)
        >>> tuple(layer(keras.random.normal((2, 28, 28, 1))).shape)
        (2, 17, 16)
    """

    def __init__(
        self,
        patch_size,
        hidden_dim,
        use_class_token=False,
        stride=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        sizes = patch_size if isinstance(patch_size, (list, tuple)) else (patch_size,)
        for size in sizes:
            check_positive_int(size, "patch_size")
        check_positive_int(hidden_dim, "hidden_dim")
        self.patch_size = tuple(patch_size) if len(sizes) > 1 else sizes[0]
        if stride is not None:
            steps = stride if isinstance(stride, (list, tuple)) else (stride,)
            for step in steps:
                check_positive_int(step, "stride")
            stride = tuple(stride) if len(steps) > 1 else steps[0]
        self.stride = stride
        self.hidden_dim = hidden_dim
        self.use_class_token = use_class_token
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def _patch_shape(self, spatial_rank):
        if isinstance(self.patch_size, tuple):
            if len(self.patch_size) != spatial_rank:
                raise ValueError(
                    f"`patch_size` must have {spatial_rank} entries for inputs "
                    f"with {spatial_rank} spatial axes; received "
                    f"patch_size={self.patch_size}."
                )
            return self.patch_size
        return (self.patch_size,) * spatial_rank

    def _stride_shape(self, spatial_rank):
        if self.stride is None:
            return self._patch_shape(spatial_rank)
        if isinstance(self.stride, tuple):
            if len(self.stride) != spatial_rank:
                raise ValueError(
                    f"`stride` must have {spatial_rank} entries for inputs with "
                    f"{spatial_rank} spatial axes; received stride={self.stride}."
                )
            return self.stride
        return (self.stride,) * spatial_rank

    def build(self, input_shape):
        check_rank(
            input_shape,
            (3, 4),
            "inputs",
            "(batch, height, width, channels) or (batch, length, channels)",
        )
        spatial = input_shape[1:-1]
        patch = self._patch_shape(len(spatial))
        strides = self._stride_shape(len(spatial))
        names = ("length",) if len(spatial) == 1 else ("height", "width")
        for name, size, width, step in zip(names, spatial, patch, strides):
            if size is None:
                continue
            if size < width or (size - width) % step:
                what = (
                    "divisible by the patch size"
                    if step == width
                    else f"the patch size plus a multiple of the stride {step}"
                )
                raise ValueError(
                    f"The input {name} must be {what}; received {name} {size} and "
                    f"patch size {width}."
                )
        convolution = keras.layers.Conv2D if len(spatial) == 2 else keras.layers.Conv1D
        self.projection = convolution(
            self.hidden_dim,
            kernel_size=patch,
            strides=strides,
            padding="valid",
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
            name="projection",
        )
        self.projection.build(input_shape)
        if self.use_class_token:
            self.class_token = self.add_weight(
                name="class_token",
                shape=(1, 1, self.hidden_dim),
                initializer="zeros",
            )
        freeze_new_sublayers(self)
        self.built = True

    def call(self, inputs):
        tokens = self.projection(inputs)
        # The patch count comes from the input, not -1: an empty batch (no
        # elements) leaves -1 undetermined, and TensorFlow's convolution of
        # an empty batch keeps the input's spatial shape.
        spatial = ops.shape(inputs)[1:-1]
        patch = self._patch_shape(len(spatial))
        strides = self._stride_shape(len(spatial))
        count = 1
        for size, width, step in zip(spatial, patch, strides):
            count = count * ((size - width) // step + 1)
        tokens = ops.reshape(tokens, (ops.shape(inputs)[0], count, self.hidden_dim))
        if self.use_class_token:
            tokens = prepend_class_token(tokens, self.class_token)
        return tokens

    def compute_output_shape(self, input_shape):
        spatial = input_shape[1:-1]
        patch = self._patch_shape(len(spatial))
        strides = self._stride_shape(len(spatial))
        count = 1
        for size, width, step in zip(spatial, patch, strides):
            if size is None or count is None:
                count = None
            else:
                count *= (size - width) // step + 1
        if count is not None and self.use_class_token:
            count += 1
        return (input_shape[0], count, self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "patch_size": self.patch_size,
                "hidden_dim": self.hidden_dim,
                "use_class_token": self.use_class_token,
                "stride": self.stride,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
