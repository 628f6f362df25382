"""The .tsv pair loader: grouping by source, clear errors on bad files."""

import pytest

from zoo.data.text_pairs import MIN_SOURCES, load_tsv, read_tsv


def test_groups_targets_by_source(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("read\tR EH D\nread\tR IY D\n\ncat\tK AE T\nread\tR IY D\n")
    assert read_tsv(path) == {"read": ["R EH D", "R IY D"], "cat": ["K AE T"]}


def test_split_keeps_a_source_in_one_split(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"w{i}\tA\nw{i}\tB\n" for i in range(200)))
    splits = load_tsv(path)
    assert [len(splits[s]) for s in ("train", "validation", "test")] == [180, 10, 10]
    assert all(refs == ["A", "B"] for _, refs in splits["test"])


@pytest.mark.parametrize(
    "content, message",
    [
        ("no tab here\n", r"pairs.tsv:1: expected 'source<TAB>target'"),
        ("a\tb\tc\n", "expected 'source<TAB>target'"),
        ("a\t \n", "both sides non-empty"),
        ("\n\n", "holds no source<TAB>target"),
    ],
)
def test_bad_lines(tmp_path, content, message):
    path = tmp_path / "pairs.tsv"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_tsv(path)


def test_only_newlines_end_a_line(tmp_path, l10n_pairs):
    # Line and paragraph separators, form feeds and NEL are text, not line
    # breaks; \r\n and \r are.
    (s1, t1), (s2, t2), (s3, t3) = l10n_pairs[:3]
    pairs = {f"{s1}\u2028{s2}": f"{t1}\u2028{t2}", f"{s2}\x0c{s3}": f"{t2}\x85{t3}"}
    lines = [f"{s}\t{t}" for s, t in pairs.items()]
    path = tmp_path / "pairs.tsv"
    path.write_bytes(f"{lines[0]}\r\n{lines[1]}\r{s3}\t{t3}\n".encode())
    assert read_tsv(path) == {**{s: [t] for s, t in pairs.items()}, s3: [t3]}


def test_missing_and_non_utf8(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_tsv(tmp_path / "missing.tsv")
    path = tmp_path / "latin1.tsv"
    path.write_bytes("ok\tfine\ncafé\tK AE F EY\n".encode("latin-1"))
    with pytest.raises(
        ValueError,
        match=r"latin1.tsv:2: expected UTF-8 text; received the bytes b'\\xe9",
    ):
        read_tsv(path)


@pytest.fixture(scope="module")
def l10n_pairs():
    """The first 40 real l10n_en_de training pairs (one target each)."""
    from zoo.data.l10n import load_l10n

    return [(s, ts[0]) for s, ts in load_l10n("l10n_en_de")["train"][:40]]


def _write(path, pairs, prefix=b""):
    path.write_bytes(prefix + "".join(f"{s}\t{t}\n" for s, t in pairs).encode())
    return path


def test_byte_order_mark_is_dropped(tmp_path, l10n_pairs):
    plain = read_tsv(_write(tmp_path / "plain.tsv", l10n_pairs))
    with_bom = read_tsv(_write(tmp_path / "bom.tsv", l10n_pairs, b"\xef\xbb\xbf"))
    assert with_bom == plain
    assert list(with_bom)[0] == l10n_pairs[0][0]


def test_error_offsets_count_the_byte_order_mark(tmp_path):
    path = tmp_path / "bom_latin1.tsv"
    path.write_bytes(b"\xef\xbb\xbfok\tfine\n" + "café\tx\n".encode("latin-1"))
    with pytest.raises(
        ValueError, match=r"bom_latin1.tsv:2: .*b'\\xe9\\tx\\n' at byte 14"
    ):
        read_tsv(path)


def test_min_sources_is_the_smallest_split_without_an_empty_split():
    from zoo.data.cmudict import split_by_key

    def smallest(splits):
        return min(len(keys) for keys in splits.values())

    assert smallest(split_by_key(range(MIN_SOURCES - 1))) == 0
    assert all(smallest(split_by_key(range(n))) > 0 for n in range(MIN_SOURCES, 400))


@pytest.mark.parametrize("count", [1, 5, MIN_SOURCES - 1])
def test_too_few_sources_for_three_splits(tmp_path, l10n_pairs, count):
    path = _write(tmp_path / "tiny.tsv", l10n_pairs[:count])
    with pytest.raises(
        ValueError,
        match=rf"tiny.tsv: expected at least {MIN_SOURCES} distinct sources .*"
        rf"received {count} pairs with {count} distinct sources",
    ):
        load_tsv(path)
    path = _write(tmp_path / "enough.tsv", l10n_pairs[:MIN_SOURCES])
    assert all(load_tsv(path).values())
