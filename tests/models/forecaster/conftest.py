"""Small real slices of elecdemand and seattle_weather, loaded once."""

import pytest

from tests.keras_state import seeded_float32_policy

ELECDEMAND_ROWS = 3000
"""About two months of half-hourly demand: enough windows, quick to train."""


seeded_float32 = pytest.fixture(autouse=True, name="seeded_float32")(
    seeded_float32_policy
)


@pytest.fixture(scope="session")
def elecdemand_frame():
    """The first 3,000 rows of real elecdemand (time, Demand, WorkDay, Temperature)."""
    from zoo.data import elecdemand

    return elecdemand.load().iloc[:ELECDEMAND_ROWS].reset_index(drop=True)


@pytest.fixture(scope="session")
def seattle_frame():
    """All 1,461 rows of real seattle_weather (date and four numeric columns)."""
    from zoo.data import seattle_weather

    return seattle_weather.load()


@pytest.fixture(scope="session")
def elecdemand_csv(tmp_path_factory, elecdemand_frame):
    """The elecdemand slice as a .csv file, as a user would bring one."""
    path = tmp_path_factory.mktemp("series") / "elecdemand_slice.csv"
    elecdemand_frame.to_csv(path, index=False)
    return path
