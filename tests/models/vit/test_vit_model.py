"""ViTBackbone, ViTClassifier, SPT and LSA: shapes, round trips, interpolation."""

import inspect

import keras
import numpy as np
import pytest

from zoo.models.vit import (
    ConvolutionalStem,
    LocalityEncoderBlock,
    LocalitySelfAttention,
    ShiftedPatchTokenization,
    ViTBackbone,
    ViTClassifier,
    resize_backbone,
)
from zoo.models.vit.locality_self_attention import diagonal_attention_mask
from zoo.models.vit.rollout import attention_rollout

SMALL = dict(
    patch_size=7, hidden_dim=16, num_layers=2, num_heads=2, intermediate_dim=32
)
VARIANTS = {
    "class_token": dict(use_class_token=True),
    "average_pool": dict(use_class_token=False, drop_path_rate=0.1),
    "spt_lsa": dict(shifted_patch_tokenization=True, locality_self_attention=True),
    "conv_stem": dict(patch_size=4, conv_stem_filters=[4, 8]),
}


def classifier(image_size=28, channels=1, **overrides):
    backbone = ViTBackbone(image_size, num_channels=channels, **{**SMALL, **overrides})
    return ViTClassifier(backbone, num_classes=10, head_hidden_dim=8)


def images(batch=2, size=28, channels=1):
    return np.random.default_rng(0).normal(size=(batch, size, size, channels))


def init_arguments(cls):
    names = set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"}
    return names


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_shapes_and_float32_logits(variant):
    model = classifier(**VARIANTS[variant])
    tokens = model.backbone(images())
    options = {**SMALL, **VARIANTS[variant]}
    expected_tokens = (28 // options["patch_size"]) ** 2 + int(
        options.get("use_class_token", True)
    )
    assert tuple(tokens.shape) == (2, expected_tokens, 16)
    logits = model(images())
    assert tuple(logits.shape) == (2, 10)
    assert keras.backend.standardize_dtype(logits.dtype) == "float32"


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_an_empty_batch_gives_no_logits(variant):
    """A server may send no images; the patch reshape's -1 could not tell."""
    if variant == "conv_stem" and keras.backend.backend() == "tensorflow":
        # TensorFlow's conv2d returns an empty batch unchanged, (0, 28, 28, 1)
        # for (0, 14, 14, 4), and the stem's batch normalization refuses it.
        pytest.skip("TensorFlow's conv2d keeps an empty batch's input shape")
    model = classifier(**VARIANTS[variant])
    assert tuple(model(images(batch=0)).shape) == (0, 10)


def test_mixed_precision_keeps_float32_logits():
    keras.config.set_dtype_policy("mixed_float16")
    model = classifier()
    assert keras.backend.standardize_dtype(model(images()).dtype) == "float32"


def test_a_mixed_precision_model_loads_in_mixed_precision(tmp_path):
    """zoo evaluate, predict and export load under float32: they ran it in float32."""
    keras.config.set_dtype_policy("mixed_float16")
    model = classifier(head_dropout=0.1)
    expected = keras.ops.convert_to_numpy(model(images()))
    model.save(tmp_path / "vit.keras")
    keras.config.set_dtype_policy("float32")
    loaded = keras.models.load_model(tmp_path / "vit.keras")
    policies = {
        layer.dtype_policy.name for layer in loaded._flatten_layers() if layer.weights
    }
    assert policies == {"mixed_float16", "float32"}  # float32: the logits only
    assert loaded.logits.dtype_policy.name == "float32"
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(loaded(images())), expected
    )


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_config_and_keras_file_round_trip(variant, tmp_path):
    model = classifier(**VARIANTS[variant])
    x = images()
    expected = keras.ops.convert_to_numpy(model(x))

    config = model.get_config()
    assert set(config) - {"name", "trainable"} == init_arguments(ViTClassifier)
    backbone_config = model.backbone.get_config()
    assert set(backbone_config) - {"name", "trainable"} == init_arguments(ViTBackbone)
    copy = ViTClassifier.from_config(config)
    copy.set_weights(model.get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(copy(x)), expected, atol=1e-6)

    path = tmp_path / "vit.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded, ViTClassifier)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(x)), expected, atol=1e-6
    )


@pytest.mark.parametrize(
    "layer, shape",
    [
        (ShiftedPatchTokenization(7, 8, use_class_token=True), (2, 28, 28, 1)),
        (LocalitySelfAttention(num_heads=2), (2, 5, 8)),
        (LocalityEncoderBlock(num_heads=2, intermediate_dim=8), (2, 5, 8)),
    ],
    ids=["spt", "lsa", "lsa_block"],
)
def test_layer_round_trip(layer, shape):
    x = np.random.default_rng(1).normal(size=shape).astype("float32")
    expected = keras.ops.convert_to_numpy(layer(x))
    config = layer.get_config()
    assert init_arguments(type(layer)) <= set(config)
    copy = type(layer).from_config(config)
    copy(x)
    copy.set_weights(layer.get_weights())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(copy(x)), expected, atol=1e-6)


