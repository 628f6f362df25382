"""Fixtures for the training-toolkit tests: a seed and a clean global state."""

import keras
import numpy as np
import pytest


@pytest.fixture(autouse=True)
def clean_keras_state():
    keras.utils.set_random_seed(1234)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")
    keras.backend.clear_session()


@pytest.fixture
def regression_data():
    """64 examples of a noiseless linear map 4 -> 1, as float32 arrays."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32")).astype("float32")
    return x, y


def tiny_regressor(units=8):
    """A two-layer Dense regressor, built."""
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(units, activation="relu", name="hidden")(inputs)
    outputs = keras.layers.Dense(1, name="head")(hidden)
    return keras.Model(inputs, outputs)


class CrashAt(keras.callbacks.Callback):
    """Raises KeyboardInterrupt, as a kill would stop a run, before ``epoch``."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt(f"simulated crash before epoch {epoch}")
