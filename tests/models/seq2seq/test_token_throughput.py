"""`zoo train seq2seq` logs target tokens per second, counted exactly."""

import csv

import numpy as np
import pytest

from tests.cmudict_slice import write_cmudict_slice
from zoo import registry, trainer
from zoo.family import PreparedData


@pytest.fixture(scope="module")
def small_cmudict(tmp_path_factory):
    """Every 300th real CMUdict word: ~450 words, seconds an epoch."""
    folder = tmp_path_factory.mktemp("cmudict")
    return write_cmudict_slice(folder / "cmudict_slice.tsv", 300)


def test_train_tokens_are_the_non_padding_labels_of_one_pass(small_cmudict, tmp_path):
    family = registry.get_family("seq2seq")
    data = family.prepare_data(f"{small_cmudict}?task=g2p", 16, tmp_path)
    labels = [np.asarray(y) for _, y in data.train.as_numpy_iterator()]
    # Length buckets pad each batch to its own width: only real tokens count.
    assert sum(int(np.count_nonzero(y)) for y in labels) == data.train_tokens
    assert sum(len(y) for y in labels) == data.train_examples
    assert data.train_tokens < sum(y.size for y in labels)


def test_tokens_per_example_is_none_where_no_tokens_are_counted():
    assert trainer.tokens_per_example(PreparedData(None, train_examples=10)) is None
    counted = PreparedData(None, train_examples=4, train_tokens=10)
    assert trainer.tokens_per_example(counted) == 2.5


def test_zoo_train_logs_tokens_per_second(small_cmudict, tmp_path, monkeypatch):
    family = registry.get_family("seq2seq")
    # Only the training logs are checked: evaluation and export add minutes.
    monkeypatch.setattr(type(family), "evaluate", lambda self, *args: {})
    monkeypatch.setattr("zoo.export.backend_can_export", lambda: False)
    source = f"{small_cmudict}?task=g2p"
    out = tmp_path / "run"
    trainer.train_run(family, "tiny", source, out, epochs=2, batch_size=16)
    with open(out / "history.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 2
    data = family.prepare_data(source, 16, out)
    for row in rows:
        ratio = float(row["tokens_per_second"]) / float(row["examples_per_second"])
        assert ratio == pytest.approx(data.train_tokens / data.train_examples)
