import keras
import numpy as np
import pytest

from training.optimizers import make_optimizer
from training.precision import apply_precision, resolve_precision


@pytest.mark.parametrize(
    "capabilities, expected",
    [
        ([], "float32"),
        ([(7, 5)], "mixed_float16"),
        (["7.0"], "mixed_float16"),
        ([(8, 0)], "mixed_bfloat16"),
        (["9.0", "9.0"], "mixed_bfloat16"),
        ([(8, 6), (7, 5)], "mixed_float16"),  # the oldest GPU decides
    ],
)
def test_auto(capabilities, expected):
    assert resolve_precision("auto", compute_capabilities=capabilities) == expected


def test_auto_detects_cpu_here():
    # This test machine has no GPU.
    assert resolve_precision("auto") == "float32"


@pytest.mark.parametrize("name", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_explicit_overrides(name):
    assert resolve_precision(name, compute_capabilities=[(8, 0)]) == name
    assert resolve_precision(name, compute_capabilities=[]) == name


@pytest.mark.parametrize("bad", ["fp16", "bfloat16", None, "AUTO"])
def test_invalid(bad):
    with pytest.raises(ValueError, match="mixed_bfloat16.*Received: precision="):
        resolve_precision(bad)


def head_model():
    inputs = keras.Input((4,))
    x = keras.layers.Dense(8, activation="relu")(inputs)
    outputs = keras.layers.Dense(3, dtype="float32", name="head")(x)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize(
    "precision, compute", [("mixed_float16", "float16"), ("mixed_bfloat16", "bfloat16")]
)
def test_float32_head_under_mixed_policy(precision, compute):
    assert apply_precision(precision) == precision
    assert keras.config.dtype_policy().name == precision
    model = head_model()
    assert model.layers[1].compute_dtype == compute
    assert model.layers[1].kernel.dtype == "float32"  # variables stay float32
    output = model(np.ones((2, 4), "float32"))
    assert keras.backend.standardize_dtype(output.dtype) == "float32"


def test_loss_scale_optimizer_under_mixed_float16(regression_data):
    apply_precision("mixed_float16")
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(8)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1, dtype="float32")(hidden))
    model.compile(optimizer=make_optimizer(1e-3, model=model), loss="mse")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(model.optimizer.inner_optimizer, keras.optimizers.AdamW)
    # The wrapper delegates updates, so the decay exclusions still apply.
    inner = model.optimizer.inner_optimizer
    assert not inner._use_weight_decay(model.layers[1].bias)
    assert inner._use_weight_decay(model.layers[1].kernel)
    x, y = regression_data
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    # Dynamic scaling is live: the scale variable exists and is finite.
    assert np.isfinite(float(model.optimizer.dynamic_scale))


@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_no_loss_scaling_otherwise(precision):
    apply_precision(precision)
    model = head_model()
    model.compile(optimizer=make_optimizer(1e-3), loss="mse")
    assert isinstance(model.optimizer, keras.optimizers.AdamW)
