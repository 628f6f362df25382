"""PositionEmbedding: table lookup and its length limit."""

import keras
import numpy as np
import pytest

from zoo.layers import PositionEmbedding


def test_returns_the_table_rows_for_each_position():
    layer = PositionEmbedding(sequence_length=10)
    x = np.zeros((3, 6, 4), "float32")
    got = keras.ops.convert_to_numpy(layer(x))
    table = keras.ops.convert_to_numpy(layer.position_embeddings)
    np.testing.assert_array_equal(got, np.broadcast_to(table[:6], (3, 6, 4)))
    shifted = keras.ops.convert_to_numpy(layer(x[:, :2], start_index=5))
    np.testing.assert_array_equal(shifted[0], table[5:7])


def test_sequence_longer_than_the_table_is_rejected():
    layer = PositionEmbedding(sequence_length=8)
    with pytest.raises(
        ValueError, match=r"at most sequence_length=8 positions, received 12"
    ):
        layer(np.zeros((1, 12, 4), "float32"))


@pytest.mark.parametrize(
    "start_index, message",
    [(6, r"received 4 from start_index=6"), (-1, r"`start_index` must be at least 0")],
)
def test_positions_past_the_table_are_rejected(start_index, message):
    layer = PositionEmbedding(sequence_length=8)
    x = np.zeros((1, 4, 4), "float32")
    layer(x, start_index=4)  # the last positions that fit
    with pytest.raises(ValueError, match=message):
        layer(x, start_index=start_index)


def test_bad_sequence_length_names_the_argument():
    with pytest.raises(ValueError, match=r"`sequence_length` must be a positive"):
        PositionEmbedding(sequence_length=0)
