"""Fused GELU and layer-normalization kernels: same values and gradients as Keras'."""

import keras
import numpy as np
import pytest

from zoo.layers import (
    LayerNormalization,
    TransformerDecoderBlock,
    TransformerEncoderBlock,
    fused_kernels,
)

tensorflow_only = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow",
    reason="the fused kernels are TensorFlow's",
)


def _normal(*shape, seed=0, scale=1.0):
    return (scale * np.random.default_rng(seed).normal(size=shape)).astype("float32")


def _value_and_gradients(function, inputs, upstream):
    """``function(*inputs)`` and the gradient of ``sum(out * upstream)`` by input."""
    import tensorflow as tf

    inputs = [tf.constant(x) for x in inputs]
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        out = function(*inputs)
    return out.numpy(), [g.numpy() for g in tape.gradient(out, inputs, upstream)]


@tensorflow_only
def test_gelu_matches_keras_exact_gelu_and_its_gradient():
    # The tails too: erfc keeps the far negative side exact.
    x = np.concatenate([np.linspace(-12, 12, 2001), _normal(999, scale=3)])
    x = x.astype("float32")
    upstream = _normal(len(x), seed=1)
    ours = _value_and_gradients(fused_kernels.gelu, [x], upstream)
    keras_gelu = _value_and_gradients(
        lambda x: keras.activations.gelu(x, approximate=False), [x], upstream
    )
    np.testing.assert_allclose(ours[0], keras_gelu[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ours[1][0], keras_gelu[1][0], rtol=1e-5, atol=1e-6)


@tensorflow_only
def test_gelu_gradient_is_the_analytic_derivative():
    from math import erf, exp, pi, sqrt

    x = np.linspace(-6, 6, 241).astype("float32")
    _, (gradient,) = _value_and_gradients(fused_kernels.gelu, [x], np.ones_like(x))
    exact = [
        0.5 * (1 + erf(v / sqrt(2))) + v * exp(-v * v / 2) / sqrt(2 * pi)
        for v in x.astype(float)
    ]
    np.testing.assert_allclose(gradient, exact, rtol=1e-6, atol=1e-6)


@tensorflow_only
@pytest.mark.parametrize("shape", [(6, 16), (3, 5, 16)])
def test_layer_normalization_matches_keras_and_its_gradients(shape):
    x = _normal(*shape, scale=2) + 3.0
    gamma, beta = _normal(shape[-1], seed=1), _normal(shape[-1], seed=2)
    upstream = _normal(*shape, seed=3)
    ours = _value_and_gradients(
        lambda x, g, b: fused_kernels.layer_normalization(x, g, b, 1e-6),
        [x, gamma, beta],
        upstream,
    )
    theirs = _value_and_gradients(
        lambda x, g, b: keras.ops.layer_normalization(x, g, b, epsilon=1e-6),
        [x, gamma, beta],
        upstream,
    )
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-5, atol=1e-5)
    for got, expected in zip(ours[1], theirs[1]):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@tensorflow_only
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_inputs_keep_their_dtype_and_compute_in_float32(dtype):
    import tensorflow as tf

    x = _normal(4, 32, scale=2)
    half = tf.constant(x, dtype)
    exact = tf.cast(half, "float32").numpy()  # the values the kernels see
    gamma, beta = np.ones(32, "float32"), np.zeros(32, "float32")
    gelu = fused_kernels.gelu(half)
    norm = fused_kernels.layer_normalization(half, gamma, beta, 1e-6)
    assert gelu.dtype == norm.dtype == half.dtype
    # Within one rounding of the half type of the float32 result.
    rounding = 2e-3 if dtype == "float16" else 1.6e-2
    expected_gelu = keras.activations.gelu(exact, approximate=False)
    expected_norm = keras.ops.layer_normalization(exact, epsilon=1e-6)
    for got, expected in ((gelu, expected_gelu), (norm, expected_norm)):
        got = tf.cast(got, "float32").numpy()
        np.testing.assert_allclose(got, expected, rtol=rounding, atol=rounding)


