"""The ``?key=value`` options of a data source string."""

import pytest

from zoo.data.source_query import positive_int_option, split_source


def test_options_in_order():
    assert split_source("ETTh1.csv?target=OT&horizon=96", ("target", "horizon")) == (
        "ETTh1.csv",
        [("target", "OT"), ("horizon", "96")],
    )


def test_a_repeated_key_is_an_error():
    # As in a URL query, a user may repeat a key to list values; only the
    # last one would be used.
    with pytest.raises(
        ValueError,
        match=r"data option target is given twice in 'elecdemand\?target=Demand&"
        r"target=Temperature': expected each key once; .*\(target=a,b\)",
    ):
        split_source("elecdemand?target=Demand&target=Temperature", ("target",))


@pytest.mark.parametrize("value", ["0", "-3", "1.5", "²", "٣", ""])
def test_a_count_that_is_not_a_positive_integer_names_the_option(value):
    # "²" is a digit to str.isdigit() that int() refuses with its own error.
    with pytest.raises(
        ValueError,
        match=f"data option lookback: expected a positive integer; received '{value}'",
    ):
        positive_int_option(value, "lookback", f"elecdemand?lookback={value}")


def test_a_positive_integer_count_is_read():
    assert positive_int_option("96", "horizon", "elecdemand?horizon=96") == 96
