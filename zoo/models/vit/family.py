"""The ``vit`` family: what ``zoo train/evaluate/predict/export vit`` do."""

import os
from pathlib import Path

import numpy as np

# Registers the learning-rate schedule saved in a run's optimizer state and the
# MixUp loss of its compile config, so that model.keras loads compiled where
# the family is imported. The zoo's own commands load it without its compile
# config (`zoo.run_dir.load_trained_model`).
import training.schedules  # noqa: F401
from training.callbacks.atomic_checkpoints import write_json_atomically
from training.losses import MixupAccuracy, MixupCrossentropy
from zoo import run_dir as runs
from zoo.batch_buckets import bucket_rows
from zoo.data import images as image_data
from zoo.data import numpy_images
from zoo.data.source_query import positive_int_option, split_source, tfds_error
from zoo.family import SPLIT_SEED, ModelFamily, PreparedData
from zoo.models.vit.presets import HEAD_KEYS, TRAINING_KEYS, VIT_PRESETS
from zoo.registry import did_you_mean

PREPROCESSING_FILE = "preprocessing.json"
"""Normalization, image size and class names of a run, fit on its training split."""

BUILTIN_DATASETS = ("fashion_mnist",)
"""Built-in data sources of the family."""

VALIDATION_FRACTION = 0.1
"""Share of the training data held out for validation when a source has none."""

PIPELINES = ("tf.data", "numpy")

# More patches than ViT-B/16 reads at 1024 pixels square: images this large
# are photos loaded at full size by mistake, and attention's memory grows
# with the square of the count (19,200 patches of a 640x480 photo at patch 4).
MAX_PATCHES = 4096
"""Input pipelines of `ViTFamily.prepare_data`."""


def _unknown_source(source):
    return ValueError(
        f"unknown data source {source!r} for model 'vit': expected a built-in "
        f"dataset ({', '.join(BUILTIN_DATASETS)}), 'tfds:NAME[/CONFIG]' or an "
        "existing folder with one sub-folder of images per class"
        f"{did_you_mean(split_source(str(source), ('size',))[0], BUILTIN_DATASETS)}"
    )


def _match_channels(images, channels):
    """Grey to RGB by repetition, RGB to grey by luminance."""
    if images.shape[-1] == channels:
        return images
    if channels == 3:
        return np.repeat(images, 3, axis=-1)
    weights = np.asarray([0.299, 0.587, 0.114])
    return np.round(images @ weights)[..., None].clip(0, 255).astype(np.uint8)


