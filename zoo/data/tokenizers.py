"""Tokenizers that turn text into id sequences and back, in Python and in-graph.

A tokenizer here is anything with the ``Tokenizer`` interface: a vocabulary
whose first four ids are reserved (padding, unknown, start, end), Python
``encode``/``decode`` for data preparation and printing, ``tf_encode``/
``tf_decode`` for use inside a ``tf.function`` (the SavedModel serves raw
strings), and ``save``/``load`` so that a run folder carries its tokenizers.
Grapheme-to-phoneme uses ``SymbolTokenizer`` (one symbol per character on the
spelling side, one per whitespace-separated phoneme on the other); subword
tokenizers (WordPiece, SentencePiece) implement the same interface.
"""

from __future__ import annotations

import collections
import json
from pathlib import Path

PAD, UNK, START, END = "[PAD]", "[UNK]", "[START]", "[END]"
RESERVED = (PAD, UNK, START, END)
PAD_ID, UNK_ID, START_ID, END_ID = 0, 1, 2, 3
SPLITS = ("characters", "whitespace")
# What Python's ``str.split()`` and ``str.strip()`` take for whitespace
# (``str.isspace``), for RE2: ``tf.strings.split`` and ``tf.strings.strip``
# alone take ASCII whitespace only.
_PY_SPACE = (
    r"[\t-\r\x1c-\x20\x85\xa0\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}"
    r"\x{202f}\x{205f}\x{3000}]+"
)


def tf_strip(strings):
    """``str.strip()`` in the graph: the same Unicode whitespace goes."""
    import tensorflow as tf

    return tf.strings.regex_replace(strings, f"^{_PY_SPACE}|{_PY_SPACE}$", "")


class Tokenizer:
    """The interface every tokenizer of the zoo provides.

    Attributes:
        vocabulary: list of tokens; index = id; ``RESERVED`` come first.
        pad_id, unknown_id, start_id, end_id: the reserved ids.
    """

    pad_id, unknown_id, start_id, end_id = PAD_ID, UNK_ID, START_ID, END_ID
    vocabulary: list

    @property
    def vocabulary_size(self) -> int:
        """Number of ids, reserved ones included."""
        return len(self.vocabulary)

    def encode(self, text: str) -> list[int]:
        """Return the ids of ``text`` (without start or end ids)."""
        raise NotImplementedError

    def decode(self, ids) -> str:
        """Return the text of ``ids``; stops at the end id, skips reserved ids."""
        raise NotImplementedError

    def tf_encode(self, strings):
        """Return a ``tf.RaggedTensor`` of int32 ids for a 1-D string tensor."""
        raise NotImplementedError

    def tf_decode(self, ids):
        """Return a 1-D string tensor for a (batch, length) int tensor of ids."""
        raise NotImplementedError

    def save(self, path) -> None:
        """Write the tokenizer to the JSON file ``path``."""
        raise NotImplementedError

    def resources(self) -> list:
        """The TensorFlow objects ``tf_encode``/``tf_decode`` capture.

        A SavedModel must track them (lookup tables are resources).
        """
        return []


