"""Image classification data: folders, TFDS sets, normalization and augmentation.

Images are held in memory as ``uint8`` arrays (N, height, width, channels) of
one common size; the input pipeline turns them into normalized ``float32``
batches and augments the training split with Keras preprocessing layers.

Examples:
    >>> from zoo.data.images import image_statistics, load_image_folder
    >>> images, labels, names = load_image_folder("photos/")  # doctest: +SKIP
    >>> stats = image_statistics(images)  # doctest: +SKIP
"""

from __future__ import annotations

import collections
import os
import re
from pathlib import Path

import numpy as np

from zoo.data.passes import PassStream, pass_order

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
"""File suffixes read as images from a class folder."""


def decode_image_tensor(data, channels):
    """Decode PNG/JPEG/BMP/GIF bytes to a ``uint8`` tensor (height, width, channels).

    Works eagerly and inside a graph (the SavedModel's ``serve_bytes``), so
    that training, prediction and serving turn an image into the same pixels.

    Args:
        data: a scalar string tensor of encoded bytes.
        channels: 1 (grey) or 3 (RGB).

    Examples:
        >>> import tensorflow as tf
        >>> from zoo.data.images import decode_image_tensor
        >>> decode_image_tensor(tf.io.read_file("a.gif"), 1)  # doctest: +SKIP
    """
    import tensorflow as tf

    # GIF, BMP and CMYK JPEG cannot be decoded to one channel: decode every
    # format to RGB (which drops alpha), then take the luminance.
    image = tf.io.decode_image(data, channels=3, expand_animations=False)
    if channels == 1:
        image = tf.image.rgb_to_grayscale(image)
    return image


def decode_image_bytes(data, channels=0, name="image"):
    """Decode PNG/JPEG/BMP/GIF bytes to a ``uint8`` array (height, width, channels).

    Args:
        data: the encoded bytes.
        channels: channels to decode to (1 or 3, as `decode_image_tensor`), or
            0 to keep the file's own.
        name: how to name the image in error messages (e.g. its path).

    Returns:
        A ``uint8`` numpy array of rank 3.

    Raises:
        ValueError: if the bytes are not a readable image.

    Examples:
        >>> from pathlib import Path
        >>> from zoo.data.images import decode_image_bytes
        >>> decode_image_bytes(Path("a.png").read_bytes())  # doctest: +SKIP
    """
    import tensorflow as tf

    try:
        if channels:
            image = decode_image_tensor(data, channels)
        else:
            image = tf.io.decode_image(data, expand_animations=False)
    except (tf.errors.InvalidArgumentError, ValueError) as error:
        raise ValueError(
            f"{name} is not a readable image: expected PNG, JPEG, BMP or GIF "
            f"data, received {len(data)} bytes that do not decode "
            f"({_without_op_names(str(error))[:120]})"
        ) from None
    return image.numpy()


def _without_op_names(message):
    """TensorFlow's error text without the names of its kernel and op.

    "{{function_node __wrapped__DecodeImage_device_/job:localhost/...}} Unknown
    image file format. ... [Op:DecodeImage]" keeps "Unknown image file format. ...".
    """
    line = message.splitlines()[0] if message else ""
    return re.sub(r"\{\{.*?\}\}\s*|\s*\[Op:[^\]]*\]", "", line).strip()


def read_image_file(path, channels=0):
    """Read and decode one image file; ``ValueError`` names a missing or bad file."""
    name = str(path)
    path = check_image_path(name)
    return decode_image_bytes(path.read_bytes(), channels=channels, name=name)


def check_image_path(path):
    """``path`` as a `Path` (``~`` expanded) if it names an existing file.

    Cheap (no decoding), so that a long list of files can be checked before
    any is read.

    Raises:
        ValueError: naming ``path``, if it is a folder or does not exist.
    """
    name = str(path)
    # A quoted "~/photos/a b.png" reaches us unexpanded; the shell would have.
    path = Path(os.path.expanduser(name))
    if path.is_dir():
        raise ValueError(
            f"image file {name!r} is a folder; expected a PNG, JPEG, BMP or GIF file"
        )
    if not path.is_file():
        hint = (
            " (a pattern? the shell expands it when it is not quoted)"
            if any(character in name for character in "*?[")
            else ""
        )
        raise ValueError(f"image file {name!r} does not exist{hint}")
    return path