def test_spt_sees_shifted_neighbours():
    layer = ShiftedPatchTokenization(4, 8)
    x = np.zeros((1, 8, 8, 1), "float32")
    x[0, 3, 3, 0] = 1.0
    # Only patch 0 holds the pixel; the four shifted copies move it into
    # the patches right, below and diagonal: 4 patches change in all.
    tokens = keras.ops.convert_to_numpy(layer(x))
    base = keras.ops.convert_to_numpy(layer(np.zeros_like(x)))
    changed = np.abs(tokens - base).sum(axis=-1)[0] > 1e-6
    assert changed.sum() == 4


def test_lsa_masks_the_diagonal_and_learns_a_temperature():
    block = LocalityEncoderBlock(num_heads=2, intermediate_dim=8, normalize_first=True)
    x = np.random.default_rng(2).normal(size=(2, 5, 8)).astype("float32")
    _, scores = block(x, return_attention_scores=True)
    scores = keras.ops.convert_to_numpy(scores)
    assert np.allclose(np.diagonal(scores, axis1=-2, axis2=-1), 0.0)
    np.testing.assert_allclose(scores.sum(-1), 1.0, atol=1e-5)
    names = [w.path for w in block.trainable_weights]
    assert any("log_temperature" in name for name in names)
    mask = keras.ops.convert_to_numpy(diagonal_attention_mask(x, 5))
    assert mask.shape == (2, 5, 5) and not mask[0].diagonal().any()


def test_position_interpolation_to_new_size():
    model = classifier(use_class_token=True)
    bigger = model.with_image_size(56)
    assert bigger.backbone.grid_size == (8, 8)
    assert tuple(bigger(images(size=56)).shape) == (2, 10)
    old = keras.ops.convert_to_numpy(model.backbone.position_embedding.weights[0])
    new = keras.ops.convert_to_numpy(bigger.backbone.position_embedding.weights[0])
    assert new.shape == (65, 16)
    np.testing.assert_allclose(new[0], old[0])  # the class token's position
    # Interpolating back to the original grid gives the original table.
    back = resize_backbone(resize_backbone(model.backbone, 28), 28)
    np.testing.assert_allclose(back.position_embedding.weights[0], old, atol=1e-5)
    # Other weights are copied.
    np.testing.assert_allclose(bigger.logits.weights[0], model.logits.weights[0])


def test_image_size_not_a_multiple_of_the_patch_is_resized():
    model = classifier(image_size=30)
    assert model.backbone.grid_size == (4, 4)
    assert tuple(model(images(size=30)).shape) == (2, 10)


def test_attention_rollout_shape():
    model = classifier()
    scores = model.backbone.attention_scores(images())
    heat = attention_rollout(scores, True, model.backbone.grid_size)
    assert heat.shape == (2, 4, 4)
    assert heat.min() >= 0.0 and np.isclose(heat.max(), 1.0)


def test_image_smaller_than_one_patch():
    with pytest.raises(ValueError, match="smaller than one patch.*patch_size=7"):
        classifier(image_size=5)


def test_wrong_channel_count():
    model = classifier(channels=1)
    with pytest.raises(
        ValueError, match=r"expected axis -1.*value 1.*received.*\(2, 28, 28, 3\)"
    ):
        model(images(channels=3))
    with pytest.raises(ValueError, match="num_channels.*received 4"):
        classifier(channels=4)


@pytest.mark.parametrize(
    "argument, value",
    [
        ("num_heads", 0),
        ("patch_size", "7"),
        ("hidden_dim", -1),
        ("dropout", -0.1),
        ("attention_dropout", 1.0),
        ("drop_path_rate", 2),
    ],
)
def test_bad_backbone_arguments(argument, value):
    with pytest.raises(ValueError, match=f"`{argument}`.*received"):
        ViTBackbone(28, num_channels=1, **{**SMALL, argument: value})


def test_bad_num_classes():
    backbone = ViTBackbone(28, num_channels=1, **SMALL)
    with pytest.raises(ValueError, match="num_classes.*received 1"):
        ViTClassifier(backbone, num_classes=1)


def test_conv_stem_tokens_see_overlapping_neighbourhoods():
    stem = ConvolutionalStem(patch_size=4, hidden_dim=8, filters=(4, 8))
    x = np.zeros((1, 28, 28, 1), "float32")
    base = keras.ops.convert_to_numpy(stem(x, training=False))
    x[0, 4, 4, 0] = 1.0  # first pixel of the patch at grid (1, 1)
    changed = keras.ops.convert_to_numpy(stem(x, training=False))
    moved = np.flatnonzero(np.abs(changed - base).sum(-1)[0] > 1e-6)
    # 3x3 convolutions reach past patch borders: neighbours of token 8 change.
    assert 8 in moved and len(moved) > 1


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        (dict(patch_size=7, hidden_dim=8, filters=(4, 8)), "patch_size"),
        (dict(patch_size=4, hidden_dim=8, filters=()), "filters"),
        (dict(patch_size=2, hidden_dim=0, filters=(4,)), "hidden_dim"),
    ],
)
def test_conv_stem_bad_arguments_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        ConvolutionalStem(**kwargs)


