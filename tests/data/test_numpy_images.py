"""zoo.data.numpy_images: the TensorFlow-free image pipeline (run on JAX too)."""

import keras
import numpy as np
import pytest

from tests.data.image_checks import (
    assert_cut_and_pasted,
    assert_random_crops_and_flips,
    distinct_backgrounds,
    mixing_kinds,
)
from zoo.data import numpy_images
from zoo.models.vit.family import ViTFamily


def test_augmented_images_are_crops_of_the_padded_originals(fashion_mnist_small):
    (x, _), _ = fashion_mnist_small
    images = x[:32, ..., None]
    pad = 2
    out = numpy_images.augment_images_numpy(images, np.random.default_rng(3), pad)
    assert out.shape == images.shape and out.dtype == images.dtype
    assert_random_crops_and_flips(images, out, pad)


def test_evaluation_batches_match_the_tf_data_pipeline(fashion_mnist_small):
    pytest.importorskip("tensorflow")
    from zoo.data import images as tf_images

    (x, y), _ = fashion_mnist_small
    x, y = x[:40], y[:40]
    batches = numpy_images.ImageBatches(x, y, [0.3], [0.25], 16)
    reference = list(tf_images.make_image_dataset(x, y, [0.3], [0.25], 16))
    assert len(batches) == len(reference) == 3
    for index, (images, labels) in enumerate(reference):
        got_images, got_labels = batches[index]
        assert got_images.dtype == np.float32 and got_images.shape[-1] == 1
        np.testing.assert_allclose(got_images, images.numpy(), atol=1e-6)
        np.testing.assert_array_equal(got_labels, labels.numpy())


def test_each_pass_is_a_function_of_seed_and_pass(fashion_mnist_small):
    (x, y), _ = fashion_mnist_small
    x, y = x[:48], y[:48]

    def make():
        return numpy_images.ImageBatches(x, y, [0.3], [0.3], 16, training=True, seed=5)

    def one_pass(batches):
        return [batches[i] for i in range(len(batches))]

    stream = make()
    first = one_pass(stream)
    stream.on_epoch_end()  # what model.fit calls between passes
    second = one_pass(stream)
    resumed = make()
    resumed.set_pass(1)
    for (expected, expected_labels), (got, got_labels) in zip(
        second, one_pass(resumed)
    ):
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(got_labels, expected_labels)
    assert not np.array_equal(first[0][1], second[0][1])  # reshuffled
    # A batch does not depend on the order in which workers fetch it.
    np.testing.assert_array_equal(make()[2][0], first[2][0])
    all_labels = np.concatenate([labels for _, labels in second])
    assert sorted(all_labels.tolist()) == sorted(y.tolist())


def test_bad_arguments_are_named():
    images = np.zeros((4, 8, 8), np.uint8)
    with pytest.raises(ValueError, match=r"same length; received 4 images and 3"):
        numpy_images.ImageBatches(images, np.zeros(3), [0.5], [0.5], 2)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match=r"`batch_size` must be a positive"):
            numpy_images.ImageBatches(images, np.zeros(4), [0.5], [0.5], bad)
    with pytest.raises(IndexError):
        numpy_images.ImageBatches(images, np.zeros(4), [0.5], [0.5], 2)[2]
    with pytest.raises(ValueError, match=r"shape \(N, height, width.*\(4, 64\)"):
        numpy_images.ImageBatches(np.zeros((4, 64)), np.zeros(4), [0.5], [0.5], 2)
    for bad in (-1, 1.5):
        with pytest.raises(ValueError, match=r"`pad` must be a non-negative integer"):
            numpy_images.ImageBatches(images, np.zeros(4), [0.5], [0.5], 2, pad=bad)


def test_tiny_vit_trains_on_the_numpy_pipeline(fashion_mnist_small, tmp_path):
    """The path a GPU machine without TensorFlow takes (this file also runs on JAX)."""
    keras.utils.set_random_seed(0)
    (x, y), (x_test, y_test) = fashion_mnist_small
    family = ViTFamily()
    config = family.check_preset("tiny")
    mean, std = [0.29], [0.35]
    train = numpy_images.ImageBatches(x, y, mean, std, 64, training=True)
    test = numpy_images.ImageBatches(x_test, y_test, mean, std, 128)
    info = {"image_size": [28, 28], "channels": 1, "num_classes": 10}
    model = family.build_model(config, info)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3), **family.compile_arguments(config, info)
    )
    model.fit(train, epochs=4, verbose=0)
    _, accuracy = model.evaluate(test, verbose=0)
    assert accuracy > 0.5  # chance is 0.1


