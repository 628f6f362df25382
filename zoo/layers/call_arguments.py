"""A layer call's arguments by name, for ``compute_output_spec``."""

import inspect


def call_arguments(call, *args, **kwargs):
    """The arguments ``call(*args, **kwargs)`` would receive, defaults filled in.

    ``compute_output_spec`` receives a symbolic call's arguments as they were
    given; binding them to the layer's ``call`` saves repeating its signature.
    Pass the class's own ``call`` and ``self``, so that a subclass whose
    ``call`` takes ``**kwargs`` binds the same way.
    """
    bound = inspect.signature(call).bind(*args, **kwargs)
    bound.apply_defaults()
    return bound.arguments
