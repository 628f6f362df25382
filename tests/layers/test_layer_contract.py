"""The contract every public layer meets, run over ``layer_cases.CASES``."""

import inspect

import keras
import numpy as np
import pytest

from tests.layers.layer_cases import CASES
from zoo import layers

BASE_CONFIG_KEYS = {"name", "trainable", "dtype"}


def _call(layer, case, inputs=None, **extra):
    return layer(
        *(case.inputs if inputs is None else inputs), **case.call_kwargs, **extra
    )


def _functional_model(layer, case):
    symbolic = [keras.Input(shape=x.shape[1:], dtype=str(x.dtype)) for x in case.inputs]
    return keras.Model(symbolic, _call(layer, case, symbolic))


def test_every_public_layer_has_a_case():
    covered = {case.cls.__name__ for case in CASES.values()}
    assert covered == set(layers.__all__)


@pytest.mark.parametrize("name", sorted(CASES))
def test_config_keys_equal_init_arguments(name):
    case = CASES[name]
    parameters = set(inspect.signature(case.cls.__init__).parameters)
    parameters -= {"self", "kwargs"}
    config_keys = set(case.make().get_config()) - BASE_CONFIG_KEYS
    assert config_keys == parameters


@pytest.mark.parametrize("name", sorted(CASES))
def test_from_config_round_trip_gives_identical_outputs(name):
    case = CASES[name]
    layer = case.make()
    expected = keras.ops.convert_to_numpy(_call(layer, case))
    clone = case.cls.from_config(layer.get_config())
    _call(clone, case)
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(_call(clone, case)), expected
    )
    assert clone.get_config() == layer.get_config()


@pytest.mark.parametrize("name", sorted(CASES))
def test_keras_file_save_load_gives_identical_outputs(name, tmp_path):
    case = CASES[name]
    model = _functional_model(case.make(), case)
    expected = model.predict(case.inputs, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_array_equal(restored.predict(case.inputs, verbose=0), expected)


@pytest.mark.parametrize("name", sorted(CASES))
def test_symbolic_and_eager_calls_agree_on_shape(name):
    case = CASES[name]
    layer = case.make()
    eager = _call(layer, case)
    symbolic = _functional_model(layer, case).outputs[0]
    assert tuple(symbolic.shape[1:]) == tuple(eager.shape[1:])
    shapes = [x.shape for x in case.inputs]
    assert tuple(layer.compute_output_shape(*shapes)) == tuple(eager.shape)


@pytest.mark.parametrize("name", sorted(CASES))
def test_one_fit_step_updates_the_weights(name):
    case = CASES[name]
    layer = case.make()
    model = _functional_model(layer, case)
    head = keras.layers.Dense(1)(keras.layers.Flatten()(model.outputs[0]))
    trainer = keras.Model(model.inputs, head)
    trainer.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = [np.array(w) for w in layer.get_weights()]
    targets = np.ones((len(case.inputs[0]), 1), "float32")
    history = trainer.fit(case.inputs, targets, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = layer.get_weights()
    if layer.trainable_weights:
        assert any(not np.allclose(b, a) for b, a in zip(before, after))


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_mixed_precision_computes_in_half_and_keeps_float32_weights(name, policy):
    case = CASES[name]
    reference = case.make()
    expected = keras.ops.convert_to_numpy(_call(reference, case))
    layer = case.make(dtype=policy)
    outputs = _call(layer, case)
    _, compute_dtype = policy.split("_")
    assert keras.backend.standardize_dtype(outputs.dtype) == compute_dtype
    assert all(
        keras.backend.standardize_dtype(w.dtype) == "float32" for w in layer.weights
    )
    layer.set_weights(reference.get_weights())
    got = keras.ops.convert_to_numpy(keras.ops.cast(_call(layer, case), "float32"))
    assert np.all(np.isfinite(got))
    tolerance = 2e-2 if compute_dtype == "float16" else 1e-1
    np.testing.assert_allclose(got, expected, atol=tolerance, rtol=tolerance)


@pytest.mark.parametrize("name", sorted(CASES))
def test_float64_computes_and_trains_in_float64(name):
    if keras.backend.backend() == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            pytest.skip("JAX computes float64 in float32 unless jax_enable_x64")
    case = CASES[name]
    reference = case.make()
    expected = keras.ops.convert_to_numpy(_call(reference, case))
    layer = case.make(dtype="float64")
    _call(layer, case)
    layer.set_weights(reference.get_weights())
    assert all(
        keras.backend.standardize_dtype(w.dtype) == "float64" for w in layer.weights
    )
    outputs = _call(layer, case)
    assert keras.backend.standardize_dtype(outputs.dtype) == "float64"
    # Float32 inputs and weights: only float32 rounding apart.
    got = keras.ops.convert_to_numpy(outputs)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=1e-5)
    # And a fit step: training calls take other paths (fused kernels, dropout).
    model = _functional_model(layer, case)
    head = keras.layers.Dense(1, dtype="float64")(
        keras.layers.Flatten()(model.outputs[0])
    )
    trainer = keras.Model(model.inputs, head)
    trainer.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    targets = np.ones((len(case.inputs[0]), 1), "float64")
    history = trainer.fit(case.inputs, targets, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("reload", [False, True])
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_layer_frozen_before_it_is_built_does_not_train(name, reload, tmp_path):
    # `trainable=False` given to the constructor, or read back from the
    # config of a frozen layer when a model is loaded, must reach the
    # sublayers the layer creates later.
    case = CASES[name]
    model = _functional_model(case.make(trainable=False), case)
    if reload:
        model.save(tmp_path / "frozen.keras")
        model = keras.models.load_model(tmp_path / "frozen.keras")
    layer = model.layers[-1]
    head = keras.layers.Dense(1)(keras.layers.Flatten()(model.outputs[0]))
    trainer = keras.Model(model.inputs, head)
    assert len(trainer.trainable_weights) == 2  # the head's only
    trainer.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = [np.array(w) for w in layer.get_weights()]
    targets = np.ones((len(case.inputs[0]), 1), "float32")
    trainer.fit(case.inputs, targets, epochs=1, verbose=0)
    for b, a in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(CASES))
def test_int8_quantization_before_any_call(name):
    # `model.quantize` wants every layer built: the sublayers without
    # weights (dropout, drop path) too, before any eager call.
    case = CASES[name]
    model = _functional_model(case.make(), case)
    model.quantize("int8")
    outputs = model.predict(case.inputs, verbose=0)
    assert np.all(np.isfinite(outputs))
