"""Tests on the real Fashion-MNIST data (fetched into the data cache once)."""

import numpy as np
import pytest

from zoo.data import fashion_mnist
from zoo.data.fashion_mnist import CLASS_NAMES, load_fashion_mnist, make_dataset


@pytest.mark.parametrize("split,size", [("train", 60_000), ("test", 10_000)])
def test_full_split_shapes_dtypes_and_labels(split, size):
    images, labels = load_fashion_mnist(split)
    assert images.shape == (size, 28, 28)
    assert images.dtype == np.uint8
    assert labels.shape == (size,)
    assert np.issubdtype(labels.dtype, np.integer)
    assert labels.min() == 0 and labels.max() == 9
    # Fashion-MNIST is exactly balanced: every class has a tenth of each split.
    assert np.bincount(labels, minlength=10).tolist() == [size // 10] * 10
    assert images.max() == 255 and images.min() == 0
    assert 60 < images.mean() < 80, "real clothing images average about 73/255"


def test_class_names():
    assert len(CLASS_NAMES) == 10
    assert CLASS_NAMES[0] == "T-shirt/top" and CLASS_NAMES[9] == "Ankle boot"


def test_limit_is_a_prefix_and_returns_writable_copies():
    full_images, full_labels = load_fashion_mnist("test")
    images, labels = load_fashion_mnist("test", limit=100)
    assert images.shape == (100, 28, 28) and labels.shape == (100,)
    np.testing.assert_array_equal(images, full_images[:100])
    np.testing.assert_array_equal(labels, full_labels[:100])
    images[:] = 0
    labels[:] = 0
    again, _ = load_fashion_mnist("test", limit=100)
    assert again.any(), "modifying a result must not change the cached data"


def test_bad_split_names_argument_allowed_values_and_received_value():
    with pytest.raises(ValueError) as info:
        load_fashion_mnist("validation")
    message = str(info.value)
    assert "split" in message
    assert "'train'" in message and "'test'" in message
    assert "'validation'" in message


@pytest.mark.parametrize("limit", [0, -5, 60_001, 2.5, "10", True])
def test_bad_limit_is_rejected(limit):
    with pytest.raises(ValueError, match="limit must be None or an integer from 1"):
        load_fashion_mnist("train", limit=limit)


def test_is_cached_after_load():
    load_fashion_mnist("test", limit=1)
    assert fashion_mnist.is_cached()


def test_make_dataset_batches(fashion_mnist_small):
    (_, _), (_, y_test) = fashion_mnist_small
    dataset = make_dataset("test", batch_size=64, limit=500)
    batches = list(dataset.as_numpy_iterator())
    assert len(batches) == 8  # 7 full batches of 64 and one of 52
    images, labels = batches[0]
    assert images.shape == (64, 28, 28, 1) and images.dtype == np.float32
    assert labels.shape == (64,)
    assert 0.0 <= images.min() and images.max() <= 1.0
    # The test split is not shuffled by default, so order matches the fixture.
    all_labels = np.concatenate([b[1] for b in batches])
    np.testing.assert_array_equal(all_labels, y_test)


def test_make_dataset_shuffles_train_reproducibly():
    first = np.concatenate(
        [
            b[1]
            for b in make_dataset("train", 100, limit=300, seed=1).as_numpy_iterator()
        ]
    )
    again = np.concatenate(
        [
            b[1]
            for b in make_dataset("train", 100, limit=300, seed=1).as_numpy_iterator()
        ]
    )
    _, ordered = load_fashion_mnist("train", limit=300)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, ordered)
    np.testing.assert_array_equal(np.sort(first), np.sort(ordered))


@pytest.mark.parametrize("batch_size", [0, -1, 1.5, None])
def test_make_dataset_rejects_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        make_dataset("train", batch_size=batch_size)


def test_make_dataset_rejects_bad_split():
    with pytest.raises(ValueError, match="split must be one of 'train', 'test'"):
        make_dataset("val")


def test_fixture_is_small_real_data(fashion_mnist_small):
    (x_train, y_train), (x_test, y_test) = fashion_mnist_small
    assert x_train.shape == (2000, 28, 28) and y_train.shape == (2000,)
    assert x_test.shape == (500, 28, 28) and y_test.shape == (500,)
    assert set(np.unique(y_train)) == set(range(10))


@pytest.mark.parametrize("keep", [0.5, 0.999], ids=["half", "last_block_cut"])
def test_a_cut_short_download_names_the_file_and_the_remedy(tmp_path, keep):
    # The real labels file, cut as an interrupted download leaves it: gzip
    # raised EOFError, which the zoo command printed as a traceback.
    name = "t10k-labels-idx1-ubyte"
    packed = (fashion_mnist.fetch() / f"{name}.gz").read_bytes()
    (tmp_path / f"{name}.gz").write_bytes(packed[: int(len(packed) * keep)])
    with pytest.raises(ValueError, match="cannot be decompressed .* delete that"):
        fashion_mnist._read_idx(tmp_path, name)
