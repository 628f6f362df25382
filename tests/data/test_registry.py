import pytest

from zoo.data import registry

DESIGN_NAMES = {
    "fashion_mnist",
    "cmudict",
    "l10n_en_de",
    "debian_descriptions",
    "elecdemand",
    "seattle_weather",
}


def test_every_design_dataset_is_listed():
    assert DESIGN_NAMES <= set(registry.DATASETS)
    for name, info in registry.DATASETS.items():
        assert info.name == name
        assert info.what and info.source and info.size


def test_fashion_mnist_is_implemented():
    assert registry.get("fashion_mnist").implemented


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown dataset 'nope'.*fashion_mnist"):
        registry.get("nope")
    with pytest.raises(ValueError, match="unknown dataset"):
        registry.is_cached("nope")


def test_unimplemented_dataset_is_never_cached_and_cannot_be_fetched():
    unimplemented = [n for n, i in registry.DATASETS.items() if not i.implemented]
    if not unimplemented:
        pytest.skip("every dataset is implemented")
    name = unimplemented[0]
    assert registry.is_cached(name) is False
    with pytest.raises(NotImplementedError, match=f"'{name}'.*not implemented yet"):
        registry.fetch(name)


def test_format_table_has_a_row_per_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_DATA_DIR", str(tmp_path))
    table = registry.format_table()
    lines = table.splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "SOURCE", "CACHED"]
    for name in registry.DATASETS:
        assert any(line.startswith(name + " ") for line in lines)
    assert f"Data directory: {tmp_path}" in table
    fashion = next(line for line in lines if line.startswith("fashion_mnist "))
    assert fashion.endswith("  no")
