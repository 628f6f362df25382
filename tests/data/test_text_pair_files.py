"""Users' own .tsv files, written from the real built-in sets the ways files differ.

Each file is read as the user meant it, or refused with the file and line.
"""

import codecs
import csv
import gzip
import io
import unicodedata

import pytest

from zoo.data.text_pairs import load_tsv, read_tsv
from zoo.models.seq2seq import family as seq2seq_family
from zoo.models.seq2seq.sources import load_splits


def _first_targets(name, count):
    return [(s, ts[0]) for s, ts in load_splits(name)["train"][:count]]


@pytest.fixture(scope="module")
def l10n():
    """80 real English -> German pairs; 16 of the first 200 hold a quote."""
    return _first_targets("l10n_en_de", 200)[:80]


@pytest.fixture(scope="module")
def german_sources():
    """40 real German -> English pairs whose German is not the same in NFD."""
    pairs = [(ts[0], s) for s, ts in load_splits("l10n_en_de")["train"]]
    return [(s, t) for s, t in pairs if not unicodedata.is_normalized("NFD", s)][:40]


@pytest.fixture(scope="module")
def debian():
    """40 real description -> synopsis pairs, quotes inside."""
    return _first_targets("debian_descriptions", 40)


@pytest.fixture(scope="module")
def cmudict():
    """The first 120 real CMUdict words with all their pronunciations."""
    return load_splits("cmudict")["train"][:120]


def _text(pairs, newline="\n"):
    return "".join(f"{s}\t{t}{newline}" for s, t in pairs)


def _grouped(pairs):
    grouped = {}
    for source, target in pairs:
        grouped.setdefault(source, []).append(target)
    return grouped


def test_header_row_is_not_a_pair(tmp_path, l10n):
    path = tmp_path / "pairs.tsv"
    path.write_text("Source\tTarget\n" + _text(l10n))
    pairs = read_tsv(path)
    assert "Source" not in pairs
    assert pairs == _grouped(l10n)


def test_crlf_bom_blank_lines_and_padding(tmp_path, l10n):
    lines = [f"  {s} \t {t} " for s, t in l10n]
    text = "\r\n".join(lines[:40]) + "\r\n\r\n   \r\n" + "\r\n".join(lines[40:])
    path = tmp_path / "windows.tsv"
    path.write_bytes(codecs.BOM_UTF8 + text.encode())
    pairs = read_tsv(path)
    assert pairs == _grouped(l10n)
    assert not any("\r" in t or "\ufeff" in t for ts in pairs.values() for t in ts)


@pytest.mark.parametrize("quoting", [csv.QUOTE_MINIMAL, csv.QUOTE_ALL])
def test_csv_quoting_is_undone(tmp_path, debian, quoting):
    # What pandas' to_csv(sep="\t") and csv.writer write: a field holding a
    # quote is quoted, its quotes doubled.
    buffer = io.StringIO()
    csv.writer(buffer, delimiter="\t", quoting=quoting).writerows(debian)
    assert '""' in buffer.getvalue()
    path = tmp_path / "pandas.tsv"
    path.write_text(buffer.getvalue())
    assert read_tsv(path) == _grouped(debian)


def test_quoted_tabs_and_line_breaks_stay_in_their_field(tmp_path, l10n):
    pairs = [(f"{s}\t(1)\n(2)", t) for s, t in l10n[:20]] + l10n[20:]
    buffer = io.StringIO()
    csv.writer(buffer, delimiter="\t").writerows(pairs)
    path = tmp_path / "quoted.tsv"
    path.write_text(buffer.getvalue())
    assert read_tsv(path) == _grouped(pairs)


def test_plain_quotes_are_text(tmp_path, debian, l10n):
    # Plain lines are not CSV: a description that starts with a quote, and a
    # sentence quoted as a whole, keep their quotes.
    pairs = debian + [(f'"{s}"', f'"{t}"') for s, t in l10n[:10]]
    path = tmp_path / "plain.tsv"
    path.write_text(_text(pairs))
    assert read_tsv(path) == _grouped(pairs)


