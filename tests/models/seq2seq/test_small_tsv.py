"""``zoo train`` on a .tsv too small for three splits stops before training."""

import pytest


@pytest.mark.parametrize(
    "count, name", [(1, "tiny.tsv"), (5, "tiny.tsv"), (5, "TINY.TSV")]
)
def test_zoo_train_refuses_a_tsv_too_small_to_split(count, name, tmp_path, capsys):
    """The .tsv suffix is read in any case (it was refused as an unknown source)."""
    from zoo import cli
    from zoo.data.l10n import load_l10n
    from zoo.data.text_pairs import MIN_SOURCES

    pairs = load_l10n("l10n_en_de")["train"][:count]
    data = tmp_path / name
    data.write_text("".join(f"{s}\t{ts[0]}\n" for s, ts in pairs), encoding="utf-8")
    out = tmp_path / "run"
    code = cli.main(
        ["train", "seq2seq", "--data", str(data), "--epochs", "1", "--out", str(out)]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert (
        f"zoo: error: {data}: expected at least {MIN_SOURCES} distinct sources" in err
    )
    assert f"received {count} pairs with {count} distinct sources" in err
    # Refused before training: no run folder is left to resume or evaluate.
    assert not out.exists()
