"""The .tsv pair loader: grouping by source, clear errors on bad files."""

import pytest

from zoo.data.text_pairs import load_tsv, read_tsv


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
