"""TimeSeriesForecaster: shapes, variants, round trips and argument checks."""

import keras
import numpy as np
import pytest

from tests.models.forecaster.helpers import assert_round_trips
from zoo.models.forecaster import TimeSeriesForecaster

SMALL = dict(hidden_dim=16, num_layers=1, num_heads=2, intermediate_dim=32)


@pytest.fixture
def window(elecdemand_frame):
    values = elecdemand_frame[["Demand", "WorkDay", "Temperature"]].to_numpy("float32")
    return np.stack([values[:100], values[500:600]])


@pytest.mark.parametrize("architecture", ["patch", "encoder_decoder"])
def test_output_shapes(window, architecture):
    model = TimeSeriesForecaster(100, 24, 3, architecture=architecture, **SMALL)
    assert model(window).shape == (2, 24, 3)
    targets = TimeSeriesForecaster(
        100,
        40,
        3,
        target_indices=[0],
        quantiles=[0.1, 0.5, 0.9],
        architecture=architecture,
        **SMALL,
    )
    assert targets(window).shape == (2, 40, 1, 3)


def test_covariates_change_the_forecast(window):
    model = TimeSeriesForecaster(100, 24, 3, num_covariates=1, **SMALL)
    covariates = np.zeros((2, 124, 1), "float32")
    base = model({"past_values": window, "future_covariates": covariates})
    covariates[:, -24:] = 1.0
    moved = model({"past_values": window, "future_covariates": covariates})
    assert base.shape == (2, 24, 3)
    assert not np.allclose(
        keras.ops.convert_to_numpy(base), keras.ops.convert_to_numpy(moved)
    )
    with pytest.raises(ValueError, match="past_values"):
        model(window)


def test_overlapping_patches_cover_the_newest_steps(window):
    # PatchTST's layout: lookback 100, patch 16, stride 8 uses the last 96
    # steps, plus one patch over the last value repeated: 12 + 1 patches.
    model = TimeSeriesForecaster(
        100, 24, 3, patch_stride=8, revin=False, dropout=0.0, **SMALL
    )
    assert model.num_patches == 12
    base = keras.ops.convert_to_numpy(model(window))
    assert base.shape == (2, 24, 3)
    older = window.copy()
    older[:, :4] += 5.0  # the 4 oldest steps fall outside the patches...
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(model(older)), base, atol=1e-5
    )
    newest = window.copy()
    newest[:, -1] += 1.0  # ...the newest step is read
    assert not np.allclose(keras.ops.convert_to_numpy(model(newest)), base)


def test_individual_heads_forecast_each_channel_on_its_own(window):
    model = TimeSeriesForecaster(
        100, 24, 3, individual_head=True, revin=False, dropout=0.0, **SMALL
    )
    base = keras.ops.convert_to_numpy(model(window))
    kernel = model.head.kernel
    assert tuple(kernel.shape) == (3, model.num_patches * 16, 24)
    # Zeroing channel 1's head changes channel 1's forecast only.
    weights = kernel.numpy()
    weights[1] = 0.0
    kernel.assign(weights)
    moved = keras.ops.convert_to_numpy(model(window))
    assert not np.allclose(moved[..., 1], base[..., 1])
    np.testing.assert_allclose(moved[..., [0, 2]], base[..., [0, 2]], atol=1e-6)


def test_revin_makes_the_forecast_follow_the_level(window):
    model = TimeSeriesForecaster(100, 24, 3, dropout=0.0, **SMALL)
    raised = keras.ops.convert_to_numpy(model(window + 10.0))
    shifted = raised - keras.ops.convert_to_numpy(model(window))
    np.testing.assert_allclose(shifted, 10.0, atol=1e-3)


@pytest.mark.parametrize(
    "arguments",
    [
        dict(architecture="encoder_decoder", quantiles=[0.1, 0.5, 0.9]),
        dict(num_covariates=2, target_indices=[0, 2]),
        dict(patch_stride=8, individual_head=True, quantiles=[0.5]),
    ],
)
def test_round_trips(window, tmp_path, arguments):
    model = TimeSeriesForecaster(100, 24, 3, **SMALL, **arguments)
    model.build()
    inputs = window
    if arguments.get("num_covariates"):
        known = np.random.default_rng(0).normal(size=(2, 124, 2)).astype("float32")
        inputs = {"past_values": window, "future_covariates": known}
    assert_round_trips(model, inputs, tmp_path, TimeSeriesForecaster)


@pytest.mark.parametrize(
    "arguments,match",
    [
        (dict(lookback=0), "`lookback` must be a positive integer; received 0"),
        (dict(architecture="rnn"), "`architecture` must be one of"),
        (dict(patch_size=200), "`patch_size` must be at most lookback=100"),
        (dict(target_indices=[3]), r"`target_indices` must be channel indices"),
        (dict(quantiles=[0.5, 1.5]), r"`quantiles` must be levels in \(0, 1\)"),
        (dict(patch_stride=0), "`patch_stride` must be a positive integer"),
        (dict(dropout=-0.5), r"`dropout` must be in \[0, 1\); received dropout=-0.5"),
        (
            dict(individual_head=True, architecture="encoder_decoder"),
            "`individual_head` needs architecture='patch'",
        ),
    ],
)
def test_bad_arguments(arguments, match):
    base = dict(lookback=100, horizon=24, num_channels=3)
    base.update(arguments)
    with pytest.raises(ValueError, match=match):
        TimeSeriesForecaster(**base)


@pytest.mark.parametrize(
    "shape",
    [(1, 120, 3), (1, 100, 4), (100, 3)],
)
def test_a_window_of_another_shape_is_rejected_by_name(shape):
    model = TimeSeriesForecaster(100, 24, 3, **SMALL)
    model.build()
    with pytest.raises(
        ValueError, match=rf"`inputs` must have shape \(batch, 100, 3\).*{shape}"
    ):
        model(np.zeros(shape, "float32"))


def test_covariates_of_another_length_are_rejected_by_name():
    model = TimeSeriesForecaster(100, 24, 3, num_covariates=2, **SMALL)
    model.build()
    inputs = {
        "past_values": np.zeros((1, 100, 3), "float32"),
        "future_covariates": np.zeros((1, 24, 2), "float32"),
    }
    with pytest.raises(
        ValueError, match=r"`future_covariates` must have shape \(batch, 124, 2\)"
    ):
        model(inputs)
