"""The forecaster family end to end on a real elecdemand slice.

One tiny run trains through `zoo.trainer.train_run` (the path of `zoo train`)
and the tests read it: it beats the naive forecast, and evaluate, predict and
export reuse its saved scaler.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from tests.backends import exports_saved_models
from zoo import registry, trainer
from zoo.export import backend_can_export
from zoo.models.forecaster import SeasonalNaive, naive
from zoo.models.forecaster.evaluation import collect, forecast_metrics
from zoo.models.forecaster.family import STATE_FILE, prepare_series
from zoo.run_dir import read_run

pytestmark = pytest.mark.slow  # trains forecasters

WINDOW = "?lookback=96&horizon=24"
TRAIN = "&stride=1"


@pytest.fixture(scope="module")
def source(elecdemand_csv):
    return f"{elecdemand_csv}{WINDOW}"


@pytest.fixture(scope="module")
def run(tmp_path_factory, source):
    import keras

    keras.config.set_dtype_policy("float32")
    out = tmp_path_factory.mktemp("run") / "forecaster"
    family = registry.get_family("forecaster")
    metrics = trainer.train_run(family, "tiny", source + TRAIN, out, epochs=8)
    return out, metrics


def test_family_is_registered():
    family = registry.get_family("forecaster")
    assert family.default_preset == "tiny" and family.default_data == "elecdemand"
    assert "tiny" in family.presets and "patchtst" in family.presets


def test_tiny_training_beats_naive_on_real_data(run, source):
    out, metrics = run
    state = json.loads((out / STATE_FILE).read_text())
    prepared, _, _ = prepare_series(source, 64, state=state)
    names = state["options"]["target"]
    baseline = forecast_metrics(*collect(naive(96, 24), prepared.test), names)
    seasonal = SeasonalNaive(96, 24, state["period"])
    seasonal_metrics = forecast_metrics(*collect(seasonal, prepared.test), names)
    assert state["period"] == 48
    for key in ("mse", "mse_Demand"):
        assert metrics[key] < baseline[key], (key, metrics, baseline)
        assert metrics[key] < seasonal_metrics[key], (key, metrics, seasonal_metrics)
    assert {"mse", "mae", "mse_Demand", "mae_Demand"} <= set(metrics)


def test_evaluate_reuses_the_saved_scaler(run, source):
    out, metrics = run
    saved = (out / STATE_FILE).read_text()
    again = trainer.evaluate_run(out, data=source)
    assert (out / STATE_FILE).read_text() == saved
    assert again["mse"] == pytest.approx(metrics["mse"], rel=1e-5)


def test_predict_prints_the_forecast_and_plots(run, elecdemand_frame, tmp_path):
    out, _ = run
    history = tmp_path / "history.csv"
    elecdemand_frame.iloc[1000:1200].to_csv(history, index=False)
    plot = tmp_path / "forecast.png"
    text = trainer.predict_run(out, [str(history)], ["--plot", str(plot)])
    lines = text.splitlines()
    assert lines[0] == "time,Demand,WorkDay,Temperature"
    assert lines[1].startswith(str(elecdemand_frame["time"].iloc[1200]))
    demand = [float(line.split(",")[1]) for line in lines[1:25]]
    assert 2.0 < min(demand) and max(demand) < 10.0, "GW, in original units"
    assert plot.stat().st_size > 10_000


def test_predict_rejects_a_short_history(run, elecdemand_frame, tmp_path):
    out, _ = run
    history = tmp_path / "short.csv"
    elecdemand_frame.iloc[:50].to_csv(history, index=False)
    with pytest.raises(ValueError, match="expected at least lookback = 96 rows"):
        trainer.predict_run(out, [str(history)])


def test_export_serves_raw_windows_without_zoo(run, elecdemand_frame, tmp_path):
    import keras

    out, _ = run
    # TensorFlow for the subprocesses: under KERAS_BACKEND=torch, TensorFlow
    # imported first loads Keras and Triton after it, and crashes.
    tensorflow_env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    if not backend_can_export():
        # A run trained under PyTorch ends without a SavedModel; it is
        # written from TensorFlow afterwards, as `zoo train` says.
        assert not (out / "saved_model").exists()
        subprocess.run(
            [sys.executable, "-m", "zoo.cli", "export", str(out)],
            check=True,
            env=tensorflow_env,
            timeout=300,
        )
    state = json.loads((out / STATE_FILE).read_text())
    model = keras.models.load_model(out / "model.keras")
    raw = elecdemand_frame[state["options"]["target"]].to_numpy("float32")
    windows = np.stack([raw[1000:1096], raw[2000:2096]])
    mean = np.asarray(state["scaler"]["mean"], "float32")
    scale = np.asarray(state["scaler"]["scale"], "float32")
    scaled_forecast = keras.ops.convert_to_numpy(model((windows - mean) / scale))
    expected = scaled_forecast * scale + mean
    np.save(tmp_path / "windows.npy", windows)
    script = textwrap.dedent(
        f"""
        import sys
        import numpy as np
        import tensorflow as tf
        served = tf.saved_model.load({str(out / "saved_model")!r})
        windows = np.load({str(tmp_path / "windows.npy")!r})
        forecast = served.serve(tf.constant(windows))["forecast"].numpy()
        assert not any(m == "zoo" or m.startswith("zoo.") for m in sys.modules)
        np.save({str(tmp_path / "served.npy")!r}, forecast)
        """
    )
    subprocess.run(
        [sys.executable, "-c", script],
        check=True,
        cwd=tmp_path,
        env=tensorflow_env,
        timeout=120,
    )
    served = np.load(tmp_path / "served.npy")
    assert served.shape == (2, 24, 3)
    np.testing.assert_allclose(served, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.skipif(backend_can_export(), reason="a backend without export")
def test_a_run_without_export_says_how_to_write_it(source, tmp_path, capsys):
    family = registry.get_family("forecaster")
    out = tmp_path / "run"
    metrics = trainer.train_run(family, "tiny", source, out, epochs=1)
    assert "mse" in metrics
    assert not (out / "saved_model").exists()
    assert f"Write it with `KERAS_BACKEND=tensorflow zoo export {out}`" in (
        capsys.readouterr().err
    )
    assert read_run(out)["completed"]
    with pytest.raises(
        RuntimeError, match="export needs KERAS_BACKEND=tensorflow or jax"
    ):
        trainer.export_run(out)


@exports_saved_models
def test_quantile_model_exports_intervals(elecdemand_csv, elecdemand_frame, tmp_path):
    import keras

    family = registry.get_family("forecaster")
    config = family.check_preset("tiny_quantile")
    source = f"{elecdemand_csv}{WINDOW}&target=Demand&covariates=WorkDay"
    prepared = family.prepare_data(source, 64, tmp_path)
    model = family.build_model(config, prepared.info)
    model.compile(optimizer="adam", **family.compile_arguments(config, prepared.info))
    model.fit(prepared.train.take(30), verbose=0)
    metrics = family.evaluate(model, prepared, tmp_path)
    assert {"mse", "mae", "coverage", "mse_Demand"} <= set(metrics)
    path = family.export(model, tmp_path, tmp_path / "saved_model")
    import tensorflow as tf

    served = tf.saved_model.load(str(path))
    history = elecdemand_frame[["Demand"]].to_numpy("float32")[None, 2000:2096]
    known = elecdemand_frame[["WorkDay"]].to_numpy("float32")[None, 2000:2120]
    forecast = served.serve(tf.constant(history), tf.constant(known))["forecast"]
    assert forecast.shape == (1, 24, 1, 3)
    # The signature scales both inputs as training did and unscales every
    # quantile: the same numbers as the Keras model on scaled inputs.
    state = json.loads((tmp_path / STATE_FILE).read_text())
    mean = np.asarray(state["scaler"]["mean"], "float32")
    scale = np.asarray(state["scaler"]["scale"], "float32")
    scaled = {
        "past_values": (history - mean[0]) / scale[0],
        "future_covariates": (known - mean[1]) / scale[1],
    }
    expected = keras.ops.convert_to_numpy(model(scaled)) * scale[0] + mean[0]
    np.testing.assert_allclose(forecast.numpy(), expected, rtol=1e-4, atol=1e-3)
    width = keras.ops.convert_to_numpy(forecast[..., 2] - forecast[..., 0])
    assert width.mean() > 0, "the 0.9 quantile lies above the 0.1 quantile"
    assert 0.0 < metrics["coverage"] <= 1.0
    # An inf or NaN is refused, as `zoo predict` refuses it, not served.
    for name, bad_history, bad_known in (
        (
            "future_covariates",
            history,
            np.where(np.arange(120)[:, None] == 100, np.inf, known),
        ),
        ("history", np.where(np.arange(96)[:, None] == 5, np.nan, history), known),
    ):
        with pytest.raises(tf.errors.InvalidArgumentError, match=f"{name} must hold"):
            served.serve(
                tf.constant(bad_history, tf.float32), tf.constant(bad_known, tf.float32)
            )


def test_a_monthly_series_trains_evaluates_predicts_and_serves(seattle_frame, tmp_path):
    """Calendar months end to end: the run keeps the MS frequency throughout."""
    import keras

    from zoo.data import series

    monthly = seattle_frame.set_index("date").resample("MS").mean().reset_index()
    path = tmp_path / "monthly.csv"
    monthly.to_csv(path, index=False)
    # A year of history (short's 4-step patches; tiny's 16 would not fit),
    # a quarter ahead.
    source = f"{path}?lookback=12&horizon=3&target=temp_max,wind&calendar=month_of_year"
    family = registry.get_family("forecaster")
    with pytest.raises(ValueError) as info:
        trainer.train_run(family, "tiny", source, tmp_path / "tiny", epochs=1)
    assert "received lookback=12. Use ?lookback=16 or more, or --preset short" in str(
        info.value
    )
    out = tmp_path / "run"
    metrics = trainer.train_run(family, "short", source, out, epochs=2)
    state = json.loads((out / STATE_FILE).read_text())
    assert state["frequency"] == "MS" and "every MS" in state["report"]
    assert trainer.evaluate_run(out)["mse"] == pytest.approx(metrics["mse"], rel=1e-5)

    history = tmp_path / "history.csv"
    monthly.iloc[-30:].to_csv(history, index=False)
    lines = trainer.predict_run(out, [str(history)]).splitlines()
    assert lines[0] == "time,temp_max,wind"
    assert [line.split(",")[0] for line in lines[1:]] == [
        "2016-01-01 00:00:00",
        "2016-02-01 00:00:00",
        "2016-03-01 00:00:00",
    ]
    if not backend_can_export():
        return
    import tensorflow as tf

    # The server computes the calendar features of the next three months.
    index = pd.DatetimeIndex(monthly["date"].iloc[-12:])
    following = series.next_timestamps(index, state["frequency"], 3)
    known = series.calendar_features(index.append(following), ["month_of_year"])
    window = monthly[["temp_max", "wind"]].to_numpy("float32")[None, -12:]
    served = tf.saved_model.load(str(out / "saved_model"))
    forecast = served.serve(tf.constant(window), tf.constant(known[None], tf.float32))
    model = keras.models.load_model(out / "model.keras")
    mean = np.asarray(state["scaler"]["mean"], "float32")
    scale = np.asarray(state["scaler"]["scale"], "float32")
    inputs = {"past_values": (window - mean) / scale, "future_covariates": known[None]}
    expected = keras.ops.convert_to_numpy(model(inputs)) * scale + mean
    np.testing.assert_allclose(
        forecast["forecast"].numpy(), expected, rtol=1e-4, atol=1e-4
    )
    printed = np.array([[float(v) for v in line.split(",")[1:]] for line in lines[1:]])
    np.testing.assert_allclose(printed, expected[0], rtol=1e-4, atol=1e-3)
