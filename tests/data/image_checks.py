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


def distinct_backgrounds(images):
    """Real images whose darkest pixels differ from image to image.

    Fashion-MNIST's black borders are the same in every image; lifting image
    ``i``'s floor to ``i + 1`` makes every pixel of a pasted box tell which
    image it came from.
    """
    floors = np.arange(1, len(images) + 1, dtype=images.dtype)
    return np.maximum(images, floors.reshape((-1,) + (1,) * (images.ndim - 1)))


def assert_cut_and_pasted(plain_images, plain_labels, images, labels, num_classes):
    """CutMix: one box, pasted from a partner (a permutation of the batch).

    Outside the box each image is its own; inside it is its partner's. Each
    label is the one-hot mix of the two by the share of pixels kept.
    Returns the box's share of the image.
    """
    changed = ~np.isclose(images, plain_images, atol=1e-5).all(axis=(0, 3))
    one_hot = np.eye(num_classes, dtype=np.float32)[plain_labels]
    rows, columns = np.nonzero(changed)
    if not len(rows):  # a box under one pixel: nothing pasted, nothing mixed
        np.testing.assert_allclose(labels, one_hot, atol=1e-6)
        return 0.0
    box = np.zeros(changed.shape, bool)
    box[rows.min() : rows.max() + 1, columns.min() : columns.max() + 1] = True
    kept = 1.0 - box.mean()
    partners = []
    for i, image in enumerate(images):
        np.testing.assert_allclose(image[~box], plain_images[i][~box], atol=1e-5)
        matches = [
            j
            for j, other in enumerate(plain_images)
            if np.allclose(image[box], other[box], atol=1e-5)
        ]
        assert len(matches) == 1, f"image {i}'s box is not one image's pixels"
        partners.append(matches[0])
        expected = kept * one_hot[i] + (1 - kept) * one_hot[matches[0]]
        np.testing.assert_allclose(labels[i], expected, atol=1e-6)
    assert sorted(partners) == list(range(len(images)))
    return 1.0 - kept


def mixing_kinds(plain_batches, mixed_batches):
    """Which of MixUp and CutMix made each batch (images of the two runs).

    CutMix leaves most pixels as they were; MixUp blends them all.
    """
    return [
        "cutmix" if np.isclose(mixed, plain, atol=1e-5).mean() > 0.2 else "mixup"
        for plain, mixed in zip(plain_batches, mixed_batches)
    ]
