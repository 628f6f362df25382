"""Symbol tokenizers: Python and in-graph paths agree; save/load; unknowns."""

import numpy as np
import pytest
import tensorflow as tf

from zoo.data import tokenizers as toks


@pytest.fixture
def graphemes():
    return toks.SymbolTokenizer.fit(["hello", "world", "o'neil"], lowercase=True)


@pytest.fixture
def phonemes():
    return toks.SymbolTokenizer.fit(["HH AH L OW", "W ER L D"], split="whitespace")


def test_reserved_ids_come_first(graphemes):
    assert graphemes.vocabulary[:4] == list(toks.RESERVED)
    assert (graphemes.pad_id, graphemes.unknown_id) == (0, 1)
    assert (graphemes.start_id, graphemes.end_id) == (2, 3)
    assert graphemes.vocabulary[4:] == sorted(set("helloworldo'neil"))


def test_round_trip_and_unknown_symbols(graphemes, phonemes):
    assert graphemes.decode(graphemes.encode("Hello")) == "hello"
    assert graphemes.encode("h9!") == [graphemes.encode("h")[0], 1, 1]
    assert phonemes.decode(phonemes.encode("HH ER D")) == "HH ER D"
    assert phonemes.encode("ZH") == [toks.UNK_ID]
    # Decoding stops at the end id and skips reserved ids.
    ids = phonemes.encode("W ER") + [toks.END_ID] + phonemes.encode("L")
    assert phonemes.decode([toks.START_ID] + ids) == "W ER"


def test_in_graph_matches_python(graphemes, phonemes):
    words = ["Hello", "", "wörld", "o'neil"]
    ragged = graphemes.tf_encode(tf.constant(words))
    assert ragged.to_list() == [graphemes.encode(w) for w in words]
    rows = [phonemes.encode("HH AH L OW") + [3, 0], [4, 3, 5, 0, 0, 0]]
    decoded = phonemes.tf_decode(tf.constant(np.array(rows)))
    assert [s.decode() for s in decoded.numpy()] == [phonemes.decode(r) for r in rows]


def test_save_and_load(tmp_path, graphemes):
    graphemes.save(tmp_path / "tok.json")
    loaded = toks.load(tmp_path / "tok.json")
    assert loaded.vocabulary == graphemes.vocabulary
    assert loaded.lowercase and loaded.split == "characters"


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="split must be one of"):
        toks.SymbolTokenizer(["a"], split="bytes")
    with pytest.raises(ValueError, match="reserved"):
        toks.SymbolTokenizer(["a", "[PAD]"])
    with pytest.raises(TypeError, match="must be a str"):
        toks.SymbolTokenizer(["a"]).encode(5)
    (tmp_path / "bad.json").write_text('{"class": "Nope"}')
    with pytest.raises(ValueError, match="unknown tokenizer class"):
        toks.load(tmp_path / "bad.json")
