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
that Keras compiles with XLA they keep Keras' ops too, unless forced with
``fused_kernels = True`` (see ``inside_xla_compilation``).
``set_fused_kernels(model, False)`` keeps Keras' ops everywhere.
"""

import functools
import math
import numbers
import types

import keras

# Values of a layer's `fused_kernels`: None picks (fused on TensorFlow
# without a GPU, outside XLA: where they were measured to pay), True and
# False force.
FUSED_KERNELS_SETTINGS = (None, True, False)

# Input dtypes the kernels take, and the dtype each is computed in.
_COMPUTE_DTYPES = {
    "float16": "float32",
    "bfloat16": "float32",
    "float32": "float32",
    "float64": "float64",
}


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
        _check_setting(value)
        # The setting reaches the layers inside this one (a block's own
        # normalizations): one switch per block, as users expect. A sublayer
        # set afterwards keeps its own value.
        for layer in _layers_with_setting(self, include_self=True):
            layer._fused_kernels = value

    def _use_fused_kernels(self, training):
        """Whether this call should run the fused kernels."""
        if not training or self.fused_kernels is False:
            return False
        if keras.backend.backend() != "tensorflow":
            return False
        if self.fused_kernels is True:
            return True
        return not (tensorflow_has_gpu() or inside_xla_compilation())


def set_fused_kernels(layer, setting):
    """Set ``fused_kernels`` on ``layer`` and on every layer inside it.

    The switch for a whole model: ``set_fused_kernels(model, False)`` keeps
    Keras' ops everywhere. It is a runtime setting, like ``jit_compile``: not
    saved with the model, and read when a step is traced, so set it before
    ``fit`` (or ``compile`` again after changing it).

    Returns:
        How many layers took the setting.
    """
    _check_setting(setting)
    if not isinstance(layer, keras.layers.Layer):
        raise ValueError(
            "`layer` must be a Keras layer or model; "
            f"received {type(layer).__name__}: {layer!r}"
        )
    layers = _layers_with_setting(layer, include_self=True)
    # The walk is recursive already: no need for each setter to walk again.
    for each in layers:
        each._fused_kernels = setting
    return len(layers)


def _layers_with_setting(layer, include_self):
    """The layers in ``layer`` (recursively) that have a ``fused_kernels`` setting."""
    # Keras has no public walk over nested layers; `_flatten_layers` is it.
    return [
        each
        for each in layer._flatten_layers(include_self=include_self)
        if isinstance(each, FusedKernelsSetting)
    ]


def _check_setting(value):
    # `is`, not `==`: 0 and 1 equal False and True but are not settings.
    if not any(value is setting for setting in FUSED_KERNELS_SETTINGS):
        raise ValueError(
            f"`fused_kernels` must be one of {FUSED_KERNELS_SETTINGS}; "
            f"received fused_kernels={value!r}"
        )


def gelu(x):
    """Exact GELU, ``x * Phi(x)``, as Keras' ``gelu(x, approximate=False)``.

    Half-precision inputs are computed in float32, float64 ones in float64;
    the output has ``x``'s dtype.
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    _check_floating(x, "x")
    return _kernels().gelu(x)


def layer_normalization(x, gamma, beta, epsilon):
    """Layer normalization over the last axis, as Keras' with ``gamma`` and ``beta``.

    Half-precision inputs are computed in float32 (as Keras does), float64
    ones in float64; the output has ``x``'s dtype. ``gamma`` and ``beta``
    hold one value per feature of ``x``'s last axis.
    """
    import tensorflow as tf

    x = tf.convert_to_tensor(x)
    compute_dtype = _check_floating(x, "x")
    if x.shape.rank == 0:
        raise ValueError(
            "`x` must have at least one axis to normalize over; received a scalar"
        )
    features = x.shape[-1]
    # numbers.Real takes NumPy's floats too; bool is a number to Python.
    if (
        isinstance(epsilon, bool)
        or not isinstance(epsilon, numbers.Real)
        or epsilon < 0
    ):
        raise ValueError(
            f"`epsilon` must be a number >= 0; received epsilon={epsilon!r}"
        )
    # Tensors, not variables: the custom gradient returns theirs as inputs'.
    # Cast to the compute dtype: a conversion to another dtype is refused.
    weights = []
    for name, weight in (("gamma", gamma), ("beta", beta)):
        weight = tf.convert_to_tensor(weight)
        _check_feature_vector(weight, name, features)
        weights.append(tf.cast(weight, compute_dtype))
    return _kernels().layer_normalization(
        x, *weights, tf.constant(epsilon, compute_dtype)
    )


def _check_floating(x, name):
    """``x``'s compute dtype; a named error for a dtype the kernels do not take."""
    if x.dtype.name not in _COMPUTE_DTYPES:
        raise ValueError(
            f"`{name}` must be a floating-point tensor, one of "
            f"{tuple(_COMPUTE_DTYPES)}; received dtype {x.dtype.name}"
        )
    return _COMPUTE_DTYPES[x.dtype.name]


def _check_feature_vector(weight, name, features):
    """A named error unless ``weight`` is one value per feature (when known)."""
    if weight.shape.rank == 1 and None in (weight.shape[0], features):
        return  # A width known only when the graph runs.
    if weight.shape.rank != 1 or weight.shape[0] != features:
        raise ValueError(
            f"`{name}` must have shape ({features},), one value per feature of "
            f"`x`'s last axis; received shape {tuple(weight.shape)}"
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

    def upcast(x):
        # Traced once per input dtype: half precision in float32.
        return tf.cast(x, _COMPUTE_DTYPES[x.dtype.name])

    @tf.function(jit_compile=True, autograph=False)
    def gelu_forward(x):
        wide = upcast(x)
        return tf.cast(wide * normal_cdf(wide), x.dtype)

    @tf.function(jit_compile=True, autograph=False)
    def gelu_backward(x, upstream):
        wide = upcast(x)
        # d/dx x*Phi(x) = Phi(x) + x*phi(x), phi the standard normal density.
        slope = normal_cdf(wide) + wide * inverse_sqrt_two_pi * tf.exp(
            -0.5 * wide * wide
        )
        return tf.cast(upcast(upstream) * slope, x.dtype)

    @tf.autograph.experimental.do_not_convert
    @tf.custom_gradient
    def gelu(x):
        return gelu_forward(x), lambda upstream: gelu_backward(x, upstream)

    def normalized(wide, epsilon):
        mean = tf.reduce_mean(wide, axis=-1, keepdims=True)
        centered = wide - mean
        variance = tf.reduce_mean(tf.square(centered), axis=-1, keepdims=True)
        inverse_std = tf.math.rsqrt(variance + epsilon)
        return centered * inverse_std, inverse_std

    @tf.function(jit_compile=True, autograph=False)
    def layer_norm_forward(x, gamma, beta, epsilon):
        x_hat, _ = normalized(upcast(x), epsilon)
        return tf.cast(x_hat * gamma + beta, x.dtype)

    @tf.function(jit_compile=True, autograph=False)
    def layer_norm_backward(x, gamma, epsilon, upstream):
        x_hat, inverse_std = normalized(upcast(x), epsilon)
        upstream = upcast(upstream)
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
