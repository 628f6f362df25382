"""Trains data-parallel on two JAX CPU devices with batches they do not divide.

Run as a script (by test_distribution.py) with
XLA_FLAGS=--xla_force_host_platform_device_count=2: the devices must be set
before JAX starts. Each pass of 15 examples in batches of 4 ends with a batch
of 3, which Keras' DataParallel cannot shard; the token model also brings a
metric object made outside the distribution's scope, as `zoo train` does;
the image model reads a `PyDataset` (the ViT's `ImageBatches`) of the same
sizes. Prints one JSON line: {"kind": the distribution during training, "after":
the one after, "forecast": [losses], "tokens": [accuracies], "images":
[accuracies]}.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from training import recipe  # noqa: E402
from training.losses import (  # noqa: E402
    MaskedSparseCategoricalAccuracy,
    MaskedSparseCategoricalCrossentropy,
)
from zoo.data.fashion_mnist import load_fashion_mnist  # noqa: E402
from zoo.data.numpy_images import ImageBatches  # noqa: E402

RNG = np.random.default_rng(0)


def batches(x, y):
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(4)


def forecast_run(out_dir):
    """Targets (batch, horizon, channels), as the forecaster's."""
    x = RNG.normal(size=(15, 8, 2)).astype("float32")
    y = x[:, -3:, :] * 0.5

    def build():
        inputs = keras.Input((8, 2))
        hidden = keras.layers.Dense(6)(keras.layers.Flatten()(inputs))
        return keras.Model(inputs, keras.layers.Reshape((3, 2))(hidden))

    return recipe.fit(
        build,
        batches(x, y),
        batches(x[:7], y[:7]),
        out_dir,
        epochs=2,
        loss="mse",
        verbose=0,
    )


def token_run(out_dir):
    """Targets (batch, length) with padding, as the seq2seq models'."""
    x = RNG.integers(1, 10, size=(15, 5)).astype("int32")
    x[:, 4] = 0

    def build():
        inputs = keras.Input((5,), dtype="int32")
        hidden = keras.layers.Embedding(10, 8)(inputs)
        return keras.Model(inputs, keras.layers.Dense(10)(hidden))

    accuracy = MaskedSparseCategoricalAccuracy()  # made before fit's scope
    kinds = []
    record_kind = keras.callbacks.LambdaCallback(
        on_train_begin=lambda logs: kinds.append(
            type(keras.distribution.distribution()).__name__
        )
    )
    history = recipe.fit(
        build,
        batches(x, x),
        batches(x[:7], x[:7]),
        out_dir,
        epochs=2,
        loss=MaskedSparseCategoricalCrossentropy(),
        metrics=[accuracy],
        callbacks=[record_kind],
        verbose=0,
    )
    return history, kinds[0]


def image_run(out_dir):
    """A PyDataset of 15 Fashion-MNIST images, validated on 7."""
    images, labels = load_fashion_mnist("train", limit=15)

    def batches(count, training):
        return ImageBatches(
            images[:count], labels[:count], 0.3, 0.35, 4, training=training
        )

    def build():
        inputs = keras.Input((28, 28, 1))
        hidden = keras.layers.Flatten()(keras.layers.AveragePooling2D(4)(inputs))
        return keras.Model(inputs, keras.layers.Dense(10)(hidden))

    return recipe.fit(
        build,
        batches(15, True),
        batches(7, False),
        out_dir,
        epochs=2,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        verbose=0,
    )


if __name__ == "__main__":
    out = sys.argv[1]
    keras.utils.set_random_seed(0)
    tokens, kind = token_run(os.path.join(out, "tokens"))
    forecast = forecast_run(os.path.join(out, "forecast"))
    images = image_run(os.path.join(out, "images"))
    print(
        json.dumps(
            {
                "kind": kind,
                "after": type(keras.distribution.distribution()).__name__,
                "forecast": forecast.history["val_loss"],
                "tokens": tokens.history["val_masked_accuracy"],
                "images": images.history["val_accuracy"],
            }
        )
    )
