"""Source/target text pairs from a ``.tsv`` file, grouped by source.

Each line is ``source<TAB>target``. A source may appear on several lines
(a word with several pronunciations): the targets are grouped into one list
of references, and the split is by source, so none leaks across splits.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import unicodedata
from pathlib import Path

from zoo.data.cmudict import split_by_key

MIN_SOURCES = 16
"""The fewest distinct sources for which the 90/5/5 split leaves no split empty.

With fewer, a rounded 5% is 0 (up to 10 sources) or the 90% takes all but
one source (11 to 15 sources).
"""

HEADERS = {("source", "target"), ("src", "tgt"), ("input", "output")}
"""First lines (in any case) read as a header row and skipped, not as a pair."""

_TAB = "\t"
# A field in CSV quoting that holds an escaped quote: "say ""hi""".
_ESCAPED_QUOTE = re.compile(r'"(?:[^"]|"")*""(?:[^"]|"")*"')


def read_tsv(path) -> dict[str, list[str]]:
    """Read ``source<TAB>target`` lines into source -> its targets.

    Blank lines and a header row (``source<TAB>target``) are skipped;
    surrounding whitespace is stripped and text is NFC-normalized. A file
    written with CSV quoting (a quoted field holding a tab, a line break or
    a doubled quote ``""``) is unquoted.

    Args:
        path: the ``.tsv`` file (UTF-8, or UTF-16 with a byte order mark; a
            UTF-8 byte order mark is dropped; may be gzip-compressed).

    Returns:
        Source -> list of distinct targets, in file order.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: for a folder, on a line without exactly one tab, an empty
            side, a file that is not UTF-8 (nor UTF-16 with a byte order
            mark), a broken gzip file, or one that holds no pairs; the message
            names the line.
    """
    path = Path(path)
    if path.is_dir():
        # Not "no such file": the path exists, as a folder.
        raise ValueError(
            f"{str(path)!r} is a folder; expected a .tsv file of "
            "source<TAB>target lines"
        )
    if not path.is_file():
        raise FileNotFoundError(f"no such .tsv file: {path}")
    rows = _rows(_decode(path, path.read_bytes()))
    if rows and tuple(f.strip().lower() for f in rows[0][1]) in HEADERS:
        rows = rows[1:]
    pairs: dict[str, list[str]] = {}
    for number, fields in rows:
        if len(fields) != 2 or not fields[0].strip() or not fields[1].strip():
            raise ValueError(
                f"{path}:{number}: expected 'source<TAB>target' with both sides "
                f"non-empty; received {_TAB.join(fields)!r}"
            )
        # NFC: the tokenizers read text in NFC, so an NFD copy of a source is
        # the same source (it must not land in another split), and NFD
        # references would not match the NFC outputs they are scored against.
        source, target = (unicodedata.normalize("NFC", f.strip()) for f in fields)
        targets = pairs.setdefault(source, [])
        if target not in targets:
            targets.append(target)
    if not pairs:
        raise ValueError(f"{path} holds no source<TAB>target lines")
    return pairs


def _decode(path, data) -> str:
    """The text of a file's bytes; a ``ValueError`` naming the line if not text."""
    if data.startswith(b"\x1f\x8b"):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as error:
            raise ValueError(
                f"{path}: expected a gzip-compressed .tsv; received a broken gzip "
                f"file ({error})"
            ) from None
    # UTF-16 (Excel's "Unicode text") is recognized by its byte order mark.
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        encoding = "utf-8"
    if encoding == "utf-8" and b"\x00" in data:
        # UTF-16 without a byte order mark reads as UTF-8 with a NUL after
        # each ASCII character: bytes that no text file holds.
        line = data.count(b"\n", 0, data.index(b"\x00")) + 1
        raise ValueError(
            f"{path}:{line}: expected UTF-8 text; received a NUL byte (a UTF-16 "
            "file without a byte order mark? convert it to UTF-8, e.g. with iconv)"
        )
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ValueError(
            f"{path}:{line}: expected {encoding.upper()} text; received the bytes "
            f"{data[error.start : error.end + 3]!r} at byte {error.start}, which "
            f"are not {encoding.upper()} (convert the file, e.g. with iconv)"
        ) from None
    # Editors on Windows start UTF-8 files with a byte order mark, which is no
    # part of the first source. (Stripped after decoding, so the byte offsets
    # of the error above stay the file's.)
    return text.removeprefix("\ufeff")


def _rows(text) -> list[tuple[int, list[str]]]:
    """``(line number, fields)`` of the non-blank lines, CSV quoting undone."""
    # Only \n, \r\n and \r end a line: str.splitlines also breaks at
    # characters that a sentence may hold (form feed, U+0085, U+2028).
    plain = [
        (number, line.split("\t"))
        for number, line in enumerate(re.split(r"\r\n|\r|\n", text), start=1)
        if line.strip()
    ]
    if '"' not in text:  # no quoting to undo; skips a second parse
        return plain
    quoted = _csv_rows(text)
    if quoted is not None and _is_quoted(plain, quoted):
        return quoted
    return plain


def _csv_rows(text):
    """The rows of ``text`` read with CSV quoting, or None where it is not CSV."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t", strict=True)
    rows, start = [], 1
    try:
        for fields in reader:
            if any(field.strip() for field in fields):
                rows.append((start, fields))
            start = reader.line_num + 1
    except csv.Error:
        return None
    return rows


def _is_quoted(plain, quoted) -> bool:
    """Whether a file readable both ways was written with CSV quoting.

    Only a doubled quote in a quoted field, or a quoted tab or line break,
    tells: a plain file may hold a sentence in quotes, ``"Hello"``.
    """
    if any(len(fields) != 2 for _, fields in quoted):
        return False
    if len(plain) != len(quoted) or any(len(fields) != 2 for _, fields in plain):
        return True
    return any(
        _ESCAPED_QUOTE.fullmatch(field.strip())
        for _, fields in plain
        for field in fields
    )


def load_tsv(path, seed=0, fold_case=False) -> dict[str, list]:
    """Split a ``.tsv`` of pairs 90/5/5 by source with a fixed seed.

    With ``fold_case``, sources that differ in case only are one source,
    lower-cased, with the targets of all: for G2P, whose tokenizer lower-cases
    the spelling, ``Word`` in the test split would be ``word`` of training.

    Returns:
        Split name -> list of ``(source, [target, ...])``.

    Raises:
        ValueError: as ``read_tsv``, and for a file with fewer than
            ``MIN_SOURCES`` distinct sources (a split would be empty: no
            validation loss, or a model trained that can never be tested).
    """
    pairs = _read_folded(path, fold_case)
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


def read_pairs(path, fold_case=False) -> list[tuple[str, list[str]]]:
    """Every ``(source, [target, ...])`` of a ``.tsv``, unsplit (for scoring).

    ``fold_case`` as ``load_tsv``. Raises ``ValueError`` as ``read_tsv``.
    """
    return list(_read_folded(path, fold_case).items())


def _read_folded(path, fold_case):
    pairs = read_tsv(path)
    return _fold_case(pairs) if fold_case else pairs


def _fold_case(pairs):
    """Merge the sources that differ in case only, keeping every target once."""
    folded: dict[str, list[str]] = {}
    for source, targets in pairs.items():
        merged = folded.setdefault(source.lower(), [])
        merged.extend(target for target in targets if target not in merged)
    return folded
