"""Fixtures shared by the whole test suite."""

from __future__ import annotations

# Keras before anything imports TensorFlow: under KERAS_BACKEND=torch,
# TensorFlow imports Keras, whose PyTorch backend then loads Triton after
# TensorFlow, and that crashes the process (docs/architecture.md, Backends).
# Which test module a pytest worker imports first must not decide that.
import keras  # noqa: F401
import pytest

FASHION_MNIST_SMALL_TRAIN = 2000
FASHION_MNIST_SMALL_TEST = 500


@pytest.fixture(scope="session")
def fashion_mnist_small():
    """A small slice of real Fashion-MNIST, loaded once per test session.

    Returns:
        `((x_train, y_train), (x_test, y_test))` with the first 2,000 training
        and 500 test examples: images `uint8` of shape `(N, 28, 28)`, labels
        `int32` of shape `(N,)`. Treat the arrays as read-only; copy before
        modifying them.
    """
    from zoo.data.fashion_mnist import load_fashion_mnist

    train = load_fashion_mnist("train", limit=FASHION_MNIST_SMALL_TRAIN)
    test = load_fashion_mnist("test", limit=FASHION_MNIST_SMALL_TEST)
    for array in (*train, *test):
        array.flags.writeable = False
    return train, test


def pytest_collection_modifyitems(items):
    # Modules marked slow first: `make test` hands whole modules to two
    # pytest-xdist workers (--dist loadfile), so a long module taken last
    # would leave one worker idle while the other finishes it.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
