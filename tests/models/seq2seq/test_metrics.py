"""WER and PER by hand; BLEU, chrF and ROUGE against sacrebleu and rouge-score."""

import pytest

from zoo.models.seq2seq.metrics import bleu_chrf, edit_distance, error_rates, rouge


def test_edit_distance_by_hand():
    assert edit_distance([], []) == 0
    assert edit_distance("K AE T".split(), []) == 3
    assert edit_distance([], "K AE T".split()) == 3
    assert edit_distance("K AE T".split(), "K AE T".split()) == 0
    # kitten -> sitting: 2 substitutions, 1 insertion.
    assert edit_distance(list("kitten"), list("sitting")) == 3
    assert edit_distance("HH AH L OW".split(), "HH EH L OW".split()) == 1


def test_word_is_right_when_it_matches_any_reference():
    rates = error_rates(["HH EH L OW"], [["HH AH L OW", "HH EH L OW"]])
    assert rates == {"wer": 0.0, "per": 0.0, "words": 1}


def test_per_uses_the_closest_reference():
    # "D AO G" vs "D AA G" (1 edit, 3 phones) and "D AO G Z" (1 edit, 4
    # phones): equal distance, the shorter reference wins -> 1/3.
    rates = error_rates(["D AO G"], [["D AO G Z", "D AA G"]])
    assert rates["wer"] == 1.0
    assert rates["per"] == pytest.approx(1 / 3)


def test_hand_computed_mixture():
    hypotheses = ["K AE T", "D AO G", ""]
    references = [["K AE T"], ["D AA G", "D AO G Z"], ["AY"]]
    # Word errors: 2 of 3. Phone edits: 0 + 1 (vs D AA G, 3) + 1 (vs AY, 1).
    rates = error_rates(hypotheses, references)
    assert rates["wer"] == pytest.approx(2 / 3)
    assert rates["per"] == pytest.approx(2 / 7)


def test_bad_arguments():
    with pytest.raises(ValueError, match="one hypothesis per word"):
        error_rates(["A"], [["A"], ["B"]])
    with pytest.raises(ValueError, match="no reference"):
        error_rates(["A"], [[]])


# The example of sacrebleu's README, which gives BLEU = 48.53 and chrF2 = 59.73
# for these hypotheses against two reference streams.
README_HYPOTHESES = [
    "The dog bit the man.",
    "It wasn't surprising.",
    "The man had just bitten him.",
]
README_REFERENCES = [
    ["The dog bit the man.", "The dog had bit the man."],
    ["It was not unexpected.", "No one was surprised."],
    ["The man bit him first.", "The man had bitten the dog."],
]


def test_bleu_and_chrf_match_sacrebleu_readme():
    scores = bleu_chrf(README_HYPOTHESES, README_REFERENCES)
    assert scores["bleu"] == pytest.approx(48.53, abs=0.005)
    assert scores["chrf"] == pytest.approx(59.73, abs=0.005)


def test_every_reference_counts_and_counts_may_differ():
    import sacrebleu

    one = bleu_chrf(README_HYPOTHESES, [refs[:1] for refs in README_REFERENCES])
    assert one["bleu"] < 48.5  # fewer references, lower BLEU
    references = [README_REFERENCES[0], README_REFERENCES[1][:1], README_REFERENCES[2]]
    streams = [
        [refs[0] for refs in references],
        [refs[1] if len(refs) > 1 else None for refs in references],
    ]
    expected = sacrebleu.corpus_bleu(README_HYPOTHESES, streams).score
    assert bleu_chrf(README_HYPOTHESES, references)["bleu"] == pytest.approx(expected)
    exact = bleu_chrf(["a b c d e"], [["a b c d e"]])
    assert exact == {"bleu": pytest.approx(100.0), "chrf": pytest.approx(100.0)}


def test_rouge_by_hand():
    # "the cat sat" vs "the cat sat down": unigrams P 1, R 3/4; bigrams P 1,
    # R 2/3; the longest common subsequence is 3 words.
    scores = rouge(["the cat sat"], [["the cat sat down"]])
    assert scores["rouge1"] == pytest.approx(100 * 2 * 0.75 / 1.75)
    assert scores["rouge2"] == pytest.approx(80.0)
    assert scores["rougeL"] == pytest.approx(scores["rouge1"])
    # The best reference counts; Porter stemming matches "cats" and "cat".
    assert rouge(["cats running"], [["a dog", "cat run"]])["rougeL"] == 100.0
    mean = rouge(["the cat sat", "dog"], [["the cat sat"], ["cat"]])
    assert mean == {"rouge1": 50.0, "rouge2": 50.0, "rougeL": 50.0}


def test_text_metrics_bad_arguments():
    with pytest.raises(ValueError, match="one hypothesis per example"):
        bleu_chrf(["a"], [["a"], ["b"]])
    with pytest.raises(ValueError, match="example 0 has no reference"):
        rouge(["a"], [[]])
    with pytest.raises(ValueError, match="at least one example"):
        bleu_chrf([], [])
