"""SinusoidalPositionEncoding equals the paper's formula."""

import keras
import numpy as np

from zoo.layers import SinusoidalPositionEncoding


def paper_formula(length, depth, start=0):
    table = np.zeros((length, depth))
    for pos in range(start, start + length):
        for k in range(depth):
            angle = pos / 10000 ** (2 * (k // 2) / depth)
            table[pos - start, k] = np.sin(angle) if k % 2 == 0 else np.cos(angle)
    return table


def test_equals_the_papers_formula():
    x = np.zeros((2, 50, 16), "float32")
    got = keras.ops.convert_to_numpy(SinusoidalPositionEncoding()(x))
    np.testing.assert_allclose(got[0], paper_formula(50, 16), atol=1e-5)
    np.testing.assert_array_equal(got[0], got[1])


def test_start_index_continues_the_sequence():
    x = np.zeros((1, 4, 10), "float32")
    got = SinusoidalPositionEncoding()(x, start_index=7)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(got)[0], paper_formula(4, 10, start=7), atol=1e-5
    )
