"""zoo.data.images: folders, decoding, checks, splits and the input pipeline."""

import numpy as np
import pytest
import tensorflow as tf

from tests.data.image_checks import (
    assert_cut_and_pasted,
    assert_random_crops_and_flips,
    distinct_backgrounds,
    mixing_kinds,
)
from tests.data.image_files import write_image
from zoo.data import images as image_data


def write_png(path, array):
    path.write_bytes(tf.io.encode_png(array).numpy())


@pytest.fixture
def folder(tmp_path, fashion_mnist_small):
    (x, y), _ = fashion_mnist_small
    for label, name in ((0, "shirt"), (1, "trouser")):
        (tmp_path / name).mkdir()
        for index in np.flatnonzero(y == label)[:6]:
            write_png(tmp_path / name / f"{index}.png", x[index][..., None])
    return tmp_path


def test_load_image_folder(folder):
    images, labels, names = image_data.load_image_folder(folder)
    assert images.shape == (12, 28, 28, 1) and images.dtype == np.uint8
    assert names == ["shirt", "trouser"]
    assert labels.tolist() == [0] * 6 + [1] * 6


def test_odd_sizes_and_channels_are_unified(folder):
    write_png(folder / "shirt" / "big.png", np.full((40, 36, 3), 200, np.uint8))
    images, _, _ = image_data.load_image_folder(folder)
    assert images.shape == (13, 28, 28, 1)


@pytest.mark.parametrize("suffix", [".bmp", ".gif", ".jpg"])
def test_formats_without_a_grey_decoding_join_a_grey_folder(
    folder, fashion_mnist_small, suffix
):
    _, (x_test, _) = fashion_mnist_small
    write_image(folder / "trouser" / f"other{suffix}", x_test[0])
    images, labels, _ = image_data.load_image_folder(folder)
    assert images.shape == (13, 28, 28, 1) and labels[-1] == 1
    # The BMP and GIF hold the grey image exactly; the CMYK JPEG is lossy.
    error = np.abs(images[-1, ..., 0].astype(int) - x_test[0]).mean()
    assert error == 0 if suffix != ".jpg" else error < 5


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".gif", ".jpg"])
def test_decode_to_grey_or_rgb_from_any_format(tmp_path, fashion_mnist_small, suffix):
    _, (x_test, _) = fashion_mnist_small
    path = tmp_path / f"image{suffix}"
    write_image(path, x_test[1])
    grey = image_data.read_image_file(path, channels=1)
    rgb = image_data.read_image_file(path, channels=3)
    assert grey.shape == (28, 28, 1) and rgb.shape == (28, 28, 3)
    # Grey is the luminance of the RGB decoding, as served models compute it.
    expected = tf.image.rgb_to_grayscale(rgb).numpy()
    np.testing.assert_array_equal(grey, expected)


def test_hidden_folders_are_not_classes(folder):
    checkpoints = folder / ".ipynb_checkpoints"
    checkpoints.mkdir()
    write_png(checkpoints / "copy.png", np.zeros((28, 28, 1), np.uint8))
    _, labels, names = image_data.load_image_folder(folder)
    assert names == ["shirt", "trouser"] and len(labels) == 12


def test_corrupt_file_is_named(folder):
    (folder / "shirt" / "broken.png").write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match="broken.png is not a readable image") as info:
        image_data.load_image_folder(folder)
    # TensorFlow's reason, without its kernel's and op's names.
    assert "(Unknown image file format" in str(info.value)
    assert "function_node" not in str(info.value) and "[Op:" not in str(info.value)


def test_empty_class_folder(folder):
    (folder / "empty").mkdir()
    with pytest.raises(ValueError, match="'.*empty' holds no images.*received none"):
        image_data.load_image_folder(folder)


def test_single_class_folder(tmp_path):
    (tmp_path / "only").mkdir()
    write_png(tmp_path / "only" / "a.png", np.zeros((8, 8, 1), np.uint8))
    with pytest.raises(ValueError, match="at least 2 classes; received 1.*'only'"):
        image_data.load_image_folder(tmp_path)


