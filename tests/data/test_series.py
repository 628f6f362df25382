"""zoo.data.series on real elecdemand and seattle_weather data."""

import numpy as np
import pandas as pd
import pytest

from zoo.data import series


@pytest.fixture(scope="module")
def elecdemand_frame():
    """All 17,520 real half-hourly rows: time, Demand, WorkDay, Temperature."""
    from zoo.data import elecdemand

    return elecdemand.load()


@pytest.fixture(scope="module")
def weather_frame():
    """All 1,461 real daily rows of seattle_weather."""
    from zoo.data import seattle_weather

    return seattle_weather.load()


@pytest.fixture()
def slice_csv(tmp_path, elecdemand_frame):
    """Ten days of elecdemand as a .csv, as a user would bring one."""
    path = tmp_path / "slice.csv"
    elecdemand_frame.iloc[:480].to_csv(path, index=False)
    return path


# --- reading ----------------------------------------------------------------


def test_read_frame_from_csv_finds_time_column(slice_csv):
    frame = series.read_frame(slice_csv)
    assert isinstance(frame.index, pd.DatetimeIndex)
    assert frame.index.name == "time"
    assert list(frame.columns) == ["Demand", "WorkDay", "Temperature"]
    assert frame.index[0] == pd.Timestamp("2014-01-01 00:00")
    assert frame.index[1] - frame.index[0] == pd.Timedelta("30min")


def test_read_frame_from_dataframe_with_date_column(weather_frame):
    frame = series.read_frame(weather_frame)
    assert frame.index.name == "date" and len(frame) == 1461
    assert series.regularize(frame, ["wind"])[1].frequency == "D"
    assert "date" not in frame.columns
    # The caller's DataFrame is not modified.
    assert "date" in weather_frame.columns


def test_read_frame_from_datetime_index(weather_frame):
    indexed = weather_frame.set_index("date")
    frame = series.read_frame(indexed)
    assert frame.index.equals(indexed.index)


def test_dataframe_from_an_array_has_its_columns_named_by_position(weather_frame):
    # pd.DataFrame(array, index=times) labels the columns 0, 1, ...
    values = weather_frame[["temp_max", "wind"]].to_numpy()
    frame = pd.DataFrame(values, index=pd.DatetimeIndex(weather_frame["date"]))
    data = series.load_series(frame, lookback=56, horizon=14, targets=["0"])
    assert data.targets == ["0"] and data.covariates == []
    data = series.load_series(frame, lookback=56, horizon=14)
    assert data.targets == ["0", "1"]
    np.testing.assert_allclose(data.frame.to_numpy(), values)


@pytest.mark.parametrize(
    "make_source, kwargs, expected",
    [
        (lambda tmp: tmp / "missing.csv", {}, "series file not found"),
        (lambda tmp: tmp / "data.parquet", {}, "must be a .csv file"),
        (lambda tmp: "SLICE", {"time_column": "when"}, "time_column 'when' is not"),
    ],
)
def test_read_frame_bad_sources(tmp_path, slice_csv, make_source, kwargs, expected):
    source = make_source(tmp_path)
    source = slice_csv if source == "SLICE" else source
    with pytest.raises(ValueError, match=expected):
        series.read_frame(source, **kwargs)


def test_read_frame_without_time_column_names_expected_and_received(slice_csv):
    frame = pd.read_csv(slice_csv).rename(columns={"time": "stamp"})
    with pytest.raises(ValueError) as info:
        series.read_frame(frame)
    message = str(info.value)
    assert "no time column" in message and "'date'" in message and "stamp" in message
    assert "?time=NAME" in message


def test_read_frame_unparseable_timestamp_names_row(elecdemand_frame):
    frame = elecdemand_frame.iloc[:10].astype({"time": str})
    frame.loc[3, "time"] = "not a time"
    with pytest.raises(ValueError, match="row 3 holds 'not a time'"):
        series.read_frame(frame)


