"""The seq2seq metrics against independent computations on the real test splits.

Hypotheses are simple real systems (copy the source, lead-k, a neighbouring
word's pronunciation), so every number is non-trivial; the references come
from the built-in splits with all their references per example.
"""

import pytest

from zoo.data.tokenizers import END_ID, PAD_ID, RESERVED, START_ID
from zoo.models.seq2seq import tasks
from zoo.models.seq2seq.metrics import bleu_chrf, error_rates, rouge
from zoo.models.seq2seq.sources import load_splits


def _levenshtein(a, b):
    """Edit distance by the full table (an independent implementation)."""
    table = [
        [i + j if i * j == 0 else 0 for j in range(len(b) + 1)]
        for i in range(len(a) + 1)
    ]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            table[i][j] = min(
                table[i - 1][j] + 1,
                table[i][j - 1] + 1,
                table[i - 1][j - 1] + (a[i - 1] != b[j - 1]),
            )
    return table[-1][-1]


def test_bleu_and_chrf_equal_sacrebleu_with_every_reference_on_l10n():
    import sacrebleu

    test = load_splits("l10n_en_de")["test"]
    hypotheses = [source for source, _ in test]  # copying English: a weak system
    references = [refs for _, refs in test]
    assert max(map(len, references)) > 1  # several references do occur
    # Padding with the first reference gives the same clipped counts and
    # closest lengths as skipping: no reliance on sacrebleu's None handling.
    width = max(map(len, references))
    streams = [[r[k] if k < len(r) else r[0] for r in references] for k in range(width)]
    scores = bleu_chrf(hypotheses, references)
    assert scores["bleu"] == pytest.approx(
        sacrebleu.corpus_bleu(hypotheses, streams).score
    )
    assert scores["chrf"] == pytest.approx(
        sacrebleu.corpus_chrf(hypotheses, streams).score
    )
    assert 1.0 < scores["bleu"] < 50.0
    # A reference scored against itself is perfect (corpus level, not a mean).
    assert bleu_chrf([r[0] for r in references], references) == {
        "bleu": pytest.approx(100.0),
        "chrf": pytest.approx(100.0),
    }


def test_rouge_is_the_best_reference_mean_of_rouge_score_on_debian():
    from rouge_score import rouge_scorer

    test = load_splits("debian_descriptions")["test"][:400]
    hypotheses = [" ".join(source.split()[:8]) for source, _ in test]  # lead-8
    references = [refs for _, refs in test]
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    expected = {}
    for kind in ("rouge1", "rouge2", "rougeL"):
        best = [
            max(scorer.score(ref, hyp)[kind].fmeasure for ref in refs)
            for hyp, refs in zip(hypotheses, references)
        ]
        expected[kind] = 100.0 * sum(best) / len(best)
    assert rouge(hypotheses, references) == pytest.approx(expected)
    assert 5.0 < expected["rougeL"] < 60.0


def test_wer_and_per_equal_an_independent_edit_distance_on_cmudict():
    test = load_splits("cmudict")["test"]
    references = [refs for _, refs in test]
    # Each word read as the previous word's first pronunciation, and every
    # tenth word read right, so both rates are strictly between 0 and 1.
    hypotheses = [
        refs[0] if i % 10 == 0 else references[i - 1][0]
        for i, refs in enumerate(references)
    ]
    wrong = edits = length = 0
    for hypothesis, refs in zip(hypotheses, references):
        tokens = hypothesis.split()
        wrong += all(tokens != ref.split() for ref in refs)
        distance, size = min(
            (_levenshtein(tokens, ref.split()), len(ref.split())) for ref in refs
        )
        edits, length = edits + distance, length + size
    rates = error_rates(hypotheses, references)
    assert rates["words"] == len(test)
    assert rates["wer"] == pytest.approx(wrong / len(test))
    assert rates["per"] == pytest.approx(edits / length)
    assert 0.5 < rates["wer"] < 1.0 and 0.0 < rates["per"] < 1.0


def test_scored_text_is_detokenized_without_special_tokens_on_l10n():
    from zoo.data.word_piece_tokenizer import WordPieceTokenizer

    splits = load_splits("l10n_en_de")
    train = [
        text for source, refs in splits["train"][:1500] for text in (source, *refs)
    ]
    tokenizer = WordPieceTokenizer.fit(train, 1500)
    references = [refs for _, refs in splits["test"][:500]]
    # Decoder rows start with [START] and end with [END] and padding.
    encoded = tokenizer.encode_batch([r[0] for r in references])
    rows = [[START_ID, *ids, END_ID, PAD_ID, PAD_ID] for ids in encoded]
    hypotheses = [tokenizer.decode(row) for row in rows]
    assert not any(token in h for h in hypotheses for token in RESERVED + ("##", "￭"))
    known = [i for i, row in enumerate(rows) if tokenizer.unknown_id not in row]
    assert len(known) > 400
    scores = tasks.score(
        "translation", [hypotheses[i] for i in known], [references[i] for i in known]
    )
    assert scores["bleu"] == pytest.approx(100.0)
    assert scores["chrf"] == pytest.approx(100.0)


def test_placeholders_numbered_to_reorder_them_match_on_l10n():
    import re

    numbered = re.compile(r"%[0-9]+\$")
    test = load_splits("l10n_en_de")["test"]
    # Real references that number printf's arguments, e.g. %qE ... %E
    # translated as %2$E ... %1$qE: right translations, not misses.
    pairs = [
        (reference, source)
        for source, references in test
        for reference in references
        if numbered.search(reference) and not numbered.search(source)
    ]
    assert len(pairs) >= 3
    result = tasks.placeholder_match([r for r, _ in pairs], [s for _, s in pairs])
    assert result["placeholder_sentences"] == len(pairs)
    assert result["placeholder_match"] == 1.0
    # A dropped placeholder still counts as a miss.
    dropped = [numbered.sub("", r, count=1) for r, _ in pairs]
    result = tasks.placeholder_match(dropped, [s for _, s in pairs])
    assert result["placeholder_match"] == 0.0
