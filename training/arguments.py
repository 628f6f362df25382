"""Checks of the numbers the toolkit's functions and callbacks take.

One place for them, so that every argument refuses a bool (an int to
Python), accepts NumPy numbers (users compute step counts from array
lengths) and names itself, the range expected and the value received in
the same words.
"""

import math
import numbers


def check_int(name, value, minimum, allow_none=False):
    """Return ``value`` as an ``int`` if it is an integer >= ``minimum``.

    Args:
        name: the argument's name, for the error.
        value: the value received.
        minimum: the smallest value allowed.
        allow_none: whether None is allowed (and returned).

    Raises:
        ValueError: e.g. "`epochs` must be an int >= 1. Received: epochs=0".
    """
    if value is None and allow_none:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Integral)
        or value < minimum
    ):
        or_none = " or None" if allow_none else ""
        raise ValueError(
            f"`{name}` must be an int >= {minimum}{or_none}. Received: {name}={value!r}"
        )
    return int(value)


def check_number(name, value, low=None, high=None, *, low_open=False, high_open=False):
    """Return ``value`` as a ``float`` if it is a real number in the range.

    Args:
        name: the argument's name, for the error.
        value: the value received.
        low: the lower bound; None for unbounded.
        high: the upper bound; None for unbounded.
        low_open: whether ``low`` itself is excluded.
        high_open: whether ``high`` itself is excluded.

    Raises:
        ValueError: e.g. "`rate_step` must be a number in [0, 1). Received:
            rate_step=1.5". NaN is refused, whatever the bounds.
    """
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if (
        not real
        or math.isnan(value)
        or (low is not None and (value <= low if low_open else value < low))
        or (high is not None and (value >= high if high_open else value > high))
    ):
        raise ValueError(
            f"`{name}` must be a number{_range(low, high, low_open, high_open)}. "
            f"Received: {name}={value!r}"
        )
    return float(value)


def _range(low, high, low_open, high_open):
    if low is not None and high is not None:
        return f" in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f" {'>' if low_open else '>='} {low}"
    if high is not None:
        return f" {'<' if high_open else '<='} {high}"
    return ""