def test_numeric_time_column_holds_unix_epoch_seconds(weather_frame, tmp_path):
    seconds = (weather_frame["date"] - pd.Timestamp(0)) // pd.Timedelta("1s")
    epoch = weather_frame.assign(date=seconds)
    epoch.to_csv(tmp_path / "seconds.csv", index=False)
    frame = series.read_frame(tmp_path / "seconds.csv")
    assert (frame.index == weather_frame["date"]).all()
    assert series.regularize(frame, ["wind"])[1].frequency == "D"
    # Milliseconds would be read as seconds of year 51969: an error, not a date.
    epoch["date"] *= 1000
    epoch.to_csv(tmp_path / "milliseconds.csv", index=False)
    with pytest.raises(ValueError, match="must hold Unix epoch seconds; row 0 holds"):
        series.read_frame(tmp_path / "milliseconds.csv")


def test_changing_utc_offsets_half_hourly_are_read_in_utc(elecdemand_frame, tmp_path):
    # Ten days across Europe's 2014 spring daylight-saving change, written as
    # Paris local times: +01:00, then +02:00.
    rows = elecdemand_frame.iloc[3984:4464]
    utc = pd.DatetimeIndex(rows["time"]).tz_localize("UTC")
    local = utc.tz_convert("Europe/Paris").map(pd.Timestamp.isoformat)
    assert {t[-6:] for t in local} == {"+01:00", "+02:00"}
    rows.assign(time=local).to_csv(tmp_path / "paris.csv", index=False)
    frame = series.read_frame(tmp_path / "paris.csv")
    assert frame.index.equals(pd.DatetimeIndex(utc, name="time"))
    assert series.regularize(frame, ["Demand"])[1].is_clean


def test_changing_utc_offsets_daily_keep_their_dates(weather_frame, tmp_path):
    # Local midnights: in UTC they would fall an hour off the daily grid.
    dates = pd.DatetimeIndex(weather_frame["date"])
    local = dates.tz_localize("Europe/Paris").map(pd.Timestamp.isoformat)
    weather_frame.assign(date=local).to_csv(tmp_path / "paris.csv", index=False)
    frame = series.read_frame(tmp_path / "paris.csv")
    assert frame.index.equals(pd.DatetimeIndex(dates, name="date"))
    assert series.regularize(frame, ["wind"])[1].is_clean


def test_unsorted_timestamps_are_an_error(elecdemand_frame):
    frame = elecdemand_frame.iloc[:10].iloc[[0, 1, 3, 2, 4]]
    with pytest.raises(ValueError, match="sorted in increasing order; row 3"):
        series.read_frame(frame)


def test_duplicate_timestamps_are_an_error(elecdemand_frame):
    frame = elecdemand_frame.iloc[[0, 1, 2, 2, 3]]
    with pytest.raises(ValueError, match="must be unique; 2014-01-01 01:00:00"):
        series.read_frame(frame)


# --- columns ----------------------------------------------------------------


def test_select_columns_defaults_to_all_but_covariates(slice_csv):
    frame = series.read_frame(slice_csv)
    assert series.select_columns(frame) == (
        ["Demand", "WorkDay", "Temperature"],
        [],
    )
    assert series.select_columns(frame, covariates=["WorkDay"]) == (
        ["Demand", "Temperature"],
        ["WorkDay"],
    )


def test_an_index_saved_by_to_csv_is_not_taken_as_a_target(elecdemand_frame, tmp_path):
    """``to_csv`` without ``index=False`` adds row numbers as ``Unnamed: 0``."""
    path = tmp_path / "with_index.csv"
    elecdemand_frame.iloc[:480].to_csv(path)
    frame = series.read_frame(path)
    with pytest.raises(
        ValueError, match=r"column 'Unnamed: 0' has no header and would be a target"
    ):
        series.select_columns(frame)
    # Named targets leave it out, as any other column.
    assert series.select_columns(frame, targets=["Demand"]) == (["Demand"], [])


