"""Source strings and bad input through the forecaster's data path."""

import json

import numpy as np
import pytest

from zoo import registry
from zoo.models.forecaster.family import STATE_FILE, prepare_series
from zoo.models.forecaster.sources import parse_source, read_source


def test_parse_source_defaults_and_options():
    location, options = parse_source("elecdemand")
    assert location == "elecdemand"
    assert (options.lookback, options.horizon) == (336, 96)
    location, options = parse_source(
        "ETTh1.csv?target=OT&lookback=512&horizon=720&split=8640,2880,2880"
        "&interpolate=true&calendar=hour_of_day,day_of_week&stride=2&time=date"
    )
    assert location == "ETTh1.csv"
    assert options.target == ["OT"] and options.split == (8640, 2880, 2880)
    assert (options.lookback, options.horizon, options.stride) == (512, 720, 2)
    assert options.interpolate and options.time == "date"
    assert options.calendar == ["hour_of_day", "day_of_week"]


@pytest.mark.parametrize(
    "source,match",
    [
        ("x.csv?colour=red", r"data option 'colour=red' .* expected key=value"),
        ("x.csv?lookback=-3", r"lookback: expected a positive integer; received '-3'"),
        ("x.csv?interpolate=maybe", "interpolate: expected true or false"),
        ("x.csv?split=a,b,c", "split: expected three fractions or row counts"),
    ],
)
def test_bad_options_name_key_expected_and_received(source, match):
    with pytest.raises(ValueError, match=match):
        parse_source(source)


