"""Trains the same tiny model on one device and data-parallel on two.

Run as a script (by test_distribution.py): devices must be configured before
the backend initialises them, which a pytest process has already done. Prints
one JSON line: {"replicas": ..., "single": [losses], "parallel": [losses],
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


def dataset():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x = rng.normal(size=(STEPS * BATCH, 4)).astype("float32")
    y = (x @ rng.normal(size=(4, 1))).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH)


def train(strategy):
    keras.utils.set_random_seed(7)
    with strategy.scope():
        inputs = keras.Input((4,))
        hidden = keras.layers.Dense(16, activation="tanh")(inputs)
        model = keras.Model(inputs, keras.layers.Dense(1)(hidden))
        model.compile(keras.optimizers.SGD(0.05), loss="mse")
    history = model.fit(dataset(), epochs=3, verbose=0)
    return history.history["loss"], model.get_weights()


def main():
    single_losses, single_weights = train(TrainingStrategy("none"))
    if keras.backend.backend() == "tensorflow":
        strategy = resolve_strategy("mirrored")
    else:
        strategy = resolve_strategy("auto")
    parallel_losses, parallel_weights = train(strategy)
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