@tensorflow_only
def test_float64_inputs_are_computed_in_float64(fused_calls):
    from math import erfc, exp, pi, sqrt

    x = np.linspace(-12, 12, 481)
    value, (gradient,) = _value_and_gradients(fused_kernels.gelu, [x], np.ones_like(x))
    assert value.dtype == gradient.dtype == np.float64
    exact = [v * 0.5 * erfc(-v / sqrt(2)) for v in x]
    exact_gradient = [
        0.5 * erfc(-v / sqrt(2)) + v * exp(-v * v / 2) / sqrt(2 * pi) for v in x
    ]
    # Float32 arithmetic would be off by about 1e-7.
    np.testing.assert_allclose(value, exact, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(gradient, exact_gradient, rtol=1e-12, atol=1e-14)

    # A float64 layer trains through the kernels (its weights are float64 too).
    inputs = _normal(3, 4, 16, scale=2).astype("float64") + 3.0
    layers = {}
    for setting in (None, False):
        layer = LayerNormalization(epsilon=1e-6, dtype="float64")
        layer.fused_kernels = setting
        layer.build(inputs.shape)
        layer.set_weights([_normal(16, seed=1), _normal(16, seed=2)])
        layers[setting] = _value_and_gradients(
            lambda x, layer=layer: layer(x, training=True), [inputs], inputs
        )
    assert fused_calls["layer_normalization"] == 1  # the default fused, once
    ours, (ours_gradient,) = layers[None]
    keras_out, (keras_gradient,) = layers[False]
    assert ours.dtype == ours_gradient.dtype == np.float64
    np.testing.assert_allclose(ours, keras_out, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours_gradient, keras_gradient, rtol=1e-10, atol=1e-10)


@tensorflow_only
@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: fused_kernels.gelu(np.arange(4)),
            r"`x` must be a floating-point tensor.*received dtype int64",
        ),
        (
            lambda: fused_kernels.layer_normalization(
                np.ones((2, 8), "int32"), np.ones(8), np.zeros(8), 1e-3
            ),
            r"`x` must be a floating-point tensor.*received dtype int32",
        ),
        (
            lambda: fused_kernels.layer_normalization(
                _normal(2, 8), np.ones(7, "float32"), np.zeros(8, "float32"), 1e-3
            ),
            r"`gamma` must have shape \(8,\).*received shape \(7,\)",
        ),
        (
            lambda: fused_kernels.layer_normalization(
                _normal(2, 8), np.ones(8, "float32"), np.zeros((1, 8), "float32"), 1e-3
            ),
            r"`beta` must have shape \(8,\).*received shape \(1, 8\)",
        ),
        (
            lambda: fused_kernels.layer_normalization(
                np.float32(1.0), np.ones(1, "float32"), np.zeros(1, "float32"), 1e-3
            ),
            r"`x` must have at least one axis.*received a scalar",
        ),
        (
            lambda: fused_kernels.layer_normalization(
                _normal(2, 8), np.ones(8, "float32"), np.zeros(8, "float32"), -1e-3
            ),
            r"`epsilon` must be a number >= 0; received epsilon=-0.001",
        ),
        (
            lambda: fused_kernels.layer_normalization(
                _normal(2, 8), np.ones(8, "float32"), np.zeros(8, "float32"), "1e-3"
            ),
            r"`epsilon` must be a number >= 0; received epsilon='1e-3'",
        ),
    ],
    ids=[
        "gelu_integers",
        "norm_integers",
        "gamma_width",
        "beta_rank",
        "scalar",
        "negative_epsilon",
        "text_epsilon",
    ],
)
def test_bad_arguments_are_refused_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@tensorflow_only
def test_numpy_epsilons_are_numbers_too():
    x, gamma, beta = _normal(2, 8), np.ones(8, "float32"), np.zeros(8, "float32")
    expected = fused_kernels.layer_normalization(x, gamma, beta, 1e-3)
    for epsilon in (np.float32(1e-3), np.float64(1e-3)):
        got = fused_kernels.layer_normalization(x, gamma, beta, epsilon)
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)


@pytest.fixture
def fused_calls(monkeypatch):
    """Counts of calls to the fused kernels, by name."""
    calls = {"gelu": 0, "layer_normalization": 0}
    for name in calls:
        original = getattr(fused_kernels, name)

        def counted(*args, name=name, original=original):
            calls[name] += 1
            return original(*args)

        monkeypatch.setattr(fused_kernels, name, counted)
    return calls


def _block(activation="gelu", **kwargs):
    block = TransformerEncoderBlock(2, 16, activation=activation, **kwargs)
    block.build((2, 5, 8))
    return block


def _settable_layers(layer):
    """The layers in ``layer`` (itself included) with a ``fused_kernels`` setting."""
    return [
        each
        for each in layer._flatten_layers(include_self=True)
        if isinstance(each, fused_kernels.FusedKernelsSetting)
    ]


@tensorflow_only
def test_blocks_train_with_the_fused_kernels_and_infer_with_keras_ops(fused_calls):
    block = _block(normalize_first=True)
    x = _normal(2, 5, 8)
    block(x)
    assert fused_calls == {"gelu": 0, "layer_normalization": 0}
    block(x, training=True)
    # One feed-forward GELU, two normalizations.
    assert fused_calls == {"gelu": 1, "layer_normalization": 2}