def _csv(frame, tmp_path, name="series.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def test_a_series_shorter_than_lookback_plus_horizon(elecdemand_frame, tmp_path):
    path = _csv(elecdemand_frame.iloc[:300], tmp_path)
    with pytest.raises(ValueError, match="too short for lookback=336 and horizon=96"):
        prepare_series(f"{path}?lookback=336&horizon=96")


def test_nans_are_an_error_unless_interpolation_is_asked(elecdemand_frame, tmp_path):
    frame = elecdemand_frame.copy()
    frame.loc[[100, 101, 700], "Temperature"] = np.nan
    path = _csv(frame, tmp_path)
    with pytest.raises(ValueError, match="'Temperature': 3 missing value"):
        prepare_series(f"{path}?lookback=96&horizon=24")
    prepared, data, state = prepare_series(
        f"{path}?lookback=96&horizon=24&interpolate=true"
    )
    assert np.isfinite(data.values).all()
    assert "interpolated" in state["report"]


def test_non_numeric_and_unknown_columns(seattle_frame, tmp_path):
    frame = seattle_frame.copy()
    frame["weather"] = "rain"
    path = _csv(frame, tmp_path)
    with pytest.raises(ValueError, match="numeric.*weather"):
        prepare_series(f"{path}")
    with pytest.raises(ValueError, match=r"unknown column\(s\) \['rainfall'\]"):
        prepare_series(f"{path}?target=rainfall")


def test_constant_column(seattle_frame, tmp_path):
    frame = seattle_frame.copy()
    frame["wind"] = 3.0
    with pytest.raises(ValueError, match="'wind' .*constant"):
        prepare_series(_csv(frame, tmp_path))


def test_unsorted_and_duplicate_timestamps(seattle_frame, tmp_path):
    shuffled = seattle_frame.iloc[::-1]
    with pytest.raises(ValueError, match="(?i)sort|increasing"):
        prepare_series(_csv(shuffled, tmp_path, "unsorted.csv"))
    doubled = seattle_frame.iloc[[0, 0, *range(1, len(seattle_frame))]]
    with pytest.raises(ValueError, match="(?i)duplicate"):
        prepare_series(_csv(doubled, tmp_path, "duplicated.csv"))


def test_seattle_weather_windows(seattle_frame):
    prepared, data, state = prepare_series("seattle_weather", batch_size=16)
    inputs, targets = next(iter(prepared.train))
    assert inputs.shape == (16, 56, 4) and targets.shape == (16, 14, 4)
    assert state["options"]["target"] == [
        "precipitation",
        "temp_max",
        "temp_min",
        "wind",
    ]
    assert prepared.info["focus"] == ["temp_max"]


@pytest.mark.parametrize(
    "damage,match",
    [
        (lambda state: state.pop("scaler"), r"'scaler' is missing"),
        (lambda state: state["options"].pop("lookback"), "'options.lookback' is"),
        (lambda state: state["scaler"]["mean"].pop(), r"'scaler.mean' must hold"),
        (
            lambda state: state["options"].update(horizon="14"),
            r"'options.horizon' must be a positive integer; received '14'",
        ),
        (
            lambda state: state["options"].update(split=[0.7, 0.3]),
            r"'options.split' must be three positive numbers",
        ),
    ],
    ids=["no scaler", "no lookback", "short mean", "text horizon", "two splits"],
)
def test_a_damaged_series_json_is_a_one_line_error(damage, match, tmp_path):
    _, _, state = prepare_series("seattle_weather")
    damage(state)
    (tmp_path / STATE_FILE).write_text(json.dumps(state))
    family = registry.get_family("forecaster")
    # Both read series.json before the model, which they never reach here.
    with pytest.raises(ValueError, match=f"{STATE_FILE} is damaged: {match}"):
        family.export(None, tmp_path, tmp_path / "saved_model")
    with pytest.raises(ValueError, match=f"{STATE_FILE} is damaged: {match}"):
        family.predict(None, tmp_path, ["history.csv"], None)


def test_a_series_json_that_is_not_json_names_the_file(tmp_path):
    (tmp_path / STATE_FILE).write_text('{"options": ')
    with pytest.raises(ValueError, match=f"{STATE_FILE} is not valid JSON"):
        registry.get_family("forecaster").export(None, tmp_path, tmp_path / "out")


def test_evaluating_with_other_window_options_is_an_error():
    # evaluate reuses the run's saved options; a differing one given with
    # --data would otherwise be ignored without a word.
    _, _, state = prepare_series("seattle_weather?lookback=28&horizon=7&target=wind")
    for source in ("seattle_weather", "seattle_weather?lookback=28&target=wind"):
        prepared, _, _ = prepare_series(source, state=state)
        assert (prepared.info["lookback"], prepared.info["targets"]) == (28, ["wind"])
    with pytest.raises(
        ValueError, match=r"option lookback .* trained with lookback 28.* received 56"
    ):
        prepare_series("seattle_weather?lookback=56", state=state)
    with pytest.raises(
        ValueError, match=r"target .* \['wind'\].* received \['temp_max'"
    ):
        prepare_series("seattle_weather?target=temp_max", state=state)


def test_evaluating_the_same_data_keeps_the_runs_split():
    """Without ?split=, the default 70/10/20 split tested on training rows."""
    trained = "seattle_weather?lookback=28&horizon=7&split=0.5,0.25,0.25"
    _, run_data, state = prepare_series(trained)
    assert state["options"]["split"] == [0.5, 0.25, 0.25]
    _, data, _ = prepare_series("seattle_weather", state=state)
    assert data.bounds == run_data.bounds
    # ?split= still chooses another split, e.g. for another file.
    _, other, _ = prepare_series("seattle_weather?split=0.7,0.1,0.2", state=state)
    assert other.bounds != run_data.bounds
    # Runs saved before the split was recorded take the default one.
    del state["options"]["split"]
    _, old, _ = prepare_series("seattle_weather", state=state)
    assert old.bounds == other.bounds


@pytest.mark.parametrize("location", ["elecdemnd", "cmudict", "pairs.tsv"])
def test_an_unknown_source_lists_the_built_in_series(location):
    with pytest.raises(
        ValueError,
        match=rf"data for forecaster must be one of 'elecdemand', 'seattle_weather' "
        rf"or a \.csv path; received '{location}'",
    ):
        read_source(location)
