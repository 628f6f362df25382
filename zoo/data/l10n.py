"""English → German/French/Spanish software messages from Debian's catalogs.

``l10n_en_de``, ``l10n_en_fr`` and ``l10n_en_es`` pair the English messages of
LibreOffice's user interface (Debian ``libreoffice-l10n-LANG``) and of GCC's
diagnostics and option help (Debian ``gcc-12-locales``) with their
translations, read from the ``.mo`` catalogs (``zoo.data.mo_catalog``).

Cleaning, in order, on both sides of every message:

* LibreOffice: markup tags (``<BR>``) become a space, accelerator marks are
  removed (every ``~``, an ``&`` right before a letter, and a lone ``_`` before
  a letter or digit: ``"Ko_pieren"`` → ``"Kopieren"``), then the XML entities
  (``&amp;``) are unescaped;
* GCC: the quoting directives ``%<``, ``%>`` and ``%'`` are removed;
* runs of whitespace (option-help columns, line breaks) become one space.

Pairs whose source has no letter, whose sides are equal (names, units) or
empty are dropped; the remaining ones are grouped by English source, so a
message translated differently in two places keeps both translations as
references. Placeholders (``%s``, ``%qD``, ``%1``, ``$(ARG1)``,
``%PRODUCTNAME``, ``{name}``) are left as they are: the tokenizer keeps them
whole. The sources are split 90/5/5 with a fixed seed, so no English message
is in two splits.

``fetch`` writes the cleaned pairs into the data cache as ``pairs.tsv`` (one
``source<TAB>target`` line per distinct pair) with ``stats.json`` (counts
after each step).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from zoo.data import cache, debian
from zoo.data.cmudict import split_by_key
from zoo.data.mo_catalog import read_mo
from zoo.data.text_pairs import read_tsv

LANGUAGES = {"de": "German", "fr": "French", "es": "Spanish"}
"""Target languages with a built-in dataset, by ISO 639-1 code."""

NAMES = tuple(f"l10n_en_{code}" for code in LANGUAGES)
"""The dataset names: ``l10n_en_de``, ``l10n_en_fr``, ``l10n_en_es``."""

GCC_PACKAGE = "gcc-12-locales"
FILE = "pairs.tsv"
STATS_FILE = "stats.json"
SPLIT_SEED = 20240602

_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>]*)?/?>")
_AMPERSAND_ACCELERATOR = re.compile(r"&(?![A-Za-z]+;)(?=[^\W\d_])")
_ENTITIES = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&apos;": "'"}
_ENTITY = re.compile("|".join(map(re.escape, _ENTITIES)))
_GCC_QUOTES = re.compile(r"%[<>']")
_LETTER = re.compile(r"[^\W\d_]")


def libreoffice_package(language: str) -> str:
    """The Debian package with LibreOffice's catalogs for ``language``."""
    return f"libreoffice-l10n-{check_language(language)}"


def check_language(language: str) -> str:
    """Return ``language`` if it has a built-in dataset, else raise.

    Raises:
        ValueError: naming the argument, the languages there are and the one
            received.
    """
    if language not in LANGUAGES:
        raise ValueError(
            "language: expected one of "
            f"{', '.join(f'{c} ({n})' for c, n in LANGUAGES.items())} "
            f"(datasets {', '.join(NAMES)}); received {language!r}"
        )
    return language


def language_of(name: str) -> str:
    """Return the target language of a dataset name such as ``"l10n_en_de"``.

    Raises:
        ValueError: if ``name`` is not one of ``NAMES`` (e.g. ``l10n_en_xx``).
    """
    if name not in NAMES:
        raise ValueError(
            f"data: expected one of the built-in language pairs "
            f"{', '.join(NAMES)}; received {name!r}"
        )
    return name.rsplit("_", 1)[1]


def _directory(language) -> Path:
    return cache.cache_path("l10n", f"en_{check_language(language)}")


def is_cached(language: str) -> bool:
    """Tell whether the cleaned pairs of ``language`` are in the data cache."""
    return cache.is_complete(_directory(language))


def clean_libreoffice(text: str) -> str:
    """Remove LibreOffice markup and accelerator marks; collapse whitespace.

    Examples:
        >>> from zoo.data.l10n import clean_libreoffice
        >>> clean_libreoffice("Ko_pieren")
        'Kopieren'
        >>> clean_libreoffice("~Save &As...<BR>Tom &amp; Jerry")
        'Save As... Tom & Jerry'
    """
    text = _TAG.sub(" ", text).replace("~", "")
    text = _AMPERSAND_ACCELERATOR.sub("", text)
    text = _ENTITY.sub(lambda match: _ENTITIES[match.group()], text)
    # A mnemonic is one underscore before the letter it underlines; strings
    # with several underscores name things (file_name) and stay as they are.
    if text.count("_") == 1:
        text = re.sub(r"(?<!\S)_(?=\w)|(?<=\w)_(?=\w)", "", text)
    return " ".join(text.split())


