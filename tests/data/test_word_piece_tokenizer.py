"""WordPiece tokenizer on real catalog text: round trip, placeholders, graph parity."""

import numpy as np
import pytest
import tensorflow as tf

from zoo.data import tokenizers as toks
from zoo.data.word_piece_tokenizer import (
    JOINER,
    WordPieceTokenizer,
    join_tokens,
    placeholders,
    pretokenize,
)


@pytest.fixture(scope="module")
def l10n_texts():
    """Every 10th training pair and every 4th test pair of l10n_en_de."""
    from zoo.data.l10n import load_l10n

    splits = load_l10n("l10n_en_de")

    def texts(pairs):
        return [s for s, _ in pairs] + [t for _, ts in pairs for t in ts]

    return texts(splits["train"][::10]), texts(splits["test"][::4])


@pytest.fixture(scope="module")
def tokenizer(l10n_texts):
    return WordPieceTokenizer.fit(l10n_texts[0], vocabulary_size=2000)


def test_vocabulary(tokenizer):
    assert tokenizer.vocabulary[:4] == list(toks.RESERVED)
    assert 1500 < tokenizer.vocabulary_size <= 2000
    assert len(set(tokenizer.vocabulary)) == tokenizer.vocabulary_size


def test_round_trip_on_unseen_text(tokenizer, l10n_texts):
    test = l10n_texts[1]
    decoded = [tokenizer.decode(ids) for ids in tokenizer.encode_batch(test)]
    exact = sum(" ".join(t.split()) == d for t, d in zip(test, decoded))
    # Only characters never seen in training (Arabic digits, Curaçao's ç in
    # a small vocabulary) are lost.
    assert exact / len(test) > 0.98


def test_spacing_and_punctuation_come_back(tokenizer):
    for text in [
        "Can't open file (%s): permission denied.",
        'Use "Tools ▸ Options", then click [OK]!',
        "%1 of %2 pages; 50% done...",
        "a  b\tc",
    ]:
        assert tokenizer.decode(tokenizer.encode(text)) == " ".join(text.split())


def test_placeholders_are_single_tokens(tokenizer):
    text = "Cannot open %s: %qD in $(ARG1) of %PRODUCTNAME"
    tokens = tokenizer.tokens(text)
    for placeholder in placeholders(text):
        assert placeholder in tokens
    assert placeholders(text) == ["%s", "%qD", "$(ARG1)", "%PRODUCTNAME"]
    assert placeholders("100% sure, 5 % more") == []


def test_graph_and_python_agree(tokenizer, l10n_texts):
    texts = l10n_texts[1][:64] + ["", "  ", "ß∑ 漢字"]
    ids = tokenizer.encode_batch(texts)
    assert tokenizer.tf_encode(tf.constant(texts)).to_list() == ids
    assert [tokenizer.encode(t) for t in texts[:5]] == ids[:5]
    rows = tf.ragged.constant([row + [toks.END_ID, 7] for row in ids]).to_tensor()
    decoded = [s.decode() for s in tokenizer.tf_decode(rows).numpy()]
    assert decoded == [tokenizer.decode(row) for row in rows.numpy()]


def test_joiners():
    pieces = pretokenize(tf.constant(["hello, (world)", "a%sb"])).to_list()
    assert [p.decode() for p in pieces[0]] == [
        "hello",
        JOINER + ",",
        "(" + JOINER,
        "world",
        JOINER + ")",
    ]
    assert [p.decode() for p in pieces[1]] == ["a", JOINER, "%s", JOINER, "b"]
    assert join_tokens(["a", JOINER, "%s", JOINER, "b"]) == "a%sb"
    assert join_tokens(["##x", "y", "##z"]) == "x yz"


def test_save_and_load(tmp_path, tokenizer):
    tokenizer.save(tmp_path / "tok.json")
    loaded = toks.load(tmp_path / "tok.json")
    assert isinstance(loaded, WordPieceTokenizer)
    assert loaded.vocabulary == tokenizer.vocabulary
    text = "Größe ändern: %s"
    assert loaded.encode(text) == tokenizer.encode(text)


def test_bad_arguments():
    with pytest.raises(
        ValueError, match="vocabulary_size must be an int of at least 64"
    ):
        WordPieceTokenizer.fit(["a b"], vocabulary_size=3)
    with pytest.raises(ValueError, match="reserved"):
        WordPieceTokenizer(["a", "[END]"])
    with pytest.raises(TypeError, match="must be a str"):
        WordPieceTokenizer(["a"]).encode(b"a")
    assert WordPieceTokenizer(["a"]).decode(np.array([4, 1, 3, 4])) == "a"


def test_fit_is_deterministic(tokenizer, l10n_texts):
    # The trainer numbered the "##" characters in a hash map's random order
    # and broke ties between merges by those numbers, so refits differed.
    for texts in (l10n_texts[0], l10n_texts[0][::-1]):
        again = WordPieceTokenizer.fit(texts, vocabulary_size=2000)
        assert again.vocabulary == tokenizer.vocabulary
