"""What a Keras user does with the zoo's models beyond the `zoo` command.

Transfer learning with a frozen backbone, saving and reloading it, wrapping a
frozen zoo model in one's own functional model, and `model.summary()` of the
subclassed models: each must behave as it does on Keras' own models, on every
backend.
"""

import keras
import numpy as np
import pytest

from tests.keras_state import seeded_float32_policy
from zoo.models.forecaster import DLinear, TimeSeriesForecaster
from zoo.models.seq2seq import Seq2SeqBackbone, Seq2SeqTransformer
from zoo.models.vit import ViTBackbone, ViTClassifier

seeded_float32 = pytest.fixture(autouse=True, name="seeded_float32")(
    seeded_float32_policy
)


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


def three_class_images(fashion_mnist_small, count):
    """``count`` real Fashion-MNIST images of classes 0-2, in [0, 1], and labels."""
    (images, labels), _ = fashion_mnist_small
    keep = np.flatnonzero(labels < 3)[:count]
    return images[keep][..., None].astype("float32") / 255.0, labels[keep]


def demand_windows(count):
    """``count`` real elecdemand windows of ``tiny_forecaster``'s shape.

    Returns ``(history, future)``: 32 and 8 half-hours of demand and
    temperature, each column scaled to mean 0 and standard deviation 1.
    """
    from zoo.data import elecdemand

    values = elecdemand.load()[["Demand", "Temperature"]].to_numpy("float32")
    values = (values - values.mean(0)) / values.std(0)
    starts = np.arange(count) * 48  # one window a day
    history = np.stack([values[s : s + 32] for s in starts])
    future = np.stack([values[s + 32 : s + 40] for s in starts])
    return history, future


def wrapped(model, input_shape):
    """``model`` inside a user's functional model."""
    inputs = keras.Input(input_shape)
    return keras.Model(inputs, model(inputs))


def test_fine_tuning_a_frozen_backbone_on_fashion_mnist_keeps_its_weights(
    fashion_mnist_small,
):
    x, y = three_class_images(fashion_mnist_small, 120)  # a new 3-class task
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


def _numpy(tensors):
    return keras.tree.map_structure(keras.ops.convert_to_numpy, tensors)


@pytest.mark.skipif(
    keras.config.backend() == "torch",
    reason="Keras' tf_saved_model export fails on PyTorch for any model",
)
@pytest.mark.parametrize("name", ["vit", "seq2seq", "forecaster"])
def test_keras_own_model_export_serves_any_batch(name, tmp_path, fashion_mnist_small):
    # Keras' `model.export`, not the zoo's: the Seq2SeqTransformer, built in
    # its constructor, used to be refused as "never called" even after calls.
    tf = pytest.importorskip("tensorflow")
    if name == "vit":
        model = ViTClassifier(tiny_backbone(), 3)
        inputs, _ = three_class_images(fashion_mnist_small, 3)
    elif name == "seq2seq":
        model = tiny_seq2seq()
        inputs = {
            "encoder_token_ids": np.array([[3, 4, 5, 0], [6, 7, 0, 0]], "int32"),
            "decoder_token_ids": np.array([[1, 4, 5], [1, 2, 0]], "int32"),
        }
    else:
        model = tiny_forecaster()
        inputs, _ = demand_windows(3)
    expected = _numpy(model(inputs))
    model.export(tmp_path / "served", format="tf_saved_model", verbose=False)
    served = tf.saved_model.load(str(tmp_path / "served"))
    np.testing.assert_allclose(served.serve(inputs).numpy(), expected, atol=1e-5)
    if name == "seq2seq":  # another batch size and other lengths
        longer = {
            "encoder_token_ids": np.array([[3, 4, 5, 8, 9, 0]], "int32"),
            "decoder_token_ids": np.array([[1, 4, 5, 6, 2]], "int32"),
        }
        np.testing.assert_allclose(
            served.serve(longer).numpy(), _numpy(model(longer)), atol=1e-5
        )