def test_unknown_column_lists_the_columns(slice_csv):
    frame = series.read_frame(slice_csv)
    with pytest.raises(ValueError) as info:
        series.select_columns(frame, targets=["demand"])
    assert "targets names unknown column(s) ['demand']" in str(info.value)
    assert "'Demand'" in str(info.value)


def test_non_numeric_column_is_an_error():
    from vega_datasets import local_data

    frame = series.read_frame(local_data.seattle_weather())
    with pytest.raises(ValueError, match="columns must be numeric; {'weather'"):
        series.select_columns(frame)
    targets, _ = series.select_columns(frame, targets=["temp_max", "wind"])
    assert targets == ["temp_max", "wind"]


def test_a_column_cannot_be_target_and_covariate(slice_csv):
    frame = series.read_frame(slice_csv)
    with pytest.raises(ValueError, match=r"\['WorkDay'\] are both targets and"):
        series.select_columns(frame, ["Demand", "WorkDay"], ["WorkDay"])


# --- gaps and missing values -----------------------------------------------


def test_clean_series_report(slice_csv):
    frame = series.read_frame(slice_csv)
    cleaned, report = series.regularize(frame, ["Demand"])
    assert report.is_clean and report.frequency == "30min"
    assert report.rows == 480 and list(cleaned.columns) == ["Demand"]
    assert "480 rows from 2014-01-01T00:00:00" in report.summary()


def test_missing_values_are_reported_and_interpolated_only_on_request(slice_csv):
    frame = series.read_frame(slice_csv)
    original = frame["Demand"].copy()
    frame.iloc[100:103, 0] = np.nan
    with pytest.raises(ValueError) as info:
        series.regularize(frame, ["Demand", "Temperature"])
    assert "column 'Demand': 3 missing value(s)" in str(info.value)
    # The option a `zoo` data source really has (test_series_input uses it).
    assert "?interpolate=true" in str(info.value)
    assert "--interpolate" not in str(info.value)

    filled, report = series.regularize(frame, ["Demand"], interpolate=True)
    assert report.interpolated and report.missing_values == {"Demand": 3}
    expected = np.linspace(original.iloc[99], original.iloc[103], 5)[1:-1]
    np.testing.assert_allclose(filled["Demand"].iloc[100:103], expected)


def test_missing_timestamps_are_reported_and_filled_on_request(slice_csv):
    frame = series.read_frame(slice_csv).drop(index=[10, 11, 200], errors="ignore")
    frame = frame.drop(frame.index[[10, 11, 200]])
    with pytest.raises(ValueError, match="3 timestamp\\(s\\) missing from the 30min"):
        series.regularize(frame, ["Demand"])
    filled, report = series.regularize(frame, ["Demand"], interpolate=True)
    assert report.missing_timestamps == 3 and report.rows_after == 480
    assert (np.diff(filled.index) == pd.Timedelta("30min")).all()


def test_off_grid_timestamps_are_reported(slice_csv):
    frame = series.read_frame(slice_csv)
    index = frame.index.to_numpy().copy()
    index[5] = index[5] + np.timedelta64(7, "m")
    frame.index = pd.DatetimeIndex(index, name="time")
    with pytest.raises(ValueError, match="1 timestamp\\(s\\) off the 30min grid"):
        series.regularize(frame, ["Demand"])
    filled, _ = series.regularize(frame, ["Demand"], interpolate=True)
    assert len(filled) == 480 and not filled["Demand"].isna().any()


def test_infinite_value_names_column_and_row(weather_frame, tmp_path):
    frame = weather_frame.copy()
    frame.loc[100, "temp_max"] = np.inf
    frame.to_csv(tmp_path / "inf.csv", index=False)
    with pytest.raises(ValueError) as info:
        series.load_series(tmp_path / "inf.csv", lookback=28, horizon=7)
    assert str(info.value).startswith(
        "column 'temp_max' must hold finite numbers; row 100 (2012-04-10 00:00:00) "
        "holds inf"
    )