@tensorflow_only
def test_relu_blocks_keep_keras_relu(fused_calls):
    decoder = TransformerDecoderBlock(2, 16)
    decoder(_normal(2, 5, 8), _normal(2, 4, 8), training=True)
    assert fused_calls == {"gelu": 0, "layer_normalization": 3}


@tensorflow_only
def test_fused_kernels_false_keeps_keras_ops(fused_calls):
    block = _block()
    # On the block alone: it reaches the block's normalizations.
    block.fused_kernels = False
    block(_normal(2, 5, 8), training=True)
    assert fused_calls == {"gelu": 0, "layer_normalization": 0}


@tensorflow_only
def test_steps_that_xla_compiles_whole_keep_keras_ops(fused_calls):
    import tensorflow as tf

    block = _block()
    x = tf.constant(_normal(2, 5, 8))
    tf.function(lambda x: block(x, training=True), jit_compile=True)(x)
    assert fused_calls == {"gelu": 0, "layer_normalization": 0}
    tf.function(lambda x: block(x, training=True))(x)
    assert fused_calls == {"gelu": 1, "layer_normalization": 2}


@tensorflow_only
@pytest.mark.parametrize("jit_compile", [False, True])
def test_keras_training_steps_fuse_only_without_xla(jit_compile, fused_calls):
    inputs = keras.Input((5, 8))
    outputs = TransformerEncoderBlock(2, 16, activation="gelu")(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse", jit_compile=jit_compile)
    model.train_on_batch(_normal(2, 5, 8), _normal(2, 5, 8, seed=1))
    fused = fused_calls["gelu"] > 0 and fused_calls["layer_normalization"] > 0
    assert fused == (not jit_compile)


@tensorflow_only
def test_inside_xla_compilation_tells_compiled_functions_apart():
    import tensorflow as tf

    seen = {}

    def record(name):
        seen[name] = fused_kernels.inside_xla_compilation()
        return tf.constant(0.0)

    tf.function(lambda: record("xla"), jit_compile=True)()
    tf.function(lambda: record("graph"))()
    record("eager")
    assert seen == {"xla": True, "graph": False, "eager": False}


@tensorflow_only
@pytest.mark.parametrize(
    "kwargs", [{"axis": 1}, {"center": False}, {"scale": False}], ids=str
)
def test_normalizations_the_kernel_does_not_cover_run_keras_ops(kwargs, fused_calls):
    x = _normal(2, 5, 8)
    ours = LayerNormalization(**kwargs)
    keras_layer = keras.layers.LayerNormalization(**kwargs)
    expected = keras.ops.convert_to_numpy(keras_layer(x, training=True))
    ours.build(x.shape)
    ours.set_weights(keras_layer.get_weights())
    got = keras.ops.convert_to_numpy(ours(x, training=True))
    assert fused_calls["layer_normalization"] == 0
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


@tensorflow_only
@pytest.mark.parametrize(
    "policy", ["float32", "float64", "mixed_bfloat16", "mixed_float16"]
)
def test_a_block_trains_to_the_same_values_and_gradients_either_way(policy):
    keras.config.set_dtype_policy(policy)
    x = keras.ops.convert_to_tensor(_normal(4, 7, 16))
    results = {}
    for setting in (None, False):
        keras.utils.set_random_seed(0)
        block = TransformerEncoderBlock(2, 32, activation="gelu", normalize_first=True)
        block.build(x.shape)
        block.fused_kernels = setting
        results[setting] = _block_value_and_gradients(block, x)
    (out, gradients), (expected_out, expected_gradients) = results[None], results[False]
    # Keras' own float64 GELU (tf.nn.gelu) is off by up to 5e-9; the kernels'
    # float64 values are checked against exact ones above. Half precision:
    # about one rounding step of the format (bfloat16 8 bits, float16 11).
    tolerance = {
        "float32": 1e-5,
        "float64": 1e-7,
        "mixed_bfloat16": 3e-2,
        "mixed_float16": 1e-3,
    }[policy]
    np.testing.assert_allclose(out, expected_out, rtol=tolerance, atol=tolerance)
    scale = max(np.abs(g).max() for g in expected_gradients)
    for got, expected in zip(gradients, expected_gradients):
        np.testing.assert_allclose(got, expected, atol=tolerance * scale)


def _block_value_and_gradients(block, x):
    """The block's training output and the gradients of its sum of squares."""
    import tensorflow as tf

    with tf.GradientTape() as tape:
        out = block(x, training=True)
        loss = tf.reduce_sum(tf.cast(out, "float64") ** 2)
    gradients = tape.gradient(loss, block.trainable_variables)
    return np.asarray(out, "float64"), [np.asarray(g, "float64") for g in gradients]


@pytest.mark.parametrize("value", ["yes", 1, 0.0])
def test_a_bad_setting_is_refused_by_name(value):
    layer = LayerNormalization()
    with pytest.raises(ValueError, match=r"`fused_kernels`.*received"):
        layer.fused_kernels = value
    block = TransformerEncoderBlock(2, 16)
    with pytest.raises(ValueError, match=r"`fused_kernels`.*received"):
        block.fused_kernels = value


@pytest.mark.parametrize("setting", [False, True])
def test_a_blocks_setting_reaches_its_normalizations(setting):
    built = _block()
    built.fused_kernels = setting
    # Set before the block builds its normalizations.
    unbuilt = TransformerDecoderBlock(2, 16)
    unbuilt.fused_kernels = setting
    unbuilt.build((2, 5, 8), (2, 4, 8))
    for block, norms in ((built, 2), (unbuilt, 3)):
        layers = _settable_layers(block)
        assert len(layers) == 1 + norms
        assert all(layer.fused_kernels is setting for layer in layers)
    # A normalization set afterwards keeps its own value.
    built.feedforward_norm.fused_kernels = None
    assert built.fused_kernels is setting
    assert built.feedforward_norm.fused_kernels is None


def _tiny_vit_classifier():
    from zoo.models.vit.vit_backbone import ViTBackbone
    from zoo.models.vit.vit_classifier import ViTClassifier

    backbone = ViTBackbone(28, 7, 16, 2, 2, 32, num_channels=1)
    return ViTClassifier(backbone, num_classes=10)


@pytest.mark.parametrize("setting", [False, True, None])
def test_set_fused_kernels_sets_every_layer_of_a_model(setting):
    model = _tiny_vit_classifier()
    for layer in _settable_layers(model):
        layer.fused_kernels = True if setting is None else None
    count = fused_kernels.set_fused_kernels(model, setting)
    layers = _settable_layers(model)
    # Two blocks with two normalizations each, and the final normalization.
    assert count == len(layers) == 7
    assert all(layer.fused_kernels is setting for layer in layers)


@pytest.mark.parametrize(
    ("layer", "setting", "named"),
    [
        ("model", "off", r"`fused_kernels`.*received fused_kernels='off'"),
        ("model", 0, r"`fused_kernels`.*received fused_kernels=0"),
        (None, False, r"`layer` must be a Keras layer or model; received NoneType"),
        ("name", False, r"`layer` must be a Keras layer or model; received str"),
    ],
)
def test_set_fused_kernels_refuses_bad_arguments_by_name(layer, setting, named):
    target = {"model": _tiny_vit_classifier(), None: None, "name": "vit"}[layer]
    with pytest.raises(ValueError, match=named):
        fused_kernels.set_fused_kernels(target, setting)


@tensorflow_only
def test_a_model_switched_off_trains_with_keras_ops(fashion_mnist_small, fused_calls):
    (images, labels), _ = fashion_mnist_small
    images = images[:16, ..., None].astype("float32") / 255.0
    model = _tiny_vit_classifier()
    fused_kernels.set_fused_kernels(model, False)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer="sgd", loss=loss, jit_compile=False)
    model.train_on_batch(images, labels[:16])
    assert fused_calls == {"gelu": 0, "layer_normalization": 0}
    # The setting is read when the step is traced: compile again after a change.
    fused_kernels.set_fused_kernels(model, None)
    model.compile(optimizer="sgd", loss=loss, jit_compile=False)
    model.train_on_batch(images, labels[:16])
    assert fused_calls["gelu"] > 0 and fused_calls["layer_normalization"] > 0


def test_the_models_normalize_with_it():
    from zoo.models.vit.vit_backbone import ViTBackbone

    block = _block()
    norms = [layer for layer in block._flatten_layers() if "norm" in layer.name]
    assert norms and all(isinstance(n, LayerNormalization) for n in norms)
    backbone = ViTBackbone(
        image_size=28,
        patch_size=7,
        hidden_dim=16,
        num_layers=1,
        num_heads=2,
        intermediate_dim=32,
        num_channels=1,
    )
    backbone.build((None, 28, 28, 1))
    assert isinstance(backbone.final_norm, LayerNormalization)


def test_off_tensorflow_the_layers_never_fuse():
    block = _block()
    block.fused_kernels = True
    fused = block._use_fused_kernels(training=True)
    assert fused == (keras.backend.backend() == "tensorflow")
