"""The ``?key=value`` options of a data source string."""

import pytest

from zoo.data.source_query import split_source


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
