"""WordPiece subwords for sentences, with reversible spacing and whole placeholders.

Text is cut into pieces first: placeholders (``%s``, ``%qD``, ``%1``,
``$(ARG1)``, ``%PRODUCTNAME``, ``{name}``; see ``PLACEHOLDER``), runs of
letters and digits, and single other characters. Where two pieces touch (no
space between them), a joiner ``￭`` records it, as OpenNMT's tokenizer does:
punctuation carries it (``"hello, (world)"`` → ``hello ￭, (￭ world ￭)``), and
two touching words get a joiner token of their own. WordPiece (a vocabulary
learned on the training split only) then splits each piece into subwords with
TensorFlow Text's ``FastWordpieceTokenizer``. Decoding joins the tokens
with spaces, glues ``##`` continuations and removes the joiners with the
spaces around them, so text comes back as it was written, up to whitespace
runs becoming one space and Unicode NFC normalization.

Placeholders are reserved tokens of the vocabulary: each one seen in training
is one id and comes out exactly as it went in.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from zoo.data.tokenizers import END_ID, RESERVED, UNK, UNK_ID, Tokenizer

JOINER = "￭"
SUFFIX = "##"
PLACEHOLDER = "|".join(
    [
        r"\$\([A-Za-z_][A-Za-z0-9_]*\)",  # $(ARG1), $(ERR)
        r"\$[A-Za-z_][A-Za-z0-9_]*\$",  # $name$
        r"\$[0-9]+",  # $1
        r"\{[A-Za-z_][A-Za-z0-9_]*\}",  # {name}
        r"%%",  # a literal percent sign of a printf format
        r"%[A-Z][A-Z0-9_]*[A-Z0-9]",  # %PRODUCTNAME
        r"%[0-9]+\$[-+#0]*[0-9]*(?:\.[0-9]+)?(?:hh|ll|[hlLqwzjt])?[A-Za-z]",  # %1$s
        r"%[-+#0q]*(?:[0-9]+|\*)?(?:\.(?:[0-9]+|\*))?(?:hh|ll|[hlLwzjt])?[A-Za-z]",
        r"%[0-9]+",  # %1
        r"#[0-9]+",  # #1
    ]
)
"""Placeholders kept as single tokens (the same pattern in RE2 and Python ``re``)."""

_WORD = r"[\p{L}\p{M}\p{N}]+"
_PIECE = f"{PLACEHOLDER}|{_WORD}|[^ ]"
_PLACEHOLDER_RE = re.compile(PLACEHOLDER)
_MAX_PLACEHOLDERS = 1000
# Decoding puts this in place of an unknown token until the joiners are gone,
# so that the spacing around a dropped word stays as written. A control
# character: pretokenize turns those into spaces, so no token holds one.
_HOLE = "\x1a"


def placeholders(text: str) -> list[str]:
    """Return the placeholders of ``text`` in order.

    Examples:
        >>> from zoo.data.word_piece_tokenizer import placeholders
        >>> placeholders("Cannot open %s: %1 of $(ARG1) 50% done")
        ['%s', '%1', '$(ARG1)']
    """
    return _PLACEHOLDER_RE.findall(text)


def _shift(ragged, fill, step):
    """Row-wise ``x[i + step]`` (step ±1), ``fill`` where that leaves the row.

    Works on the flat values so that empty rows stay empty.
    """
    import tensorflow as tf

    flat, rows = ragged.flat_values, ragged.value_rowids()
    size = tf.size(flat)
    fill = tf.reshape(tf.cast(fill, flat.dtype), [1])
    outside = tf.constant([-1], rows.dtype)
    if step > 0:
        shifted = tf.concat([flat[1:], fill], 0)[:size]
        neighbour_rows = tf.concat([rows[1:], outside], 0)[:size]
    else:
        shifted = tf.concat([fill, flat[:-1]], 0)[:size]
        neighbour_rows = tf.concat([outside, rows[:-1]], 0)[:size]
    same_row = tf.equal(rows, neighbour_rows)
    return ragged.with_flat_values(tf.where(same_row, shifted, fill))


def pretokenize(strings):
    """Cut a 1-D string tensor into pieces with joiners (see the module doc).

    Returns:
        A ``tf.RaggedTensor`` of strings, (batch, pieces).
    """
    import tensorflow as tf
    import tensorflow_text as tf_text

    text = tf_text.normalize_utf8(tf.convert_to_tensor(strings, tf.string), "NFC")
    text = tf.strings.regex_replace(text, JOINER, "")
    text = tf.strings.regex_replace(text, r"[\s\p{Z}\p{Cc}]+", " ")
    pieces, starts, ends = tf_text.regex_split_with_offsets(text, f"{_PIECE}| ", _PIECE)
    is_word = tf.ragged.map_flat_values(
        tf.strings.regex_full_match, pieces, f"{PLACEHOLDER}|{_WORD}"
    )
    glued = tf.equal(starts, _shift(ends, -1, -1))
    previous_word = _shift(is_word, False, -1)
    next_glued_word = tf.logical_and(_shift(glued, False, 1), _shift(is_word, False, 1))
    punctuation = tf.logical_not(is_word)
    left = tf.logical_and(punctuation, glued)
    right = tf.logical_and(punctuation, next_glued_word)
    alone = tf.logical_and(tf.logical_and(is_word, glued), previous_word)

    def mark(flat_pieces, flat_left, flat_right, flat_alone):
        joiner = tf.constant(JOINER)
        flat_pieces = tf.where(flat_left, joiner + flat_pieces, flat_pieces)
        flat_pieces = tf.where(flat_right, flat_pieces + joiner, flat_pieces)
        return tf.where(flat_alone, joiner + " " + flat_pieces, flat_pieces)

    marked = pieces.with_flat_values(
        mark(pieces.flat_values, left.flat_values, right.flat_values, alone.flat_values)
    )
    return tf.strings.split(tf.strings.reduce_join(marked, axis=1, separator=" "))


def join_tokens(tokens: list[str]) -> str:
    """Python ``detokenize``: the inverse of ``pretokenize`` plus WordPiece.

    Examples:
        >>> from zoo.data.word_piece_tokenizer import join_tokens
        >>> join_tokens(["hello", "￭,", "(￭", "wor", "##ld", "￭)"])
        'hello, (world)'

        An ``[UNK]`` is dropped where it stands: ``["[UNK]", "￭,", "b"]`` gives
        ``', b'``.
    """
    tokens = [_HOLE if token == UNK else token for token in tokens]
    text = re.sub(r"(?:^| )##", "", " ".join(tokens))
    text = re.sub(f" ?{JOINER} ?", "", text)
    return re.sub(" +", " ", text.replace(_HOLE, "")).strip()


class WordPieceTokenizer(Tokenizer):
    """Subword tokenizer for sentences: WordPiece over joiner-marked pieces.

    Encoding and decoding run as TensorFlow ops (``tf_encode``/``tf_decode``)
    so that a SavedModel serves raw text; ``encode``/``decode`` give the same
    ids and text in Python. Text never seen in training still encodes (down
    to single characters); a word holding a character missing from the
    vocabulary becomes one ``[UNK]`` as a whole (WordPiece's rule), which
    decoding drops where it stands, keeping the spacing around it:
    ``Papiamentu (Curaçao), ok`` comes back as ``Papiamentu (), ok``.

    Args:
        vocabulary: the tokens without the reserved ones (added in front):
            whole pieces, ``##`` continuations, placeholders.

    Examples:
        >>> from zoo.data.word_piece_tokenizer import WordPieceTokenizer
        >>> texts = ["Open %s file.", "Close, then close it"]
        >>> tokenizer = WordPieceTokenizer.fit(texts, 64)
        >>> tokenizer.decode(tokenizer.encode("Open %s, close file."))
        'Open %s, close file.'
    """

    def __init__(self, vocabulary):
        vocabulary = list(vocabulary)
        clashes = [token for token in vocabulary if token in RESERVED]
        if clashes or len(set(vocabulary)) != len(vocabulary) or not vocabulary:
            raise ValueError(
                "vocabulary must hold unique tokens other than the reserved "
                f"{RESERVED}; received {len(vocabulary)} tokens with duplicates "
                f"or reserved tokens {clashes}"
            )
        self.vocabulary = list(RESERVED) + vocabulary
        self._wordpiece = None
        self._tokens = None

    @classmethod
    def fit(cls, texts, vocabulary_size=8000):
        """Learn a vocabulary of about ``vocabulary_size`` tokens from ``texts``.

        The pieces of the training texts (see ``pretokenize``) are counted and
        a WordPiece vocabulary is learned from them with the WordPiece trainer
        of Hugging Face ``tokenizers`` (a dependency of keras-hub): seconds on
        a CPU where keras-hub's ``compute_word_piece_vocabulary`` takes
        minutes for the same data. Every placeholder seen in training is
        reserved as a whole token. The same texts give the same vocabulary,
        whatever their order and in any process.

        Args:
            texts: the training split's strings (never the test split).
            vocabulary_size: target size, reserved tokens and placeholders
                included.

        Returns:
            A ``WordPieceTokenizer``.
        """
        import collections

        import tensorflow as tf
        from tokenizers import Tokenizer as Trainable
        from tokenizers import models, pre_tokenizers, trainers

        if isinstance(vocabulary_size, bool) or not (
            isinstance(vocabulary_size, int) and vocabulary_size >= 64
        ):
            raise ValueError(
                "vocabulary_size must be an int of at least 64; received "
                f"{vocabulary_size!r}"
            )
        texts = list(texts)
        lines = []
        for start in range(0, len(texts), 4096):
            pieces = pretokenize(tf.constant(texts[start : start + 4096]))
            joined = tf.strings.reduce_join(pieces, axis=1, separator=" ")
            lines.extend(line.decode("utf-8") for line in joined.numpy())
        counts = collections.Counter(
            piece
            for line in lines
            for piece in line.split(" ")
            if _PLACEHOLDER_RE.fullmatch(piece)
        )
        kept = sorted(counts, key=lambda p: (-counts[p], p))[:_MAX_PLACEHOLDERS]
        # The trainer numbers each "##c" when it first meets it while walking
        # a hash map of the words (a random order, even within one process),
        # and breaks ties between equally frequent merges by those numbers:
        # two fits of the same texts learned different vocabularies. Given
        # up front in a fixed order, the "##c" tokens get fixed numbers.
        continuations = sorted(
            {SUFFIX + c for line in lines for piece in line.split() for c in piece[1:]}
        )
        learner = Trainable(models.WordPiece(unk_token=UNK))
        learner.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        learner.train_from_iterator(
            lines,
            trainers.WordPieceTrainer(
                vocab_size=vocabulary_size,
                special_tokens=list(RESERVED) + sorted(kept) + continuations,
                continuing_subword_prefix=SUFFIX,
                show_progress=False,
            ),
        )
        learned = sorted(learner.get_vocab().items(), key=lambda item: item[1])
        return cls([token for token, _ in learned if token not in RESERVED])

    # --- in the graph ------------------------------------------------------
    def _graph_state(self):
        import tensorflow as tf
        import tensorflow_text as tf_text

        # Built lazily and kept, so a tf.function and a SavedModel track them.
        if self._wordpiece is None:
            self._wordpiece = tf_text.FastWordpieceTokenizer(
                self.vocabulary,
                suffix_indicator=SUFFIX,
                unknown_token=UNK,
                no_pretokenization=True,
                token_out_type=tf.int32,
            )
            self._tokens = tf.constant(
                [_HOLE if token == UNK else token for token in self.vocabulary]
            )
        return self._wordpiece, self._tokens

    def resources(self):
        wordpiece, _ = self._graph_state()
        return [wordpiece]

    def tf_encode(self, strings):
        wordpiece, _ = self._graph_state()
        words = pretokenize(strings)
        ids = wordpiece.tokenize(words.flat_values)
        if JOINER in self.vocabulary:
            ids = self._keep_joiners(words.flat_values, ids)
        return words.with_flat_values(ids).merge_dims(1, 2)

    def _keep_joiners(self, pieces, ids):
        """Put the joiners of pieces read as ``[UNK]`` back as joiner tokens.

        WordPiece reads ``￭´￭`` (an unseen character between two words) as
        one ``[UNK]``, which loses the joiners: ``visionmedia´s`` decoded as
        ``visionmedia s``. With them it decodes as ``visionmedias``.
        """
        import tensorflow as tf

        unknown = tf.reduce_all(tf.equal(ids, UNK_ID), axis=1)
        joiner = tf.fill(tf.shape(unknown), self.vocabulary.index(JOINER))[:, None]

        def marks(where):
            glued = tf.logical_and(unknown, where)
            return tf.ragged.boolean_mask(joiner, glued[:, None])

        left = marks(tf.strings.regex_full_match(pieces, f"{JOINER}.+"))
        right = marks(tf.strings.regex_full_match(pieces, f".+{JOINER}"))
        return tf.concat([left, ids, right], axis=1)

    def tf_decode(self, ids):
        import tensorflow as tf

        _, tokens = self._graph_state()
        ids = tf.cast(ids, tf.int32)
        after_end = tf.cumsum(tf.cast(tf.equal(ids, END_ID), tf.int32), axis=1)
        known = tf.logical_or(ids >= len(RESERVED), tf.equal(ids, UNK_ID))
        keep = tf.logical_and(tf.equal(after_end, 0), known)
        ragged = tf.ragged.boolean_mask(ids, keep)
        text = tf.strings.reduce_join(
            tf.ragged.map_flat_values(tf.gather, tokens, ragged),
            axis=1,
            separator=" ",
        )
        text = tf.strings.regex_replace(text, f"(?:^| ){SUFFIX}", "")
        text = tf.strings.regex_replace(text, f" ?{JOINER} ?", "")
        text = tf.strings.regex_replace(text, _HOLE, "")
        return tf.strings.strip(tf.strings.regex_replace(text, " +", " "))

    # --- in Python -----------------------------------------------------------
    def encode(self, text):
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; received {type(text).__name__}")
        return self.encode_batch([text])[0]

    def encode_batch(self, texts, batch_size=4096) -> list[list[int]]:
        """Encode many strings at once (much faster than one by one)."""
        ids = []
        for start in range(0, len(texts), batch_size):
            ids.extend(
                self.tf_encode(list(texts[start : start + batch_size])).to_list()
            )
        return ids

    def decode(self, ids):
        tokens = []
        for i in ids:
            i = int(i)
            if i == END_ID:
                break
            if i == UNK_ID or len(RESERVED) <= i < len(self.vocabulary):
                tokens.append(self.vocabulary[i])
        return join_tokens(tokens)

    def tokens(self, text) -> list[str]:
        """Return the tokens of ``text`` as strings (for inspection)."""
        return [self.vocabulary[i] for i in self.encode(text)]

    def get_config(self):
        """Return the JSON-serializable state (the inverse of ``from_config``)."""
        return {
            "class": "WordPieceTokenizer",
            "vocabulary": self.vocabulary[len(RESERVED) :],
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("class", None)
        return cls(**config)

    def save(self, path):
        Path(path).write_text(
            json.dumps(self.get_config(), indent=0, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
