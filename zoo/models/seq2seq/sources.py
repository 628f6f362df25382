"""Data sources of the seq2seq family: a name or path, plus ``?`` options.

The source decides the task: ``cmudict`` is grapheme-to-phoneme (G2P),
``l10n_en_de``/``_fr``/``_es`` translation, ``debian_descriptions``
summarization; a ``.tsv`` of ``source<TAB>target`` lines and ``tfds:NAME`` are
translation unless ``task=`` says otherwise. ``zoo train --data`` takes one
string, so options ride in it: ``pairs.tsv?task=summarization&vocabulary_size=4000``.

| key | meaning | default |
|---|---|---|
| ``task`` | ``g2p`` (symbols), ``translation``, ``summarization`` (subwords) | by source |
| ``vocabulary_size`` | WordPiece vocabulary size (per side when separate) | 8000 |
| ``vocabulary`` | ``shared`` by both sides or ``separate`` | ``shared`` |
| ``max_source_length`` | tokens the encoder reads; longer inputs are truncated | 64, 128 |
| ``max_target_length`` | tokens the decoder writes (end token included) | 64, 32 |
| ``split`` | what ``zoo evaluate`` scores: ``test``, ``validation``, ``train`` or ``all`` | ``test`` |

The two lengths are upper bounds: a run uses the longest training sequence
when that is shorter. G2P keeps the lengths of its training data.

The first five options are fixed when a run is first prepared: its tokenizers
and lengths come from them. ``split`` only chooses the pairs a trained run is
evaluated on; ``all`` scores every pair of a held-out file, which then needs
no minimum size.
"""

from __future__ import annotations

import dataclasses
import re

from zoo.data.source_query import positive_int_option, split_source, tfds_error
from zoo.registry import did_you_mean

TASKS = ("g2p", "translation", "summarization")
"""Tasks of the seq2seq family."""

FITTING_OPTIONS = (
    "task",
    "vocabulary_size",
    "vocabulary",
    "max_source_length",
    "max_target_length",
)
"""The options that decide a run's tokenizers and lengths."""

OPTIONS = (*FITTING_OPTIONS, "split")
"""Keys allowed after ``?``."""

EVALUATION_SPLITS = ("test", "validation", "train", "all")
"""Values of the ``split`` option."""

CHOICES = {
    "task": TASKS,
    "vocabulary": ("shared", "separate"),
    "split": EVALUATION_SPLITS,
}
"""The options that take one of a few words, and those words."""

MAX_VOCABULARY_SIZE = 1_000_000
"""More than any subword vocabulary needs; the trainer allocates memory for
the size asked, and 10**14 aborted the process."""

BUILT_IN_NAMES = (
    "cmudict",
    "l10n_en_de",
    "l10n_en_fr",
    "l10n_en_es",
    "debian_descriptions",
)
"""The built-in datasets seq2seq reads."""

DEFAULT_LENGTHS = {"translation": (64, 64), "summarization": (128, 32)}
"""Task -> (max_source_length, max_target_length) defaults."""


@dataclasses.dataclass
class SourceOptions:
    """Parsed options of a source string; see the module docstring."""

    task: str = "translation"
    vocabulary_size: int = 8000
    vocabulary: str = "shared"
    max_source_length: int | None = None
    max_target_length: int | None = None
    split: str = "test"

    def lengths(self):
        """Return ``(max_source_length, max_target_length)`` for the task."""
        source, target = DEFAULT_LENGTHS.get(self.task, (None, None))
        return (self.max_source_length or source, self.max_target_length or target)


def default_task(location: str) -> str:
    """The task a source implies when ``task=`` is not given."""
    if location == "cmudict":
        return "g2p"
    if location == "debian_descriptions":
        return "summarization"
    return "translation"


def parse_source(source):
    """Split ``source`` into its location and ``SourceOptions``.

    Args:
        source: ``"cmudict"``, ``"l10n_en_de"``, ``"debian_descriptions"``, a
            ``.tsv`` path or ``"tfds:NAME[/CONFIG]"``, optionally followed by
            ``?key=value&...``.

    Returns:
        ``(location, SourceOptions)``.

    Raises:
        ValueError: for an unknown key or a bad value, naming both.

    Examples:
        >>> from zoo.models.seq2seq.sources import parse_source
        >>> parse_source("pairs.tsv?task=summarization")[1].task
        'summarization'
    """
    source = str(source)
    location, items = split_source(source, OPTIONS)
    options = SourceOptions(task=default_task(location))
    for key, value in items:
        if key in CHOICES:
            if value not in CHOICES[key]:
                # Two choices read "expected shared or separate".
                allowed = CHOICES[key]
                expected = (
                    " or ".join(allowed)
                    if len(allowed) == 2
                    else f"one of {', '.join(allowed)}"
                )
                raise ValueError(
                    f"data option {key}: expected {expected}; received {value!r}"
                )
            setattr(options, key, value)
        else:
            setattr(options, key, positive_int_option(value, key, source))
    if not 64 <= options.vocabulary_size <= MAX_VOCABULARY_SIZE:
        raise ValueError(
            "data option vocabulary_size: expected an integer from 64 to "
            f"{MAX_VOCABULARY_SIZE:,}; received {options.vocabulary_size}"
        )
    return location, options


