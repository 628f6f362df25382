"""Read GNU gettext ``.mo`` message catalogs into (context, English, translation).

The format (GNU gettext manual, "The Format of GNU MO Files") is a header of
seven 32-bit words (magic, revision, number of strings, offset of the
original-string table, offset of the translation table, hash table size and
offset), then two tables of (length, offset) pairs into the string data. The
byte order is the one that makes the magic read ``0x950412de``.

Stdlib ``gettext`` reads the same files but keeps only a lookup dictionary
behind a private attribute and folds contexts into the keys; reading the
tables directly gives every entry with its context and plural forms, which
the translation datasets need.
"""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

MAGIC = 0x950412DE
_CONTEXT_SEPARATOR = "\x04"
_PLURAL_SEPARATOR = "\x00"


@dataclasses.dataclass(frozen=True)
class CatalogEntry:
    """One message of a catalog.

    Attributes:
        context: the ``msgctxt`` (LibreOffice puts a widget id there), or "".
        source: the English ``msgid`` (singular form for plurals).
        translation: the translated ``msgstr`` (first form for plurals).
    """

    context: str
    source: str
    translation: str


def read_mo(path) -> list[CatalogEntry]:
    """Return the entries of a ``.mo`` file, without the header entry.

    Entries with an empty translation (untranslated) are left out.

    Args:
        path: the ``.mo`` file.

    Returns:
        The entries, in the file's (sorted by ``msgid``) order.

    Raises:
        ValueError: if the file is not a ``.mo`` catalog (wrong magic, tables
            outside the file) or its strings are not UTF-8.

    Examples:
        >>> from zoo.data.mo_catalog import read_mo
        >>> entries = read_mo("de/LC_MESSAGES/cpplib-12.mo")  # doctest: +SKIP
        >>> entries[0].source, entries[0].translation  # doctest: +SKIP
        ('"%s" is not a valid filename', '»%s« ist kein gültiger Dateiname')
    """
    path = Path(path)
    data = path.read_bytes()
    if len(data) < 28:
        raise ValueError(
            f"{path}: expected a gettext .mo catalog (at least 28 bytes); "
            f"received {len(data)} bytes"
        )
    for order in ("<", ">"):
        if struct.unpack(order + "I", data[:4])[0] == MAGIC:
            break
    else:
        raise ValueError(
            f"{path}: expected a gettext .mo catalog with magic 0x{MAGIC:08x}; "
            f"received 0x{struct.unpack('<I', data[:4])[0]:08x}"
        )
    _, count, originals, translations = struct.unpack(order + "4I", data[4:20])

    def string(table, index):
        length, offset = struct.unpack_from(order + "2I", data, table + 8 * index)
        if offset + length > len(data):
            raise ValueError(
                f"{path}: string {index} lies outside the file (offset {offset}, "
                f"length {length}, file size {len(data)})"
            )
        try:
            return data[offset : offset + length].decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError(f"{path}: string {index} is not UTF-8: {error}") from None

    if max(originals, translations) + 8 * count > len(data):
        raise ValueError(
            f"{path}: its tables of {count} strings lie outside the file of "
            f"{len(data)} bytes"
        )
    entries = []
    for index in range(count):
        source = string(originals, index)
        if not source:
            continue  # The header (Project-Id-Version, Plural-Forms, ...).
        context, _, source = source.rpartition(_CONTEXT_SEPARATOR)
        translation = string(translations, index).split(_PLURAL_SEPARATOR)[0]
        if translation:
            entries.append(
                CatalogEntry(context, source.split(_PLURAL_SEPARATOR)[0], translation)
            )
    return entries
