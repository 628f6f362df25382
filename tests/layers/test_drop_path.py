"""DropPath drops whole examples in training and nothing in inference."""

import keras
import numpy as np

from zoo.layers import DropPath


def test_drops_whole_examples_and_rescales_the_rest():
    x = np.ones((400, 3, 4), "float32")
    out = keras.ops.convert_to_numpy(DropPath(0.25, seed=1)(x, training=True))
    per_example = out.reshape(400, -1)
    assert set(np.unique(per_example)) <= {0.0, np.float32(1 / 0.75)}
    assert np.all(per_example.min(1) == per_example.max(1))  # all or nothing
    assert 0.15 < np.mean(per_example[:, 0] == 0) < 0.35


def test_is_the_identity_in_inference():
    x = np.random.default_rng(0).normal(size=(8, 5)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(DropPath(0.5)(x)), x)
