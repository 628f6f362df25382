"""Debian package descriptions → one-line synopses, for summarization.

Every Debian package has a one-line synopsis and a long description; Debian
publishes the English ones in the ``Translation-en`` index of each archive.
``fetch`` runs ``apt-get update -o Acquire::Languages=en`` into private
directories of the data cache (as ``zoo.data.debian`` does; the system's apt
state is never touched), reads the ``Translation-en`` and ``Packages``
indexes, and writes ``descriptions.tsv``: one line per package with its name,
its family, the synopsis and the long description flattened to one line.

The family keeps related packages together so that none straddles splits: a
package joins the family of its source package (``Source:`` in the
``Packages`` index), of another package whose name it extends by a suffix
(``foo-doc``, ``foo-dev``, ``foo-data`` join ``foo``), and of every package
with the same long description. ``load_debian_descriptions`` groups packages
by long description (its synopses become the references) and splits the
families 90/5/5 of the pairs with a fixed seed.
"""

from __future__ import annotations

import collections
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np

from zoo.data import cache, debian

FILE = "descriptions.tsv"
STATS_FILE = "stats.json"
SPLITS = ("train", "validation", "test")
FRACTIONS = (0.90, 0.05, 0.05)
SPLIT_SEED = 20240603
SUFFIXES = (
    "doc",
    "dev",
    "data",
    "common",
    "bin",
    "dbg",
    "examples",
    "utils",
    "tools",
    "plugins",
    "tests",
)
"""Name suffixes that make ``foo-SUFFIX`` part of the family of ``foo``."""

_APT_HELPER = "/usr/lib/apt/apt-helper"
_VERSION = re.compile(r"\s*\(.*\)$")


def _directory() -> Path:
    return cache.cache_path("debian_descriptions")


def is_cached() -> bool:
    """Tell whether the descriptions are in the data cache."""
    return cache.is_complete(_directory())


def _apt_state() -> Path:
    return cache.cache_path("apt-translations")


