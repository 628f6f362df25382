"""The shared checks of the toolkit's numeric arguments."""

import numpy as np
import pytest

from training.arguments import check_int, check_number


@pytest.mark.parametrize("value", [3, np.int64(3), np.uint8(3)])
def test_integers_pass_as_python_ints(value):
    checked = check_int("epochs", value, 1)
    assert checked == 3 and type(checked) is int


@pytest.mark.parametrize(
    "value, allow_none, message",
    [
        (0, False, "`epochs` must be an int >= 1. Received: epochs=0"),
        (True, False, "Received: epochs=True"),  # a bool is an int to Python
        (2.0, False, "Received: epochs=2.0"),
        (None, False, "Received: epochs=None"),
        ("3", True, "`epochs` must be an int >= 1 or None. Received: epochs='3'"),
    ],
)
def test_bad_integers_name_the_argument_and_range(value, allow_none, message):
    with pytest.raises(ValueError, match=message):
        check_int("epochs", value, 1, allow_none=allow_none)


def test_none_passes_where_allowed():
    assert check_int("steps", None, 1, allow_none=True) is None


@pytest.mark.parametrize(
    "bounds, value",
    [
        ({"low": 0}, 0),
        ({"low": 0, "high": 1}, 1),
        ({"low": 0, "high": 1, "high_open": True}, np.float32(0.5)),
        ({}, -1e30),
    ],
)
def test_numbers_in_range_pass_as_floats(bounds, value):
    checked = check_number("rate", value, **bounds)
    assert checked == float(value) and type(checked) is float


@pytest.mark.parametrize(
    "bounds, value, message",
    [
        ({"low": 0, "low_open": True}, 0, "`rate` must be a number > 0"),
        ({"low": 0}, -0.1, "`rate` must be a number >= 0. Received: rate=-0.1"),
        ({"low": 0, "high": 1, "high_open": True}, 1, r"in \[0, 1\)\. Received"),
        ({"high": 1, "high_open": True}, 1, "`rate` must be a number < 1"),
        ({"low": 0, "high": 1}, float("nan"), "Received: rate=nan"),
        ({}, float("nan"), "`rate` must be a number. Received: rate=nan"),
        ({}, False, "Received: rate=False"),
        ({}, "0.1", "Received: rate='0.1'"),
    ],
)
def test_bad_numbers_name_the_argument_and_range(bounds, value, message):
    with pytest.raises(ValueError, match=message):
        check_number("rate", value, **bounds)
