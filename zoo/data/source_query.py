"""The ``?key=value&...`` options that follow a data source's location."""


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

    Example:
        >>> split_source("pairs.tsv?task=g2p", ("task",))
        ('pairs.tsv', [('task', 'g2p')])
    """
    location, _, query = str(source).partition("?")
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
