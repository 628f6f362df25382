"""Comparing a layer's symbolic outputs (on `keras.Input`s) with eager ones."""

import keras


def as_tuple(outputs):
    return outputs if isinstance(outputs, tuple) else (outputs,)


def assert_spec_fits(spec, tensor):
    """A symbolic output fits an eager one: same rank, equal known sizes."""
    shape = tuple(keras.ops.convert_to_numpy(tensor).shape)
    assert len(spec.shape) == len(shape), (spec.shape, shape)
    assert all(s is None or s == n for s, n in zip(spec.shape, shape)), (
        spec.shape,
        shape,
    )
