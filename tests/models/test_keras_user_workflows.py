"""What a Keras user does with the zoo's models beyond the `zoo` command.

Transfer learning with a frozen backbone, saving and reloading it, wrapping a
frozen zoo model in one's own functional model, and `model.summary()` of the
subclassed models: each must behave as it does on Keras' own models, on every
backend.
"""

import keras
import numpy as np
import pytest

from zoo.models.forecaster import DLinear, TimeSeriesForecaster
from zoo.models.seq2seq import Seq2SeqBackbone, Seq2SeqTransformer
from zoo.models.vit import ViTBackbone, ViTClassifier


@pytest.fixture(autouse=True)
def seeded_float32():
    keras.utils.set_random_seed(1234)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


def tiny_backbone(**kwargs):
    return ViTBackbone(28, 7, 16, 1, 2, 32, num_channels=1, **kwargs)


def tiny_forecaster(**kwargs):
    return TimeSeriesForecaster(
        lookback=32,
        horizon=8,
        num_channels=2,
        patch_size=8,
        hidden_dim=16,
        num_layers=1,
        num_heads=2,
        intermediate_dim=32,
        **kwargs,
    )


def tiny_seq2seq(**kwargs):
    backbone = Seq2SeqBackbone(30, 30, 1, 1, 16, 2, 32, 12, 12)
    return Seq2SeqTransformer(backbone, **kwargs)


def wrapped(model, input_shape):
    """``model`` inside a user's functional model."""
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, model(inputs))


def test_fine_tuning_a_frozen_backbone_on_fashion_mnist_keeps_its_weights(
    fashion_mnist_small,
):
    (images, labels), _ = fashion_mnist_small
    keep = labels[:400] < 3  # a new 3-class task
    x = images[:400][keep][..., None].astype("float32") / 255.0
    y = labels[:400][keep]
    backbone = tiny_backbone()
    backbone.trainable = False
    model = ViTClassifier(backbone, num_classes=3, head_dropout=0.1)
    assert len(model.trainable_weights) == 2  # the new head's kernel and bias
    before = [keras.ops.convert_to_numpy(w) for w in backbone.weights]
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    for weight, old in zip(backbone.weights, before):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(weight), old)


def test_a_frozen_backbone_stays_frozen_when_the_classifier_reloads(tmp_path):
    # The classifier's config holds trainable=True and its backbone's False;
    # under JAX the classifier's flag used to unfreeze the backbone.
    backbone = tiny_backbone()
    backbone.trainable = False
    model = ViTClassifier(backbone, num_classes=3)
    for restored in (
        ViTClassifier.from_config(model.get_config()),
        keras.saving.load_model(_saved(model, tmp_path)),
    ):
        assert restored.trainable
        assert not restored.backbone.trainable
        assert {w.path for w in restored.trainable_weights} == {
            w.path for w in model.trainable_weights
        }
    images = np.zeros((1, 28, 28, 1), "float32")
    np.testing.assert_allclose(  # the loaded weights, not fresh ones
        keras.ops.convert_to_numpy(restored(images)),
        keras.ops.convert_to_numpy(model(images)),
        atol=1e-6,
    )


def _saved(model, tmp_path):
    path = tmp_path / "model.keras"
    model.save(path)
    return path


@pytest.mark.parametrize(
    "make, input_shape",
    [
        (lambda: tiny_backbone(trainable=False), (28, 28, 1)),
        (
            lambda: ViTClassifier.from_config(
                {**ViTClassifier(tiny_backbone(), 3).get_config(), "trainable": False}
            ),
            (28, 28, 1),
        ),
        (lambda: tiny_forecaster(trainable=False), (32, 2)),
        (lambda: DLinear(32, 8, 2, trainable=False), (32, 2)),
    ],
    ids=["vit_backbone", "vit_classifier_from_config", "forecaster", "dlinear"],
)
def test_a_model_built_frozen_trains_nothing_inside_a_users_model(make, input_shape):
    model = make()
    model.build((None, *input_shape))
    assert not model.trainable
    assert model.trainable_weights == []
    # A parent collects the variables' own flags, not the frozen model's.
    assert wrapped(model, input_shape).trainable_weights == []


def test_a_frozen_seq2seq_transformer_trains_nothing_inside_a_users_model():
    model = tiny_seq2seq(trainable=False, tie_output_embedding=True)
    source = keras.Input((None,), dtype="int32", name="encoder_token_ids")
    target = keras.Input((None,), dtype="int32", name="decoder_token_ids")
    inputs = {"encoder_token_ids": source, "decoder_token_ids": target}
    outer = keras.Model(inputs, model(inputs))
    assert model.trainable_weights == []
    assert outer.trainable_weights == []


@pytest.mark.parametrize(
    "make",
    [tiny_forecaster, lambda: tiny_forecaster(architecture="encoder_decoder")],
    ids=["patch", "encoder_decoder"],
)
def test_summary_of_a_subclassed_model_with_transformer_blocks(make):
    model = make()
    model(np.zeros((1, 32, 2), "float32"))
    lines = []
    model.summary(print_fn=lambda line, **kwargs: lines.append(line))
    assert any("Total params" in line for line in lines)
