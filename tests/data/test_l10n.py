"""The l10n_en_* translation pairs from Debian's catalogs: cleaning and split."""

import pytest

from zoo.data import debian, l10n, registry
from zoo.data.mo_catalog import read_mo
from zoo.data.word_piece_tokenizer import placeholders


@pytest.fixture(scope="module")
def splits():
    return l10n.load_l10n("l10n_en_de")


def test_registered_and_cached():
    for name in l10n.NAMES:
        assert registry.get(name).implemented
    registry.fetch("l10n_en_de")
    assert registry.is_cached("l10n_en_de")


def test_split_is_by_source_and_fixed(splits):
    sizes = {name: len(pairs) for name, pairs in splits.items()}
    total = sum(sizes.values())
    assert 30_000 < total < 36_000  # 32,897 sources from bookworm's catalogs
    assert abs(sizes["test"] / total - 0.05) < 0.002
    seen = {}
    for name, pairs in splits.items():
        for source, _ in pairs:
            assert seen.setdefault(source, name) == name  # no source in two splits
    assert l10n.load_l10n("l10n_en_de") == splits


def test_pairs_are_clean(splits):
    for pairs in splits.values():
        for source, targets in pairs:
            assert source == " ".join(source.split()) and targets
            for target in targets:
                assert target and target != source
                assert "%<" not in target and "<BR>" not in target
                assert "&amp;" not in source


def test_placeholders_survive_cleaning(splits):
    with_placeholders = [
        (s, ts[0]) for pairs in splits.values() for s, ts in pairs if placeholders(s)
    ]
    assert len(with_placeholders) > 3000
    kept = sum(
        sorted(placeholders(s)) == sorted(placeholders(t)) for s, t in with_placeholders
    )
    # Translators carry placeholders through; a few reword (%d → "eins").
    assert kept / len(with_placeholders) > 0.9


def test_libreoffice_markup_and_accelerators_removed():
    root = debian.fetch_package(l10n.libreoffice_package("de"))
    entries = read_mo(
        root / "usr/lib/libreoffice/program/resource/de/LC_MESSAGES/sw.mo"
    )
    cleaned = [l10n.clean_libreoffice(e.translation) for e in entries]
    assert sum("~" in e.translation or "_" in e.translation for e in entries) > 100
    assert not any("~" in text or "<BR>" in text for text in cleaned)
    assert l10n.clean_libreoffice("Ko_pieren") == "Kopieren"
    assert l10n.clean_libreoffice("file_name_here") == "file_name_here"
    assert l10n.clean_libreoffice("~Find & Replace...") == "Find & Replace..."
    assert l10n.clean_libreoffice("&Open<BR>now") == "Open now"
    assert l10n.clean_gcc("%<-fpic%> and\n  %qs") == "-fpic and %qs"


def test_language_pair_not_built_in():
    with pytest.raises(ValueError, match=r"data: expected one of .*l10n_en_de.*"):
        l10n.load_l10n("l10n_en_xx")
    with pytest.raises(ValueError, match=r"received 'l10n_en_xx'"):
        l10n.load_l10n("l10n_en_xx")
    with pytest.raises(
        ValueError, match=r"language: expected one of de .*received 'xx'"
    ):
        l10n.fetch("xx")