def test_missing_folder(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        image_data.load_image_folder(tmp_path / "nowhere")


def test_an_image_path_that_is_a_folder_or_missing_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"is a folder; expected a PNG, JPEG"):
        image_data.read_image_file(tmp_path)
    with pytest.raises(ValueError, match=r"image file '.*nowhere.png' does not exist"):
        image_data.read_image_file(tmp_path / "nowhere.png")


def test_check_images_rejects_bad_labels_and_channels():
    images = np.zeros((3, 8, 8, 1), np.uint8)
    with pytest.raises(ValueError, match=r"labels.*\[0, 2\).*received label 5"):
        image_data.check_images(images, [0, 1, 5], 2)
    with pytest.raises(ValueError, match=r"labels.*received label -1"):
        image_data.check_images(images, [0, -1, 1], 2)
    with pytest.raises(
        ValueError, match=r"1 or 3 channels; received shape \(3, 8, 8, 2\)"
    ):
        image_data.check_images(np.zeros((3, 8, 8, 2)), [0, 1, 1], 2)


def test_statistics_and_split_are_seeded(fashion_mnist_small):
    (x, y), _ = fashion_mnist_small
    mean, std = image_data.image_statistics(x[..., None])
    assert 0.2 < mean[0] < 0.4 and 0.25 < std[0] < 0.45
    first = image_data.split_off(x, y, 0.1, seed=3)
    second = image_data.split_off(x, y, 0.1, seed=3)
    assert len(first[1][0]) == 200
    np.testing.assert_array_equal(first[1][1], second[1][1])


def test_pipeline_shuffles_deterministically_and_augments(fashion_mnist_small):
    (x, y), _ = fashion_mnist_small
    x, y = x[:64, ..., None], y[:64]

    def labels(seed):
        dataset = image_data.make_image_dataset(
            x, y, [0.3], [0.3], 16, training=True, seed=seed
        )
        return [batch.numpy().tolist() for _, batch in dataset]

    assert labels(1) == labels(1)
    assert labels(1) != labels(2)
    dataset = image_data.make_image_dataset(x, y, [0.3], [0.3], 16, training=True)
    images, _ = next(iter(dataset))
    assert images.shape == (16, 28, 28, 1) and images.dtype == tf.float32
    # Models read the static image size to build.
    assert dataset.element_spec[0].shape.as_list() == [None, 28, 28, 1]
    plain = image_data.make_image_dataset(x, y, [0.3], [0.3], 16)
    images, batch = next(iter(plain))
    np.testing.assert_allclose(
        images[0, ..., 0], (x[0, ..., 0] / 255 - 0.3) / 0.3, 1e-5
    )
    assert batch.numpy().tolist() == y[:16].tolist()


def test_augmented_images_are_crops_of_the_padded_originals(fashion_mnist_small):
    (x, _), _ = fashion_mnist_small
    images = x[:32, ..., None]
    pad = 2
    out = image_data.augment_images(tf.constant(images), tf.constant([3, 4]), pad)
    assert_random_crops_and_flips(images, out.numpy(), pad)


def test_mixup_gives_soft_labels(fashion_mnist_small):
    (x, y), _ = fashion_mnist_small
    dataset = image_data.make_image_dataset(
        x[:32, ..., None],
        y[:32],
        [0.3],
        [0.3],
        8,
        training=True,
        mixup=0.4,
        num_classes=10,
    )
    _, labels = next(iter(dataset))
    assert labels.shape == (8, 10)
    np.testing.assert_allclose(labels.numpy().sum(-1), 1.0, atol=1e-5)


def tf_mixed_batches(x, y, **mixing):
    """The batches of a training dataset without crops or flips, as NumPy."""
    dataset = image_data.make_image_dataset(
        x,
        y,
        [0.3],
        [0.3],
        16,
        training=True,
        seed=3,
        pad=0,
        flip=False,
        num_classes=10,
        **mixing,
    )
    return [(a.numpy(), b.numpy()) for a, b in dataset]


def test_cutmix_pastes_one_box_from_another_image_of_the_batch(fashion_mnist_small):
    (x, y), _ = fashion_mnist_small
    x, y = distinct_backgrounds(x[:32, ..., None]), y[:32]
    shares = []
    for (plain_images, plain_labels), (images, labels) in zip(
        tf_mixed_batches(x, y), tf_mixed_batches(x, y, cutmix=1.0)
    ):
        assert labels.shape == (16, 10)
        shares.append(
            assert_cut_and_pasted(plain_images, plain_labels, images, labels, 10)
        )
    assert len(set(shares)) == len(shares) and max(shares) > 0


