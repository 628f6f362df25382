"""Translation and summarization end to end on small real subsets."""

import collections
import json
import subprocess
import sys
import textwrap

import keras
import pytest

from tests.backends import exports_saved_models
from zoo import registry, trainer
from zoo.data.word_piece_tokenizer import WordPieceTokenizer
from zoo.models.seq2seq import tasks
from zoo.models.seq2seq.family import load_splits

pytestmark = pytest.mark.slow  # trains a translation and a summarization model


@pytest.fixture(scope="module")
def family():
    return registry.get_family("seq2seq")


def constant_baseline(source, task):
    """Score the most common training target, output for every test input."""
    splits = load_splits(source)
    counts = collections.Counter(t for _, ts in splits["train"] for t in ts)
    constant = counts.most_common(1)[0][0]
    test = splits["test"]
    return tasks.score(
        task, [constant] * len(test), [ts for _, ts in test], [s for s, _ in test]
    )


def test_translation_learns(translation_run, l10n_tsv):
    run_dir, metrics = translation_run
    assert {"bleu", "chrf", "placeholder_match", "test_sentences"} <= set(metrics)
    baseline = constant_baseline(l10n_tsv, "translation")
    assert metrics["bleu"] > baseline["bleu"] + 2
    assert metrics["chrf"] > baseline["chrf"] + 5
    # Placeholders are single tokens, so even a tiny model copies most.
    assert metrics["placeholder_match"] > 0.25
    again = trainer.evaluate_run(run_dir)
    assert again["bleu"] == pytest.approx(metrics["bleu"])


def test_summarization_learns(summarization_run, descriptions_tsv):
    _, metrics = summarization_run
    assert {"rouge1", "rouge2", "rougeL", "test_sentences"} <= set(metrics)
    baseline = constant_baseline(descriptions_tsv, "summarization")
    assert metrics["rougeL"] > baseline["rougeL"] + 3
    assert metrics["rouge1"] >= metrics["rougeL"] >= 0


def test_task_and_tokenizers_are_saved(family, translation_run, summarization_run):
    for (run_dir, _), task in (
        (translation_run, "translation"),
        (summarization_run, "summarization"),
    ):
        source_tok, target_tok, info = family.tokenizers(run_dir)
        assert info["task"] == task
        assert isinstance(source_tok, WordPieceTokenizer)
        # One shared vocabulary by default.
        assert source_tok.vocabulary == target_tok.vocabulary
    info = json.loads((summarization_run[0] / "seq2seq_data.json").read_text())
    assert (info["source_sequence_length"], info["target_sequence_length"]) == (64, 16)


def test_bad_text_inputs(family, translation_run):
    run_dir, _ = translation_run
    model = keras.models.load_model(run_dir / "model.keras")
    with pytest.raises(
        ValueError,
        match=r"inputs\[1\]: expected non-empty text to translate; received ' '",
    ):
        family.transcribe(model, run_dir, ["Open", " "])
    long = " ".join(["Insert table"] * 40)
    with pytest.warns(UserWarning, match=r"inputs\[0\] is longer than the 32 tokens"):
        outputs = family.transcribe(model, run_dir, [long, "Save"])
    assert all(isinstance(o, str) and o for o in outputs)


def test_predict_prints_one_line_per_input(translation_run):
    text = trainer.predict_run(translation_run[0], ["Open file", "Delete %s?"])
    lines = text.split("\n")
    assert len(lines) == 2 and all(lines)
    # Blank lines of a file read with `zoo predict DIR -` keep their place.
    spaced = trainer.predict_run(translation_run[0], ["Open file", " ", "Delete %s?"])
    assert spaced.split("\n") == [lines[0], "", lines[1]]
    assert trainer.predict_run(translation_run[0], [""]) == ""


LOADER = textwrap.dedent(
    """
    import json, sys
    import tensorflow as tf
    import tensorflow_text  # registers the tokenizer ops the graph uses
    result = {}
    for path, texts in json.loads(sys.argv[1]):
        serve = tf.saved_model.load(path).signatures["serve"]
        out = serve(inputs=tf.constant(texts))
        result[path] = {
            "outputs": [s.decode() for s in out["outputs"].numpy()],
            "truncated": out["truncated"].numpy().tolist(),
        }
        try:
            serve(inputs=tf.constant([1, 2]))
            result[path]["numbers"] = "no error"
        except Exception as error:
            result[path]["numbers"] = type(error).__name__
    result["zoo_imported"] = "zoo" in sys.modules
    print(json.dumps(result))
    """
)


@exports_saved_models
def test_saved_models_serve_strings_in_a_fresh_process(
    family, translation_run, summarization_run, descriptions_tsv
):
    long_description = max(
        (s for s, _ in load_splits(str(descriptions_tsv))["test"]), key=len
    )
    jobs = [
        (translation_run[0], ["Open file", "Delete %s?", "", "Größe: 5 €"]),
        (summarization_run[0], [long_description, "A tool to convert PDF files.", ""]),
    ]
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            LOADER,
            json.dumps([[str(run / "saved_model"), texts] for run, texts in jobs]),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    served = json.loads(completed.stdout.strip().splitlines()[-1])
    assert not served["zoo_imported"]
    for run_dir, texts in jobs:
        result = served[str(run_dir / "saved_model")]
        model = keras.models.load_model(run_dir / "model.keras")
        expected, truncated = family.decode(model, run_dir, texts)
        assert result["outputs"] == expected
        assert result["truncated"] == [i in truncated for i in range(len(texts))]
        assert result["outputs"][texts.index("")] == ""  # empty in, empty out
        assert result["numbers"] != "no error"
    summarization = served[str(summarization_run[0] / "saved_model")]
    assert summarization["truncated"][0]  # the longest description is cut


def test_tfds_summarization_source(family, tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=30):
        data = family.prepare_data(
            "tfds:cnn_dailymail?task=summarization&vocabulary_size=100", 8, tmp_path
        )
    assert data.info["task"] == "summarization"
    assert data.info["split_sizes"]["train"] > 0


def test_decode_overrides_the_runs_search_options(
    family, summarization_run, monkeypatch
):
    import zoo.decoding

    searches = []

    # Recorded per search, not per decoder: the family reuses a decoder.
    class RecordingDecoder(zoo.decoding.Decoder):
        def __init__(self, model, **options):
            self.options = options
            super().__init__(model, **options)

        def __call__(self, *args, **kwargs):
            searches.append(self.options)
            return super().__call__(*args, **kwargs)

    monkeypatch.setattr(zoo.decoding, "Decoder", RecordingDecoder)
    run_dir = summarization_run[0]
    model = keras.models.load_model(run_dir / "model.keras")
    texts = ["A tool to convert PDF files."]
    stored = family._search_options(run_dir)
    outputs, _ = family.decode(model, run_dir, texts)
    assert searches[-1] == stored
    family.decode(model, run_dir, texts, length_penalty=1.7)
    assert searches[-1] == dict(stored, length_penalty=1.7)
    family.decode(model, run_dir, texts, beam_size=1)
    assert searches[-1] == dict(stored, beam_size=1)
    # Passing the stored penalty explicitly decodes as the run does.
    again, _ = family.decode(
        model, run_dir, texts, length_penalty=stored["length_penalty"]
    )
    assert again == outputs
