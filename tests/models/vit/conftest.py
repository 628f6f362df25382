"""Fixtures for the ViT tests: a fixed seed and a clean dtype policy."""

import keras
import pytest


@pytest.fixture(autouse=True)
def seeded_float32():
    keras.utils.set_random_seed(1234)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")
