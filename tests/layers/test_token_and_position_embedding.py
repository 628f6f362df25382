"""TokenAndPositionEmbedding: sums, masks and limits."""

import math

import keras
import numpy as np
import pytest

from zoo.layers import TokenAndPositionEmbedding


def numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.parametrize("position_encoding", ["learned", "sinusoidal"])
def test_output_is_scaled_token_embedding_plus_position(position_encoding):
    layer = TokenAndPositionEmbedding(
        12, 6, 4, position_encoding=position_encoding, scale_embedding=True
    )
    ids = np.array([[1, 2, 3]], "int32")
    got = numpy(layer(ids))
    table = numpy(layer.embeddings)
    positions = numpy(layer.position_embedding(np.zeros((1, 3, 4), "float32")))
    np.testing.assert_allclose(got, table[ids] * math.sqrt(4) + positions, atol=1e-6)


def test_mask_zero_marks_padding():
    layer = TokenAndPositionEmbedding(12, 6, 4, mask_zero=True)
    ids = np.array([[1, 2, 0, 0]], "int32")
    np.testing.assert_array_equal(numpy(layer.compute_mask(ids)), ids != 0)
    assert TokenAndPositionEmbedding(12, 6, 4).compute_mask(ids) is None


def test_sequence_longer_than_sequence_length_is_rejected():
    layer = TokenAndPositionEmbedding(12, 4, 4)
    with pytest.raises(ValueError, match="sequence_length=4 positions, received 6"):
        layer(np.ones((1, 6), "int32"))


@pytest.mark.parametrize("position_encoding", ["learned", "sinusoidal"])
def test_positions_past_sequence_length_are_rejected(position_encoding):
    layer = TokenAndPositionEmbedding(12, 4, 4, position_encoding=position_encoding)
    layer(np.ones((1, 1), "int32"), start_index=3)  # the last position
    with pytest.raises(ValueError, match="received 1 from start_index=4"):
        layer(np.ones((1, 1), "int32"), start_index=4)


def test_unknown_position_encoding_lists_the_choices():
    with pytest.raises(ValueError, match=r"`position_encoding` must be one of"):
        TokenAndPositionEmbedding(12, 4, 4, position_encoding="rope")


def test_wrong_rank_is_rejected():
    with pytest.raises(ValueError, match=r"rank 2.*received shape \(1, 3, 4\)"):
        TokenAndPositionEmbedding(12, 4, 4)(np.ones((1, 3, 4), "int32"))


def test_quantized_token_and_position_embedding_under_mixed_bfloat16():
    # Quantized, the token table's lookups came in float32: TensorFlow
    # refused to add the bfloat16 positions, JAX and PyTorch went float32.
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        keras.utils.set_random_seed(0)
        layer = TokenAndPositionEmbedding(
            vocabulary_size=50, sequence_length=8, embedding_dim=16
        )
        model = keras.Sequential([keras.Input((4,), dtype="int32"), layer])
        ids = np.array([[1, 2, 3, 0]], "int32")
        expected = keras.ops.convert_to_numpy(keras.ops.cast(model(ids), "float32"))
        model.quantize("int8")
        got = model(ids)
        assert keras.backend.standardize_dtype(got.dtype) == "bfloat16"
        got = keras.ops.convert_to_numpy(keras.ops.cast(got, "float32"))
        assert np.abs(got - expected).max() < 0.05 * np.abs(expected).max()
    finally:
        keras.config.set_dtype_policy(previous)
