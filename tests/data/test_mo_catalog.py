"""The .mo reader on Debian's real catalogs, and on files that are not catalogs."""

import gettext
import struct

import pytest

from zoo.data import debian
from zoo.data.mo_catalog import read_mo


@pytest.fixture(scope="module")
def cpplib_de():
    root = debian.fetch_package("gcc-12-locales")
    return root / "usr/share/locale/de/LC_MESSAGES/cpplib-12.mo"


def test_agrees_with_stdlib_gettext(cpplib_de):
    entries = read_mo(cpplib_de)
    assert len(entries) > 200
    with open(cpplib_de, "rb") as handle:
        reference = gettext.GNUTranslations(handle)
    for entry in entries:
        assert reference.gettext(entry.source) == entry.translation
    assert all(entry.source and entry.translation for entry in entries)


def test_libreoffice_contexts(tmp_path):
    root = debian.fetch_package("libreoffice-l10n-de")
    path = root / "usr/lib/libreoffice/program/resource/de/LC_MESSAGES/cui.mo"
    entries = read_mo(path)
    # LibreOffice puts the widget id in the context, never in the message.
    assert sum(bool(entry.context) for entry in entries) > 0.9 * len(entries)
    assert not any("\x04" in entry.source for entry in entries)


def test_not_a_catalog(tmp_path):
    short = tmp_path / "short.mo"
    short.write_bytes(b"\x00" * 10)
    with pytest.raises(ValueError, match="expected a gettext .mo catalog"):
        read_mo(short)
    wrong = tmp_path / "wrong.mo"
    wrong.write_bytes(struct.pack("<7I", 0x12345678, 0, 0, 28, 28, 0, 0))
    with pytest.raises(ValueError, match="magic 0x950412de; received 0x12345678"):
        read_mo(wrong)
    outside = tmp_path / "outside.mo"
    outside.write_bytes(struct.pack("<7I", 0x950412DE, 0, 5, 28, 68, 0, 0))
    with pytest.raises(ValueError, match="outside the file"):
        read_mo(outside)
