"""What differs between the seq2seq tasks: tokenizers, lengths and metrics.

* ``g2p``: one symbol per character (lower-cased) in, whitespace-separated
  phonemes out; sequence lengths of the longest training pair; WER and PER.
* ``translation``: WordPiece subwords on both sides (one shared vocabulary by
  default), placeholders kept whole; lengths capped (longer inputs are
  truncated); BLEU and chrF (sacrebleu), and how often the output carries
  exactly the source's placeholders.
* ``summarization``: as translation, with longer inputs and shorter outputs;
  ROUGE-1, ROUGE-2 and ROUGE-L F1 (rouge-score).

Everything fit here is fit on the training split only.
"""

from __future__ import annotations

import collections
import re

from zoo.data import tokenizers as toks

LENGTH_KEYS = ("source_sequence_length", "target_sequence_length")
"""The sequence lengths a run saves with its tokenizers."""


def round_up(value, multiple=8):
    """``value`` rounded up to a multiple of ``multiple`` (shared shapes)."""
    return -(-value // multiple) * multiple


def fit_tokenizers(task, train, options):
    """Fit the (source, target) tokenizers of ``task`` on the training pairs.

    Args:
        task: one of ``sources.TASKS``.
        train: list of ``(source, [target, ...])``.
        options: the source's ``SourceOptions`` (vocabulary size and sharing).

    Returns:
        ``(source_tokenizer, target_tokenizer)``; the same object twice for a
        shared vocabulary.
    """
    sources = [source for source, _ in train]
    targets = [target for _, references in train for target in references]
    if task == "g2p":
        return (
            toks.SymbolTokenizer.fit(sources, split="characters", lowercase=True),
            toks.SymbolTokenizer.fit(targets, split="whitespace"),
        )
    from zoo.data.word_piece_tokenizer import WordPieceTokenizer

    if options.vocabulary == "shared":
        shared = WordPieceTokenizer.fit(sources + targets, options.vocabulary_size)
        return shared, shared
    return (
        WordPieceTokenizer.fit(sources, options.vocabulary_size),
        WordPieceTokenizer.fit(targets, options.vocabulary_size),
    )


def encode_all(tokenizer, texts):
    """Encode many texts, in batches where the tokenizer can."""
    if hasattr(tokenizer, "encode_batch"):
        return tokenizer.encode_batch(list(texts))
    return [tokenizer.encode(text) for text in texts]


def sequence_lengths(task, source_ids, target_ids, options):
    """Return the model's ``source_sequence_length`` and ``target_sequence_length``.

    G2P holds its longest training pair (+1 for the start or end token); text
    tasks hold at most the option's caps. Both are rounded up to a multiple of
    8 so close datasets share shapes.
    """
    longest_source = max(map(len, source_ids))
    longest_target = max(map(len, target_ids)) + 1
    if task == "g2p":
        return {
            "source_sequence_length": round_up(longest_source),
            "target_sequence_length": round_up(longest_target),
        }
    max_source, max_target = options.lengths()
    return {
        "source_sequence_length": min(round_up(longest_source), round_up(max_source)),
        "target_sequence_length": min(round_up(longest_target), round_up(max_target)),
    }


def score(task, hypotheses, references, sources=None):
    """Return the task's test metrics of ``hypotheses``.

    Args:
        task: one of ``sources.TASKS``.
        hypotheses: one output string per test example.
        references: one non-empty list of reference strings per example.
        sources: the inputs (for translation's placeholder check).

    Returns:
        A flat dict: ``wer``, ``per``, ``test_words`` (g2p); ``bleu``,
        ``chrf``, ``placeholder_match``, ``test_sentences`` (translation);
        ``rouge1``, ``rouge2``, ``rougeL``, ``test_sentences`` (summarization).
    """
    from zoo.models.seq2seq import metrics

    if task == "g2p":
        rates = metrics.error_rates(hypotheses, references)
        return {"wer": rates["wer"], "per": rates["per"], "test_words": rates["words"]}
    if task == "translation":
        result = metrics.bleu_chrf(hypotheses, references)
        if sources is not None:
            result.update(placeholder_match(hypotheses, sources))
        return dict(result, test_sentences=len(hypotheses))
    return dict(metrics.rouge(hypotheses, references), test_sentences=len(hypotheses))


_ARGUMENT_NUMBER = re.compile(r"^%[0-9]+\$")


def placeholder_match(hypotheses, sources):
    """Share of outputs that carry exactly their source's placeholders.

    Only examples whose source has a placeholder count; the order may differ
    (translations reorder), the multiset may not. printf's argument numbers
    are not compared (``%2$s`` is ``%s``), since translators add them to
    reorder arguments.

    Returns:
        ``{"placeholder_match": float or None, "placeholder_sentences": int}``.
    """
    from zoo.data.word_piece_tokenizer import placeholders

    def kept(text):
        # A translation may number printf's arguments to reorder them:
        # "%2$s ... %1$d" carries the placeholders of "%d ... %s".
        return collections.Counter(
            _ARGUMENT_NUMBER.sub("%", found) for found in placeholders(text)
        )

    total = matched = 0
    for hypothesis, source in zip(hypotheses, sources):
        wanted = kept(source)
        if wanted:
            total += 1
            matched += kept(hypothesis) == wanted
    return {
        "placeholder_match": matched / total if total else None,
        "placeholder_sentences": total,
    }