def update_translation_lists() -> Path:
    """Fill private apt lists with the ``Packages`` and ``Translation-en`` indexes.

    Returns:
        The lists directory.

    Raises:
        RuntimeError: if apt-get is missing or no ``Translation-en`` came down.
    """
    state = _apt_state()
    for sub in ("lists/partial", "cache/archives/partial"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    # Later -o options override the earlier ones of debian.apt_options().
    command = [
        "apt-get",
        "-q",
        *debian.apt_options(),
        "-o",
        f"Dir::State::Lists={state / 'lists'}",
        "-o",
        f"Dir::Cache={state / 'cache'}",
        "-o",
        "Acquire::Languages=en",
        "update",
    ]
    result = debian._run(command, package="(Translation-en index)")
    lists = state / "lists"
    if not list(lists.glob("*_i18n_Translation-en*")):
        raise RuntimeError(
            debian._describe_failure("(Translation-en index)", command, result)
        )
    return lists


def _read_index(path: Path) -> str:
    """Return the text of an apt index file, compressed (lz4, gz, xz) or not."""
    if path.suffix in ("", ".txt") or not Path(_APT_HELPER).is_file():
        return path.read_text(encoding="utf-8", errors="replace")
    # apt-helper decompresses whatever apt was configured to keep on disk.
    result = subprocess.run(
        [_APT_HELPER, "cat-file", str(path)], capture_output=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"cannot read apt index {path}: {_APT_HELPER} cat-file exited with "
            f"{result.returncode}: {result.stderr.decode(errors='replace')[-500:]}"
        )
    return result.stdout.decode("utf-8", errors="replace")


def parse_stanzas(text: str):
    """Yield the stanzas of a Debian control-style index as field -> value.

    Continuation lines (starting with a space) are kept, newline-joined, in
    the value of their field.
    """
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        field = None
        for line in block.splitlines():
            if line.startswith((" ", "\t")) and field is not None:
                fields[field] += "\n" + line
            elif ":" in line:
                field, _, value = line.partition(":")
                fields[field] = value.strip()
        if fields:
            yield fields


def flatten_description(lines: str) -> str:
    """Turn the continuation lines of a long description into one line of text.

    Each line loses its leading space, `` .`` paragraph separators go, and
    whitespace runs become one space.

    Examples:
        >>> from zoo.data.debian_descriptions import flatten_description
        >>> flatten_description(" A game.\\n .\\n  * fast\\n  * free")
        'A game. * fast * free'
    """
    kept = [line.strip() for line in lines.splitlines()]
    return " ".join(" ".join(line for line in kept if line != ".").split())


class _Families:
    """Union-find over package names."""

    def __init__(self):
        self.parent: dict[str, str] = {}

    def find(self, name):
        self.parent.setdefault(name, name)
        while self.parent[name] != name:
            self.parent[name] = self.parent[self.parent[name]]
            name = self.parent[name]
        return name

    def union(self, a, b):
        a, b = self.find(a), self.find(b)
        if a != b:
            # The smaller name leads, so families do not depend on the order.
            self.parent[max(a, b)] = min(a, b)


def read_indexes(lists: Path) -> list[dict]:
    """Read the packages with English descriptions and compute their families.

    Returns:
        One dict per package (sorted by name): ``package``, ``family``,
        ``synopsis``, ``description``.
    """
    # Sorted, ties by name, so that the result does not follow the order in
    # which the file system lists apt's files.
    translations = sorted(
        lists.glob("*_i18n_Translation-en*"),
        key=lambda p: (-p.stat().st_size, p.name),
    )
    records: dict[str, tuple[str, str]] = {}
    for path in translations:
        for fields in parse_stanzas(_read_index(path)):
            package = fields.get("Package")
            synopsis, _, long = fields.get("Description-en", "").partition("\n")
            description = flatten_description(long)
            synopsis = " ".join(synopsis.split())
            if package and synopsis and description and package not in records:
                records[package] = (synopsis, description)
    sources: dict[str, str] = {}
    for path in sorted(lists.glob("*_binary-*_Packages*")):
        for fields in parse_stanzas(_read_index(path)):
            package = fields.get("Package")
            if package and "Source" in fields:
                sources[package] = _VERSION.sub("", fields["Source"])
    families = _Families()
    by_description: dict[str, str] = {}
    for package, (_, description) in sorted(records.items()):
        families.union(package, "src:" + sources.get(package, package))
        stem, _, suffix = package.rpartition("-")
        if suffix in SUFFIXES and stem in records:
            families.union(package, stem)
        first = by_description.setdefault(description, package)
        families.union(package, first)
    return [
        {
            "package": package,
            "family": families.find(package).removeprefix("src:"),
            "synopsis": synopsis,
            "description": description,
        }
        for package, (synopsis, description) in sorted(records.items())
    ]


def fetch() -> Path:
    """Write ``descriptions.tsv`` into the data cache if it is not there yet.

    Returns:
        The directory holding ``descriptions.tsv`` and ``stats.json``.

    Raises:
        RuntimeError: if apt-get cannot fetch the indexes.
    """
    target = _directory()
    if is_cached():
        return target
    if shutil.which("apt-get") is None:
        raise RuntimeError(
            "the debian_descriptions dataset needs apt-get (a Debian or Ubuntu "
            "machine) to fetch Debian's Translation-en index"
        )
    # apt-get's own lock on the private lists makes a second concurrent
    # `apt-get update` fail at once, and the first process deletes the lists
    # the second one reads: one process fetches, the others wait and reuse.
    with cache.lock("debian_descriptions"):
        if is_cached():
            return target
        _fetch_locked(target)
    return target


def _fetch_locked(target: Path) -> None:
    rows = read_indexes(update_translation_lists())
    with cache.atomic_dir(target) as tmp:
        lines = [
            "\t".join((r["package"], r["family"], r["synopsis"], r["description"]))
            + "\n"
            for r in rows
        ]
        (tmp / FILE).write_text("".join(lines), encoding="utf-8")
        stats = {
            "packages": len(rows),
            "families": len({r["family"] for r in rows}),
            "descriptions": len({r["description"] for r in rows}),
        }
        (tmp / STATS_FILE).write_text(json.dumps(stats, indent=1) + "\n")
    # The indexes (~30 MB compressed) are not needed once the table is written.
    shutil.rmtree(_apt_state(), ignore_errors=True)


def read_descriptions() -> list[dict]:
    """Return the rows of ``descriptions.tsv`` (fetching it on first use)."""
    rows = []
    path = fetch() / FILE
    for line in path.read_text(encoding="utf-8").splitlines():
        package, family, synopsis, description = line.split("\t")
        rows.append(
            {
                "package": package,
                "family": family,
                "synopsis": synopsis,
                "description": description,
            }
        )
    stats = json.loads((path.parent / STATS_FILE).read_text())
    cache.check_count(path, "packages", len(rows), stats["packages"])
    return rows


def split_groups(sizes: dict, fractions=FRACTIONS, seed=SPLIT_SEED) -> dict:
    """Split whole groups so the splits hold about ``fractions`` of the items.

    The groups are permuted with ``seed`` (after sorting their keys) and cut
    where the running item count crosses each fraction.

    Args:
        sizes: group key -> number of items in it.
        fractions: train, validation and test shares of the items.
        seed: the permutation's seed.

    Returns:
        Split name -> set of group keys.
    """
    keys = sorted(sizes)
    order = np.random.default_rng(seed).permutation(len(keys))
    total = sum(sizes.values())
    bounds = np.cumsum(fractions)[:-1] * total
    splits = {name: set() for name in SPLITS}
    running = 0
    for index in order:
        key = keys[index]
        split = SPLITS[int(np.searchsorted(bounds, running, side="right"))]
        splits[split].add(key)
        running += sizes[key]
    return splits


def load_debian_descriptions(seed=SPLIT_SEED) -> dict[str, list]:
    """Return the fixed split: description -> the synopses that go with it.

    A long description shared by several packages is one example whose
    synopses are all references; its packages are one family, so the
    description is in one split only.

    Returns:
        Split name -> list of ``(description, [synopsis, ...])``, sorted by
        description.

    Examples:
        >>> from zoo.data.debian_descriptions import load_debian_descriptions
        >>> splits = load_debian_descriptions()
        >>> len(splits["test"]) > 2000
        True
    """
    examples: dict[str, list[str]] = {}
    family_of: dict[str, str] = {}
    for row in read_descriptions():
        synopses = examples.setdefault(row["description"], [])
        if row["synopsis"] not in synopses:
            synopses.append(row["synopsis"])
        family_of[row["description"]] = row["family"]
    sizes = collections.Counter(family_of.values())
    groups = split_groups(sizes, seed=seed)
    return {
        name: [
            (description, examples[description])
            for description in sorted(examples)
            if family_of[description] in groups[name]
        ]
        for name in SPLITS
    }
