"""The ``?key=value&...`` options that follow a data source's location.

Where the options start: a local file or folder whose name holds ``?``
(``pairs?.tsv``) is read as a whole, so the options start at the ``?`` that
ends the longest prefix of the source that names an existing file or folder
(``pairs?.tsv?task=g2p``); when no prefix exists, at the first ``?``. Only
``?`` needs this: ``=``, ``&``, ``#``, ``%`` and ``:`` are plain characters of
a location. A location that starts with ``~`` is expanded to the home folder,
as the shell would have done had the source not been quoted (a source with
options must be quoted: ``&`` ends a shell command). Built-in dataset names
(``cmudict``, ``fashion_mnist``, ...) and ``tfds:`` win over a file or folder
of the same name in the working folder: write ``./fashion_mnist`` for an
image folder of that name.
"""

import os


def split_source(source, allowed):
    """Split ``source`` into its location and its ``(key, value)`` options.

    Args:
        source: ``"LOCATION?key=value&key=value"``; the options are optional.
        allowed: the keys the caller understands.

    Returns:
        ``(location, [(key, value), ...])`` in the order given.

    Raises:
        ValueError: for an item that is not ``key=value`` with an allowed key,
            naming the item, the source and the allowed keys, or for a key
            given twice.

    Examples:
        >>> from zoo.data.source_query import split_source
        >>> split_source("pairs.tsv?task=g2p", ("task",))
        ('pairs.tsv', [('task', 'g2p')])
    """
    location, query = _location_and_query(str(source))
    items = []
    for item in filter(None, query.split("&")):
        key, separator, value = item.partition("=")
        if key not in allowed or not separator:
            raise ValueError(
                f"data option {item!r} in {source!r}: expected key=value with key "
                f"one of {', '.join(allowed)}"
            )
        if key in dict(items):
            # Not a list (as repeated keys of a URL are): the last would win.
            raise ValueError(
                f"data option {key} is given twice in {source!r}: expected each "
                f"key once; lists are comma-separated ({key}=a,b)"
            )
        items.append((key, value))
    return location, items


def positive_int_option(value, key, source):
    """``value`` as a positive int; a ``ValueError`` naming ``key`` otherwise."""
    # Not isdigit() alone: "²" is a digit that int() refuses.
    if not (value.isascii() and value.isdigit()) or int(value) < 1:
        raise ValueError(
            f"data option {key}: expected a positive integer; received {value!r} "
            f"in {source!r}"
        )
    return int(value)


def _location_and_query(source):
    """``source`` split at the ``?`` where its options start (module docstring)."""
    ends = [i for i, character in enumerate(source) if character == "?"]
    for end in reversed([*ends, len(source)]):
        # A quoted "~/x" reaches here unexpanded; the shell would have.
        location = os.path.expanduser(source[:end])
        if location and os.path.exists(location):
            return location, source[end + 1 :]
    location, _, query = source.partition("?")
    return os.path.expanduser(location), query


def tfds_error(source, error, expected):
    """A ``ValueError`` for TFDS' own error loading ``source``, in the terms of
    ``--data``: TFDS' first line kept (unknown name, no such split) and what
    the family expected."""
    reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
    return ValueError(
        f"cannot load data source {source!r}: {reason or type(error).__name__}; "
        f"expected {expected}"
    )


def absolute_source(source):
    """``source`` with a relative local file or folder made absolute, options kept.

    A run records its data source; relative, it would name another file (or
    none) once ``zoo evaluate`` or a resume runs from another folder, and
    ``./x.tsv`` would not match ``x.tsv``. Built-in dataset names and
    ``tfds:`` sources are kept as they are (they win over a local file of
    that name, see the module docstring), as is a location that does not
    exist.
    """
    from zoo.data.registry import DATASETS

    source = str(source)
    location, query = _location_and_query(source)
    if (
        location in DATASETS
        or location.startswith("tfds:")
        or not os.path.exists(location)
    ):
        return source
    return os.path.abspath(location) + (f"?{query}" if query else "")