def test_all_nan_column_is_an_error(slice_csv):
    frame = series.read_frame(slice_csv)
    frame["Temperature"] = np.nan
    with pytest.raises(ValueError, match="'Temperature' holds no values"):
        series.regularize(frame, ["Temperature"], interpolate=True)


# --- calendar frequencies -----------------------------------------------------


def _weather_every(weather_frame, rule):
    """Real seattle_weather averaged per calendar ``rule`` (month, quarter...)."""
    return weather_frame.set_index("date").resample(rule).mean()


@pytest.mark.parametrize(
    "rule",
    # Half months and business months too: neither a fixed step nor month
    # edges fit them, and they were reported as gaps.
    [
        "MS",
        "ME",
        "QS",
        "QE",
        "YS",
        "YE",
        "QS-FEB",
        "YS-JUL",
        "SMS",
        "SME",
        "BMS",
        "BME",
    ],
)
def test_calendar_series_are_regular(weather_frame, rule):
    # Months, quarters and years are no fixed number of days: a fixed step
    # (31 days) would find gaps between all of them.
    frame = _weather_every(weather_frame, rule)
    cleaned, report = series.regularize(frame, ["temp_max", "wind"])
    assert report.frequency == rule and report.is_clean, report.summary()
    assert cleaned.index.equals(frame.index) and report.rows_after == len(frame)
    assert f"every {rule}" in report.summary()
    # What follows is the next months (quarters, years), not +31 days.
    expected = pd.date_range(frame.index[-1], periods=4, freq=rule)[1:]
    assert series.next_timestamps(cleaned.index, report.frequency, 3).equals(expected)


def test_month_ends_continue_on_month_ends(weather_frame):
    frame = _weather_every(weather_frame, "ME")
    _, report = series.regularize(frame, ["temp_max"])
    following = series.next_timestamps(frame.index, report.frequency, 3)
    assert [str(t.date()) for t in following] == [
        "2016-01-31",
        "2016-02-29",
        "2016-03-31",
    ]


@pytest.mark.parametrize("rule", ["MS", "ME"])
def test_a_missing_month_is_a_gap_on_the_calendar_grid(weather_frame, rule):
    monthly = _weather_every(weather_frame, rule)
    frame = monthly.drop(monthly.index[17])  # June 2013
    with pytest.raises(series.SeriesGapError) as info:
        series.regularize(frame, ["temp_max"])
    assert f"1 timestamp(s) missing from the {rule} grid" in str(info.value)
    assert info.value.report.off_grid_timestamps == 0
    filled, report = series.regularize(frame, ["temp_max"], interpolate=True)
    assert report.interpolated and report.missing_timestamps == 1
    assert filled.index.equals(monthly.index) and report.rows_after == 48
    # Linear in time between the months either side of the gap.
    before, gap, after = monthly.index[16:19]
    weight = (gap - before) / (after - before)
    values = monthly["temp_max"].to_numpy()
    expected = values[16] + weight * (values[18] - values[16])
    assert filled["temp_max"].iloc[17] == pytest.approx(expected)


def test_a_timestamp_off_the_month_starts_is_reported(weather_frame):
    monthly = _weather_every(weather_frame, "MS")
    index = monthly.index.to_numpy().copy()
    index[5] = index[5] + np.timedelta64(14, "D")  # 2012-06-15
    frame = monthly.set_axis(pd.DatetimeIndex(index, name="date"))
    with pytest.raises(series.SeriesGapError) as info:
        series.regularize(frame, ["temp_max"])
    message = str(info.value)
    assert "1 timestamp(s) off the MS grid" in message
    assert "1 timestamp(s) missing from the MS grid" in message
    filled, _ = series.regularize(frame, ["temp_max"], interpolate=True)
    assert filled.index.equals(monthly.index) and not filled.isna().any().any()


def _weekdays(weather_frame):
    """Real seattle_weather on business days: its weekend rows dropped."""
    frame = weather_frame.set_index("date")
    return frame[frame.index.day_of_week < 5]