def clean_gcc(text: str) -> str:
    """Remove GCC's quoting directives ``%<``, ``%>``, ``%'``; collapse whitespace.

    Examples:
        >>> from zoo.data.l10n import clean_gcc
        >>> clean_gcc("%qE attribute ignored without %<-mistack%>\\n")
        '%qE attribute ignored without -mistack'
    """
    return " ".join(_GCC_QUOTES.sub("", text).split())


def _catalogs(root: Path, pattern: str) -> list[Path]:
    paths = sorted(root.glob(pattern))
    if not paths:
        raise RuntimeError(f"no .mo catalogs match {root / pattern}")
    return paths


def extract_pairs(language: str) -> tuple[dict[str, list[str]], dict]:
    """Read and clean the catalogs of ``language`` (fetching the packages).

    Returns:
        ``(pairs, stats)``: English source -> its distinct translations in
        catalog order, and the number of entries after each step.
    """
    check_language(language)
    libreoffice = debian.fetch_package(libreoffice_package(language))
    gcc = debian.fetch_package(GCC_PACKAGE)
    catalogs = [
        (path, clean_libreoffice)
        for path in _catalogs(
            libreoffice,
            f"usr/lib/libreoffice/program/resource/{language}/LC_MESSAGES/*.mo",
        )
    ] + [
        (path, clean_gcc)
        for path in _catalogs(gcc, f"usr/share/locale/{language}/LC_MESSAGES/*.mo")
    ]
    stats = {"entries": 0, "no_letter_or_empty": 0, "identical": 0}
    pairs: dict[str, list[str]] = {}
    for path, clean in catalogs:
        for entry in read_mo(path):
            stats["entries"] += 1
            source, target = clean(entry.source), clean(entry.translation)
            if not target or not _LETTER.search(source):
                stats["no_letter_or_empty"] += 1
            elif source == target:
                stats["identical"] += 1
            else:
                targets = pairs.setdefault(source, [])
                if target not in targets:
                    targets.append(target)
    stats["sources"] = len(pairs)
    stats["pairs"] = sum(map(len, pairs.values()))
    stats["catalogs"] = [path.name for path, _ in catalogs]
    return pairs, stats


def fetch(language: str) -> Path:
    """Write the cleaned pairs of ``language`` into the data cache, once.

    Args:
        language: ``"de"``, ``"fr"`` or ``"es"``.

    Returns:
        The directory holding ``pairs.tsv`` and ``stats.json``.

    Raises:
        ValueError: for a language without a built-in dataset.
        RuntimeError: if the Debian packages cannot be fetched.
    """
    target = _directory(language)
    if cache.is_complete(target):
        return target
    pairs, stats = extract_pairs(language)
    with cache.atomic_dir(target) as tmp:
        lines = [f"{s}\t{t}\n" for s in sorted(pairs) for t in pairs[s]]
        (tmp / FILE).write_text("".join(lines), encoding="utf-8")
        (tmp / STATS_FILE).write_text(json.dumps(stats, indent=1) + "\n")
    return target


def load_l10n(name: str, seed: int = SPLIT_SEED) -> dict[str, list]:
    """Return the fixed split of a built-in language pair.

    Args:
        name: ``"l10n_en_de"``, ``"l10n_en_fr"`` or ``"l10n_en_es"``.
        seed: seed of the split by source (keep it for published numbers).

    Returns:
        Split name -> list of ``(english, [translation, ...])``.

    Raises:
        ValueError: for any other name, e.g. ``"l10n_en_xx"``.

    Examples:
        >>> from zoo.data.l10n import load_l10n
        >>> splits = load_l10n("l10n_en_de")
        >>> dict(splits["train"])["Save As"]
        ['Speichern unter', 'Speichern als']
    """
    directory = fetch(language_of(name))
    # Lines, not the pairs read: reading merges pairs that NFC makes equal.
    lines = (directory / FILE).read_bytes().count(b"\n")
    stats = json.loads((directory / STATS_FILE).read_text())
    cache.check_count(directory / FILE, "lines", lines, stats["pairs"])
    pairs = read_tsv(directory / FILE)
    return {
        split: [(source, pairs[source]) for source in keys]
        for split, keys in split_by_key(pairs, seed=seed).items()
    }
