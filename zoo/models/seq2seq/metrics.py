"""Word and phoneme error rates of G2P outputs against several references."""

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

    Example:
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
