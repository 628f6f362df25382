"""Real data in the shapes users' data come in: units, time zones, pixel depths.

seattle_weather, elecdemand and Fashion-MNIST, rescaled, relabelled and
re-encoded the way users' own series and images differ from them.
"""

import tracemalloc

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from zoo.data import images as image_data
from zoo.data import series
from zoo.data.numpy_images import ImageBatches

NUMBERS = ["precipitation", "temp_max", "temp_min", "wind"]


@pytest.fixture(scope="module")
def weather_frame():
    """All 1,461 real daily rows of seattle_weather."""
    from zoo.data import seattle_weather

    return seattle_weather.load()


@pytest.fixture(scope="module")
def fashion():
    """20,000 real Fashion-MNIST training images, (N, 28, 28, 1) uint8."""
    from zoo.data.fashion_mnist import load_fashion_mnist

    images, labels = load_fashion_mnist("train", limit=20000)
    return images[..., None], labels


def _load(frame, **options):
    return series.load_series(frame, lookback=56, horizon=14, **options)


# --- forecaster: units ---------------------------------------------------------


@pytest.mark.parametrize("factor", [1e-300, 1e-13, 1e-9, 1e9, 1e15, 1e30])
def test_any_unit_scales_like_the_original(weather_frame, factor):
    # Farads, watts, bytes: the scaled series must not depend on the unit.
    reference = _load(weather_frame)
    rescaled = weather_frame.assign(**{c: weather_frame[c] * factor for c in NUMBERS})
    data = _load(rescaled)
    np.testing.assert_allclose(data.values, reference.values, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(data.scaler.scale, reference.scaler.scale * factor)


def test_values_beyond_float32_are_an_error(weather_frame):
    # Models and SavedModels run in float32, where 1e39 is infinite; float64
    # squares of 1e300 overflowed the scaler to inf and every value to 0.
    for factor in (1e39, 1e300):
        huge = weather_frame.assign(temp_max=weather_frame["temp_max"] * factor)
        with pytest.raises(ValueError) as info:
            _load(huge)
        message = str(info.value)
        assert message.startswith("column 'temp_max' must hold finite numbers; row 0")
        assert f"holds {12.8 * factor:g}" in message and "float32" in message


def test_future_covariate_that_is_not_finite_is_an_error(weather_frame):
    # A predict input: history, then future rows with empty targets and the
    # known covariate; regularize sees only the history.
    frame = series.read_frame(weather_frame.iloc[-70:])
    frame.loc[frame.index[-14:], ["temp_max", "temp_min", "wind"]] = np.nan
    frame.loc[frame.index[-3], "precipitation"] = np.inf
    with pytest.raises(ValueError, match="'precipitation' must hold finite.*row 67"):
        series.select_columns(frame, ["temp_max"], ["precipitation"])


def test_text_numbers_show_the_offending_value(weather_frame):
    grouped = weather_frame.assign(
        temp_max=[f"{v * 1000:,.1f}" for v in weather_frame["temp_max"]]
    )
    with pytest.raises(ValueError) as info:
        _load(grouped)
    message = str(info.value)
    assert "{'temp_max': 'str'}" in message
    assert "row 0 holds '12,800.0'" in message and "thousands separators" in message


# --- forecaster: time zones ----------------------------------------------------


@pytest.mark.parametrize("where", ["column", "index"])
def test_daylight_saving_daily_dataframe_keeps_its_dates(weather_frame, where):
    # Local midnights in Seattle are 23 or 25 hours apart across DST changes;
    # the .csv path keeps their dates, a DataFrame must too.
    dates = pd.DatetimeIndex(weather_frame["date"])
    local = dates.tz_localize("America/Los_Angeles")
    frame = weather_frame.assign(date=local)
    if where == "index":
        frame = frame.set_index("date")
    data = _load(frame)
    assert data.report.is_clean and data.report.frequency == "D"
    assert data.frame.index.equals(pd.DatetimeIndex(dates, name="date"))


# --- ViT: pixel values ---------------------------------------------------------


def test_image_statistics_need_no_float_copy_of_the_set(fashion):
    # A float64 copy of a photo folder is eight times its size.
    images, _ = fashion
    pixels = images.reshape(-1).astype(np.float64) / 255.0
    tracemalloc.start()
    try:
        mean, std = image_data.image_statistics(images)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < images.nbytes
    np.testing.assert_allclose(mean, [pixels.mean()], rtol=1e-12)
    np.testing.assert_allclose(std, [pixels.std()], rtol=1e-12)
    # All black: zero variance, still a finite normalization.
    assert image_data.image_statistics(np.zeros_like(images[:10])) == ([0.0], [1e-3])


def test_sixteen_bit_and_nan_pixels_are_an_error(fashion):
    images, labels = fashion[0][:64], fashion[1][:64]
    deep = images.astype(np.uint16) * 257  # 16-bit microscopy or PNG data
    with pytest.raises(ValueError, match=r"from 0 to 255 .*uint16 values from 0 to"):
        ImageBatches(deep, labels, [0.29], [0.35], 32)
    with pytest.raises(ValueError, match="`train images` must hold pixel values"):
        image_data.check_images(deep, labels, 10, name="train images")
    broken = images.astype(np.float32)
    broken[3, 5, 5, 0] = np.nan
    with pytest.raises(ValueError, match="float32 values from nan"):
        ImageBatches(broken, labels, [0.29], [0.35], 32)
    # 0..255 in any dtype stays accepted.
    batch, _ = ImageBatches(images.astype(np.float32), labels, [0.29], [0.35], 32)[0]
    assert np.isfinite(batch).all()


def test_image_folder_of_many_encodings_decodes_the_same_pixels(fashion, tmp_path):
    images, labels = fashion
    shoe, shirt = images[labels == 9][:4, ..., 0], images[labels == 0][:4, ..., 0]
    writers = {
        "16-bit.png": lambda a: Image.fromarray(a.astype(np.uint16) * 257),
        "rgba.png": lambda a: Image.fromarray(np.dstack([a, a, a, a // 2 + 1])),
        "palette.png": lambda a: Image.fromarray(a).convert("P"),
        "ünï图.png": lambda a: Image.fromarray(a),
    }
    for name, group in (("shoe", shoe), ("shirt", shirt)):
        (tmp_path / name).mkdir()
        for (suffix, write), image in zip(writers.items(), group):
            write(image).save(tmp_path / name / suffix)
    Image.fromarray(shirt[0, :1, :1]).save(tmp_path / "shirt" / "1x1.png")
    loaded, found, names = image_data.load_image_folder(tmp_path)
    assert names == ["shirt", "shoe"] and loaded.shape == (9, 28, 28, 1)
    order = sorted(writers)  # files load in sorted name order
    for index, suffix in enumerate(order):
        original = shoe[list(writers).index(suffix)]
        np.testing.assert_array_equal(loaded[5 + index, ..., 0], original)
    mean, std = image_data.image_statistics(loaded)
    assert np.isfinite(mean + std).all()
