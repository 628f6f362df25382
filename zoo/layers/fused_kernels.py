"""Exact GELU and layer normalization as one compiled kernel each way, on TensorFlow.

Without XLA (Keras' default on a CPU) TensorFlow runs exact GELU and layer
normalization, and the gradients autodiff writes for them, as chains of
elementwise kernels, each reading and writing the whole activation. Here each
direction is one small XLA-compiled function behind a ``tf.custom_gradient``:
one kernel forward, one backward that recomputes what it needs from the
inputs. On the ViT's shapes in ``speed.py`` this took GELU forward and
backward from 26.2 ms to 10.2 ms and layer normalization from 5.8 ms to
4.0 ms, and the presets train 8% to 9% faster without XLA
(``benchmarks/fused_kernels.py``, docs/speed.md).

The layers use these in training only: inference, ``predict`` and exported
SavedModels keep Keras' ops, so a served model needs no XLA. Inside a step
that Keras compiles with XLA the functions are inlined like any other op.
"""

import functools
import math
import types

import keras

# Values of a layer's `fused_kernels`: None picks (fused on TensorFlow
# without a GPU, outside XLA: where they were measured to pay), True and
# False force.
FUSED_KERNELS_SETTINGS = (None, True, False)


def inside_xla_compilation():
    """Whether TensorFlow is tracing a function that XLA will compile whole.

    Keras' ``jit_compile=True`` steps are. There XLA fuses Keras' ops itself,
    and the fused kernels made a ViT training step slower (0.86x), since the
    custom gradients recompute what XLA's own gradient reuses.
    """
    import tensorflow as tf

    try:
        # TensorFlow's own check, which tf.function uses for nested jit_compile.
        from tensorflow.python.ops import control_flow_util
    except ImportError:  # pragma: no cover - a TensorFlow that moved it
        return True  # Unknown: leave XLA to Keras' ops.
    graph = tf.compat.v1.get_default_graph()
    return control_flow_util.GraphOrParentsInXlaContext(graph)


def tensorflow_has_gpu():
    """Whether TensorFlow sees a GPU (only call on the TensorFlow backend)."""
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


class FusedKernelsSetting:
    """Mixin for layers with a ``fused_kernels`` setting (see module docstring)."""

    _fused_kernels = None

    @property
    def fused_kernels(self):
        """None (fused in training on TensorFlow without a GPU, outside XLA),
        True (fused in training on TensorFlow) or False."""
        return self._fused_kernels

    @fused_kernels.setter
    def fused_kernels(self, value):
        if not any(value is setting for setting in FUSED_KERNELS_SETTINGS):
            raise ValueError(
                f"`fused_kernels` must be one of {FUSED_KERNELS_SETTINGS}; "
                f"received fused_kernels={value!r}"
            )
        self._fused_kernels = value

    def _use_fused_kernels(self, training):
        """Whether this call should run the fused kernels."""
        if not training or self.fused_kernels is False:
            return False
        if keras.backend.backend() != "tensorflow":
            return False
        if self.fused_kernels is True:
            return True
        return not (tensorflow_has_gpu() or inside_xla_compilation())


def gelu(x):
    """Exact GELU, ``x * Phi(x)``, as Keras' ``gelu(x, approximate=False)``."""
    return _kernels().gelu(x)


def layer_normalization(x, gamma, beta, epsilon):
    """Layer normalization over the last axis, as Keras' with ``gamma`` and ``beta``.

    Computed in float32 (as Keras does for half-precision inputs); the output
    has ``x``'s dtype.
    """
    import tensorflow as tf

    # Tensors, not variables: the custom gradient returns theirs as inputs'.
    gamma, beta = (tf.convert_to_tensor(w, "float32") for w in (gamma, beta))
    return _kernels().layer_normalization(
        x, gamma, beta, tf.constant(epsilon, "float32")
    )


@functools.cache
def _kernels():
    """The TensorFlow functions, built on first use (TensorFlow is optional)."""
    import tensorflow as tf

    sqrt_half = 1.0 / math.sqrt(2.0)
    inverse_sqrt_two_pi = 1.0 / math.sqrt(2.0 * math.pi)

    def normal_cdf(x):
        # erfc keeps the far negative tail exact, as tf.nn.gelu does.
        return 0.5 * tf.math.erfc(-x * sqrt_half)

    @tf.function(jit_compile=True)
    def gelu_forward(x):
        x32 = tf.cast(x, "float32")
        return tf.cast(x32 * normal_cdf(x32), x.dtype)

    @tf.function(jit_compile=True)
    def gelu_backward(x, upstream):
        x32 = tf.cast(x, "float32")
        # d/dx x*Phi(x) = Phi(x) + x*phi(x), phi the standard normal density.
        slope = normal_cdf(x32) + x32 * inverse_sqrt_two_pi * tf.exp(-0.5 * x32 * x32)
        return tf.cast(tf.cast(upstream, "float32") * slope, x.dtype)

    @tf.autograph.experimental.do_not_convert
    @tf.custom_gradient
    def gelu(x):
        return gelu_forward(x), lambda upstream: gelu_backward(x, upstream)

    def normalized(x32, epsilon):
        mean = tf.reduce_mean(x32, axis=-1, keepdims=True)
        centered = x32 - mean
        variance = tf.reduce_mean(tf.square(centered), axis=-1, keepdims=True)
        inverse_std = tf.math.rsqrt(variance + epsilon)
        return centered * inverse_std, inverse_std

    @tf.function(jit_compile=True)
    def layer_norm_forward(x, gamma, beta, epsilon):
        x_hat, _ = normalized(tf.cast(x, "float32"), epsilon)
        return tf.cast(x_hat * gamma + beta, x.dtype)

    @tf.function(jit_compile=True)
    def layer_norm_backward(x, gamma, epsilon, upstream):
        x_hat, inverse_std = normalized(tf.cast(x, "float32"), epsilon)
        upstream = tf.cast(upstream, "float32")
        batch_axes = list(range(x.shape.rank - 1))
        d_gamma = tf.reduce_sum(upstream * x_hat, axis=batch_axes)
        d_beta = tf.reduce_sum(upstream, axis=batch_axes)
        d_x_hat = upstream * gamma
        # The mean and variance depend on every feature: subtract the parts
        # of the gradient along the constant and along x_hat.
        d_x = inverse_std * (
            d_x_hat
            - tf.reduce_mean(d_x_hat, axis=-1, keepdims=True)
            - x_hat * tf.reduce_mean(d_x_hat * x_hat, axis=-1, keepdims=True)
        )
        return tf.cast(d_x, x.dtype), d_gamma, d_beta

    @tf.autograph.experimental.do_not_convert
    @tf.custom_gradient
    def layer_norm(x, gamma, beta, epsilon):
        def gradient(upstream):
            d_x, d_gamma, d_beta = layer_norm_backward(x, gamma, epsilon, upstream)
            return d_x, d_gamma, d_beta, None

        return layer_norm_forward(x, gamma, beta, epsilon), gradient

    return types.SimpleNamespace(gelu=gelu, layer_normalization=layer_norm)
