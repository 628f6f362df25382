"""What the encoder and decoder blocks share: options, sublayers, residuals."""

import keras

from zoo.layers import fused_kernels
from zoo.layers.drop_path import DropPath
from zoo.layers.dropout import Dropout
from zoo.layers.layer_normalization import LayerNormalization
from zoo.layers.multi_head_attention import MultiHeadAttention
from zoo.layers.quantized_policies import add_quantized_policies
from zoo.layers.validation import (
    check_bool,
    check_positive_int,
    check_rank,
    check_rate,
    known_size,
)


class TransformerBlockBase(fused_kernels.FusedKernelsSetting, keras.layers.Layer):
    """Base of the transformer blocks; not used on its own.

    Each sublayer (attention or feed-forward) is wrapped in a residual
    connection with layer normalization, either after the sum (post-norm, the
    paper and keras-hub's default) or before the sublayer (pre-norm, which
    trains deep stacks without warm-up tricks).

    ``fused_kernels`` (None, True or False) decides whether an exact GELU
    feed-forward activation and the block's layer normalizations train with
    ``zoo.layers.fused_kernels``; setting it on the block sets it on the
    block's normalizations too (set one afterwards to make it differ).
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        dropout=0.0,
        attention_dropout=0.0,
        activation="relu",
        layer_norm_epsilon=1e-5,
        normalize_first=False,
        drop_path_rate=0.0,
        use_rotary_embedding=False,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_positive_int(num_heads, "num_heads")
        check_positive_int(intermediate_dim, "intermediate_dim")
        check_rate(dropout, "dropout")
        check_rate(attention_dropout, "attention_dropout")
        check_rate(drop_path_rate, "drop_path_rate")
        check_bool(normalize_first, "normalize_first")
        check_bool(use_rotary_embedding, "use_rotary_embedding")
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.activation = keras.activations.get(activation)
        self.layer_norm_epsilon = layer_norm_epsilon
        self.normalize_first = normalize_first
        self.drop_path_rate = drop_path_rate
        self.use_rotary_embedding = use_rotary_embedding
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True

    def _check_hidden(self, shape, name):
        check_rank(shape, 3, name, "(batch, length, hidden)")
        hidden = shape[-1]
        if hidden % self.num_heads:
            raise ValueError(
                f"The hidden size of `{name}` must be divisible by `num_heads`; "
                f"received hidden size {hidden} and num_heads={self.num_heads}."
            )
        return hidden

    def _check_features(self, tensor, name):
        """Raise ``ValueError`` unless ``tensor`` has the block's hidden size."""
        hidden = self.feedforward_output.units
        if known_size(tensor.shape[-1]) not in (None, hidden):
            raise ValueError(
                f"`{name}` must have hidden size {hidden}, as when this block was "
                f"built; received shape {tuple(tensor.shape)}."
            )

    def _attention(self, name, query_shape, value_shape, rotary=False):
        layer = MultiHeadAttention(
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

    def _norm(self, name, shape):
        layer = LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name
        )
        # A setting made on the block before it was built reaches it too.
        layer.fused_kernels = self.fused_kernels
        layer.build(shape)
        return layer

    def _dense(self, units, name, shape):
        layer = keras.layers.Dense(
            units,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
            name=name,
        )
        layer.build(shape)
        return layer

    def _build_residual_tools(self, shape):
        """Dropout and drop path applied to every residual branch."""
        self.residual_dropout = Dropout(
            self.dropout, dtype=self.dtype_policy, name="residual_dropout"
        )
        self.drop_path = DropPath(
            self.drop_path_rate, dtype=self.dtype_policy, name="drop_path"
        )
        # Built here, so that `model.quantize` (which wants every layer
        # built) works before the first call.
        self.residual_dropout.build(shape)
        self.drop_path.build(shape)

    def _build_feedforward(self, shape):
        hidden = shape[-1]
        self.feedforward_norm = self._norm("feedforward_norm", shape)
        # The activation is applied in `_feedforward`, where `training` is known.
        self.feedforward_intermediate = self._dense(
            self.intermediate_dim, "feedforward_intermediate", shape
        )
        self.feedforward_output = self._dense(
            hidden, "feedforward_output", (*shape[:-1], self.intermediate_dim)
        )

    def _residual(self, x, norm, branch, training):
        """``norm(x + branch(x))`` (post-norm) or ``x + branch(norm(x))``.

        ``branch`` returns the branch output and anything extra (scores,
        caches) as a tuple; the extras are passed through.
        """
        inputs = norm(x) if self.normalize_first else x
        out, *extras = branch(inputs)
        out = self.residual_dropout(out, training=training)
        x = x + self.drop_path(out, training=training)
        if not self.normalize_first:
            x = norm(x)
        return (x, *extras)

    def _feedforward(self, x, training):
        def branch(inputs):
            hidden = self._activate(self.feedforward_intermediate(inputs), training)
            return (self.feedforward_output(hidden),)

        return self._residual(x, self.feedforward_norm, branch, training)[0]

    def _activate(self, hidden, training):
        # Keras' "gelu" is exact GELU; the fused kernels compute the same.
        exact_gelu = self.activation is keras.activations.gelu
        if exact_gelu and self._use_fused_kernels(training):
            return fused_kernels.gelu(hidden)
        return self.activation(hidden)

    def compute_output_shape(self, *args, **kwargs):
        # The output has the shape of the first sequence. Keras' `summary()`
        # of a subclassed model (e.g. `TimeSeriesForecaster`) passes the
        # shapes `build` received by `build`'s argument names
        # (`inputs_shape`, `decoder_sequence_shape`), not as `input_shape`.
        if args:
            return args[0]
        for name in ("input_shape", "inputs_shape", "decoder_sequence_shape"):
            if name in kwargs:
                return kwargs[name]
        raise ValueError(
            "`compute_output_shape` expected the shape of the input sequence "
            f"(`input_shape`); received {kwargs!r}"
        )

    def get_config(self):
        config = super().get_config()
        # Quantized sublayers are rebuilt in their policies from a map.
        add_quantized_policies(config, self)
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "attention_dropout": self.attention_dropout,
                "activation": keras.activations.serialize(self.activation),
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "normalize_first": self.normalize_first,
                "drop_path_rate": self.drop_path_rate,
                "use_rotary_embedding": self.use_rotary_embedding,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
