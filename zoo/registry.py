"""The one place that knows the model families.

A family issue adds one line here: its name and where its ``ModelFamily``
subclass lives. Families import lazily, so ``zoo --help`` stays fast.
"""

import importlib

FAMILIES = {
    "forecaster": "zoo.models.forecaster.family:ForecasterFamily",
    "seq2seq": "zoo.models.seq2seq.family:Seq2SeqFamily",
    "vit": "zoo.models.vit.family:ViTFamily",
}


def family_names():
    """The names of every registered family, sorted."""
    return sorted(FAMILIES)


def get_family(name):
    """Return an instance of the family ``name``; ``ValueError`` lists the valid ones."""
    if name not in FAMILIES:
        raise ValueError(
            f"unknown model {name!r}; expected one of: {', '.join(family_names())}"
        )
    module_name, class_name = FAMILIES[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)()
