"""An image input pipeline in NumPy, for machines without TensorFlow.

`zoo.data.images.make_image_dataset` builds the ``tf.data`` pipeline that
training uses wherever TensorFlow is installed. A GPU machine that runs Keras
on JAX may have no TensorFlow at all; `ImageBatches` gives ``model.fit`` the
same batches there: normalized ``float32`` images, a seeded reshuffle each
pass, and the same augmentation (a random crop after reflection padding and a
random horizontal flip, each image with its own draw; optionally MixUp and
CutMix).

Examples:
    >>> from zoo.data import load_fashion_mnist
    >>> from zoo.data.numpy_images import ImageBatches
    >>> x, y = load_fashion_mnist("train", limit=256)
    >>> batches = ImageBatches(x[..., None], y, [0.29], [0.35], 128, training=True)
    >>> images, labels = batches[0]
    >>> images.shape, images.dtype, labels.shape
    ((128, 28, 28, 1), dtype('float32'), (128,))
"""

from __future__ import annotations

import math

import keras
import numpy as np

from zoo.data.images import check_mixing, check_pixel_values, cutmix_mask


def augment_images_numpy(images, rng, pad=2, flip=True):
    """Random crop after reflection padding, and a random horizontal flip.

    The NumPy counterpart of `zoo.data.images.augment_images`: one vectorized
    gather for the whole batch, each image with its own offsets and flip.

    Args:
        images: (batch, height, width, channels) array.
        rng: a ``numpy.random.Generator``; the same state gives the same output.
        pad: pixels of reflection padding before cropping back to size.
        flip: random horizontal flips (leave off for text or digits).

    Returns:
        The augmented images, same shape and dtype.
    """
    batch, height, width = images.shape[:3]
    if pad:
        padded = np.pad(images, [(0, 0), (pad, pad), (pad, pad), (0, 0)], "reflect")
        offsets = rng.integers(0, 2 * pad + 1, size=(batch, 2))
        rows = offsets[:, :1] + np.arange(height)
        columns = offsets[:, 1:] + np.arange(width)
        images = padded[
            np.arange(batch)[:, None, None], rows[:, :, None], columns[:, None, :]
        ]
    if flip:
        flipped = rng.random(batch) < 0.5
        images = np.where(flipped[:, None, None, None], images[:, :, ::-1], images)
    return images


def mix_batch(images, labels, num_classes, alpha, rng):
    """MixUp: each example mixed with another of the batch by one Beta weight.

    The NumPy counterpart of MixUp in `zoo.data.images.make_image_dataset`.

    Returns:
        ``(images, labels)``: the mixed ``float32`` images and the mixed
        one-hot labels, ``float32`` (batch, ``num_classes``).
    """
    weight = np.float32(rng.beta(alpha, alpha))
    order = rng.permutation(len(images))
    one_hot = np.eye(num_classes, dtype=np.float32)[labels]
    images = weight * images + (1 - weight) * images[order]
    return images, weight * one_hot + (1 - weight) * one_hot[order]


def cut_batch(images, labels, num_classes, alpha, rng):
    """CutMix: one box per batch pasted from another example of the batch.

    The NumPy counterpart of CutMix in `zoo.data.images.make_image_dataset`;
    the box is `zoo.data.images.cutmix_mask` of a Beta(alpha, alpha) weight.

    Returns:
        ``(images, labels)``: the images with the box pasted and the one-hot
        labels mixed by the share of pixels kept, ``float32``.
    """
    weight, centre = rng.beta(alpha, alpha), rng.random(2)
    order = rng.permutation(len(images))
    inside, kept = cutmix_mask(*images.shape[1:3], weight, centre)
    kept = np.float32(kept)
    one_hot = np.eye(num_classes, dtype=np.float32)[labels]
    images = np.where(inside[None, :, :, None], images[order], images)
    return images, kept * one_hot + (1 - kept) * one_hot[order]


def mix_or_cut_batch(images, labels, num_classes, rng, mixup=0.0, cutmix=0.0):
    """MixUp or CutMix for one batch; with both on, one of them at even odds."""
    if cutmix and (not mixup or rng.random() < 0.5):
        return cut_batch(images, labels, num_classes, cutmix, rng)
    return mix_batch(images, labels, num_classes, mixup, rng)


