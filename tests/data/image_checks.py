"""Checks shared by the tests of the tf.data and NumPy image pipelines."""

import numpy as np


def assert_random_crops_and_flips(originals, augmented, pad):
    """Each augmented image is a (maybe flipped) crop of its padded original.

    Also checks that the images drew different offsets and flips.
    """
    padded = np.pad(originals, [(0, 0), (pad, pad), (pad, pad), (0, 0)], "reflect")
    height, width = originals.shape[1:3]
    placements = set()
    for original, image in zip(padded, augmented):
        matches = [
            (dy, dx, flipped)
            for dy in range(2 * pad + 1)
            for dx in range(2 * pad + 1)
            for flipped in (False, True)
            if np.array_equal(
                image[:, ::-1] if flipped else image,
                original[dy : dy + height, dx : dx + width],
            )
        ]
        assert matches, "an augmented image is no crop of its padded original"
        placements.add(matches[0])
    assert len(placements) > 5
