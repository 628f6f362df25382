"""Train a Vision Transformer on Fashion-MNIST, explain it and serve it.

The same steps as ``zoo train vit``, ``zoo predict DIR image.png --explain``
and loading the exported SavedModel without ``zoo``:

1. train the ``tiny`` preset (or ``--preset``) on the built-in
   ``fashion_mnist`` data (or ``--data FOLDER`` / ``tfds:NAME``) into ``--out``;
2. predict the top classes of a few test images and write an attention-rollout
   heatmap of them;
3. load ``saved_model/`` with plain TensorFlow and classify raw ``uint8``
   images of another size and encoded PNG bytes.

Run with ``python examples/vit.py [--preset tiny] [--epochs 2] [--out DIR]``.
"""

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf

from zoo import registry, trainer
from zoo.models.vit.family import load_splits


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--data", default="fashion_mnist")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("runs/vit-example"))
    args = parser.parse_args()

    family = registry.get_family("vit")
    metrics = trainer.train_run(family, args.preset, args.data, args.out, args.epochs)
    print("test metrics:", json.dumps(metrics))

    # Predict from image files, as `zoo predict DIR a.png b.png --explain`.
    # The images come from the test split of the data the model was trained
    # on (drawn with train_run's seed), so the true labels below are theirs.
    splits, class_names = load_splits(args.data)
    images, labels = (array[:4] for array in splits["test"])
    folder = Path(tempfile.mkdtemp())
    paths = []
    for index, image in enumerate(images):
        name = class_names[labels[index]].replace("/", "-")
        path = folder / f"test_{index}_{name}.png"
        path.write_bytes(tf.io.encode_png(image).numpy())
        paths.append(str(path))
    explain = args.out / "attention_rollout.png"
    print(
        trainer.predict_run(args.out, paths, ["--top", "2", "--explain", str(explain)])
    )

    # Serve: plain TensorFlow, no `zoo` needed to load the SavedModel.
    served = tf.saved_model.load(str(args.out / "saved_model"))
    height, width = images.shape[1:3]
    bigger = tf.image.resize(images, (2 * height, 2 * width)).numpy()
    outputs = served.signatures["serving_default"](
        images=tf.constant(bigger.astype(np.uint8))
    )
    served_classes = [c.decode() for c in outputs["classes"].numpy()]
    print(f"served ({2 * height}×{2 * width} uint8):", served_classes)
    pngs = tf.constant([Path(path).read_bytes() for path in paths])
    outputs = served.signatures["serve_bytes"](image_bytes=pngs)
    print("served (PNG bytes):  ", [c.decode() for c in outputs["classes"].numpy()])
    print("true labels:         ", [class_names[label] for label in labels])


if __name__ == "__main__":
    main()
