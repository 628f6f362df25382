"""``zoo train`` on a .tsv too small for three splits stops before training."""

import pytest


@pytest.mark.parametrize("count", [1, 5])
def test_zoo_train_refuses_a_tsv_too_small_to_split(count, tmp_path, capsys):
    from zoo import cli
    from zoo.data.l10n import load_l10n
    from zoo.data.text_pairs import MIN_SOURCES

    pairs = load_l10n("l10n_en_de")["train"][:count]
    data = tmp_path / "tiny.tsv"
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
