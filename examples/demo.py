"""Train a small transformer on Fashion-MNIST and export it as a SavedModel.

The model is a stack of ``zoo.layers``: patch embedding with a class token,
learned position embeddings, pre-norm encoder blocks and a linear head. The
exported SavedModel serves raw uint8 images and returns class probabilities.

Run with ``make demo`` or ``python examples/demo.py [--epochs N] [--out DIR]``.
"""

import argparse
import json
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from zoo import layers
from zoo.data.fashion_mnist import CLASS_NAMES, load_fashion_mnist


def build_model(hidden_dim=64, num_layers=2, num_heads=4, patch_size=7):
    """Patch embedding, encoder blocks and a head on the class token."""
    images = keras.Input((28, 28, 1), name="images")
    tokens = layers.PatchEmbedding(patch_size, hidden_dim, use_class_token=True)(images)
    tokens = tokens + layers.PositionEmbedding(tokens.shape[1])(tokens)
    for _ in range(num_layers):
        tokens = layers.TransformerEncoderBlock(
            num_heads, 2 * hidden_dim, activation="gelu", normalize_first=True
        )(tokens)
    tokens = keras.layers.LayerNormalization()(tokens)
    logits = keras.layers.Dense(len(CLASS_NAMES), name="logits")(tokens[:, 0])
    return keras.Model(images, logits, name="fashion_mnist_transformer")


def export(model, path):
    """Write a SavedModel whose signature takes uint8 (batch, 28, 28) images."""

    def serve(images):
        scaled = tf.cast(images, tf.float32)[..., None] / 255.0
        return {"probabilities": tf.nn.softmax(model(scaled, training=False))}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(
        "serve",
        serve,
        input_signature=[tf.TensorSpec((None, 28, 28), tf.uint8, name="images")],
    )
    archive.write_out(str(path), verbose=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--out", type=Path, default=Path("runs/demo"))
    args = parser.parse_args()
    keras.utils.set_random_seed(0)

    train_images, train_labels = load_fashion_mnist("train")
    test_images, test_labels = load_fashion_mnist("test")
    model = build_model()
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    start = time.perf_counter()
    model.fit(
        train_images[..., None] / 255.0,
        train_labels,
        validation_split=0.1,
        epochs=args.epochs,
        batch_size=args.batch_size,
        verbose=2,
    )
    train_seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(test_images[..., None] / 255.0, test_labels, verbose=0)

    args.out.mkdir(parents=True, exist_ok=True)
    model.save(args.out / "model.keras")
    export(model, args.out / "saved_model")
    served = tf.saved_model.load(str(args.out / "saved_model"))
    probabilities = served.serve(tf.constant(test_images[:256]))["probabilities"]
    served_accuracy = float(
        np.mean(np.argmax(probabilities, axis=-1) == test_labels[:256])
    )
    metrics = {
        "test_accuracy": round(float(accuracy), 4),
        "served_accuracy_first_256": round(served_accuracy, 4),
        "epochs": args.epochs,
        "train_seconds": round(train_seconds, 1),
        "parameters": model.count_params(),
    }
    (args.out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))
    print(f"SavedModel written to {args.out / 'saved_model'}")


if __name__ == "__main__":
    main()
