"""RotaryEmbedding keeps norms and makes attention depend on relative position."""

import keras
import numpy as np
import pytest

from zoo.layers import RotaryEmbedding

RNG = np.random.default_rng(3)


def rotate(layer, vector, position):
    x = vector.reshape(1, 1, 1, -1)
    return keras.ops.convert_to_numpy(layer(x, start_index=position)).reshape(-1)


def test_rotation_preserves_vector_norms():
    x = RNG.normal(size=(2, 9, 3, 16)).astype("float32")
    got = keras.ops.convert_to_numpy(RotaryEmbedding()(x))
    np.testing.assert_allclose(
        np.linalg.norm(got, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-5
    )
    assert not np.allclose(got[:, 1:], x[:, 1:])  # it does rotate


def test_scores_depend_only_on_relative_position():
    layer = RotaryEmbedding()
    q, k = RNG.normal(size=(2, 16)).astype("float32")
    score = [
        rotate(layer, q, m) @ rotate(layer, k, n)
        for m, n in [(5, 2), (12, 9), (103, 100)]
    ]
    np.testing.assert_allclose(score, score[0], rtol=1e-4, atol=1e-4)
    other = rotate(layer, q, 6) @ rotate(layer, k, 2)
    assert abs(other - score[0]) > 1e-3


def test_position_zero_is_the_identity():
    x = RNG.normal(size=(1, 1, 2, 8)).astype("float32")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(RotaryEmbedding()(x)), x, atol=1e-6
    )


def test_odd_feature_size_is_rejected():
    with pytest.raises(ValueError, match="must be even.*received 7"):
        RotaryEmbedding()(np.zeros((1, 3, 7), "float32"))
