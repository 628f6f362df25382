"""benchmarks/translation_l10n.py's training helper."""

import sys
from pathlib import Path
from types import SimpleNamespace

import keras
import numpy as np
import pytest
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
translation_l10n = pytest.importorskip("translation_l10n")


def bucketed_batches(sizes):
    """A dataset of batches of the given sizes, as length buckets make them."""
    datasets = [
        tf.data.Dataset.from_tensor_slices(
            (np.ones((n, 3), "float32"), np.ones((n, 1), "float32"))
        ).batch(n)
        for n in sizes
    ]
    dataset = datasets[0]
    for more in datasets[1:]:
        dataset = dataset.concatenate(more)
    return dataset


def test_examples_per_second_counts_every_example(tmp_path):
    # A small first batch (4) before a full one (12): 16 examples in 2 steps.
    data = SimpleNamespace(
        train=bucketed_batches([4, 12]),
        validation=bucketed_batches([4]),
        train_examples=16,
    )

    def builder():
        return keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])

    translation_l10n.train(builder, data, tmp_path / "run", 1e-3, "mse", [], epochs=1)
    history = (tmp_path / "run" / "history.csv").read_text().splitlines()
    row = dict(zip(history[0].split(","), history[1].split(",")))
    examples_per_step = float(row["examples_per_second"]) / float(
        row["steps_per_second"]
    )
    assert examples_per_step == pytest.approx(8.0), row