def test_business_days_are_regular_and_continue_after_the_weekend(weather_frame):
    frame = _weekdays(weather_frame)
    cleaned, report = series.regularize(frame, ["temp_max"])
    # A daily step would count every weekend as two missing days.
    assert report.frequency == "B" and report.is_clean, report.summary()
    assert cleaned.index.equals(frame.index)
    assert str(frame.index[-1].date()) == "2015-12-31"  # a Thursday
    following = series.next_timestamps(cleaned.index, report.frequency, 3)
    assert [str(t.date()) for t in following] == [
        "2016-01-01",
        "2016-01-04",
        "2016-01-05",
    ]


def test_a_missing_business_day_is_a_gap_on_the_business_grid(weather_frame):
    weekdays = _weekdays(weather_frame)
    frame = weekdays.drop(weekdays.index[50])  # a holiday, say
    with pytest.raises(series.SeriesGapError) as info:
        series.regularize(frame, ["temp_max"])
    assert "1 timestamp(s) missing from the B grid" in str(info.value)
    filled, report = series.regularize(frame, ["temp_max"], interpolate=True)
    assert report.frequency == "B" and filled.index.equals(weekdays.index)


def test_a_daily_series_with_missing_days_stays_daily(weather_frame):
    frame = weather_frame.set_index("date")
    frame = frame.drop(frame.index[[10, 200, 900]])
    with pytest.raises(series.SeriesGapError) as info:
        series.regularize(frame, ["temp_max"])
    assert "every D; 3 timestamp(s) missing from the D grid" in str(info.value)


def test_monthly_series_loads_with_month_of_year(weather_frame):
    frame = _weather_every(weather_frame, "MS")
    data = series.load_series(
        frame, lookback=12, horizon=3, targets=["temp_max"], calendar=["month_of_year"]
    )
    assert data.report.frequency == "MS" and len(data.frame) == 48
    # The month-of-year features repeat every 12 rows: one per calendar month.
    np.testing.assert_allclose(data.known[12:], data.known[:-12], atol=1e-6)
    assert len(np.unique(data.known.round(6), axis=0)) == 12


# --- splits and scaling ---------------------------------------------------------


def test_split_bounds_follow_the_papers_rounding():
    assert series.split_bounds(17520) == (12264, 14016, 17520)
    # Electricity (26,304 rows): int(0.7 n), int(0.2 n), the rest for validation.
    assert series.split_bounds(26304) == (18412, 21044, 26304)
    # ETTh1: 12/4/4 months of hours; the remaining rows are unused.
    assert series.split_bounds(17420, (8640, 2880, 2880)) == (8640, 11520, 14400)
    # Counts and fractions computed with NumPy.
    counts = np.array([8640, 2880, 2880])
    assert series.split_bounds(17420, counts) == (8640, 11520, 14400)
    assert series.split_bounds(17420, tuple(counts)) == (8640, 11520, 14400)
    assert series.split_bounds(17520, np.array([0.7, 0.1, 0.2])) == (
        12264,
        14016,
        17520,
    )


@pytest.mark.parametrize(
    "split, expected",
    [
        ((0.7, 0.2), "three positive numbers"),
        ((0.7, 0.2, 0.2), "sum to 1; received"),
        ((0.7, -0.1, 0.4), "three positive numbers"),
        ((9000, 5000, 5000), "sum to 19000, more than the 17520 rows"),
    ],
)
def test_bad_split(split, expected):
    with pytest.raises(ValueError, match=expected):
        series.split_bounds(17520, split)


def test_scaler_is_fit_on_the_training_rows_only(elecdemand_frame):
    data = series.load_series(elecdemand_frame, lookback=336, horizon=96)
    raw = elecdemand_frame[["Demand", "WorkDay", "Temperature"]].to_numpy()
    np.testing.assert_allclose(data.scaler.mean, raw[:12264].mean(axis=0))
    np.testing.assert_allclose(data.scaler.scale, raw[:12264].std(axis=0))
    assert not np.allclose(data.scaler.mean, raw.mean(axis=0))
    np.testing.assert_allclose(data.values[:12264].mean(axis=0), 0, atol=1e-5)
    back = data.scaler.inverse_transform(data.values)
    np.testing.assert_allclose(back, raw, rtol=1e-5, atol=1e-5)


