"""A fixed seed and a clean dtype policy around each test, for the conftests.

A conftest makes it an autouse fixture of its folder:
``pytest.fixture(autouse=True, name="seeded_float32")(seeded_float32_policy)``.
"""

import keras


def seeded_float32_policy():
    """Seed Keras with 1234 and set float32; put float32 back afterwards."""
    keras.utils.set_random_seed(1234)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")
