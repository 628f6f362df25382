"""PatchEmbedding: patch order, class token and size checks."""

import keras
import numpy as np
import pytest

from zoo.layers import PatchEmbedding

RNG = np.random.default_rng(5)


def test_tokens_are_flattened_patches_times_the_kernel_in_row_major_order():
    layer = PatchEmbedding(patch_size=(2, 3), hidden_dim=5)
    images = RNG.normal(size=(2, 4, 6, 3)).astype("float32")
    tokens = keras.ops.convert_to_numpy(layer(images))
    kernel, bias = layer.projection.get_weights()  # (2, 3, 3, 5), (5,)
    expected = []
    for row in range(2):
        for col in range(2):
            patch = images[:, 2 * row : 2 * row + 2, 3 * col : 3 * col + 3]
            expected.append(np.einsum("bhwc,hwcd->bd", patch, kernel) + bias)
    np.testing.assert_allclose(tokens, np.stack(expected, axis=1), atol=1e-5)


def test_class_token_comes_first():
    layer = PatchEmbedding(patch_size=4, hidden_dim=6, use_class_token=True)
    tokens = keras.ops.convert_to_numpy(layer(np.zeros((3, 8, 8, 1), "float32")))
    assert tokens.shape == (3, 5, 6)
    class_token = keras.ops.convert_to_numpy(layer.class_token)
    np.testing.assert_array_equal(tokens[:, 0], np.broadcast_to(class_token[0], (3, 6)))


def test_series_patches():
    layer = PatchEmbedding(patch_size=4, hidden_dim=6)
    assert layer(np.zeros((2, 24, 3), "float32")).shape == (2, 6, 6)


def test_overlapping_series_patches_start_every_stride_steps():
    layer = PatchEmbedding(patch_size=4, hidden_dim=5, stride=2)
    series = RNG.normal(size=(2, 12, 3)).astype("float32")
    tokens = keras.ops.convert_to_numpy(layer(series))
    kernel, bias = layer.projection.get_weights()  # (4, 3, 5), (5,)
    expected = [
        np.einsum("blc,lcd->bd", series[:, start : start + 4], kernel) + bias
        for start in range(0, 9, 2)
    ]
    assert layer.compute_output_shape((2, 12, 3)) == (2, 5, 5)
    np.testing.assert_allclose(tokens, np.stack(expected, axis=1), atol=1e-5)


def test_length_off_the_stride_grid_is_rejected():
    with pytest.raises(
        ValueError, match=r"length must be the patch size plus a multiple of the stride"
    ):
        PatchEmbedding(patch_size=4, hidden_dim=6, stride=3)(np.zeros((1, 12, 1)))


def test_image_size_not_divisible_by_patch_size_is_rejected():
    with pytest.raises(
        ValueError, match=r"width must be divisible.*received width 30 and patch size 7"
    ):
        PatchEmbedding(patch_size=7, hidden_dim=6)(np.zeros((1, 28, 30, 1), "float32"))


def test_wrong_rank_is_rejected():
    with pytest.raises(ValueError, match=r"rank 3 or 4.*received shape \(28, 28\)"):
        PatchEmbedding(patch_size=7, hidden_dim=6)(np.zeros((28, 28), "float32"))
