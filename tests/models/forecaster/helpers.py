"""Round-trip checks shared by the forecaster model tests."""

import inspect

import keras
import numpy as np


def assert_round_trips(model, inputs, tmp_path, cls):
    """get_config keys == __init__ args; from_config and .keras give equal outputs."""
    expected = keras.ops.convert_to_numpy(model(inputs, training=False))
    config = model.get_config()
    arguments = set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"}
    assert arguments <= set(config), arguments - set(config)
    base = set(keras.Model().get_config())
    assert set(config) - base == arguments
    clone = cls.from_config(config)
    clone.build()
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(clone(inputs, training=False)), expected, atol=1e-5
    )
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is cls
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(inputs, training=False)), expected, atol=1e-5
    )
