"""What `zoo predict` accepts as a history, and the hints of bad-input errors.

Untrained `tiny` models on real seattle_weather data (daily): these tests are
about the input checks, not the forecasts.
"""

import re

import numpy as np
import pandas as pd
import pytest

from zoo import registry
from zoo.models.forecaster.family import prepare_series
from zoo.models.forecaster.prediction import forecast_csv

WINDOW = "?lookback=32&horizon=7"


@pytest.fixture(scope="module")
def weather_csv(tmp_path_factory, seattle_frame):
    path = tmp_path_factory.mktemp("weather") / "weather.csv"
    seattle_frame.to_csv(path, index=False)
    return path


def _model_and_state(source):
    family = registry.get_family("forecaster")
    prepared, _, state = prepare_series(source)
    model = family.build_model(family.check_preset("tiny"), prepared.info)
    return model, state


@pytest.fixture(scope="module")
def daily(weather_csv):
    return _model_and_state(f"{weather_csv}{WINDOW}&target=temp_max,wind")


@pytest.fixture(scope="module")
def with_covariates(weather_csv):
    return _model_and_state(
        f"{weather_csv}{WINDOW}&target=temp_max&covariates=precipitation"
        "&calendar=day_of_week"
    )


def _write(frame, path):
    frame.to_csv(path, index=False)
    return path


def test_predict_rejects_a_history_at_another_frequency(daily, seattle_frame, tmp_path):
    model, state = daily
    assert state["frequency"] == "D"
    history = seattle_frame.iloc[-60:]
    forecast = forecast_csv(model, state, _write(history, tmp_path / "daily.csv"))
    assert forecast["future_times"][0] == history["date"].iloc[-1] + pd.Timedelta("1D")
    # The same values stamped hourly: a daily model must not forecast hours.
    hourly = history.assign(date=pd.date_range("2016-01-01", periods=60, freq="h"))
    path = _write(hourly, tmp_path / "hourly.csv")
    with pytest.raises(ValueError) as info:
        forecast_csv(model, state, path)
    message = str(info.value)
    assert str(path) in message
    assert "expected a history every D" in message and "received one every h" in message


def test_covariate_future_rows_must_continue_the_history(
    with_covariates, seattle_frame, tmp_path
):
    model, state = with_covariates
    rows = seattle_frame.iloc[-60:].reset_index(drop=True)
    given = rows.copy()
    given.loc[53:, ["temp_max", "temp_min", "wind"]] = np.nan  # 7 future rows
    forecast = forecast_csv(model, state, _write(given, tmp_path / "ok.csv"))
    assert list(forecast["future_times"]) == list(rows["date"].iloc[53:])

    late = given.copy()
    late.loc[53:, "date"] = pd.date_range("2030-01-01", periods=7, freq="D")
    with pytest.raises(ValueError) as info:
        forecast_csv(model, state, _write(late, tmp_path / "late.csv"))
    message = str(info.value)
    assert "late.csv" in message and "continue the history every D" in message
    assert f"dated 2030-01-01 00:00:00, expected {rows['date'].iloc[53]}" in message

    # A plain history has no future rows: its last rows are not covariates.
    plain = _write(rows, tmp_path / "plain.csv")
    with pytest.raises(ValueError, match=r"followed by 7 future rows.*received 0"):
        forecast_csv(model, state, plain)


def test_a_history_with_gaps_is_an_input_error(daily, seattle_frame, tmp_path):
    model, state = daily
    history = seattle_frame.iloc[-60:].reset_index(drop=True)
    history.loc[40, "wind"] = np.nan
    with pytest.raises(ValueError) as info:
        forecast_csv(model, state, _write(history, tmp_path / "gaps.csv"))
    message = str(info.value)
    assert "gaps.csv" in message and "'wind': 1 missing value" in message
    # ?interpolate=true is a training-data option; zoo predict has none.
    assert "interpolate" not in message


def _named_option(message, key):
    options = re.findall(rf"\?({key}=\S+?)\b", message)
    assert options, message
    return options[0]


def test_the_options_that_error_hints_name_work(seattle_frame, tmp_path):
    stamped = _write(seattle_frame.rename(columns={"date": "day"}), tmp_path / "a.csv")
    with pytest.raises(ValueError) as info:
        prepare_series(f"{stamped}{WINDOW}")
    option = _named_option(str(info.value), "time").replace("NAME", "day")
    _, data, _ = prepare_series(f"{stamped}{WINDOW}&{option}")
    assert data.report.frequency == "D"

    gaps = _write(seattle_frame.drop(index=[100, 101, 500]), tmp_path / "b.csv")
    with pytest.raises(ValueError) as info:
        prepare_series(f"{gaps}{WINDOW}")
    option = _named_option(str(info.value), "interpolate")
    _, data, _ = prepare_series(f"{gaps}{WINDOW}&{option}")
    assert data.report.interpolated and len(data.frame) == len(seattle_frame)
