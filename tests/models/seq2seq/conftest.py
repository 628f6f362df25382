"""A small real CMUdict slice and one tiny model trained on it, once per session."""

from __future__ import annotations

import pytest

SLICE_STEP = 20  # every 20th word of CMUdict: ~6,300 words, ~6,800 pairs
EPOCHS = 8


@pytest.fixture(scope="session")
def cmudict_tsv(tmp_path_factory):
    """A ``.tsv`` of every 20th CMUdict word with all its pronunciations."""
    from zoo.data.cmudict import read_pronunciations

    words = read_pronunciations()
    keys = sorted(words)[::SLICE_STEP]
    path = tmp_path_factory.mktemp("cmudict") / "cmudict_slice.tsv"
    path.write_text("".join(f"{w}\t{r}\n" for w in keys for r in words[w]))
    return path


@pytest.fixture(scope="session")
def trained_run(cmudict_tsv, tmp_path_factory):
    """A run folder with the ``tiny`` preset trained on ``cmudict_tsv``.

    Returns:
        ``(run_dir, metrics)``; the folder holds ``model.keras``, the
        tokenizers and ``saved_model/``.
    """
    from zoo import registry, trainer

    run_dir = tmp_path_factory.mktemp("runs") / "g2p_tiny"
    family = registry.get_family("seq2seq")
    metrics = trainer.train_run(family, "tiny", str(cmudict_tsv), run_dir, EPOCHS)
    return run_dir, metrics


@pytest.fixture(scope="session")
def trained_model(trained_run):
    import keras

    return keras.models.load_model(trained_run[0] / "model.keras")
