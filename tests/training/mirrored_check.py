"""Trains the same tiny model on one device and data-parallel on two.

Run as a script (by test_distribution.py): devices must be configured before
the backend initialises them, which a pytest process has already done. The
argument picks the model: ``dense`` (a small regression net, the default) or
``vit`` (a tiny zoo ViT on real Fashion-MNIST images: the zoo's attention
and blocks, and on TensorFlow its fused kernels, under the strategy). Prints one JSON line:
{"replicas": ..., "single": [losses], "parallel": [losses],
"max_weight_diff": ...}.

TensorFlow backend: two logical CPUs and MirroredStrategy. JAX backend (run
with XLA_FLAGS=--xla_force_host_platform_device_count=2): DataParallel.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

if keras.backend.backend() == "tensorflow":
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration()] * 2
    )
    tf.config.experimental.enable_op_determinism()

from training.distribution import TrainingStrategy, resolve_strategy  # noqa: E402

STEPS, BATCH = 6, 16


def dense_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(STEPS * BATCH, 4)).astype("float32")
    y = (x @ rng.normal(size=(4, 1))).astype("float32")
    return x, y


def dense_model():
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(16, activation="tanh")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
    model.compile(keras.optimizers.SGD(0.05), loss="mse")
    return model


def vit_data():
    from zoo.data.fashion_mnist import load_fashion_mnist

    images, labels = load_fashion_mnist("train", limit=STEPS * BATCH)
    return images[..., None].astype("float32") / 255.0, labels


def vit_model():
    from zoo.models.vit import ViTBackbone, ViTClassifier

    backbone = ViTBackbone(28, 7, 16, 2, 2, 32, num_channels=1)
    model = ViTClassifier(backbone, num_classes=10)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(keras.optimizers.SGD(0.1), loss=loss)
    return model


MODELS = {"dense": (dense_data, dense_model), "vit": (vit_data, vit_model)}


def train(strategy, model_name):
    import tensorflow as tf

    make_data, make_model = MODELS[model_name]
    x, y = make_data()
    keras.utils.set_random_seed(7)
    with strategy.scope():
        model = make_model()
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH)
    history = model.fit(dataset, epochs=3, verbose=0)
    return history.history["loss"], model.get_weights()


def main():
    model_name = sys.argv[1] if len(sys.argv) > 1 else "dense"
    single_losses, single_weights = train(TrainingStrategy("none"), model_name)
    if keras.backend.backend() == "tensorflow":
        strategy = resolve_strategy("mirrored")
    else:
        strategy = resolve_strategy("auto")
    parallel_losses, parallel_weights = train(strategy, model_name)
    diff = max(
        float(np.max(np.abs(a - b))) for a, b in zip(single_weights, parallel_weights)
    )
    print(
        json.dumps(
            {
                "kind": strategy.kind,
                "replicas": strategy.num_replicas,
                "single": [float(v) for v in single_losses],
                "parallel": [float(v) for v in parallel_losses],
                "max_weight_diff": diff,
            }
        )
    )


if __name__ == "__main__":
    main()
