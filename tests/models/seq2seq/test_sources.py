"""Seq2seq data sources: the task each implies, ``?`` options and bad values."""

import pytest

from tests.cmudict_slice import write_cmudict_slice
from zoo.models.seq2seq.sources import load_splits, parse_source


@pytest.mark.parametrize(
    "source, task",
    [
        ("cmudict", "g2p"),
        ("l10n_en_fr", "translation"),
        ("debian_descriptions", "summarization"),
        ("pairs.tsv", "translation"),
        ("tfds:ted_hrlr_translate/pt_to_en", "translation"),
        ("pairs.tsv?task=summarization", "summarization"),
        ("pairs.tsv?task=g2p", "g2p"),
    ],
)
def test_the_source_decides_the_task(source, task):
    assert parse_source(source)[1].task == task


def test_options():
    location, options = parse_source(
        "data/p.tsv?vocabulary=separate&vocabulary_size=500&max_source_length=40"
    )
    assert location == "data/p.tsv"
    assert (options.vocabulary, options.vocabulary_size) == ("separate", 500)
    assert options.lengths() == (40, 64)
    assert parse_source("debian_descriptions")[1].lengths() == (128, 32)


@pytest.mark.parametrize(
    "source, message",
    [
        (
            "p.tsv?task=poetry",
            "task: expected one of g2p, translation, summarization; received 'poetry'",
        ),
        (
            "p.tsv?vocabulary=both",
            "vocabulary: expected shared or separate; received 'both'",
        ),
        (
            "p.tsv?vocabulary_size=-3",
            "vocabulary_size: expected a positive integer; received '-3'",
        ),
        (
            "p.tsv?vocabulary_size=10",
            "vocabulary_size: expected an integer from 64 to 1,000,000; received 10",
        ),
        (
            # The tokenizer trainer allocated for it and aborted the process.
            "p.tsv?vocabulary_size=99999999999999",
            "vocabulary_size: expected an integer from 64 to 1,000,000; received "
            "99999999999999",
        ),
        ("p.tsv?beam=4", "expected key=value with key one of task"),
        (
            "p.tsv?split=dev",
            "split: expected one of test, validation, train, all; received 'dev'",
        ),
    ],
)
def test_bad_options(source, message):
    with pytest.raises(
        ValueError, match=message.replace("?", r"\?").replace("(", r"\(")
    ):
        parse_source(source)


def test_language_pair_not_built_in():
    with pytest.raises(
        ValueError,
        match=r"expected one of the built-in language pairs .*received 'l10n_en_xx'",
    ):
        load_splits("l10n_en_xx")


def test_unknown_source():
    with pytest.raises(
        ValueError, match="data for seq2seq must be one of .*received 'x.csv'"
    ):
        load_splits("x.csv")


@pytest.mark.parametrize(
    "data, message",
    [
        ("l10n_en_xx", "data: expected one of the built-in language pairs"),
        ("pairs.tsv?task=poetry", "data option task: expected one of g2p"),
        (
            "tfds:no_such_set_xyz",
            "cannot load data source 'tfds:no_such_set_xyz': Dataset no_such_set_xyz"
            " not found.; expected the name of a TFDS text set",
        ),
        ("tfds:x.tsv", "(./tfds:NAME for a local file of that name)"),
    ],
)
def test_zoo_train_reports_bad_data_in_one_line(data, message, tmp_path, capsys):
    from zoo import cli

    code = cli.main(["train", "seq2seq", "--data", data, "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("zoo: error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_a_tsv_whose_name_starts_like_a_built_in_pair_is_a_file(tmp_path, monkeypatch):
    # Taken for a built-in language pair: zoo evaluate --data l10n_words.tsv
    # failed though zoo train (which makes the path absolute) read it.
    write_cmudict_slice(tmp_path / "l10n_words.tsv", 400)
    monkeypatch.chdir(tmp_path)
    # As `zoo train` reads it once train_run made it absolute.
    assert load_splits(str(tmp_path / "l10n_words.tsv"))
    # As `zoo evaluate DIR --data l10n_words.tsv` reads it.
    assert load_splits("l10n_words.tsv")