class ImageBatches(keras.utils.PyDataset):
    """Batches of normalized images and labels for ``model.fit``, without TensorFlow.

    Each pass is a pure function of ``(seed, pass)``: the order is a seeded
    permutation and every batch's augmentation draws from a generator seeded
    with ``(seed, pass, batch index)``, so a batch does not depend on the
    order in which Keras' workers fetch it.

    Args:
        images: ``uint8`` (N, h, w, c) or (N, h, w).
        labels: ``int`` (N,).
        mean: per-channel mean (of images in [0, 1]).
        std: per-channel standard deviation.
        batch_size: examples per batch (the last batch may be smaller).
        training: reshuffle every pass and augment.
        seed: seed of the order and of the augmentation.
        pad: padding of the random crop (training only).
        flip: random horizontal flips (training only).
        mixup: if > 0, MixUp with this alpha (training only): one
            Beta(alpha, alpha) weight per batch mixes each image and its
            one-hot label with another of the batch; labels become
            ``float32`` (batch, ``num_classes``).
        num_classes: number of classes (for ``mixup`` and ``cutmix``).
        cutmix: if > 0, CutMix with this alpha (training only): one box per
            batch is pasted from another image of the batch and the labels
            mixed by its area. With both on, each batch gets one of the two.
        **kwargs: ``keras.utils.PyDataset`` arguments (``workers``, ...).

    Raises:
        ValueError: if the images are not of rank 3 or 4 or hold values
            outside 0..255, the images and
            labels differ in number, ``batch_size`` is not a positive integer
            or ``pad`` is not a non-negative integer, ``mixup`` or
            ``cutmix`` is negative or ``num_classes`` is missing with either.
    """

    def __init__(
        self,
        images,
        labels,
        mean,
        std,
        batch_size,
        training=False,
        seed=0,
        pad=2,
        flip=True,
        mixup=0.0,
        num_classes=None,
        cutmix=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4:
            raise ValueError(
                "`images` must have shape (N, height, width[, channels]); "
                f"received shape {images.shape}"
            )
        check_pixel_values(images)
        if isinstance(pad, bool) or not isinstance(pad, int) or pad < 0:
            raise ValueError(f"`pad` must be a non-negative integer; received {pad!r}")
        check_mixing(mixup, cutmix, num_classes)
        labels = np.asarray(labels)
        if len(images) != len(labels):
            raise ValueError(
                f"`images` and `labels` must have the same length; received "
                f"{len(images)} images and {len(labels)} labels"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int):
            raise ValueError(
                f"`batch_size` must be a positive integer; received {batch_size!r}"
            )
        if batch_size < 1:
            raise ValueError(
                f"`batch_size` must be a positive integer; received {batch_size}"
            )
        self.images, self.labels = images, labels
        self.mean = np.asarray(mean, np.float32)
        self.std = np.asarray(std, np.float32)
        self.batch_size = batch_size
        self.training, self.seed, self.pad, self.flip = training, seed, pad, flip
        self.mixup, self.cutmix = float(mixup), float(cutmix)
        self.num_classes = num_classes
        self.set_pass(0)

    def set_pass(self, index):
        """Serve pass ``index`` next (a resumed run sets the pass it re-enters)."""
        self.pass_index = index
        self.order = (
            np.random.default_rng([self.seed, index]).permutation(len(self.images))
            if self.training
            else np.arange(len(self.images))
        )

    def __len__(self):
        return math.ceil(len(self.images) / self.batch_size)

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} of {len(self)}")
        chosen = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        images, labels = self.images[chosen], self.labels[chosen]
        if self.training:
            rng = np.random.default_rng([self.seed, self.pass_index, index])
            images = augment_images_numpy(images, rng, self.pad, self.flip)
        images = (images.astype(np.float32) / 255.0 - self.mean) / self.std
        if self.training and (self.mixup or self.cutmix):
            images, labels = mix_or_cut_batch(
                images, labels, self.num_classes, rng, self.mixup, self.cutmix
            )
        return images, labels

    def on_epoch_end(self):
        self.set_pass(self.pass_index + 1)
