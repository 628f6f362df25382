"""A cache index given as a NumPy integer, made a Python int before Keras sees it."""

import numpy as np


def python_cache_index(kwargs: dict, name: str) -> dict:
    """Return ``kwargs`` with ``kwargs[name]`` an ``int`` where it was a NumPy integer.

    A layer's ``__call__`` turns NumPy arguments (an index from a loop over
    ``np.arange``) into tensors before ``call``, where a Python int would stay
    one. Only an int can be range-checked against the cache before the
    update, which on a tensor index would clip silently instead.
    """
    index = kwargs.get(name)
    if isinstance(index, np.integer):
        kwargs = {**kwargs, name: int(index)}
    return kwargs
