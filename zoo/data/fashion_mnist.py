"""Fashion-MNIST: 28×28 grey images of clothing in 10 classes, fetched offline.

The data comes from Debian's `dataset-fashion-mnist` package (the original idx
files of Zalando Research), fetched on first use into the data cache (see
`zoo.data.cache`). Splits are the official ones: 60,000 training and 10,000
test images.
"""

from __future__ import annotations

import functools
import gzip
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from zoo.data import debian

if TYPE_CHECKING:
    import tensorflow as tf

PACKAGE = "dataset-fashion-mnist"
"""Debian package that ships the idx files."""

SPLITS = ("train", "test")
"""Allowed values of `split`."""

SPLIT_SIZES = {"train": 60_000, "test": 10_000}
"""Number of examples in each split."""

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
"""Class names, indexed by label."""

IMAGE_SHAPE = (28, 28)
"""Height and width of every image."""

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_IDX_SUBDIR = Path("usr/share/datasets/fashion-mnist")


def is_cached() -> bool:
    """Tell whether Fashion-MNIST is already in the data cache.

    Returns:
        True if the Debian package has been fetched and unpacked.
    """
    return debian.is_package_cached(PACKAGE)


def fetch() -> Path:
    """Fetch Fashion-MNIST into the data cache if it is not there yet.

    Returns:
        The directory that holds the four idx files.

    Raises:
        RuntimeError: if the Debian package cannot be fetched.
    """
    return debian.fetch_package(PACKAGE) / _IDX_SUBDIR


def _check_split(split: object) -> str:
    if not isinstance(split, str) or split not in SPLITS:
        raise ValueError(
            f"split must be one of {', '.join(map(repr, SPLITS))}; got {split!r}"
        )
    return split


def _check_limit(limit: object, split: str) -> int:
    size = SPLIT_SIZES[split]
    if limit is None:
        return size
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)):
        raise ValueError(
            f"limit must be None or an integer from 1 to {size} for split "
            f"{split!r}; got {limit!r} of type {type(limit).__name__}"
        )
    if not 1 <= limit <= size:
        raise ValueError(
            f"limit must be None or an integer from 1 to {size} for split "
            f"{split!r}; got {limit}"
        )
    return int(limit)


def _read_idx(directory: Path, name: str) -> np.ndarray:
    """Read an unsigned-byte idx file, gzip'd (`name.gz`) or plain (`name`)."""
    plain, packed = directory / name, directory / f"{name}.gz"
    refetch = "the cache is damaged: delete that directory and load again to refetch"
    if packed.is_file():
        try:
            raw = gzip.decompress(packed.read_bytes())
        except (EOFError, gzip.BadGzipFile, zlib.error) as error:
            # A cut-short download: EOFError is no user error, so the CLI
            # would print a traceback without saying what to do.
            raise ValueError(
                f"{packed} cannot be decompressed ({error}); {refetch}"
            ) from None
    elif plain.is_file():
        raw = plain.read_bytes()
    else:
        raise FileNotFoundError(
            f"Fashion-MNIST file {name}(.gz) not found in {directory}; {refetch}"
        )
    # Header: two zero bytes, a type code (0x08 = unsigned byte), the number of
    # dimensions, then each dimension as a big-endian uint32.
    if len(raw) < 4 or raw[0:2] != b"\x00\x00" or raw[2] != 0x08:
        raise ValueError(
            f"{name} in {directory} is not an unsigned-byte idx file; {refetch}"
        )
    ndim = raw[3]
    header_end = 4 + 4 * ndim
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", ndim, offset=4))
    expected = int(np.prod(shape)) + header_end
    if len(raw) != expected:
        raise ValueError(
            f"{name} in {directory} is truncated: header says shape {shape} "
            f"({expected} bytes), file has {len(raw)} bytes; {refetch}"
        )
    return np.frombuffer(raw, np.uint8, offset=header_end).reshape(shape)


@functools.lru_cache(maxsize=len(SPLITS))
def _load_split(split: str) -> tuple[np.ndarray, np.ndarray]:
    directory = fetch()
    image_file, label_file = _FILES[split]
    images = _read_idx(directory, image_file)
    labels = _read_idx(directory, label_file).astype(np.int32)
    if images.shape != (SPLIT_SIZES[split], *IMAGE_SHAPE) or labels.shape != (
        SPLIT_SIZES[split],
    ):
        raise ValueError(
            f"unexpected Fashion-MNIST {split} shapes: images {images.shape}, "
            f"labels {labels.shape}"
        )
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def load_fashion_mnist(
    split: str = "train", limit: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Load one split of Fashion-MNIST as NumPy arrays.

    The data is fetched into the data cache on first use (about 31 MB).

    Args:
        split: `"train"` (60,000 images) or `"test"` (10,000 images).
        limit: keep only the first `limit` examples (1 to the split's size);
            None keeps them all. The order is the published one.

    Returns:
        `(images, labels)`: images as `uint8` of shape `(N, 28, 28)` with values
        0 to 255, labels as `int32` of shape `(N,)` with values 0 to 9 (see
        `CLASS_NAMES`). The arrays are fresh copies the caller may modify.

    Raises:
        ValueError: if `split` or `limit` is not valid.
        RuntimeError: if the data cannot be fetched.

    Examples:
        >>> from zoo.data import load_fashion_mnist
        >>> images, labels = load_fashion_mnist("test", limit=100)
        >>> images.shape, labels.shape
        ((100, 28, 28), (100,))
    """
    split = _check_split(split)
    limit = _check_limit(limit, split)
    images, labels = _load_split(split)
    return images[:limit].copy(), labels[:limit].copy()


def make_dataset(
    split: str = "train",
    batch_size: int = 32,
    limit: int | None = None,
    shuffle: bool | None = None,
    seed: int = 0,
) -> tf.data.Dataset:
    """Make a batched `tf.data.Dataset` of Fashion-MNIST for `model.fit`.

    Args:
        split: `"train"` or `"test"`.
        batch_size: examples per batch (the last batch may be smaller).
        limit: keep only the first `limit` examples; None keeps them all.
        shuffle: reshuffle every epoch; None means True for `"train"` and False
            for `"test"`.
        seed: shuffle seed, so that runs are reproducible.

    Returns:
        A dataset of `(images, labels)` batches: images `float32` of shape
        `(batch, 28, 28, 1)` scaled to [0, 1], labels `int32` of shape
        `(batch,)`.

    Raises:
        ValueError: if an argument is not valid.

    Examples:
        >>> from zoo.data.fashion_mnist import make_dataset
        >>> ds = make_dataset("train", batch_size=64, limit=1000)
        >>> images, labels = next(iter(ds))
        >>> tuple(images.shape), tuple(labels.shape)
        ((64, 28, 28, 1), (64,))
    """
    split = _check_split(split)
    limit = _check_limit(limit, split)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer; got {batch_size}")
    if shuffle is None:
        shuffle = split == "train"

    import tensorflow as tf  # Deferred: importing zoo.data stays cheap.

    images, labels = _load_split(split)
    dataset = tf.data.Dataset.from_tensor_slices((images[:limit], labels[:limit]))
    if shuffle:
        dataset = dataset.shuffle(limit, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(int(batch_size))

    def to_float(batch_images, batch_labels):
        scaled = tf.cast(batch_images, tf.float32)[..., tf.newaxis] / 255.0
        return scaled, batch_labels

    dataset = dataset.map(to_float, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)
