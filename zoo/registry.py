"""The one place that knows the model families.

A family issue adds one line here: its name and where its ``ModelFamily``
subclass lives. Families import lazily, so ``zoo --help`` stays fast.
"""

import difflib
import importlib

FAMILIES = {
    "forecaster": "zoo.models.forecaster.family:ForecasterFamily",
    "seq2seq": "zoo.models.seq2seq.family:Seq2SeqFamily",
    "vit": "zoo.models.vit.family:ViTFamily",
}


def family_names():
    """The names of every registered family, sorted."""
    return sorted(FAMILIES)


def did_you_mean(name, valid):
    """``"; did you mean 'x'?"`` for the names in ``valid`` close to ``name``, or ``""``.

    Case is ignored (``VIT`` → ``vit``), as is a ``-`` for a ``_``.
    """

    def key(text):
        return str(text).lower().replace("-", "_")

    by_key = {key(option): option for option in valid}
    close = difflib.get_close_matches(key(name), list(by_key), n=3, cutoff=0.6)
    if not close:
        return ""
    return f"; did you mean {' or '.join(repr(by_key[match]) for match in close)}?"


def get_family(name):
    """Return an instance of the family ``name``; ``ValueError`` lists the valid ones."""
    if name not in FAMILIES:
        raise ValueError(
            f"unknown model {name!r}; expected one of: {', '.join(family_names())}"
            f"{did_you_mean(name, family_names())}"
        )
    module_name, class_name = FAMILIES[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)()