def test_scaler_round_trips_through_plain_data(elecdemand_frame):
    import json

    data = series.load_series(elecdemand_frame, lookback=48, horizon=24)
    state = json.loads(json.dumps(data.scaler.to_dict()))
    again = series.StandardScaler.from_dict(state)
    reused = series.load_series(
        elecdemand_frame.iloc[:5000], lookback=48, horizon=24, scaler=again
    )
    # The saved scaler wins over one fit on the (shorter) new training split.
    np.testing.assert_allclose(reused.scaler.mean, data.scaler.mean)
    np.testing.assert_allclose(reused.values, data.values[:5000], atol=1e-6)


def test_reused_scaler_must_match_the_columns(elecdemand_frame):
    data = series.load_series(elecdemand_frame, lookback=48, horizon=24)
    with pytest.raises(ValueError, match="saved scaler is for columns"):
        series.load_series(
            elecdemand_frame,
            lookback=48,
            horizon=24,
            targets=["Demand"],
            scaler=data.scaler,
        )


def test_constant_column_is_an_error(weather_frame):
    frame = weather_frame.copy()
    frame["station"] = 7.0
    with pytest.raises(ValueError, match="'station' \\(always 7\\) are constant"):
        series.load_series(frame, lookback=28, horizon=7)


def test_series_too_short_names_lookback_and_horizon(weather_frame):
    with pytest.raises(ValueError) as info:
        series.load_series(weather_frame.iloc[:200], lookback=100, horizon=30)
    message = str(info.value)
    assert "lookback=100" in message and "horizon=30" in message
    assert "too short" in message


@pytest.mark.parametrize("argument", ["lookback", "horizon"])
@pytest.mark.parametrize("value", [0, -3, 2.5, None])
def test_window_sizes_must_be_positive_integers(weather_frame, argument, value):
    sizes = {"lookback": 28, "horizon": 7, argument: value}
    with pytest.raises(ValueError, match=f"{argument} must be a positive integer"):
        series.load_series(weather_frame, **sizes)


# --- windows ----------------------------------------------------------------


def test_windows_belong_to_the_split_of_their_forecast(weather_frame):
    data = series.load_series(weather_frame, lookback=56, horizon=14)
    train_end, validation_end, test_end = data.bounds
    assert data.bounds == (1022, 1169, 1461)
    for split, (low, high) in {
        "train": (56, train_end),
        "validation": (train_end, validation_end),
        "test": (validation_end, test_end),
    }.items():
        starts = data.window_starts(split)
        assert starts[0] == low and starts[-1] + 14 == high
    # The first test window's history reaches back into validation.
    inputs, targets = data.arrays("test")
    np.testing.assert_array_equal(inputs[0], data.values[validation_end - 56 : 1169])
    np.testing.assert_array_equal(targets[0], data.values[1169:1183])


def test_a_batch_larger_than_the_split_is_one_batch_of_it(weather_frame):
    # 10**12 made tf.data's fused map-and-batch hang in the first step.
    data = series.load_series(weather_frame, lookback=56, horizon=14)
    (inputs, targets), *more = data.dataset("validation", batch_size=10**12)
    assert more == [] and inputs.shape == (134, 56, 4)
    np.testing.assert_array_equal(inputs, data.arrays("validation")[0])


