"""Debian descriptions → synopses: parsing, families and the split."""

import collections

import pytest

from zoo.data import debian_descriptions as dd
from zoo.data import registry


@pytest.fixture(scope="module")
def rows():
    return dd.read_descriptions()


@pytest.fixture(scope="module")
def splits():
    return dd.load_debian_descriptions()


def test_registered_and_sizes(rows, splits):
    assert registry.get("debian_descriptions").implemented
    assert registry.is_cached("debian_descriptions")
    assert 55_000 < len(rows) < 75_000  # 64,511 packages in bookworm
    total = sum(map(len, splits.values()))
    assert 55_000 < total < 70_000
    for name, share in zip(dd.SPLITS, dd.FRACTIONS):
        assert abs(len(splits[name]) / total - share) < 0.01
    lengths = sorted(len(d.split()) for d, _ in splits["train"])
    assert 30 < lengths[len(lengths) // 2] < 60  # median ~45 words


def test_no_description_or_family_across_splits(rows, splits):
    split_of = {d: name for name, pairs in splits.items() for d, _ in pairs}
    assert len(split_of) == sum(map(len, splits.values()))
    family_splits = collections.defaultdict(set)
    for row in rows:
        family_splits[row["family"]].add(split_of[row["description"]])
    assert all(len(names) == 1 for names in family_splits.values())


def test_doc_and_dev_packages_stay_with_their_package(rows, splits):
    split_of = {d: name for name, pairs in splits.items() for d, _ in pairs}
    package_split = {r["package"]: split_of[r["description"]] for r in rows}
    checked = 0
    for package, split in package_split.items():
        stem, _, suffix = package.rpartition("-")
        if suffix in ("doc", "dev") and stem in package_split:
            assert package_split[stem] == split, package
            checked += 1
    assert checked > 500


def test_parse_and_flatten():
    text = (
        "Package: foo\nDescription-md5: 0\nDescription-en: Foo tool\n"
        " Foo does things.\n .\n  * fast\n\nPackage: bar\n"
    )
    stanzas = list(dd.parse_stanzas(text))
    assert [s["Package"] for s in stanzas] == ["foo", "bar"]
    synopsis, _, long = stanzas[0]["Description-en"].partition("\n")
    assert synopsis == "Foo tool"
    assert dd.flatten_description(long) == "Foo does things. * fast"


def test_split_groups_keeps_groups_whole():
    sizes = {f"g{i}": 1 + i % 7 for i in range(2000)}
    groups = dd.split_groups(sizes, seed=1)
    assert set().union(*groups.values()) == set(sizes)
    assert sum(map(len, groups.values())) == len(sizes)
    items = {name: sum(sizes[g] for g in keys) for name, keys in groups.items()}
    assert abs(items["train"] / sum(sizes.values()) - 0.9) < 0.01


def test_read_indexes_does_not_follow_the_listing_order(tmp_path, monkeypatch):
    """Two Packages files that disagree on a package's source, and two
    Translation files of one size: the families must not depend on the order
    in which the file system lists them."""
    (tmp_path / "a_binary-amd64_Packages").write_text(
        "Package: foo\nSource: left\n\nPackage: bar\nSource: left\n"
    )
    (tmp_path / "b_binary-all_Packages").write_text(
        "Package: foo\nSource: right\n\nPackage: baz\nSource: right\n"
    )
    for name, synopsis in (("a", "first"), ("b", "other")):
        (tmp_path / f"{name}_i18n_Translation-en").write_text(
            "".join(
                f"Package: {package}\nDescription-en: {synopsis} {package}\n"
                f" long text of {package}\n\n"
                for package in ("foo", "bar", "baz")
            )
        )
    listed_in_order = dd.read_indexes(tmp_path)
    real_glob = type(tmp_path).glob
    monkeypatch.setattr(
        type(tmp_path),
        "glob",
        lambda self, pattern: reversed(sorted(real_glob(self, pattern))),
    )
    assert dd.read_indexes(tmp_path) == listed_in_order
