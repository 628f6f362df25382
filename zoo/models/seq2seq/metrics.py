"""Metrics of seq2seq outputs against several references per example.

Word and phoneme error rates (G2P), corpus BLEU and chrF (translation, via
sacrebleu) and ROUGE F1 (summarization, via rouge-score)."""

from __future__ import annotations


def edit_distance(hypothesis, reference) -> int:
    """Levenshtein distance between two token sequences (substitution costs 1)."""
    previous = list(range(len(reference) + 1))
    for i, token in enumerate(hypothesis, start=1):
        current = [i]
        for j, other in enumerate(reference, start=1):
            current.append(
                min(
                    previous[j] + 1,
                    current[j - 1] + 1,
                    previous[j - 1] + (token != other),
                )
            )
        previous = current
    return previous[-1]


def error_rates(hypotheses, references) -> dict:
    """Word error rate and phoneme error rate, as in the G2P literature.

    A word is wrong when its output matches none of its references. Each
    word's phoneme errors are the edit distance to its closest reference
    (fewest edits; on a tie the shorter reference); PER is the sum of those
    distances over the sum of those references' lengths.

    Args:
        hypotheses: one output per word, a string of space-separated phonemes.
        references: one non-empty list of reference strings per word.

    Returns:
        ``{"wer": float, "per": float, "words": int}``.

    Raises:
        ValueError: if the two lists differ in length or a word has no
            reference.

    Examples:
        >>> from zoo.models.seq2seq.metrics import error_rates
        >>> error_rates(["K AE T", "D AO G"], [["K AE T"], ["D AA G", "D AO G Z"]])
        {'wer': 0.5, 'per': 0.1666..., 'words': 2}
    """
    if len(hypotheses) != len(references):
        raise ValueError(
            f"expected one hypothesis per word; received {len(hypotheses)} "
            f"hypotheses for {len(references)} words"
        )
    wrong = edits = reference_length = 0
    for index, (hypothesis, options) in enumerate(zip(hypotheses, references)):
        if not options:
            raise ValueError(f"word {index} has no reference pronunciation")
        tokens = hypothesis.split()
        candidates = [option.split() for option in options]
        wrong += all(tokens != candidate for candidate in candidates)
        distance, length = min(
            (edit_distance(tokens, candidate), len(candidate))
            for candidate in candidates
        )
        edits += distance
        reference_length += length
    words = len(hypotheses)
    return {
        "wer": wrong / words if words else 0.0,
        "per": edits / reference_length if reference_length else 0.0,
        "words": words,
    }


def _reference_streams(references):
    """Turn one list of references per example into sacrebleu's streams.

    sacrebleu wants one stream per reference position; an example with fewer
    references than the most has ``None`` in the streams it lacks, which
    sacrebleu skips.
    """
    width = max(map(len, references), default=0)
    return [
        [refs[k] if k < len(refs) else None for refs in references]
        for k in range(width)
    ]


def _check_pairs(hypotheses, references):
    if len(hypotheses) != len(references):
        raise ValueError(
            f"expected one hypothesis per example; received {len(hypotheses)} "
            f"hypotheses for {len(references)} examples"
        )
    for index, options in enumerate(references):
        if not options:
            raise ValueError(f"example {index} has no reference")
    if not hypotheses:
        raise ValueError("expected at least one example; received none")


def bleu_chrf(hypotheses, references) -> dict:
    """Corpus BLEU and chrF (sacrebleu's defaults) against all references.

    Args:
        hypotheses: one detokenized output per example.
        references: one non-empty list of reference strings per example.

    Returns:
        ``{"bleu": float, "chrf": float}`` on sacrebleu's 0-100 scale.

    Examples:
        >>> from zoo.models.seq2seq.metrics import bleu_chrf
        >>> bleu_chrf(["the cat sat on the mat"], [["the cat sat on the mat"]])
        {'bleu': 100.0..., 'chrf': 100.0}
    """
    import sacrebleu

    _check_pairs(hypotheses, references)
    streams = _reference_streams(references)
    return {
        "bleu": float(sacrebleu.corpus_bleu(hypotheses, streams).score),
        "chrf": float(sacrebleu.corpus_chrf(hypotheses, streams).score),
    }


def rouge(hypotheses, references) -> dict:
    """Mean ROUGE-1, ROUGE-2 and ROUGE-L F1 (rouge-score, Porter stemming).

    Each example scores against its best reference (rouge-score's
    ``score_multi``); the means are on a 0-100 scale.

    Args:
        hypotheses: one output per example.
        references: one non-empty list of reference strings per example.

    Returns:
        ``{"rouge1": float, "rouge2": float, "rougeL": float}``.

    Examples:
        >>> from zoo.models.seq2seq.metrics import rouge
        >>> rouge(["the cat sat"], [["the cat sat down"]])["rouge1"]
        85.714...
    """
    from rouge_score import rouge_scorer

    _check_pairs(hypotheses, references)
    kinds = ("rouge1", "rouge2", "rougeL")
    scorer = rouge_scorer.RougeScorer(list(kinds), use_stemmer=True)
    totals = dict.fromkeys(kinds, 0.0)
    for hypothesis, options in zip(hypotheses, references):
        scores = scorer.score_multi(options, hypothesis)
        for kind in kinds:
            totals[kind] += scores[kind].fmeasure
    return {kind: 100.0 * totals[kind] / len(hypotheses) for kind in kinds}
