"""Markers for tests that need a particular kind of Keras backend."""

import pytest

from zoo.export import backend_can_export

exports_saved_models = pytest.mark.skipif(
    not backend_can_export(),
    reason="SavedModel export needs KERAS_BACKEND=tensorflow or jax",
)
