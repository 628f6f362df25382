"""The seq2seq family end to end on a real CMUdict slice: data, train, use."""

import io
import json
from pathlib import Path

import numpy as np
import pytest

from zoo import registry, trainer
from zoo.data import tokenizers as toks

pytestmark = pytest.mark.slow  # uses the trained CMUdict run


@pytest.fixture(scope="module")
def family():
    return registry.get_family("seq2seq")


def test_registered(family):
    assert family.name == "seq2seq" and family.default_data == "cmudict"
    assert family.default_preset == "tiny" and "tiny" in family.presets


def test_prepare_data_saves_and_reuses_tokenizers(family, cmudict_tsv, tmp_path):
    first = family.prepare_data(f"{cmudict_tsv}?task=g2p", 64, tmp_path, seed=0)
    saved = (tmp_path / "source_tokenizer.json").read_text()
    assert json.loads(saved)["split"] == "characters"
    assert first.info["target_vocabulary_size"] == 4 + 39  # ARPAbet w/o stress
    # A second call (evaluate, resume) reads the saved tokenizers back even
    # when the data would fit another vocabulary.
    small = tmp_path / "other.tsv"
    small.write_text("".join(f"w{i}\tZZ\n" for i in range(40)))
    again = family.prepare_data(str(small), 64, tmp_path, seed=0)
    assert again.info["target_vocabulary_size"] == first.info["target_vocabulary_size"]
    assert (tmp_path / "source_tokenizer.json").read_text() == saved


def test_train_batches_are_bucketed_finite_and_seeded(family, cmudict_tsv, tmp_path):
    data = family.prepare_data(f"{cmudict_tsv}?task=g2p", 64, tmp_path, seed=0)
    batches = list(data.train.as_numpy_iterator())
    assert len(batches) == data.train.cardinality().numpy()
    real = sum(int((y != 0).sum()) for _, y in batches)
    padded = sum(y.size for _, y in batches)
    # Bucketing keeps padding low: each batch is padded to a 4-token bucket.
    assert real / padded > 0.7
    for inputs, labels in batches[:5]:
        decoder = inputs["decoder_token_ids"]
        assert (decoder[:, 0] == toks.START_ID).all()
        # The decoder reads the labels shifted right (teacher forcing).
        shifted = np.where(decoder[:, 1:] != 0, labels[:, :-1], 0)
        np.testing.assert_array_equal(decoder[:, 1:], shifted)

    def first_rows(dataset):
        return [x["encoder_token_ids"][0].tolist() for x, _ in dataset][:5]

    order = first_rows(batches)
    again = family.prepare_data(f"{cmudict_tsv}?task=g2p", 64, tmp_path / "b", seed=0)
    assert first_rows(again.train.as_numpy_iterator()) == order
    # The same dataset reshuffles on every pass.
    assert first_rows(data.train.as_numpy_iterator()) != order


def test_bad_source(family, tmp_path):
    with pytest.raises(ValueError, match="data for seq2seq must be"):
        family.prepare_data("pairs.csv", 8, tmp_path)


def test_training_learns_and_evaluates(trained_run):
    run_dir, metrics = trained_run
    assert set(metrics) >= {"wer", "per", "test_words"}
    # Untrained models score WER 1.0 and PER near 1; after a few epochs on
    # 6k words the tiny model is far better (still far from the full data).
    assert metrics["per"] < 0.5
    assert metrics["wer"] < 0.95
    again = trainer.evaluate_run(run_dir)
    assert again["wer"] == pytest.approx(metrics["wer"])


def test_predict_prints_one_line_per_word(trained_run, monkeypatch, capsys):
    run_dir, _ = trained_run
    text = trainer.predict_run(run_dir, ["cat", "Hello", ""], ["--beam-size", "3"])
    lines = text.split("\n")
    assert len(lines) == 3
    assert lines[0].split()[0] == "cat" and len(lines[0].split()) > 2
    assert lines[2].strip() == ""  # an empty word has an empty pronunciation
    # `zoo predict DIR -` reads the words from standard input, line by line.
    from zoo import cli

    monkeypatch.setattr("sys.stdin", io.StringIO("cat\nHello\n\n"))
    assert cli.main(["predict", str(run_dir), "-", "--beam-size", "3"]) == 0
    assert capsys.readouterr().out.rstrip("\n").split("\n") == lines
    # Named as typed, not as the decoder's `beam_size` argument.
    with pytest.raises(ValueError, match=r"`--beam-size` must be .*received 0"):
        trainer.predict_run(run_dir, ["cat"], ["--beam-size", "0"])


