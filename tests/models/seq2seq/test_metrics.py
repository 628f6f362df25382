"""WER and PER against several references, checked by hand."""

import pytest

from zoo.models.seq2seq.metrics import edit_distance, error_rates


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