def test_mixup_and_cutmix_together_give_each_batch_one_of_them(fashion_mnist_small):
    (x, y), _ = fashion_mnist_small
    x, y = distinct_backgrounds(x[:128, ..., None]), y[:128]
    both = tf_mixed_batches(x, y, mixup=0.4, cutmix=1.0)
    kinds = mixing_kinds([b[0] for b in tf_mixed_batches(x, y)], [b[0] for b in both])
    assert set(kinds) == {"cutmix", "mixup"}
    for _, labels in both:
        np.testing.assert_allclose(labels.sum(axis=1), 1.0, atol=1e-5)


def test_resumed_stream_sees_the_same_augmented_batches(fashion_mnist_small):
    (x, y), _ = fashion_mnist_small
    x, y = x[:48, ..., None], y[:48]

    def make():
        return image_data.make_image_dataset(
            x, y, [0.3], [0.3], 16, training=True, seed=5
        )

    # An uninterrupted run reads passes 0 and 1; a resumed one skips pass 0 of
    # a fresh copy (as training.recipe does) and must see the same pass 1.
    uninterrupted = [b[0].numpy() for b in make().repeat().take(6)][3:]
    resumed = [b[0].numpy() for b in make().repeat().skip(3).take(3)]
    for expected, got in zip(uninterrupted, resumed):
        np.testing.assert_array_equal(got, expected)
    first_pass = [b[0].numpy() for b in make().take(3)]
    assert not np.array_equal(first_pass[0], uninterrupted[0])


def stream_batches(x, labels, first_pass, batches, **augmentation):
    dataset = image_data.make_image_dataset(
        x, labels, [0.3], [0.3], 16, training=True, seed=5, **augmentation
    )
    stream = dataset.stream_from_pass(first_pass).take(batches)
    return [(a.numpy(), b.numpy()) for a, b in stream]


def test_pass_stream_enters_any_pass_with_the_batches_of_the_whole_stream(
    fashion_mnist_small,
):
    (x, _), _ = fashion_mnist_small
    x = x[:40, ..., None]
    ids = np.arange(40)  # labels that name each image
    # 40 images in batches of 16: 3 batches a pass, the last one of 8.
    whole = stream_batches(x, ids, 0, 9)
    from_pass_2 = stream_batches(x, ids, 2, 3)
    for (images, labels), (got_images, got_labels) in zip(whole[6:], from_pass_2):
        np.testing.assert_array_equal(got_labels, labels)
        np.testing.assert_array_equal(got_images, images)
    passes = [np.concatenate([b for _, b in whole[i : i + 3]]) for i in (0, 3, 6)]
    assert [len(b) for _, b in whole[:3]] == [16, 16, 8]
    for order in passes:  # every image once a pass
        np.testing.assert_array_equal(np.sort(order), ids)
    assert not np.array_equal(passes[0], passes[1])
    # Each image is augmented afresh in each pass, not as in the pass before.
    first, second = (
        {int(i): image for b, ls in whole[k : k + 3] for i, image in zip(ls, b)}
        for k in (0, 3)
    )
    assert sum(np.array_equal(first[i], second[i]) for i in ids) < 20


def test_pass_stream_batches_are_the_images_they_name(fashion_mnist_small):
    (x, _), _ = fashion_mnist_small
    x = x[:40, ..., None]
    for images, labels in stream_batches(x, np.arange(40), 1, 3, pad=0, flip=False):
        np.testing.assert_allclose(images, (x[labels] / 255 - 0.3) / 0.3, atol=1e-5)


def test_only_training_images_have_a_stream(fashion_mnist_small):
    (x, y), _ = fashion_mnist_small
    dataset = image_data.make_image_dataset(
        x[:8, ..., None], y[:8], [0.3], [0.3], 4, training=True
    )
    with pytest.raises(ValueError, match="`first_pass` must be a non-negative"):
        dataset.stream_from_pass(-1)
    plain = image_data.make_image_dataset(x[:8, ..., None], y[:8], [0.3], [0.3], 4)
    assert not hasattr(plain, "stream_from_pass")  # evaluation data has no passes