def test_nfd_copy_of_a_source_is_the_same_source(tmp_path, german_sources):
    nfd = [(unicodedata.normalize("NFD", s), t) for s, t in german_sources]
    path = tmp_path / "mixed.tsv"
    path.write_text(_text(german_sources + nfd))
    splits = load_tsv(path)
    assert sum(map(len, splits.values())) == len(german_sources)
    assert all(
        unicodedata.is_normalized("NFC", text)
        for split in splits.values()
        for source, targets in split
        for text in (source, *targets)
    )


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_utf16_with_a_byte_order_mark(tmp_path, l10n, encoding):
    path = tmp_path / "excel.tsv"
    bom = b"" if encoding == "utf-16" else codecs.BOM_UTF16_BE
    path.write_bytes(bom + _text(l10n, "\r\n").encode(encoding))
    assert read_tsv(path) == _grouped(l10n)


def test_utf16_without_a_byte_order_mark_is_refused(tmp_path, cmudict):
    # ASCII words in UTF-16 are valid UTF-8 bytes: NUL after each letter.
    path = tmp_path / "words.tsv"
    path.write_bytes(_text([(w, p[0]) for w, p in cmudict]).encode("utf-16-le"))
    with pytest.raises(ValueError, match=r"words.tsv:1: expected UTF-8 .* NUL byte"):
        read_tsv(path)


def test_gzip_compressed(tmp_path, cmudict):
    pairs = [(word, p) for word, prons in cmudict for p in prons]
    path = tmp_path / "words.tsv.gz"
    path.write_bytes(gzip.compress(_text(pairs).encode()))
    splits = load_splits(str(path))
    assert dict(sum(splits.values(), [])) == dict(cmudict)
    (tmp_path / "broken.tsv.gz").write_bytes(gzip.compress(b"a\tb\n")[:12])
    with pytest.raises(ValueError, match=r"broken.tsv.gz: expected a gzip"):
        read_tsv(tmp_path / "broken.tsv.gz")


def test_duplicates_and_several_references_stay_in_one_split(tmp_path, cmudict):
    pairs = [(word, p) for word, prons in cmudict for p in prons]
    path = tmp_path / "words.tsv"
    path.write_text(_text(pairs + pairs[::-1]))
    splits = load_tsv(path, seed=3)
    assert [len(splits[n]) for n in ("train", "validation", "test")] == [108, 6, 6]
    assert dict(sum(splits.values(), [])) == dict(cmudict)
    sources = [s for split in splits.values() for s, _ in split]
    assert len(sources) == len(set(sources))


@pytest.mark.parametrize(
    "line, shown",
    [
        ("{s}\t{t}\t1", r"\\t1'"),
        ("{s}\t{t}\t", r"\\t'"),
        ("{s}\t", r"\\t'"),
        ("\t{t}", r"'\\t"),
        ("# comment", "'# comment'"),
    ],
)
def test_bad_line_is_named(tmp_path, l10n, line, shown):
    (s, t), rest = l10n[0], l10n[1:]
    path = tmp_path / "bad file é.tsv"
    path.write_text(_text(rest[:5]) + line.format(s=s, t=t) + "\n" + _text(rest[5:]))
    with pytest.raises(ValueError, match=rf"bad file é.tsv:6: expected .*{shown}"):
        read_tsv(path)


def test_g2p_words_differing_in_case_only_are_one_source(tmp_path, cmudict):
    # Real words, each also written capitalized, as a user's lexicon might
    # (a name and a common word): the G2P tokenizer reads both the same.
    lexicon = [(word, prons) for word, prons in cmudict if word[:1].isalpha()]
    pairs = [(word, prons[0]) for word, prons in lexicon]
    pairs += [(word.capitalize(), prons[-1]) for word, prons in lexicon]
    path = tmp_path / "words.tsv"
    path.write_text(_text(pairs))
    splits = load_tsv(path, seed=3, fold_case=True)
    sources = [s for split in splits.values() for s, _ in split]
    assert sorted(sources) == sorted(word for word, _ in lexicon)
    assert dict(sum(splits.values(), [])) == {
        word: list(dict.fromkeys([prons[0], prons[-1]])) for word, prons in lexicon
    }
    # Without folding (translation, summarization) case is meaning.
    unfolded = load_tsv(path, seed=3)
    assert sum(map(len, unfolded.values())) == 2 * len(lexicon)
    # The family folds for g2p only.
    g2p = seq2seq_family.load_splits(f"{path}?task=g2p", seed=3)
    assert g2p == splits
    translation = seq2seq_family.load_splits(f"{path}?task=translation", seed=3)
    assert translation == unfolded