def test_dataset_matches_arrays_and_strides(weather_frame):
    data = series.load_series(weather_frame, lookback=56, horizon=14)
    dataset = data.dataset("validation", batch_size=32)
    batches = list(dataset.as_numpy_iterator())
    inputs = np.concatenate([b[0] for b in batches])
    targets = np.concatenate([b[1] for b in batches])
    expected_inputs, expected_targets = data.arrays("validation")
    assert inputs.shape == (134, 56, 4) and inputs.dtype == np.float32
    np.testing.assert_array_equal(inputs, expected_inputs)
    np.testing.assert_array_equal(targets, expected_targets)
    strided = data.window_starts("train", stride=4)
    assert len(strided) == len(data.window_starts("train")[::4])


def test_training_windows_reshuffle_reproducibly(weather_frame):
    data = series.load_series(weather_frame, lookback=28, horizon=7)

    def first_targets(seed):
        dataset = data.dataset("train", 64, shuffle=True, seed=seed)
        return [b[1][:, 0, 0] for b in dataset.take(2).as_numpy_iterator()]

    first, again = first_targets(3), first_targets(3)
    np.testing.assert_array_equal(first[0], again[0])
    ordered = data.arrays("train")[1][:64, 0, 0]
    assert not np.array_equal(first[0], ordered)


def test_training_stream_entered_at_a_pass_continues_as_the_whole_stream(
    weather_frame,
):
    data = series.load_series(weather_frame, lookback=28, horizon=7)
    dataset = data.dataset("train", 256, shuffle=True, seed=3)
    steps = int(dataset.cardinality())

    def first_targets(stream, batches):
        return [b[1][:, 0, 0] for b in stream.take(batches).as_numpy_iterator()]

    whole = first_targets(dataset.stream_from_pass(0), 2 * steps)
    resumed = first_targets(dataset.stream_from_pass(1), steps)
    for expected, got in zip(whole[steps:], resumed):
        np.testing.assert_array_equal(got, expected)
    # Every window once a pass, in a new order each pass.
    ordered = data.arrays("train")[1][:, 0, 0]
    passes = [np.concatenate(whole[:steps]), np.concatenate(whole[steps:])]
    for windows in passes:
        np.testing.assert_array_equal(np.sort(windows), np.sort(ordered))
    assert not np.array_equal(passes[0], passes[1])


def test_covariates_and_calendar_are_known_future_inputs(elecdemand_frame):
    data = series.load_series(
        elecdemand_frame,
        lookback=96,
        horizon=48,
        targets=["Demand", "Temperature"],
        covariates=["WorkDay"],
        calendar=["hour_of_day", "day_of_week"],
    )
    assert data.num_known == 5 and data.values.shape == (17520, 2)
    inputs, targets = data.arrays("test", stride=100)
    assert inputs["past_values"].shape[1:] == (96, 2)
    assert inputs["future_covariates"].shape[1:] == (144, 5)
    assert targets.shape[1:] == (48, 2)
    # The WorkDay covariate over the horizon is the real, scaled flag.
    start = data.window_starts("test", stride=100)[0]
    workday = elecdemand_frame["WorkDay"].to_numpy()[start - 96 : start + 48]
    np.testing.assert_allclose(
        data.scaler.inverse_transform(
            np.c_[np.zeros((144, 2)), inputs["future_covariates"][0, :, 0]]
        )[:, 2],
        workday,
        atol=1e-5,
    )
    batch = next(iter(data.dataset("train", batch_size=4)))
    assert set(batch[0]) == {"past_values", "future_covariates"}


def test_calendar_features():
    index = pd.date_range("2014-01-06", periods=4, freq="6h")  # a Monday
    features = series.calendar_features(index, ["hour_of_day", "day_of_week"])
    np.testing.assert_allclose(features[:, 0], [0, 1, 0, -1], atol=1e-12)
    np.testing.assert_allclose(features[:, 1], [1, 0, -1, 0], atol=1e-12)
    np.testing.assert_allclose(features[0, 2:], [0, 1], atol=1e-12)
    assert series.calendar_column_names(["hour_of_day"]) == [
        "hour_of_day_sin",
        "hour_of_day_cos",
    ]
    with pytest.raises(ValueError, match="unknown feature\\(s\\) \\['week'\\]"):
        series.calendar_features(index, ["week"])
