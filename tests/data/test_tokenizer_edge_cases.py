"""Tokenizer edge cases: unknown characters, Unicode spaces, damaged files."""

import pytest
import tensorflow as tf

from zoo.data import tokenizers as toks
from zoo.data.word_piece_tokenizer import JOINER, WordPieceTokenizer


@pytest.fixture(scope="module")
def l10n():
    """l10n_en_de's test pairs and a tokenizer fit on every 10th training pair."""
    from zoo.data.l10n import load_l10n

    splits = load_l10n("l10n_en_de")
    train = [s for s, _ in splits["train"][::10]]
    train += [t for _, ts in splits["train"][::10] for t in ts]
    return splits["test"], WordPieceTokenizer.fit(train, vocabulary_size=2000)


def graph_decode(tokenizer, rows):
    dense = tf.ragged.constant(rows, dtype=tf.int32).to_tensor()
    return [text.decode("utf-8") for text in tokenizer.tf_decode(dense).numpy()]


def test_unknown_word_keeps_the_spacing_around_it(l10n):
    test, tokenizer = l10n
    # A real test sentence: its Arabic-Indic digits were never seen.
    farsi = next(s for s, _ in test if s.startswith("۱, ۲"))
    ids = tokenizer.encode(farsi)
    assert toks.UNK_ID in ids
    expected = ", , , , " + farsi.split(", ", 4)[-1]
    assert tokenizer.decode(ids) == expected.lstrip()
    assert graph_decode(tokenizer, [ids]) == [expected.lstrip()]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("visionmedia´s debug", "visionmedias debug"),  # debian_descriptions
        ("tqdm (read taqadum, تقدّم) means", "tqdm (read taqadum, ) means"),
        ("Papiamentu (Curaçao), ok", "Papiamentu (), ok"),
        ("a\u200db", "ab"),
        ("by Ernő Rubik.", "by Rubik."),
        ("ç", ""),
    ],
)
def test_unknown_characters_are_dropped_where_they_stand(l10n, text, expected):
    _, tokenizer = l10n
    assert JOINER in tokenizer.vocabulary
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == expected
    assert graph_decode(tokenizer, [ids]) == [expected]
    assert tokenizer.tf_encode(tf.constant([text])).to_list() == [ids]


def test_unknown_ids_from_a_model_decode_alike(l10n):
    _, tokenizer = l10n
    comma = tokenizer.vocabulary.index(JOINER + ",")
    word = tokenizer.encode("file")
    rows = [
        [toks.UNK_ID, comma, *word, toks.END_ID, toks.UNK_ID],
        [*word, toks.UNK_ID, toks.UNK_ID, *word, toks.PAD_ID],
        [toks.START_ID, toks.UNK_ID],
    ]
    python = [tokenizer.decode(row) for row in rows]
    assert python == [", file", "file file", ""]
    assert graph_decode(tokenizer, rows) == python


def test_known_text_keeps_its_ids_after_save_and_load(tmp_path, l10n):
    test, tokenizer = l10n
    sources = [s for s, _ in test[::8]]
    tokenizer.save(tmp_path / "tok.json")
    loaded = toks.load(tmp_path / "tok.json")
    assert loaded.encode_batch(sources) == tokenizer.encode_batch(sources)


@pytest.mark.parametrize("space", ["\xa0", "\u3000", "\u2003", "\x1c", "\x85", "\v"])
def test_whitespace_split_in_graph_matches_python(space):
    tokenizer = toks.SymbolTokenizer(["AH0", "K"], split="whitespace")
    text = f"K{space}AH0 {space}K"
    assert tokenizer.encode(text) == [5, 4, 5]
    assert tokenizer.tf_encode(tf.constant([text])).to_list() == [[5, 4, 5]]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"{not json", "UTF-8 JSON"),
        (b"\xff\xfe{", "UTF-8 JSON"),
        (b"[PAD]\n[UNK]\nthe\n", "UTF-8 JSON"),  # a BERT vocab.txt
        (b"[1, 2]", "JSON object"),
        (b'{"class": "WordPieceTokenizer"}', "list of strings"),
        (b'{"class": "WordPieceTokenizer", "vocabulary": "abc"}', "list of strings"),
        (b'{"class": "SymbolTokenizer", "vocabulary": ["a"], "x": 1}', "x"),
    ],
)
def test_damaged_file_names_the_file(tmp_path, content, message):
    path = tmp_path / "source_tokenizer.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as caught:
        toks.load(path)
    assert str(path) in str(caught.value)