def resize_images(images, image_size):
    """Resize a list of (h, w, c) ``uint8`` images to one ``uint8`` array.

    Images already of ``image_size`` are kept bit for bit; others are resized
    bilinearly, as the exported model does.
    """
    import tensorflow as tf

    height, width = image_size
    out = []
    for image in images:
        if image.shape[:2] != (height, width):
            image = tf.image.resize(image, (height, width), antialias=True)
            image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
            image = image.numpy()
        out.append(image)
    return np.stack(out) if out else np.zeros((0, height, width, 1), np.uint8)


def _most_common(values):
    return collections.Counter(values).most_common(1)[0][0]


def load_image_folder(root, size=None):
    """Load a folder with one sub-folder of images per class.

    Class names are the sub-folder names in sorted order, hidden (dot) folders
    left out; every image is decoded with the most common channel count (1 or
    3) and resized to ``size`` or else the most common size, so that they
    stack into one array.

    Args:
        root: the folder.
        size: ``(height, width)`` to resize to; None for the most common.

    Returns:
        ``(images, labels, class_names)``: ``uint8`` (N, h, w, c), ``int32``
        (N,), list of str.

    Raises:
        ValueError: for a missing folder, fewer than two classes, an empty class
            folder or a file that is not an image.

    Examples:
        >>> from zoo.data.images import load_image_folder
        >>> images, labels, names = load_image_folder("photos/")  # doctest: +SKIP
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"image folder {str(root)!r} does not exist")
    # Hidden folders (.ipynb_checkpoints, .git) are tools' state, not classes.
    classes = sorted(
        p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    if len(classes) < 2:
        raise ValueError(
            f"image folder {str(root)!r} must hold one sub-folder per class and at "
            f"least 2 classes; received {len(classes)} class folder(s)"
            + (f" ({classes[0].name!r})" if classes else "")
        )
    files, labels = [], []
    for label, folder in enumerate(classes):
        members = sorted(
            p
            for p in folder.iterdir()
            if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
        )
        if not members:
            raise ValueError(
                f"class folder {str(folder)!r} holds no images: expected files "
                f"ending in {', '.join(IMAGE_EXTENSIONS)}, received none"
            )
        files += members
        labels += [label] * len(members)
    decoded = [read_image_file(path) for path in files]
    channels = _most_common(image.shape[-1] for image in decoded)
    channels = 1 if channels in (1, 2) else 3
    # Re-decode the odd ones out to the common channel count.
    decoded = [
        image if image.shape[-1] == channels else read_image_file(path, channels)
        for image, path in zip(decoded, files)
    ]
    size = size or _most_common(image.shape[:2] for image in decoded)
    images = resize_images(decoded, size)
    return images, np.asarray(labels, np.int32), [p.name for p in classes]


def load_tfds(name, split, data_dir=None, size=None):
    """Load one split of a TFDS image classification set into memory.

    Args:
        name: the TFDS name, with an optional ``/config``.
        split: the split name, e.g. ``"train"``.
        data_dir: TFDS data directory (default: TFDS's own).
        size: ``(height, width)`` to resize to; None for the most common.

    Raises:
        ValueError: if the set has no such split (TFDS's own message).

    Returns:
        ``(images, labels, class_names)`` as in `load_image_folder`.
    """
    import tensorflow_datasets as tfds

    dataset, info = tfds.load(
        name, split=split, as_supervised=True, with_info=True, data_dir=data_dir
    )
    label = info.features["label"]
    pairs = list(tfds.as_numpy(dataset))
    if not pairs:
        raise ValueError(f"TFDS split {name}:{split} is empty")
    decoded = [np.asarray(image) for image, _ in pairs]
    if decoded[0].ndim == 2:
        decoded = [image[..., None] for image in decoded]
    size = size or _most_common(image.shape[:2] for image in decoded)
    labels = np.asarray([lab for _, lab in pairs], np.int32)
    return resize_images(decoded, size), labels, list(label.names)


def check_images(images, labels, num_classes, name="images"):
    """Check that images are (N, h, w, 1 or 3) and labels lie in [0, num_classes).

    Raises:
        ValueError: naming the argument, the expected and the received value.
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"`{name}` must have shape (N, height, width, channels) with 1 or 3 "
            f"channels; received shape {images.shape}"
        )
    labels = np.asarray(labels)
    if len(labels) != len(images):
        raise ValueError(
            f"`labels` must have one entry per image ({len(images)}); received "
            f"{len(labels)}"
        )
    check_pixel_values(images, name)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)][0]
        raise ValueError(
            f"`labels` must lie in [0, {num_classes}) for {num_classes} classes; "
            f"received label {int(bad)}"
        )
    return images, labels.astype(np.int32)


