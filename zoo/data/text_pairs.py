"""Source/target text pairs from a ``.tsv`` file, grouped by source.

Each line is ``source<TAB>target``. A source may appear on several lines
(a word with several pronunciations): the targets are grouped into one list
of references, and the split is by source, so none leaks across splits.
"""

from __future__ import annotations

import re
from pathlib import Path

from zoo.data.cmudict import split_by_key

MIN_SOURCES = 16
"""The fewest distinct sources for which the 90/5/5 split leaves no split empty.

With fewer, a rounded 5% is 0 (up to 10 sources) or the 90% takes all but
one source (11 to 15 sources).
"""


def read_tsv(path) -> dict[str, list[str]]:
    """Read ``source<TAB>target`` lines into source -> its targets.

    Blank lines are skipped; surrounding whitespace is stripped.

    Args:
        path: the ``.tsv`` file (UTF-8; a byte order mark is dropped).

    Returns:
        Source -> list of distinct targets, in file order.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: on a line without exactly one tab, an empty side, a file
            that is not UTF-8 or holds no pairs; the message names the line.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such .tsv file: {path}")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ValueError(
            f"{path}:{line}: expected UTF-8 text; received the bytes "
            f"{data[error.start : error.end + 3]!r} at byte {error.start}, which "
            "are not UTF-8 (convert the file, e.g. with iconv)"
        ) from None
    # Read as utf-8-sig: editors on Windows start UTF-8 files with a byte
    # order mark, which is no part of the first source. (Stripped after
    # decoding, so the byte offsets of the error above stay the file's.)
    text = text.removeprefix("\ufeff")
    pairs: dict[str, list[str]] = {}
    # Only \n, \r\n and \r end a line: str.splitlines also breaks at
    # characters that a sentence may hold (form feed, U+0085, U+2028).
    for number, line in enumerate(re.split(r"\r\n|\r|\n", text), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            raise ValueError(
                f"{path}:{number}: expected 'source<TAB>target' with both sides "
                f"non-empty; received {line!r}"
            )
        source, target = fields[0].strip(), fields[1].strip()
        targets = pairs.setdefault(source, [])
        if target not in targets:
            targets.append(target)
    if not pairs:
        raise ValueError(f"{path} holds no source<TAB>target lines")
    return pairs


def load_tsv(path, seed=0) -> dict[str, list]:
    """Split a ``.tsv`` of pairs 90/5/5 by source with a fixed seed.

    Returns:
        Split name -> list of ``(source, [target, ...])``.

    Raises:
        ValueError: as ``read_tsv``, and for a file with fewer than
            ``MIN_SOURCES`` distinct sources (a split would be empty: no
            validation loss, or a model trained that can never be tested).
    """
    pairs = read_tsv(path)
    if len(pairs) < MIN_SOURCES:
        count = sum(map(len, pairs.values()))
        raise ValueError(
            f"{path}: expected at least {MIN_SOURCES} distinct sources so that "
            "the 90/5/5 train/validation/test split leaves none empty; received "
            f"{count} pairs with {len(pairs)} distinct sources"
        )
    return {
        name: [(source, pairs[source]) for source in split]
        for name, split in split_by_key(pairs, seed=seed).items()
    }