def _one_custom_step(model, inputs, targets, loss_fn, optimizer):
    """One step of the user's own training loop in the backend's autodiff."""
    backend = keras.config.backend()
    optimizer.build(model.trainable_variables)
    if backend == "tensorflow":
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss = loss_fn(targets, model(inputs, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
    elif backend == "jax":
        import jax

        def compute(trainable, non_trainable):
            outputs, non_trainable = model.stateless_call(
                trainable, non_trainable, inputs, training=True
            )
            return loss_fn(targets, outputs), non_trainable

        trainable = [v.value for v in model.trainable_variables]
        non_trainable = [v.value for v in model.non_trainable_variables]
        (loss, _), grads = jax.value_and_grad(compute, has_aux=True)(
            trainable, non_trainable
        )
        trainable, _ = optimizer.stateless_apply(
            [v.value for v in optimizer.variables], grads, trainable
        )
        for variable, value in zip(model.trainable_variables, trainable):
            variable.assign(value)
    else:
        import torch

        model.zero_grad()
        loss = loss_fn(torch.as_tensor(targets), model(inputs, training=True))
        loss.backward()
        grads = [v.value.grad for v in model.trainable_variables]
        with torch.no_grad():
            optimizer.apply(grads, model.trainable_variables)
    return float(keras.ops.convert_to_numpy(loss))


@pytest.mark.parametrize("name", ["vit", "forecaster"])
def test_a_custom_training_step_matches_fit(name, fashion_mnist_small):
    if name == "vit":
        make = lambda: ViTClassifier(tiny_backbone(), 3)  # noqa: E731
        inputs, targets = three_class_images(fashion_mnist_small, 16)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    else:
        make = lambda: tiny_forecaster(dropout=0.0)  # noqa: E731  (same steps)
        inputs, targets = demand_windows(16)
        loss_fn = keras.losses.MeanSquaredError()
    fitted, custom = make(), make()
    fitted(inputs[:1])
    custom(inputs[:1])
    custom.set_weights(fitted.get_weights())
    # SGD, whose step is proportional to the gradient: Adam's first step is
    # +-lr for any gradient, and flips sign on a gradient at rounding level.
    fitted.compile(keras.optimizers.SGD(0.05), loss_fn)
    fitted.fit(inputs, targets, batch_size=16, shuffle=False, verbose=0)
    optimizer = keras.optimizers.SGD(0.05)
    losses = [
        _one_custom_step(custom, inputs, targets, loss_fn, optimizer) for _ in range(1)
    ]
    for mine, keras_fit in zip(custom.trainable_weights, fitted.trainable_weights):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(mine),
            keras.ops.convert_to_numpy(keras_fit),
            atol=1e-5,
        )
    losses += [
        _one_custom_step(custom, inputs, targets, loss_fn, optimizer) for _ in range(3)
    ]
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_a_global_mixed_policy_set_before_building_trains(policy, fashion_mnist_small):
    keras.config.set_dtype_policy(policy)
    model = ViTClassifier(tiny_backbone(), 3)
    images, labels = three_class_images(fashion_mnist_small, 16)
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    history = model.fit(images, labels, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert model.dtype_policy.name == policy
    assert keras.backend.standardize_dtype(model(images[:2]).dtype) == "float32"
    assert {v.dtype for v in model.trainable_weights} == {"float32"}


def test_keras_embedding_masks_are_honoured_by_the_blocks():
    from zoo import layers

    source = keras.Input((None,), dtype="int32")
    target = keras.Input((None,), dtype="int32")
    encoded = layers.TransformerEncoderBlock(2, 32)(
        keras.layers.Embedding(20, 16, mask_zero=True)(source)
    )
    embedded = keras.layers.Embedding(20, 16, mask_zero=True)(target)
    decoded = layers.TransformerDecoderBlock(2, 32)(embedded, encoded)
    attended = layers.MultiHeadAttention(2, 8)(decoded, decoded)
    pooled = keras.layers.GlobalAveragePooling1D()(attended)  # uses the mask
    model = keras.Model([source, target], [attended, pooled])
    ids = np.array([[3, 4, 5, 0], [6, 7, 0, 0]], "int32")
    targets = np.array([[1, 2, 0], [1, 3, 4]], "int32")
    outputs, pooled = _numpy(model([ids, targets]))
    padded, padded_pooled = _numpy(
        model([np.pad(ids, ((0, 0), (0, 5))), np.pad(targets, ((0, 0), (0, 2)))])
    )
    valid = targets != 0
    np.testing.assert_allclose(padded[:, :3][valid], outputs[valid], atol=1e-5)
    np.testing.assert_allclose(padded_pooled, pooled, atol=1e-5)
