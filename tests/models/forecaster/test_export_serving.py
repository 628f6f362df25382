"""SavedModels called as servers call them: keyword tensors, any batch size.

TF Serving (gRPC, or REST's columnar ``"inputs"``) passes each named input as
the client sent it: a batch may be empty, and two inputs may disagree on it.
"""

import numpy as np
import pytest

from tests.backends import exports_saved_models

pytestmark = exports_saved_models

LOOKBACK, HORIZON = 48, 12
ELECDEMAND = (
    f"elecdemand?lookback={LOOKBACK}&horizon={HORIZON}"
    "&covariates=WorkDay,Temperature&calendar=hour_of_day"
    "&split=2000,500,500"
)


def _train(tmp_path_factory, name, data):
    from zoo import registry, trainer

    out = tmp_path_factory.mktemp(name) / "run"
    trainer.train_run(registry.get_family("forecaster"), "tiny", data, out, 1)
    return out / "saved_model"


class Served:
    """A loaded SavedModel (kept, or its variables go) and its default signature."""

    def __init__(self, path):
        import tensorflow as tf

        self.path = path
        self.loaded = tf.saved_model.load(str(path))

    def __call__(self, **inputs):
        return self.loaded.signatures["serving_default"](**inputs)

    @property
    def signature(self):
        return self.loaded.signatures["serving_default"]


@pytest.fixture(scope="module")
def elecdemand_served(tmp_path_factory):
    """A tiny forecaster with covariates and calendar features, 1 epoch."""
    return Served(_train(tmp_path_factory, "elecdemand", ELECDEMAND))


@pytest.fixture(scope="module")
def seattle_served(tmp_path_factory):
    """A tiny forecaster on seattle_weather's four columns, 1 epoch."""
    return Served(_train(tmp_path_factory, "seattle", "seattle_weather"))


@pytest.fixture(scope="module")
def elecdemand_windows():
    """Three real (history, future_covariates) windows of elecdemand."""
    import pandas as pd

    from zoo.data import elecdemand
    from zoo.data.series import calendar_features

    frame = elecdemand.load()
    histories, futures = [], []
    for start in (2000, 2100, 2200):
        window = frame.iloc[start : start + LOOKBACK + HORIZON]
        histories.append(window[["Demand"]].iloc[:LOOKBACK].to_numpy())
        calendar = calendar_features(
            pd.DatetimeIndex(pd.to_datetime(window["time"])), ["hour_of_day"]
        )
        known = window[["WorkDay", "Temperature"]].to_numpy()
        futures.append(np.concatenate([known, calendar], axis=-1))
    return (
        np.stack(histories).astype(np.float32),
        np.stack(futures).astype(np.float32),
    )


def _empty_inputs(signature):
    import tensorflow as tf

    _, specs = signature.structured_input_signature
    return {
        name: tf.zeros([0, *spec.shape[1:]], spec.dtype) for name, spec in specs.items()
    }


@pytest.mark.parametrize("served", ["elecdemand_served", "seattle_served"])
def test_an_empty_batch_gets_an_empty_forecast(served, request):
    served = request.getfixturevalue(served)
    forecast = served(**_empty_inputs(served.signature))["forecast"]
    expected = served.signature.structured_outputs["forecast"].shape[1:]
    assert forecast.shape == [0, *expected]


def test_a_full_batch_still_forecasts_each_window(
    elecdemand_served, elecdemand_windows
):
    import tensorflow as tf

    history, future = (tf.constant(x) for x in elecdemand_windows)
    batch = elecdemand_served(history=history, future_covariates=future)
    one = elecdemand_served(history=history[1:2], future_covariates=future[1:2])
    assert batch["forecast"].shape == [3, HORIZON, 1]
    np.testing.assert_allclose(batch["forecast"][1:2], one["forecast"], rtol=1e-5)


@pytest.mark.parametrize("histories, futures", [(1, 3), (3, 2), (0, 3)])
def test_inputs_of_different_batch_sizes_are_refused(
    elecdemand_served, elecdemand_windows, histories, futures
):
    """One history against three futures would broadcast into three forecasts."""
    import tensorflow as tf

    history, future = elecdemand_windows
    with pytest.raises(tf.errors.InvalidArgumentError, match="as many windows"):
        elecdemand_served(
            history=tf.constant(history[:histories]),
            future_covariates=tf.constant(future[:futures]),
        )


def test_forecaster_converts_to_tflite_builtins_and_forecasts_the_same(
    elecdemand_served, elecdemand_windows
):
    """The forecaster is the family that runs on TFLite without Select TF ops."""
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(
        str(elecdemand_served.path), signature_keys=["serving_default"]
    )
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    runner = tf.lite.Interpreter(
        model_content=converter.convert()
    ).get_signature_runner()
    history, future = elecdemand_windows
    lite = runner(history=history, future_covariates=future)["forecast"]
    served = elecdemand_served(
        history=tf.constant(history), future_covariates=tf.constant(future)
    )["forecast"]
    np.testing.assert_allclose(lite, served, rtol=1e-4, atol=1e-4)