def test_conv_stem_and_shifted_patches_are_exclusive():
    with pytest.raises(ValueError, match="conv_stem_filters"):
        classifier(
            patch_size=4, conv_stem_filters=[4, 8], shifted_patch_tokenization=True
        )


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_numpy_integer_arguments(variant, tmp_path):
    """Sizes read from arrays (``labels.max() + 1``) are NumPy integers."""
    options = {**SMALL, **VARIANTS[variant]}
    numpy_options = {
        key: np.int64(value) if type(value) is int else value
        for key, value in options.items()
    }
    backbone = ViTBackbone(np.int64(28), num_channels=np.int64(1), **numpy_options)
    model = ViTClassifier(backbone, num_classes=np.int64(10))
    assert type(model.num_classes) is int and type(backbone.patch_size) is int
    assert tuple(model(images()).shape) == (2, 10)
    model.save(tmp_path / "vit.keras")
    loaded = keras.models.load_model(tmp_path / "vit.keras")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(images())),
        keras.ops.convert_to_numpy(model(images())),
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "argument, value", [("num_layers", True), ("num_channels", True)]
)
def test_booleans_are_not_sizes(argument, value):
    with pytest.raises(ValueError, match=f"`{argument}`.*received True"):
        ViTBackbone(28, **{**SMALL, "num_channels": 1, argument: value})


@pytest.mark.parametrize(
    "argument",
    ["use_class_token", "shifted_patch_tokenization", "locality_self_attention"],
)
def test_flags_are_booleans(argument):
    # "false" is true by truth value: the flag would silently be on.
    with pytest.raises(ValueError, match=f"`{argument}` must be True or False"):
        ViTBackbone(28, **{**SMALL, "num_channels": 1, argument: "false"})


def test_classifier_needs_a_vit_backbone():
    with pytest.raises(ValueError, match="`backbone` must be a ViTBackbone.*Dense"):
        ViTClassifier(keras.layers.Dense(3), num_classes=10)
    backbone = ViTBackbone(28, num_channels=1, **SMALL)
    with pytest.raises(ValueError, match="num_classes.*received True"):
        ViTClassifier(backbone, num_classes=True)


@pytest.mark.parametrize(
    "layer",
    [
        ShiftedPatchTokenization(4, 8, use_class_token=True),
        ConvolutionalStem(4, 8, filters=(4, 8), use_class_token=True),
    ],
    ids=["spt", "conv_stem"],
)
def test_tokenizers_take_symbolic_images_of_any_size(layer):
    assert layer.compute_output_shape((None, None, None, 1)) == (None, None, 8)
    assert layer.compute_output_shape((None, 8, 12, 1)) == (None, 7, 8)
    inputs = keras.Input((None, None, 1))
    model = keras.Model(inputs, layer(inputs))
    x = np.random.default_rng(3).normal(size=(2, 8, 12, 1)).astype("float32")
    assert tuple(model(x).shape) == (2, 7, 8)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(x)),
        keras.ops.convert_to_numpy(layer(x)),
        atol=1e-6,
    )


def test_attention_scores_check_the_images():
    model = classifier()
    with pytest.raises(
        ValueError, match=r"\(batch, 28, 28, 1\), the model's; received shape \(1, 56"
    ):
        model.backbone.attention_scores(images(batch=1, size=56))
    with pytest.raises(ValueError, match=r"received shape \(1, 28, 28, 3\)"):
        model.backbone.attention_scores(images(batch=1, channels=3))
    # Grey images without a channel axis, as the model itself takes them.
    scores = model.backbone.attention_scores(images()[..., 0])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(scores[-1]),
        keras.ops.convert_to_numpy(model.backbone.attention_scores(images())[-1]),
    )


def test_rollout_checks_its_scores():
    model = classifier()
    scores = model.backbone.attention_scores(images())
    with pytest.raises(ValueError, match="26 tokens.*grid_size=\\(5, 5\\).*17, 17"):
        attention_rollout(scores, True, (5, 5))
    with pytest.raises(ValueError, match="received none"):
        attention_rollout([], True, (4, 4))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_rollout_of_a_reloaded_model_is_the_same(variant, tmp_path):
    model = classifier(**VARIANTS[variant])
    backbone = model.backbone
    heat = attention_rollout(
        backbone.attention_scores(images()),
        backbone.use_class_token,
        backbone.grid_size,
    )
    model.save(tmp_path / "vit.keras")
    loaded = keras.models.load_model(tmp_path / "vit.keras").backbone
    np.testing.assert_allclose(
        attention_rollout(
            loaded.attention_scores(images()), loaded.use_class_token, loaded.grid_size
        ),
        heat,
        atol=1e-6,
    )


@pytest.mark.parametrize(
    "argument, value",
    [("head_dropout", 1.5), ("head_dropout", -0.1), ("head_hidden_dim", -3)],
)
def test_bad_head_arguments_are_named(argument, value):
    backbone = ViTBackbone(28, num_channels=1, **SMALL)
    with pytest.raises(ValueError, match=f"`{argument}`.*{value}"):
        ViTClassifier(backbone, num_classes=10, **{argument: value})
