"""Fixtures for the training-toolkit tests: a seed and a clean global state."""

import keras
import numpy as np
import pytest

# For the tests of `tf.distribute` strategies, which exist on TensorFlow only.
tensorflow_only = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="tf.distribute strategies"
)


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


def tiny_model():
    """A compiled one-layer Dense model (Adam, MSE) on 4 features."""
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def data():
    """32 random examples for `tiny_model`: ``(x, y)``."""
    rng = np.random.default_rng(0)
    return rng.normal(size=(32, 4)), rng.normal(size=(32, 1))


class CrashAt(keras.callbacks.Callback):
    """Raises KeyboardInterrupt, as a kill would stop a run, before ``epoch``."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt(f"simulated crash before epoch {epoch}")


class AtBatch(keras.callbacks.Callback):
    """Calls ``act()`` before a given (epoch, batch) of training."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.at = (epoch, batch)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            self.act()

    def act(self):
        raise NotImplementedError


class PoisonWeights(AtBatch):
    """Sets the head's kernel to NaN before a given (epoch, batch)."""

    def act(self):
        kernel = self.model.get_layer("head").kernel
        kernel.assign(keras.ops.full(kernel.shape, float("nan")))


class CrashAtBatch(AtBatch):
    """Raises KeyboardInterrupt, as a kill would, before a given (epoch, batch)."""

    def act(self):
        raise KeyboardInterrupt("simulated crash mid-epoch")


class FakeClock:
    """A clock that advances one second each time it is read."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 1.0
        return self.now


class RecordRate(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(float(self.model.optimizer.learning_rate.numpy()))


class RecordWeights(keras.callbacks.Callback):
    """Keeps a copy of the model's weights at each epoch's end."""

    def __init__(self):
        super().__init__()
        self.by_epoch = {}

    def on_epoch_end(self, epoch, logs=None):
        self.by_epoch[epoch] = [w.copy() for w in self.model.get_weights()]


def assert_saved_weights(path, expected):
    """The model saved at ``path`` holds exactly the weights ``expected``."""
    saved = keras.models.load_model(path).get_weights()
    for got, want in zip(saved, expected):
        np.testing.assert_array_equal(got, want)