class SymbolTokenizer(Tokenizer):
    """One id per symbol: characters of a word, or whitespace-separated tokens.

    Text is lower-cased first when ``lowercase`` is set (spellings), so
    ``"Hello"`` and ``"hello"`` read alike. Symbols never seen when the
    vocabulary was fit map to ``[UNK]``.

    Args:
        vocabulary: the symbols, without the reserved tokens (added in front).
        split: ``"characters"`` or ``"whitespace"``.
        lowercase: lower-case text before splitting.

    Examples:
        >>> from zoo.data.tokenizers import SymbolTokenizer
        >>> tokenizer = SymbolTokenizer.fit(["cab", "bad"], split="characters")
        >>> tokenizer.encode("dab")
        [7, 4, 5]
        >>> tokenizer.decode([7, 4, 5, 3, 6])
        'dab'
    """

    def __init__(self, vocabulary, split="characters", lowercase=False):
        if split not in SPLITS:
            raise ValueError(
                f"split must be one of {', '.join(map(repr, SPLITS))}; "
                f"received {split!r}"
            )
        vocabulary = list(vocabulary)
        clashes = [token for token in vocabulary if token in RESERVED]
        if clashes or len(set(vocabulary)) != len(vocabulary):
            raise ValueError(
                "vocabulary must hold unique symbols other than the reserved "
                f"{RESERVED}; received duplicates or reserved tokens {clashes}"
            )
        self.split = split
        self.lowercase = bool(lowercase)
        self.vocabulary = list(RESERVED) + vocabulary
        self._ids = {token: i for i, token in enumerate(self.vocabulary)}
        self._tables = None

    @classmethod
    def fit(cls, texts, split="characters", lowercase=False, min_count=1):
        """Build the vocabulary from ``texts`` (the training split only).

        Args:
            texts: iterable of strings.
            split: ``"characters"`` or ``"whitespace"``.
            lowercase: lower-case text before splitting.
            min_count: symbols seen fewer times become ``[UNK]``.

        Returns:
            A ``SymbolTokenizer``; symbols sorted so the ids are reproducible.
        """
        counts = collections.Counter()
        for text in texts:
            counts.update(_split(text.lower() if lowercase else text, split))
        vocabulary = sorted(s for s, n in counts.items() if n >= min_count)
        return cls(vocabulary, split=split, lowercase=lowercase)

    def symbols(self, text: str) -> list[str]:
        """Return the symbols of ``text`` after normalization."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str; received {type(text).__name__}")
        return _split(text.lower() if self.lowercase else text, self.split)

    def encode(self, text):
        return [self._ids.get(symbol, UNK_ID) for symbol in self.symbols(text)]

    def decode(self, ids):
        tokens = []
        for i in ids:
            i = int(i)
            if i == END_ID:
                break
            if i >= len(RESERVED) and i < len(self.vocabulary):
                tokens.append(self.vocabulary[i])
        return ("" if self.split == "characters" else " ").join(tokens)

    def _lookup_tables(self):
        import tensorflow as tf

        # Built lazily and kept, so a tf.function and a SavedModel track them.
        if self._tables is None:
            keys = tf.constant(self.vocabulary)
            ids = tf.range(len(self.vocabulary), dtype=tf.int32)
            self._tables = (
                tf.lookup.StaticHashTable(
                    tf.lookup.KeyValueTensorInitializer(keys, ids), UNK_ID
                ),
                tf.constant(self.vocabulary),
            )
        return self._tables

    def resources(self):
        return list(self._lookup_tables())

    def tf_encode(self, strings):
        import tensorflow as tf

        to_id, _ = self._lookup_tables()
        strings = tf.convert_to_tensor(strings, tf.string)
        if self.lowercase:
            strings = tf.strings.lower(strings, encoding="utf-8")
        if self.split == "characters":
            pieces = tf.strings.unicode_split(strings, "UTF-8")
        else:
            pieces = tf.strings.split(tf.strings.regex_replace(strings, _PY_SPACE, " "))
        return tf.ragged.map_flat_values(to_id.lookup, pieces)

    def tf_decode(self, ids):
        import tensorflow as tf

        _, to_token = self._lookup_tables()
        ids = tf.cast(ids, tf.int32)
        # Everything from the first end id on is dropped, then reserved ids.
        after_end = tf.cumsum(tf.cast(tf.equal(ids, END_ID), tf.int32), axis=1)
        keep = tf.logical_and(tf.equal(after_end, 0), ids >= len(RESERVED))
        ragged = tf.ragged.boolean_mask(ids, keep)
        tokens = tf.ragged.map_flat_values(tf.gather, to_token, ragged)
        separator = "" if self.split == "characters" else " "
        return tf.strings.reduce_join(tokens, axis=1, separator=separator)

    def get_config(self):
        """Return the JSON-serializable state (the inverse of ``from_config``)."""
        return {
            "class": "SymbolTokenizer",
            "vocabulary": self.vocabulary[len(RESERVED) :],
            "split": self.split,
            "lowercase": self.lowercase,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config.pop("class", None)
        return cls(**config)

    def save(self, path):
        Path(path).write_text(json.dumps(self.get_config(), indent=1) + "\n")


TOKENIZERS = {
    "SymbolTokenizer": "zoo.data.tokenizers:SymbolTokenizer",
    "WordPieceTokenizer": "zoo.data.word_piece_tokenizer:WordPieceTokenizer",
}
"""Tokenizer classes (``module:Class``) by the name stored in their saved JSON."""


def load(path) -> Tokenizer:
    """Load a tokenizer written by ``save``; the JSON names its class."""
    import importlib

    config = _read_config(path)
    name = config.get("class")
    if name not in TOKENIZERS:
        raise ValueError(
            f"{path}: unknown tokenizer class {name!r}; expected one of "
            f"{', '.join(TOKENIZERS)}"
        )
    vocabulary = config.get("vocabulary")
    if not isinstance(vocabulary, list) or not all(
        isinstance(token, str) for token in vocabulary
    ):
        raise ValueError(
            f"{path}: expected 'vocabulary' to be a list of strings; received "
            f"{type(vocabulary).__name__}"
        )
    module, class_name = TOKENIZERS[name].split(":")
    cls = getattr(importlib.import_module(module), class_name)
    try:
        return cls.from_config(config)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{path}: not a valid {name}: {error}") from error


def _read_config(path):
    """The JSON object of a saved tokenizer; ``ValueError`` naming the file."""
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(
            f"{path}: expected a tokenizer saved as UTF-8 JSON by the zoo; "
            f"could not read it: {error}"
        ) from error
    if not isinstance(config, dict):
        raise ValueError(
            f"{path}: expected a JSON object with 'class' and 'vocabulary'; "
            f"received a JSON {type(config).__name__}"
        )
    return config


def _split(text, split):
    return list(text) if split == "characters" else text.split()