def check_pixel_values(images, name="images"):
    """Raise ``ValueError`` unless ``images`` hold pixel values 0..255.

    Every pipeline divides by 255: 16-bit values (0..65535) would be read as
    a hundred times too bright, and a NaN would spread through training.
    """
    images = np.asarray(images)
    if images.dtype == np.uint8 or not images.size:
        return
    low, high = np.min(images), np.max(images)
    if np.isnan(low) or np.isnan(high) or low < 0 or high > 255:
        hint = " (16-bit images: divide by 257 first)" if high > 255 else ""
        raise ValueError(
            f"`{name}` must hold pixel values from 0 to 255 (uint8); received "
            f"{images.dtype} values from {low} to {high}{hint}"
        )


def image_statistics(images):
    """Per-channel mean and standard deviation of ``uint8`` images scaled to [0, 1]."""
    images = np.asarray(images)
    channels = images.shape[-1]
    if images.dtype != np.uint8:
        pixels = images.reshape(-1, channels).astype(np.float64) / 255.0
        mean, std = pixels.mean(axis=0), pixels.std(axis=0)
    else:
        mean, std = _uint8_statistics(images.reshape(len(images), -1, channels))
    std = np.maximum(std, 1e-3)
    return [float(v) for v in mean], [float(v) for v in std]


