"""DLinear, naive and seasonal naive, RevIN and the pinball loss."""

import keras
import numpy as np
import pytest

from tests.models.forecaster.helpers import assert_round_trips
from zoo.models.forecaster import (
    DLinear,
    PinballLoss,
    ReversibleInstanceNorm,
    SeasonalNaive,
    detect_period,
    naive,
)


@pytest.fixture
def window(elecdemand_frame):
    values = elecdemand_frame[["Demand", "WorkDay", "Temperature"]].to_numpy("float32")
    return np.stack([values[:336], values[1000:1336]])


def test_naive_repeats_the_last_value(window):
    out = keras.ops.convert_to_numpy(naive(336, 96)(window))
    assert out.shape == (2, 96, 3)
    np.testing.assert_array_equal(out, np.repeat(window[:, -1:], 96, axis=1))


def test_seasonal_naive_repeats_the_last_season(window):
    out = keras.ops.convert_to_numpy(
        SeasonalNaive(336, 96, period=48, target_indices=[0])(window)
    )
    assert out.shape == (2, 96, 1)
    np.testing.assert_array_equal(out[:, :48, 0], window[:, -48:, 0])
    np.testing.assert_array_equal(out[:, 48:, 0], window[:, -48:, 0])
    with pytest.raises(ValueError, match="`period` must be an integer from 1"):
        SeasonalNaive(336, 96, period=400)


def test_detect_period_finds_the_day_in_half_hourly_demand(elecdemand_frame):
    assert detect_period(elecdemand_frame["Demand"].to_numpy(), 336) == 48


def test_dlinear_shapes_and_round_trip(window, tmp_path):
    model = DLinear(336, 96, 3, target_indices=[0])
    model.build()
    assert model(window).shape == (2, 96, 1)
    assert_round_trips(model, window, tmp_path, DLinear)


def test_seasonal_naive_round_trip(window, tmp_path):
    assert_round_trips(SeasonalNaive(336, 96, 48), window, tmp_path, SeasonalNaive)


def test_revin_is_invertible(window):
    revin = ReversibleInstanceNorm(3)
    revin.build()
    revin.gamma.assign([2.0, 0.5, 1.5])
    revin.beta.assign([0.1, -0.3, 0.0])
    normalized, mean, std = revin.normalize(window)
    back = keras.ops.convert_to_numpy(revin.denormalize(normalized, mean, std))
    np.testing.assert_allclose(back, window, rtol=1e-4, atol=1e-4)
    with_quantiles = keras.ops.convert_to_numpy(
        revin.denormalize(keras.ops.stack([normalized] * 2, -1), mean, std)
    )
    np.testing.assert_allclose(with_quantiles[..., 1], window, rtol=1e-4, atol=1e-4)
    plain = ReversibleInstanceNorm(3, affine=False)
    scaled = keras.ops.convert_to_numpy(plain(window))
    np.testing.assert_allclose(scaled.mean(axis=1), 0.0, atol=1e-4)
    config = plain.get_config()
    assert ReversibleInstanceNorm.from_config(config).get_config() == config


def test_pinball_loss_matches_its_definition():
    rng = np.random.default_rng(0)
    y_true = rng.normal(size=(4, 6, 2)).astype("float32")
    y_pred = rng.normal(size=(4, 6, 2, 3)).astype("float32")
    levels = np.array([0.1, 0.5, 0.9])
    error = y_true[..., None] - y_pred
    expected = np.maximum(levels * error, (levels - 1) * error).mean()
    loss = PinballLoss(levels.tolist())
    np.testing.assert_allclose(float(loss(y_true, y_pred)), expected, rtol=1e-5)
    assert PinballLoss.from_config(loss.get_config()).quantiles == loss.quantiles
    with pytest.raises(ValueError, match="quantiles"):
        PinballLoss([0.0])


def test_baselines_read_the_history_of_a_series_with_covariates():
    from zoo.models.forecaster.evaluation import collect
    from zoo.models.forecaster.family import prepare_series

    # Known-future inputs make the batches dicts, as the forecaster reads them.
    prepared, _, state = prepare_series(
        "elecdemand?lookback=96&horizon=24&target=Demand&covariates=WorkDay", 256
    )
    inputs, _ = next(iter(prepared.test))
    assert set(inputs) == {"past_values", "future_covariates"}
    history = keras.ops.convert_to_numpy(inputs["past_values"])
    for model in (naive(96, 24, [0]), DLinear(96, 24, history.shape[-1], [0])):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(model(inputs)),
            keras.ops.convert_to_numpy(model(history)),
        )
        predictions, targets = collect(model, prepared.test)
        assert predictions.shape == targets.shape
    with pytest.raises(ValueError, match=r"received a dict with keys \['values'\]"):
        naive(96, 24)({"values": history})
