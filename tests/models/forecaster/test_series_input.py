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
from zoo.models.forecaster.prediction import forecast_csv, format_forecast

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


def test_a_history_without_a_trained_column_names_the_input(
    daily, seattle_frame, tmp_path
):
    model, state = daily
    path = _write(seattle_frame.iloc[-60:].drop(columns="wind"), tmp_path / "h.csv")
    with pytest.raises(ValueError) as info:
        forecast_csv(model, state, path)
    assert str(info.value) == (
        f"INPUT {path}: expected the columns the run was trained on, "
        "['temp_max', 'wind']; missing ['wind'] (the file has ['precipitation', "
        "'temp_max', 'temp_min'])"
    )


def test_printed_forecast_keeps_digits_below_a_large_offset(seattle_frame, tmp_path):
    # Temperatures on top of 1e9, as a meter reading in watts might be:
    # six significant digits printed "1e+09" on every row.
    shifted = seattle_frame.assign(temp_max=seattle_frame["temp_max"] + 1e9)
    path = _write(shifted, tmp_path / "shifted.csv")
    model, state = _model_and_state(f"{path}{WINDOW}&target=temp_max")
    forecast = forecast_csv(
        model, state, _write(shifted.iloc[-40:], tmp_path / "h.csv")
    )
    lines = format_forecast(forecast).splitlines()[1:]
    printed = np.array([float(line.split(",")[1]) for line in lines])
    # A ten-thousandth of the spread (about 7 degrees) is resolved.
    np.testing.assert_allclose(printed, forecast["forecast"][:, 0], rtol=0, atol=1e-3)
    assert lines[0].split(",")[1].startswith("1000000")


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


# --- calendar frequencies: monthly series ------------------------------------

MONTHLY_WINDOW = "?lookback=24&horizon=3"  # tiny patches are 16 steps


def _monthly(seattle_frame, rule):
    """Real seattle_weather averaged per calendar month: 48 rows, 2012 to 2015."""
    return seattle_frame.set_index("date").resample(rule).mean().reset_index()


@pytest.mark.parametrize(
    "rule, expected",
    [
        ("MS", ["2016-01-01", "2016-02-01", "2016-03-01"]),
        # Month ends, February 2016 a leap month: not 31-day steps.
        ("ME", ["2016-01-31", "2016-02-29", "2016-03-31"]),
    ],
)
def test_predict_forecasts_the_next_calendar_months(
    seattle_frame, tmp_path, rule, expected
):
    monthly = _monthly(seattle_frame, rule)
    path = _write(monthly, tmp_path / "monthly.csv")
    model, state = _model_and_state(
        f"{path}{MONTHLY_WINDOW}&target=temp_max,wind&calendar=month_of_year"
    )
    assert state["frequency"] == rule
    forecast = forecast_csv(
        model, state, _write(monthly.iloc[-30:], tmp_path / "h.csv")
    )
    assert [str(t.date()) for t in forecast["future_times"]] == expected
    lines = format_forecast(forecast).splitlines()
    assert [line.split(",")[0] for line in lines[1:]] == [
        f"{day} 00:00:00" for day in expected
    ]
    # A daily history is not what a monthly model forecasts from.
    with pytest.raises(ValueError, match=f"expected a history every {rule}"):
        forecast_csv(model, state, _write(seattle_frame.iloc[-30:], tmp_path / "d.csv"))


def test_predict_skips_the_weekend_of_a_business_day_series(seattle_frame, tmp_path):
    weekdays = seattle_frame[seattle_frame["date"].dt.day_of_week < 5]
    path = _write(weekdays, tmp_path / "weekdays.csv")
    model, state = _model_and_state(f"{path}{WINDOW}&target=temp_max")
    assert state["frequency"] == "B"
    # The history ends on Thursday 2015-12-31.
    forecast = forecast_csv(
        model, state, _write(weekdays.iloc[-40:], tmp_path / "h.csv")
    )
    assert [str(t.date()) for t in forecast["future_times"]] == [
        "2016-01-01",
        "2016-01-04",
        "2016-01-05",
        "2016-01-06",
        "2016-01-07",
        "2016-01-08",
        "2016-01-11",
    ]


def test_monthly_covariate_rows_continue_on_the_calendar(seattle_frame, tmp_path):
    monthly = _monthly(seattle_frame, "MS")
    path = _write(monthly, tmp_path / "monthly.csv")
    model, state = _model_and_state(
        f"{path}{MONTHLY_WINDOW}&target=temp_max&covariates=precipitation"
    )
    given = monthly.iloc[-30:].reset_index(drop=True)
    given.loc[27:, ["temp_max", "temp_min", "wind"]] = np.nan  # 3 future months
    forecast = forecast_csv(model, state, _write(given, tmp_path / "ok.csv"))
    assert list(forecast["future_times"]) == list(given["date"].iloc[27:])

    # Future rows 31 days apart drift off the month starts.
    drifting = given.copy()
    drifting.loc[27:, "date"] = given["date"].iloc[26] + pd.to_timedelta(
        [31, 62, 93], unit="D"
    )
    with pytest.raises(ValueError) as info:
        forecast_csv(model, state, _write(drifting, tmp_path / "drift.csv"))
    assert "continue the history every MS" in str(info.value)
    # September 2015 has 30 days: the first drifts a day past October's start.
    assert "dated 2015-10-02 00:00:00, expected 2015-10-01 00:00:00" in str(info.value)


def test_a_missing_month_in_training_data_names_the_option(seattle_frame, tmp_path):
    monthly = _monthly(seattle_frame, "MS")
    gaps = _write(monthly.drop(index=[17]), tmp_path / "gaps.csv")
    with pytest.raises(ValueError) as info:
        prepare_series(f"{gaps}{MONTHLY_WINDOW}")
    assert "1 timestamp(s) missing from the MS grid" in str(info.value)
    option = _named_option(str(info.value), "interpolate")
    _, data, state = prepare_series(f"{gaps}{MONTHLY_WINDOW}&{option}")
    assert state["frequency"] == "MS" and data.report.interpolated
    assert data.frame.index.equals(pd.DatetimeIndex(monthly["date"]))