def load_splits(location, seed=0, fold_case=False):
    """Return split name -> list of ``(source_text, [target, ...])``.

    Args:
        location: a source without its ``?`` options.
        seed: split seed for ``.tsv`` files and TFDS sets without the three
            splits (the built-in splits are fixed).
        fold_case: for a ``.tsv``, take sources that differ in case only as
            one (G2P: its tokenizer reads ``Word`` as ``word``).

    Raises:
        ValueError: for a source that is none of the above, or an
            ``l10n_en_XX`` pair that is not built in.
    """
    location = str(location)
    if location == "cmudict":
        from zoo.data.cmudict import load_cmudict

        return load_cmudict()
    # A name, not a path: "l10n_words.tsv" is the user's file.
    if re.fullmatch(r"l10n_\w+", location):
        from zoo.data.l10n import load_l10n

        return load_l10n(location)
    if location == "debian_descriptions":
        from zoo.data.debian_descriptions import load_debian_descriptions

        return load_debian_descriptions()
    if location.startswith("tfds:"):
        return _load_tfds(location[len("tfds:") :], seed)
    # pairs.TSV too, as .CSV for series; gzip-compressed as pairs.tsv.gz.
    if location.lower().endswith((".tsv", ".tsv.gz")):
        from zoo.data.text_pairs import load_tsv

        return load_tsv(location, seed=seed, fold_case=fold_case)
    raise ValueError(
        f"data for seq2seq must be one of {', '.join(map(repr, BUILT_IN_NAMES))}, "
        "a .tsv (or .tsv.gz) path of "
        f"source<TAB>target lines or 'tfds:NAME[/CONFIG]'; received {location!r}"
        f"{did_you_mean(location, BUILT_IN_NAMES)}"
    )


def load_evaluation_pairs(location, split, seed=0, fold_case=False):
    """Return the ``(source_text, [target, ...])`` pairs of one split to score.

    Args:
        location: as ``load_splits``.
        split: one of ``EVALUATION_SPLITS``; ``"all"`` is every pair, and a
            ``.tsv`` read whole needs no minimum number of sources.
        seed: as ``load_splits``.
        fold_case: as ``load_splits``.
    """
    location = str(location)
    if split == "all" and location.lower().endswith((".tsv", ".tsv.gz")):
        from zoo.data.text_pairs import read_pairs

        return read_pairs(location, fold_case=fold_case)
    splits = load_splits(location, seed=seed, fold_case=fold_case)
    if split == "all":
        return [
            pair for name in ("train", "validation", "test") for pair in splits[name]
        ]
    return splits[split]


def _load_tfds(name, seed):
    import tensorflow_datasets as tfds

    from zoo.data.cmudict import split_by_key

    try:
        builder = tfds.builder(name)
    except (ValueError, KeyError) as error:
        # Unknown name or config: TFDS' multi-line text, put in --data's terms.
        raise tfds_error(
            f"tfds:{name}",
            error,
            "the name of a TFDS text set with (source, target) supervised keys "
            "(./tfds:NAME for a local file of that name)",
        ) from None
    builder.download_and_prepare()
    available = set(builder.info.splits)

    def read(split):
        pairs = {}
        for source, target in tfds.as_numpy(
            builder.as_dataset(split=split, as_supervised=True)
        ):
            source, target = source.decode("utf-8"), target.decode("utf-8")
            if source.strip() and target.strip():
                targets = pairs.setdefault(" ".join(source.split()), [])
                target = " ".join(target.split())
                if target not in targets:
                    targets.append(target)
        return pairs

    if {"train", "validation", "test"} <= available:
        return {
            split: list(read(split).items())
            for split in ("train", "validation", "test")
        }
    # A dataset without all three splits is split 90/5/5 by source.
    pairs = read("train")
    return {
        name: [(key, pairs[key]) for key in keys]
        for name, keys in split_by_key(pairs, seed=seed).items()
    }