def _log_softmax(logits):
    """Log-softmax over the last axis, in float64 (logits may be bfloat16)."""
    import keras

    logits = np.asarray(keras.ops.convert_to_numpy(logits), np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def load_splits(source, seed=0):
    """Load ``source`` into (images, labels) splits and class names.

    Args:
        source: ``"fashion_mnist"``, ``"tfds:NAME[/CONFIG]"`` or a folder with
            one sub-folder per class (optionally ``train/`` and ``test/``
            folders of that form), with an optional ``?size=N`` or
            ``?size=HxW``: the size every image is resized to.
        seed: seed of the validation (and test) split when the source has none.

    Returns:
        ``(splits, class_names)`` where ``splits`` maps ``"train"``,
        ``"validation"`` and ``"test"`` to ``(uint8 images, int32 labels)``.

    Raises:
        ValueError: for an unknown or missing source, or bad data.
    """
    source = str(source)
    location, size = _location_and_size(source)
    splits = {}
    if location == "fashion_mnist":
        from zoo.data.fashion_mnist import CLASS_NAMES, load_fashion_mnist

        names = list(CLASS_NAMES)
        train = _resized(load_fashion_mnist("train"), size)
        splits["test"] = _resized(load_fashion_mnist("test"), size)
    elif location.startswith("tfds:"):
        name = location[len("tfds:") :]
        if not name:
            raise _unknown_source(source)
        try:
            *train, names = image_data.load_tfds(name, "train", size=size)
        except (ValueError, KeyError) as error:
            # Unknown name, no train split, no label.
            raise tfds_error(
                source,
                error,
                "the name of a TFDS image classification set with a 'train' split",
            ) from None
        for split in ("validation", "test"):
            try:
                *loaded, _ = image_data.load_tfds(name, split, size=size)
            except (ValueError, KeyError):
                continue  # the set has no such split: one is split off below
            splits[split] = tuple(loaded)
    elif Path(location).is_dir():
        root = Path(location)
        if (root / "train").is_dir() and (root / "test").is_dir():
            *train, names = image_data.load_image_folder(root / "train", size)
            # The training images' size: a test folder of another common
            # size must not give arrays of two sizes.
            size = size or train[0].shape[1:3]
            *test, test_names = image_data.load_image_folder(root / "test", size)
            if test_names != names:
                raise ValueError(
                    f"the class folders of {str(root / 'test')!r} must match those "
                    f"of train/: expected {names}, received {test_names}"
                )
            splits["test"] = tuple(test)
        else:
            *train, names = image_data.load_image_folder(root, size)
    else:
        raise _unknown_source(source)

    train = image_data.check_images(*train, len(names), name="train images")
    for split, arrays in splits.items():
        splits[split] = image_data.check_images(
            *arrays, len(names), name=f"{split} images"
        )
    found = len(train[1])
    parts = ["train"] + [
        split for split in ("test", "validation") if split not in splits
    ]
    if "test" not in splits:
        train, splits["test"] = image_data.split_off(*train, VALIDATION_FRACTION, seed)
    if "validation" not in splits:
        train, splits["validation"] = image_data.split_off(
            *train, VALIDATION_FRACTION, seed + 1
        )
    splits["train"] = train
    # Caught here: an empty split fails later deep inside tf.data or Keras.
    empty = [split for split in parts if not len(splits[split][1])]
    if empty:
        raise ValueError(
            f"data source {source!r} has too few images: its {' and '.join(empty)} "
            f"split would be empty; expected at least {len(parts)} images to split "
            f"into {', '.join(parts)} (one each), received {found}"
        )
    return splits, names


def _location_and_size(source):
    """``source``'s location and its ``?size=`` as ``(height, width)`` (or None)."""
    location, options = split_source(source, ("size",))
    return location, _size_option(dict(options).get("size"), source)


def _size_option(value, source):
    """``?size=N`` or ``?size=HxW`` as ``(height, width)``; None if absent."""
    if value is None:
        return None
    parts = value.split("x")
    if len(parts) > 2:
        raise ValueError(
            f"data option size: expected N or HxW (e.g. 64 or 64x48); received "
            f"{value!r} in {source!r}"
        )
    numbers = [positive_int_option(part, "size", source) for part in parts]
    height, width = numbers if len(numbers) == 2 else numbers * 2
    return height, width


def _check_patch_count(image_size, patch_size):
    """Refuse an image size that makes more than `MAX_PATCHES` patches."""
    height, width = image_size
    count = (height // patch_size) * (width // patch_size)
    if count > MAX_PATCHES:
        raise ValueError(
            f"images of {height}x{width} pixels make {count:,} patches of "
            f"{patch_size}x{patch_size} with this preset; expected at most "
            f"{MAX_PATCHES:,}, since attention's memory grows with their square. "
            f"Resize them with the data option ?size=N (e.g. --data "
            f"'photos/?size={16 * patch_size}'), or take a preset with larger "
            "patches"
        )


def _resized(split, size):
    """``(images, labels)`` with the images resized to ``size`` (None: kept)."""
    images, labels = split
    if size is None or tuple(images.shape[1:3]) == tuple(size):
        return images, labels
    if images.ndim == 3:
        images = images[..., None]
    return image_data.resize_images(list(images), size), labels


def fit_preprocessing(train_images, class_names, source):
    """Normalization statistics, image size and class names of a training split."""
    mean, std = image_data.image_statistics(train_images)
    return {
        "source": str(source),
        "image_size": [int(v) for v in train_images.shape[1:3]],
        "channels": int(train_images.shape[-1]),
        "mean": mean,
        "std": std,
        "class_names": list(class_names),
    }


def read_preprocessing(run_dir):
    """The run's saved preprocessing dict; ``ValueError`` if it is missing."""
    path = Path(run_dir) / PREPROCESSING_FILE
    if not path.is_file():
        raise ValueError(
            f"{str(path)!r} is missing: expected the preprocessing state that "
            "training writes to the run folder"
        )
    return runs.read_json_object(path, "the preprocessing `zoo train vit` writes")


def preprocess_files(paths, preprocessing):
    """Read image files into ``uint8`` arrays of the run's size and channels.

    Returns:
        ``(original images, resized uint8 batch)``.
    """
    originals = [
        image_data.read_image_file(path, channels=preprocessing["channels"])
        for path in paths
    ]
    batch = image_data.resize_images(originals, preprocessing["image_size"])
    return originals, batch


MAX_EXPLAINED_IMAGES = 16
"""The most images `zoo predict --explain` draws, one row each, in its PNG."""

PREDICT_CHUNK = 256
"""Images `ViTFamily.predict` decodes and classifies at a time.

A folder of thousands of photos is never decoded at once: only one chunk
of resized images (and one photo at full size) is in memory."""

PREDICT_BATCH = 32
"""The batch size of `model.predict` (Keras' default) and the largest bucket."""


def _read_resized(paths, preprocessing):
    """The images at ``paths`` as one ``uint8`` batch of the run's size.

    Each image is resized as soon as it is decoded, so that at most one is
    held at full size.
    """
    channels, size = preprocessing["channels"], preprocessing["image_size"]
    resized = [
        image_data.resize_images([image_data.read_image_file(path, channels)], size)
        for path in paths
    ]
    return np.concatenate(resized)


def _classify(model, images, preprocessing):
    """Class probabilities (float64) of a ``uint8`` batch, padded to its bucket.

    The padding repeats the first image; each image is classified on its own
    (no layer mixes the rows of a batch), so the padding changes nothing and
    is cut off.
    """
    rows = len(images)
    padding = np.repeat(images[:1], bucket_rows(rows, PREDICT_BATCH) - rows, axis=0)
    x = image_data.normalize(
        np.concatenate([images, padding]), preprocessing["mean"], preprocessing["std"]
    )
    batch_size = min(len(x), PREDICT_BATCH)
    logits = model.predict(x, batch_size=batch_size, verbose=0)
    return np.exp(_log_softmax(logits))[:rows]


def predict_probabilities(model, paths, preprocessing):
    """Class probabilities of the image files at ``paths``, in their order.

    Reads, resizes and classifies `PREDICT_CHUNK` files at a time. Every
    path is checked first, so that a missing file late in a long list fails
    at once rather than after the files before it are classified.

    Args:
        model: the run's classifier (logits out).
        paths: image file paths.
        preprocessing: the run's `read_preprocessing` dict.

    Returns:
        A float64 array (len(paths), classes).
    """
    for path in paths:
        image_data.check_image_path(path)
    chunks = [
        _classify(
            model,
            _read_resized(paths[i : i + PREDICT_CHUNK], preprocessing),
            preprocessing,
        )
        for i in range(0, len(paths), PREDICT_CHUNK)
    ]
    return np.concatenate(chunks)


def _ranked_lines(paths, probabilities, names, top):
    """One line per image: its path and its ``top`` classes with probabilities."""
    lines = []
    for path, row in zip(paths, probabilities):
        best = np.argsort(-row)[: min(top, len(names))]
        ranked = ", ".join(f"{names[i]} ({row[i]:.1%})" for i in best)
        lines.append(f"{path}: {ranked}")
    return lines


class ViTFamily(ModelFamily):
    """Vision Transformer image classifiers (``zoo train vit``).

    Examples:
        >>> from pathlib import Path
        >>> from zoo.models.vit.family import ViTFamily
        >>> family = ViTFamily()
        >>> data = family.prepare_data("fashion_mnist", 128, Path("runs/vit"))  # doctest: +SKIP
        >>> model = family.build_model(family.check_preset("tiny"), data.info)  # doctest: +SKIP
    """

    name = "vit"
    description = "Vision Transformer image classifier (folders, tfds:, fashion_mnist)"
    presets = VIT_PRESETS
    default_preset = "tiny"
    default_data = "fashion_mnist"
    predicts_image_files = True
    monitor = "val_loss"
    learning_rate = 1e-3
    warmup_steps = None
    schedule = "cosine"

    def prepare_data(
        self,
        source,
        batch_size,
        run_dir,
        seed=0,
        split_seed=SPLIT_SEED,
        pipeline="tf.data",
    ):
        """Load ``source``, fit or reuse the preprocessing, return batched splits.

        ``pipeline`` is ``"tf.data"`` (`zoo.data.images.make_image_dataset`)
        or ``"numpy"`` (`zoo.data.numpy_images.ImageBatches`, the same
        batches for machines that run Keras without TensorFlow).
        """
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(
                f"`batch_size` must be a positive integer; received {batch_size!r}"
            )
        if pipeline not in PIPELINES:
            raise ValueError(
                f"`pipeline` must be one of {PIPELINES}; received {pipeline!r}"
            )
        # The preset's options, from the run record that `zoo train` writes
        # before it prepares the data.
        config = (runs.read_run(run_dir) or {}).get("config", {})
        _, requested = _location_and_size(str(source))
        if requested and "patch_size" in config:
            # Before every image is resized: ?size=999999 would run out of
            # memory there, long before build_model checks the same.
            _check_patch_count(requested, config["patch_size"])
        splits, names = load_splits(source, split_seed)
        path = Path(run_dir) / PREPROCESSING_FILE
        if path.is_file():
            preprocessing = read_preprocessing(run_dir)
            # Labels are indices into the class names: the same number of
            # classes under other names (or in another order) would be scored
            # against the wrong classes.
            if preprocessing["class_names"] != list(names):
                raise ValueError(
                    f"data source {source!r} must have the classes the run in "
                    f"{str(run_dir)!r} was trained on: expected "
                    f"{preprocessing['class_names']}, received {list(names)}"
                )
        else:
            preprocessing = fit_preprocessing(splits["train"][0], names, source)
            Path(run_dir).mkdir(parents=True, exist_ok=True)
            # Whole or not at all: a run killed here fits it again.
            write_json_atomically(path, preprocessing)

        size = preprocessing["image_size"]
        mean, std = preprocessing["mean"], preprocessing["std"]
        padding = config.get("augment_padding", max(1, round(size[0] / 14)))
        flip = config.get("augment_flip", True)
        mixup = config.get("mixup", 0.0)  # both checked by either pipeline
        cutmix = config.get("cutmix", 0.0)
        make = (
            image_data.make_image_dataset
            if pipeline == "tf.data"
            else numpy_images.ImageBatches
        )
        datasets = {}
        for split, (images, labels) in splits.items():
            images = _match_channels(images, preprocessing["channels"])
            if list(images.shape[1:3]) != list(size):
                images = image_data.resize_images(images, size)
            datasets[split] = make(
                images,
                labels,
                mean,
                std,
                batch_size,
                training=split == "train",
                seed=seed,
                pad=padding,
                flip=flip,
                mixup=mixup if split == "train" else 0.0,
                cutmix=cutmix if split == "train" else 0.0,
                num_classes=len(names),
            )
        info = {
            "image_size": size,
            "channels": preprocessing["channels"],
            "num_classes": len(preprocessing["class_names"]),
            "class_names": preprocessing["class_names"],
            "train_examples": len(splits["train"][1]),
        }
        return PreparedData(
            train=datasets["train"],
            validation=datasets["validation"],
            test=datasets["test"],
            info=info,
            train_examples=info["train_examples"],
        )

    def build_model(self, config, info):
        """A `ViTClassifier` of the preset ``config`` at the data's image size."""
        from zoo.models.vit.vit_backbone import ViTBackbone
        from zoo.models.vit.vit_classifier import ViTClassifier

        backbone_args = {
            k: v for k, v in config.items() if k not in TRAINING_KEYS + HEAD_KEYS
        }
        head_args = {k: v for k, v in config.items() if k in HEAD_KEYS}
        _check_patch_count(info["image_size"], config["patch_size"])
        backbone = ViTBackbone(
            image_size=tuple(info["image_size"]),
            num_channels=info["channels"],
            name="vit_backbone",
            **backbone_args,
        )
        return ViTClassifier(
            backbone, info["num_classes"], name="vit_classifier", **head_args
        )

    def compile_arguments(self, config, info):
        """Sparse cross-entropy on logits and accuracy.

        With MixUp or CutMix (``config["mixup"]`` or ``config["cutmix"]``
        > 0) training labels are mixed class distributions while validation
        keeps class ids:
        `training.losses.MixupCrossentropy` and `MixupAccuracy` take both.
        """
        import keras

        if config.get("mixup") or config.get("cutmix"):
            return {"loss": MixupCrossentropy(), "metrics": [MixupAccuracy()]}
        return {
            "loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            "metrics": ["accuracy"],
        }

    def evaluate(self, model, data, run_dir):
        """Accuracy and mean cross-entropy on ``data.test``.

        A run trained with random horizontal flips (the presets' default)
        also gets ``flip_averaged_accuracy``: each image classified by the
        mean probabilities of the image and its mirror image, the cheapest
        test-time augmentation. ``accuracy`` stays the single-view number.
        """
        config = (runs.read_run(run_dir) or {}).get("config", {})
        with_flips = config.get("augment_flip", True)
        log_probs, mirrored_log_probs, labels = [], [], []
        for images, batch_labels in data.test:
            log_probs.append(_log_softmax(model(images, training=False)))
            if with_flips:
                # Images are (batch, height, width, channels): width is axis 2.
                mirrored = model(images[:, :, ::-1], training=False)
                mirrored_log_probs.append(_log_softmax(mirrored))
            labels.append(np.asarray(batch_labels))
        log_probs, labels = np.concatenate(log_probs), np.concatenate(labels)
        loss = -log_probs[np.arange(len(labels)), labels].mean()
        metrics = {
            "accuracy": float((log_probs.argmax(axis=-1) == labels).mean()),
            "loss": float(loss),
        }
        if with_flips:
            # The sum of both views' probabilities has the mean's argmax.
            summed = np.exp(log_probs) + np.exp(np.concatenate(mirrored_log_probs))
            metrics["flip_averaged_accuracy"] = float(
                (summed.argmax(axis=-1) == labels).mean()
            )
        return metrics

    def add_predict_arguments(self, parser):
        parser.add_argument(
            "--top", type=int, default=3, metavar="K", help="classes shown per image"
        )
        parser.add_argument(
            "--explain",
            metavar="OUT.png",
            type=os.path.expanduser,  # a quoted "~/x.png" too
            help="write an attention-rollout heatmap of each image to OUT.png",
        )

    def predict(self, model, run_dir, inputs, args):
        """The top classes of each image file, one line per image."""
        from zoo.models.vit.rollout import attention_rollout, save_heatmaps

        if not inputs:
            raise ValueError("expected at least one image file; received none")
        top = getattr(args, "top", 3)
        if not isinstance(top, int) or top < 1:
            raise ValueError(f"`--top` must be a positive integer; received {top!r}")
        explain = getattr(args, "explain", None)
        if explain and len(inputs) > MAX_EXPLAINED_IMAGES:
            # One row per image: a folder of 300 drew a 75,000-pixel-tall PNG
            # in a minute, after every prediction was made.
            raise ValueError(
                f"--explain draws at most {MAX_EXPLAINED_IMAGES} images in one "
                f"figure; received {len(inputs)}: explain a few of them"
            )
        preprocessing = read_preprocessing(run_dir)
        names = preprocessing["class_names"]
        if not explain:
            probabilities = predict_probabilities(model, inputs, preprocessing)
            return "\n".join(_ranked_lines(inputs, probabilities, names, top))
        # At most MAX_EXPLAINED_IMAGES: the originals fit in memory, and are
        # read once for the classes and the heatmaps.
        originals, batch = preprocess_files(inputs, preprocessing)
        probabilities = _classify(model, batch, preprocessing)
        lines = _ranked_lines(inputs, probabilities, names, top)
        x = image_data.normalize(batch, preprocessing["mean"], preprocessing["std"])
        backbone = model.backbone
        heat = attention_rollout(
            backbone.attention_scores(x),
            backbone.use_class_token,
            backbone.grid_size,
        )
        titles = [names[int(np.argmax(row))] for row in probabilities]
        save_heatmaps(originals, heat, titles, explain)
        lines.append(f"attention rollout written to {explain}")
        return "\n".join(lines)

    def export(self, model, run_dir, path):
        """A SavedModel serving uint8 images and encoded image bytes."""
        from zoo.models.vit.export import export_saved_model

        return export_saved_model(model, read_preprocessing(run_dir), path)
