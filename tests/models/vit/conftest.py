"""Fixtures for the ViT tests: a fixed seed and a clean dtype policy."""

import pytest

from tests.keras_state import seeded_float32_policy

seeded_float32 = pytest.fixture(autouse=True, name="seeded_float32")(
    seeded_float32_policy
)
