"""Argument checks shared by the layers; messages name argument, expected, received."""

import numbers

import numpy as np


def known_size(dim):
    """A shape entry as an int when it is statically known, else None.

    Unknown sizes are None in Keras and TensorFlow, but symbolic expressions
    when JAX exports with a polymorphic shape (the SavedModel's batch); no
    check may compare those.
    """
    return int(dim) if isinstance(dim, numbers.Integral) else None


def freeze_new_sublayers(layer):
    """Make the sublayers ``layer`` just built non-trainable when it is.

    Keras' ``trainable`` setter reaches the sublayers that exist when it is
    set; sublayers created later in ``build`` (or when a frozen layer is
    loaded from its config, which holds ``trainable=False``) would train.
    """
    if layer.trainable:
        return
    # Each sublayer's own setter: on TensorFlow, `layer.trainable = False`
    # inside `layer.build` does not reach the sublayers.
    for sublayer in layer._flatten_layers(include_self=False, recursive=False):
        sublayer.trainable = False


def check_positive_int(value, name):
    """Raise ``ValueError`` unless ``value`` is a positive ``int``."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(
            f"`{name}` must be a positive integer; received {name}={value!r}."
        )


def check_rate(value, name):
    """Raise ``ValueError`` unless ``0 <= value < 1`` (NumPy floats too, as Keras')."""
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not real or not 0.0 <= value < 1.0:
        raise ValueError(f"`{name}` must be in [0, 1); received {name}={value!r}.")


def check_bool(value, name):
    """Raise ``ValueError`` unless ``value`` is True or False (NumPy's too).

    A flag given as the string "false" or as 0/1 would otherwise be read by
    truth value, and "false" is true.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"`{name}` must be True or False; received {name}={value!r}.")


def check_choice(value, name, choices):
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {sorted(choices)}; received {name}={value!r}."
        )


def check_rank(shape, ranks, name, layout):
    """Raise ``ValueError`` unless ``len(shape)`` is in ``ranks``.

    ``layout`` describes the expected axes, e.g. "(batch, length, features)".
    """
    ranks = (ranks,) if isinstance(ranks, int) else tuple(ranks)
    if len(shape) not in ranks:
        expected = " or ".join(str(r) for r in ranks)
        raise ValueError(
            f"`{name}` must have rank {expected} {layout}; received shape "
            f"{tuple(shape)} of rank {len(shape)}."
        )
