"""Draws the zoo's dropout masks on two mirrored replicas for three steps.

Run as a script (by test_distribution.py) on TensorFlow: the two logical CPUs
must be configured before TensorFlow initialises its devices. Prints one JSON
line: {layer: {"masks": count, "distinct": count, "kept": [share per mask]}}.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(__file__))))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

from training.distribution import resolve_strategy  # noqa: E402
from zoo.layers import Dropout, DropPath  # noqa: E402

STEPS = 3
SEED = 1
# Each replica's input: Dropout masks 256 units, DropPath 64 examples, so two
# independent draws coincide with probability 2**-64 at most.
LAYERS = {"Dropout": (Dropout, (4, 64)), "DropPath": (DropPath, (64, 3, 2))}


def replica_masks(strategy, layer_class, shape):
    """Each replica's keep mask at each step, as flat booleans."""
    with strategy.scope():
        # Seeded, so the draws (and their kept shares) are the same every run.
        layer = layer_class(0.5, seed=SEED)
        layer.build(shape)

    @tf.function
    def step():
        return strategy.run(lambda: layer(tf.ones(shape), training=True))

    masks = []
    for _ in range(STEPS):
        for out in strategy.experimental_local_results(step()):
            masks.append(np.asarray(out).ravel() > 0)
    return masks


def main():
    strategy = resolve_strategy("mirrored")
    assert strategy.num_replicas == 2, strategy.num_replicas
    report = {}
    for name, (layer_class, shape) in LAYERS.items():
        masks = replica_masks(strategy.strategy, layer_class, shape)
        report[name] = {
            "masks": len(masks),
            "distinct": len({mask.tobytes() for mask in masks}),
            "kept": [float(mask.mean()) for mask in masks],
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