def test_family_rejects_an_unknown_pipeline(tmp_path):
    with pytest.raises(ValueError, match=r"`pipeline` must be one of.*'torch'"):
        ViTFamily().prepare_data("fashion_mnist", 16, tmp_path, pipeline="torch")


def mixed_batches(x, y, **mixing):
    """Training batches of 16 without crops or flips, MixUp/CutMix as given."""
    return numpy_images.ImageBatches(
        x,
        y,
        [0.3],
        [0.3],
        16,
        training=True,
        seed=2,
        pad=0,
        flip=False,
        num_classes=10,
        **mixing,
    )


def test_mixup_mixes_each_image_and_label_with_one_other_of_the_batch(
    fashion_mnist_small,
):
    (x, y), _ = fashion_mnist_small
    x, y = x[:64], y[:64]
    alpha = 0.4
    plain_images, plain_labels = mixed_batches(x, y)[1]
    images, labels = mixed_batches(x, y, mixup=alpha)[1]
    assert labels.shape == (16, 10) and labels.dtype == np.float32
    np.testing.assert_allclose(labels.sum(axis=1), 1.0, rtol=1e-6)
    # Without crops or flips the batch's generator draws the weight first.
    weight = np.random.default_rng([2, 0, 1]).beta(alpha, alpha)
    one_hot = np.eye(10, dtype=np.float32)[plain_labels]
    partners = []
    for i in range(16):
        mixes = weight * plain_images[i] + (1 - weight) * plain_images
        matches = [j for j in range(16) if np.allclose(images[i], mixes[j], atol=1e-5)]
        assert matches, f"image {i} is not a mix of two images of the batch"
        j = matches[0]
        partners.append(j)
        expected = weight * one_hot[i] + (1 - weight) * one_hot[j]
        np.testing.assert_allclose(labels[i], expected, atol=1e-6)
    assert sorted(partners) == list(range(16))  # a permutation of the batch
    # A pure function of (seed, pass, batch), like the augmentation.
    again_images, again_labels = mixed_batches(x, y, mixup=alpha)[1]
    np.testing.assert_array_equal(again_images, images)
    np.testing.assert_array_equal(again_labels, labels)


def test_cutmix_pastes_one_box_from_another_image_of_the_batch(fashion_mnist_small):
    (x, y), _ = fashion_mnist_small
    x, y = distinct_backgrounds(x[:64]), y[:64]
    plain, cut = mixed_batches(x, y), mixed_batches(x, y, cutmix=1.0)
    shares = []
    for index in range(len(cut)):
        plain_images, plain_labels = plain[index]
        images, labels = cut[index]
        assert labels.shape == (16, 10) and labels.dtype == np.float32
        shares.append(
            assert_cut_and_pasted(plain_images, plain_labels, images, labels, 10)
        )
    assert len(set(shares)) == len(shares)  # a new box for every batch
    # A pure function of (seed, pass, batch), like the augmentation.
    np.testing.assert_array_equal(mixed_batches(x, y, cutmix=1.0)[1][0], cut[1][0])


def test_mixup_and_cutmix_together_give_each_batch_one_of_them(fashion_mnist_small):
    (x, y), _ = fashion_mnist_small
    x, y = distinct_backgrounds(x[:128]), y[:128]
    plain = mixed_batches(x, y)
    both = mixed_batches(x, y, mixup=0.4, cutmix=1.0)
    kinds = mixing_kinds(
        [plain[i][0] for i in range(len(plain))], [both[i][0] for i in range(len(both))]
    )
    assert set(kinds) == {"cutmix", "mixup"}


def test_bad_mixup_arguments_are_named():
    images, labels = np.zeros((4, 8, 8), np.uint8), np.zeros(4, int)
    for bad in (-0.1, "0.2", True):
        with pytest.raises(ValueError, match=r"`mixup` must be a non-negative"):
            numpy_images.ImageBatches(images, labels, [0.5], [0.5], 2, mixup=bad)
    with pytest.raises(ValueError, match=r"`cutmix` must be a non-negative.*-1"):
        numpy_images.ImageBatches(images, labels, [0.5], [0.5], 2, cutmix=-1)
    with pytest.raises(ValueError, match=r"`num_classes` must be an integer >= 2"):
        numpy_images.ImageBatches(images, labels, [0.5], [0.5], 2, mixup=0.2)
    with pytest.raises(ValueError, match=r"`num_classes` must be an integer >= 2"):
        numpy_images.ImageBatches(images, labels, [0.5], [0.5], 2, cutmix=1.0)