def _uint8_statistics(images, pixels_per_chunk=1 << 20):
    """Exact mean and std from per-channel histograms of (N, pixels, channels).

    A float64 copy of a photo folder is eight times its size (4 GB for 500 MB
    of images); 256 counts per channel, gathered a chunk at a time, are not.
    """
    channels = images.shape[-1]
    counts = np.zeros((channels, 256), np.int64)
    step = max(1, pixels_per_chunk // max(1, images.shape[1]))
    for start in range(0, len(images), step):
        chunk = images[start : start + step].reshape(-1, channels)
        for channel in range(channels):
            counts[channel] += np.bincount(chunk[:, channel], minlength=256)
    levels = np.arange(256) / 255.0
    total = counts.sum(axis=1)
    mean = counts @ levels / total
    variance = (counts * (levels[None, :] - mean[:, None]) ** 2).sum(axis=1) / total
    return mean, np.sqrt(variance)


def split_off(images, labels, fraction, seed):
    """Split a seeded random ``fraction`` (at least one image) off the arrays.

    Returns:
        ``((images, labels) kept, (images, labels) split off)``.
    """
    order = np.random.default_rng(seed).permutation(len(images))
    count = max(1, int(round(len(images) * fraction)))
    held, kept = order[:count], order[count:]
    return (images[kept], labels[kept]), (images[held], labels[held])


def normalize(images, mean, std):
    """``uint8`` (or float 0..255) images to ``float32`` ``(x / 255 - mean) / std``."""
    from keras import ops

    images = ops.cast(images, "float32") / 255.0
    return (images - ops.convert_to_tensor(mean, "float32")) / ops.convert_to_tensor(
        std, "float32"
    )


def augment_images(images, seed, pad=2, flip=True):
    """Random crop after reflection padding, and a random horizontal flip.

    Works on a whole batch at once: one vectorized gather instead of one small
    graph per image, which on a CPU costs more than a small ViT's training
    step. Each image gets its own offsets and flip. The ops are stateless: the
    same ``seed`` gives the same result. Keras' random preprocessing layers
    keep a random state that a resumed run cannot restore, so they would break
    exact resumption.

    Args:
        images: (batch, height, width, channels) images.
        seed: int tensor of shape (2,).
        pad: pixels of reflection padding before cropping back to size.
        flip: random horizontal flips (leave off for text or digits).

    Returns:
        The augmented images, same shape and dtype.
    """
    import tensorflow as tf

    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    static_shape = images.shape
    batch, height, width = tf.unstack(tf.shape(images)[:3])
    if pad:
        padded = tf.pad(images, [[0, 0], [pad, pad], [pad, pad], [0, 0]], "REFLECT")
        offsets = tf.random.stateless_uniform(
            [batch, 2], crop_seed, minval=0, maxval=2 * pad + 1, dtype=tf.int32
        )
        rows = offsets[:, :1] + tf.range(height)[None]
        columns = offsets[:, 1:] + tf.range(width)[None]
        images = tf.gather(padded, rows, axis=1, batch_dims=1)
        images = tf.gather(images, columns, axis=2, batch_dims=1)
    if flip:
        flipped = tf.random.stateless_uniform([batch], flip_seed) < 0.5
        images = tf.where(flipped[:, None, None, None], images[:, :, ::-1], images)
    # The gathers lose the static image size, which models read to build.
    return tf.ensure_shape(images, static_shape)


def check_mixing(mixup, cutmix, num_classes):
    """Check the MixUp and CutMix arguments, shared by both image pipelines.

    Raises:
        ValueError: if ``mixup`` or ``cutmix`` (Beta alphas, 0 for none) is
            not a non-negative number, or ``num_classes`` is not an integer
            >= 2 while either is on.
    """
    for name, alpha in (("mixup", mixup), ("cutmix", cutmix)):
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha < 0:
            raise ValueError(
                f"`{name}` must be a non-negative number (the Beta alpha, 0 for "
                f"none); received {alpha!r}"
            )
    if (mixup or cutmix) and (not isinstance(num_classes, int) or num_classes < 2):
        raise ValueError(
            "`num_classes` must be an integer >= 2 with `mixup` or `cutmix`; "
            f"received {num_classes!r}"
        )


def cutmix_mask(height, width, weight, centre, xp=np):
    """CutMix's box as a mask: about the share ``1 - weight`` of the image.

    The box has the image's aspect ratio, is centred at ``centre`` and is
    clipped at the borders, so it may cover less than asked; labels are
    mixed by the share it actually covers. Written once for NumPy and for
    TensorFlow graphs (``xp=tensorflow.experimental.numpy``).

    Args:
        height: image height.
        width: image width.
        weight: the share of the image to keep (a Beta draw).
        centre: ``(row, column)`` of the box's centre, each in ``[0, 1)``.
        xp: the array module, ``numpy`` or ``tensorflow.experimental.numpy``.

    Returns:
        ``(inside, kept)``: a (height, width) boolean mask of the box and the
        share of pixels outside it.
    """
    ratio = xp.sqrt(1.0 - weight)
    half_height, half_width = xp.floor(height * ratio / 2), xp.floor(width * ratio / 2)
    row, column = xp.floor(centre[0] * height), xp.floor(centre[1] * width)
    rows = xp.arange(height, dtype="float32")[:, None]
    columns = xp.arange(width, dtype="float32")[None, :]
    inside = (
        (rows >= row - half_height)
        & (rows < row + half_height)
        & (columns >= column - half_width)
        & (columns < column + half_width)
    )
    return inside, 1.0 - xp.mean(xp.where(inside, 1.0, 0.0))


def make_image_dataset(
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
):
    """A batched ``tf.data.Dataset`` of normalized images and labels.

    Args:
        images: ``uint8`` (N, h, w, c).
        labels: ``int32`` (N,).
        mean: per-channel mean (of images in [0, 1]).
        std: per-channel standard deviation.
        batch_size: examples per batch.
        training: shuffle (seeded, reshuffled each pass) and augment with
            `augment_images`.
        seed: seed of the shuffle and of the augmentation.
        pad: padding of the random crop (training only).
        flip: random horizontal flips (training only).
        mixup: if > 0, MixUp with this alpha (training only): one
            Beta(alpha, alpha) weight per batch mixes each image and its
            one-hot label with another of the batch; labels become
            (batch, ``num_classes``) and ``num_classes`` is required.
        num_classes: number of classes (for ``mixup`` and ``cutmix``).
        cutmix: if > 0, CutMix with this alpha (training only): one box per
            batch (`cutmix_mask`) is pasted from another image of the batch
            and the labels are mixed by the area. With both on, each batch
            gets one of the two, at even odds.

    Returns:
        A finite ``tf.data.Dataset`` of ``(float32 images, labels)``. A
        training dataset also has ``stream_from_pass(index)``: the endless
        stream of its passes from pass ``index`` on (`zoo.data.passes`), which
        `training.recipe.fit` trains on so that a resumed run starts at its
        pass at once instead of replaying the passes before it.

    Examples:
        >>> from zoo.data import load_fashion_mnist
        >>> from zoo.data.images import make_image_dataset
        >>> x, y = load_fashion_mnist("test", limit=64)
        >>> ds = make_image_dataset(x[..., None], y, [0.29], [0.35], 32)
        >>> images, labels = next(iter(ds))
        >>> tuple(images.shape), tuple(labels.shape)
        ((32, 28, 28, 1), (32,))
    """
    import tensorflow as tf

    check_mixing(mixup, cutmix, num_classes)
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    transform = _batch_transform(
        mean, std, training, pad, flip, mixup, cutmix, num_classes, images.shape[1:3]
    )
    # Tensors once, shared by the finite dataset and the training stream, so
    # that training does not hold a second copy of the images.
    images, labels = tf.constant(images), tf.constant(np.asarray(labels))
    dataset = tf.data.Dataset.from_tensor_slices((images, labels))
    if not training:
        dataset = dataset.batch(batch_size).map(
            lambda x, y: transform(x, y, None), num_parallel_calls=tf.data.AUTOTUNE
        )
        return dataset.prefetch(tf.data.AUTOTUNE)
    dataset = dataset.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    # One seed per batch position in a pass, the same in every pass: with
    # the seeded reshuffle, each pass depends only on (seed, pass).
    seeds = tf.data.Dataset.random(seed=seed).batch(2)
    dataset = tf.data.Dataset.zip((dataset.batch(batch_size), seeds)).map(
        lambda pair, s: transform(*pair, s),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    # An attribute, as tf.data datasets cannot be subclassed: it is lost by
    # any further transformation, after which the recipe falls back to
    # replaying the passes (correct, only slower).
    dataset.stream_from_pass = _training_stream(
        images, labels, batch_size, seed, transform
    )
    return dataset


def _training_stream(images, labels, batch_size, seed, transform):
    """`PassStream` of the training batches (image and label tensors).

    Pass ``p`` orders the examples by `pass_order` and batch ``b`` of the
    stream is augmented with seed ``(b, seed)``: unlike the finite dataset's,
    the augmentation also differs from one pass to the next.
    """
    import tensorflow as tf

    count = len(images)
    seed = tf.constant(seed, tf.int64)

    def batch_indices(pass_index):
        # Only indices cross the pass boundary; images are gathered in the
        # parallel per-batch map.
        order = pass_order(count, seed, pass_index)
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    def load(batch_number, indices):
        return transform(
            tf.gather(images, indices),
            tf.gather(labels, indices),
            tf.stack([batch_number, seed]),
        )

    return PassStream(batch_indices, load, steps_per_pass=-(-count // batch_size))


def _batch_transform(
    mean, std, training, pad, flip, mixup, cutmix, num_classes, image_size
):
    """``(uint8 images, labels, seed pair) -> (float32 images, labels)``.

    Training batches are augmented, normalized and then mixed (MixUp or
    CutMix, when on); the seed pair makes it stateless, so that resumed runs
    are exact. Other batches are only normalized (their seed may be None).
    """
    import tensorflow as tf

    mean32 = tf.constant(mean, tf.float32)
    std32 = tf.constant(std, tf.float32)
    mix = (
        _label_mixing_function(mixup, cutmix, num_classes, image_size)
        if training and (mixup or cutmix)
        else None
    )

    def transform(images, labels, seed):
        if training:
            augment_seed, mix_seed = tf.unstack(
                tf.random.experimental.stateless_split(seed, 2)
            )
            images = augment_images(images, augment_seed, pad, flip)
        images = (tf.cast(images, tf.float32) / 255.0 - mean32) / std32
        if mix is not None:
            images, labels = mix(images, labels, mix_seed)
        return images, labels

    return transform


def _label_mixing_function(mixup, cutmix, num_classes, image_size):
    import tensorflow as tf
    import tensorflow.experimental.numpy as tnp

    def beta(alpha, seeds):
        # Beta(alpha, alpha) from two Gammas; one weight per batch is enough.
        g1, g2 = (tf.random.stateless_gamma([], s, alpha) for s in seeds)
        return g1 / (g1 + g2)

    def mix(x, y, seed):
        y = tf.one_hot(y, num_classes)
        seeds = tf.unstack(tf.random.experimental.stateless_split(seed, 7))
        order = tf.argsort(tf.random.stateless_uniform([tf.shape(x)[0]], seeds[0]))
        other_x, other_y = tf.gather(x, order), tf.gather(y, order)
        choices = []
        if mixup:
            weight = beta(mixup, seeds[1:3])
            choices.append(
                (
                    weight * x + (1 - weight) * other_x,
                    weight * y + (1 - weight) * other_y,
                )
            )
        if cutmix:
            centre = tf.random.stateless_uniform([2], seeds[5])
            inside, kept = cutmix_mask(
                *image_size, beta(cutmix, seeds[3:5]), centre, tnp
            )
            kept = tf.cast(kept, tf.float32)
            choices.append(
                (
                    tf.where(inside[None, :, :, None], other_x, x),
                    kept * y + (1 - kept) * other_y,
                )
            )
        if len(choices) == 1:
            return choices[0]
        use_cutmix = tf.random.stateless_uniform([], seeds[6]) < 0.5
        return tf.cond(use_cutmix, lambda: choices[1], lambda: choices[0])

    return mix