def test_bad_words(family, trained_run, trained_model):
    run_dir, _ = trained_run
    out = family.transcribe(trained_model, run_dir, ["abc123", "x!?", " dog "])
    assert all(isinstance(o, str) and o for o in out)  # unknown symbols -> [UNK]
    assert out[2] == family.transcribe(trained_model, run_dir, ["dog"])[0]
    with pytest.raises(ValueError, match="this model reads at most"):
        family.transcribe(trained_model, run_dir, ["a" * 100])


def test_tfds_source(family, tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=40):
        data = family.prepare_data("tfds:ted_hrlr_translate/pt_to_en", 8, tmp_path)
    assert data.info["split_sizes"]["train"] > 0
    assert next(iter(data.train))[0]["encoder_token_ids"].shape[0] <= 8


def test_zoo_predict_in_a_fresh_process(trained_run):
    import subprocess
    import sys

    run_dir, _ = trained_run
    completed = subprocess.run(
        [sys.executable, "-m", "zoo.cli", "predict", str(run_dir), "cat", "dog"],
        capture_output=True,
        text=True,
        timeout=300,
        # ``-m`` finds the repository's ``zoo`` from the working directory.
        cwd=Path(__file__).resolve().parents[3],
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    lines = completed.stdout.strip().split("\n")
    assert [line.split()[0] for line in lines] == ["cat", "dog"]


def test_evaluate_scores_a_whole_held_out_file(trained_run, tmp_path):
    from zoo.data.cmudict import read_pronunciations

    run_dir, _ = trained_run
    words = read_pronunciations()
    # Ten real words the slice (every 20th word) never saw: fewer than a
    # file needs to be split, so only ?split=all can score them.
    held_out = sorted(words)[1::20][:10]
    path = tmp_path / "held_out.tsv"
    path.write_text("".join(f"{w}\t{words[w][0]}\n" for w in held_out))
    with pytest.raises(ValueError, match="at least 16 distinct sources"):
        trainer.evaluate_run(run_dir, data=str(path))
    metrics = trainer.evaluate_run(run_dir, data=f"{path}?split=all")
    assert metrics["test_words"] == 10
    assert 0 <= metrics["wer"] <= 1


def test_evaluate_scores_the_split_asked_for(trained_run, cmudict_tsv):
    from zoo.models.seq2seq.sources import load_splits

    run_dir, metrics = trained_run
    splits = load_splits(cmudict_tsv, fold_case=True)
    validation = trainer.evaluate_run(
        run_dir, data=f"{cmudict_tsv}?task=g2p&split=validation"
    )
    assert validation["test_words"] == len(splits["validation"])
    # The two 5% splits may be equally large: their error rates tell them apart.
    assert validation["per"] != pytest.approx(metrics["per"], abs=1e-9)
    test = trainer.evaluate_run(run_dir, data=f"{cmudict_tsv}?split=test")
    assert test["wer"] == pytest.approx(metrics["wer"])


@pytest.mark.parametrize(
    "options, message",
    [
        ("?task=translation", "trained for task 'g2p'; expected task=g2p"),
        ("?task=g2p&max_source_length=8", "max_source_length=8 .* fixed by its data"),
        ("?task=g2p&vocabulary=separate", "vocabulary=separate .* fixed by its data"),
    ],
)
def test_evaluate_refuses_options_the_run_was_not_fit_with(
    trained_run, cmudict_tsv, options, message
):
    with pytest.raises(ValueError, match=message):
        trainer.evaluate_run(trained_run[0], data=f"{cmudict_tsv}{options}")


@pytest.mark.parametrize(
    "trained_data, given, refused",
    [
        # The defaults a run used, given explicitly, are no change.
        ("l10n_en_de", "max_source_length=64&max_target_length=64", False),
        ("l10n_en_de", "vocabulary_size=8000&vocabulary=shared", False),
        ("debian_descriptions", "max_source_length=128", False),
        ("l10n_en_de", "max_source_length=32", True),
        ("pairs.tsv?max_target_length=32", "max_target_length=64", True),
    ],
)
def test_options_are_compared_with_the_values_the_run_used(
    tmp_path, trained_data, given, refused
):
    from zoo.models.seq2seq.family import _check_fixed_options
    from zoo.models.seq2seq.sources import parse_source

    (tmp_path / "run.json").write_text(json.dumps({"data": trained_data}))
    location = trained_data.partition("?")[0]
    source = f"{location}?{given}"
    task = parse_source(trained_data)[1].task

    def check():
        _check_fixed_options(source, parse_source(source)[1], task, tmp_path)

    if refused:
        with pytest.raises(ValueError, match="fixed by its data"):
            check()
    else:
        check()


def test_split_is_refused_for_a_new_run(family, cmudict_tsv, tmp_path):
    with pytest.raises(ValueError, match="split=all .* expected it on a trained run"):
        family.prepare_data(f"{cmudict_tsv}?split=all", 8, tmp_path / "new")
