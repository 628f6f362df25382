"""A small real CMUdict slice and one tiny model trained on it, once per session."""

from __future__ import annotations

import pytest

from tests.built_once import built_once
from tests.cmudict_slice import write_cmudict_slice

SLICE_STEP = 20  # every 20th word of CMUdict: ~6,300 words, ~6,800 pairs
EPOCHS = 8


@pytest.fixture(scope="session")
def cmudict_tsv(tmp_path_factory):
    """A ``.tsv`` of every 20th CMUdict word with all its pronunciations."""
    folder = tmp_path_factory.mktemp("cmudict")
    return write_cmudict_slice(folder / "cmudict_slice.tsv", SLICE_STEP)


@pytest.fixture(scope="session")
def trained_run(cmudict_tsv, tmp_path_factory):
    """A run folder with the ``tiny`` preset trained on ``cmudict_tsv``.

    Returns:
        ``(run_dir, metrics)``; the folder holds ``model.keras``, the
        tokenizers and ``saved_model/``.
    """
    from zoo import registry, trainer
    from zoo.run_dir import read_metrics

    family = registry.get_family("seq2seq")
    # A .tsv is translation unless told: ?task=g2p reads it as G2P.
    source = f"{cmudict_tsv}?task=g2p"
    # Built once for both workers: test_family.py and test_export.py use it.
    run_dir = built_once(
        tmp_path_factory,
        "g2p_tiny",
        lambda folder: trainer.train_run(family, "tiny", source, folder, EPOCHS),
    )
    return run_dir, read_metrics(run_dir)


@pytest.fixture(scope="session")
def trained_model(trained_run):
    import keras

    return keras.models.load_model(trained_run[0] / "model.keras")


# Text tasks: small real subsets written as .tsv files (so the .tsv path and
# its ?options are exercised), one tiny model trained on each per session.
TEXT_EPOCHS = 10
TEXT_BATCH = 64
TRANSLATION_OPTIONS = "?vocabulary_size=1000&max_source_length=32&max_target_length=32"
SUMMARIZATION_OPTIONS = (
    "?task=summarization&vocabulary_size=1000&max_source_length=64&max_target_length=16"
)


@pytest.fixture(scope="session")
def l10n_tsv(tmp_path_factory):
    """About 5,000 real l10n_en_de pairs with sources of at most 6 words."""
    from zoo.data.l10n import load_l10n

    splits = load_l10n("l10n_en_de")
    pairs = [
        (source, target)
        for name in ("train", "validation", "test")
        for source, targets in splits[name]
        for target in targets
        if len(source.split()) <= 6
    ]
    pairs = pairs[:: len(pairs) // 5000][:5000]
    path = tmp_path_factory.mktemp("l10n") / "l10n_en_de_short.tsv"
    path.write_text("".join(f"{s}\t{t}\n" for s, t in pairs), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def descriptions_tsv(tmp_path_factory):
    """Every 15th real Debian description (~4,000) with its synopses."""
    from zoo.data.debian_descriptions import read_descriptions

    rows = read_descriptions()[::15]
    path = tmp_path_factory.mktemp("descriptions") / "descriptions.tsv"
    path.write_text(
        "".join(f"{r['description']}\t{r['synopsis']}\n" for r in rows),
        encoding="utf-8",
    )
    return path


def _train_text_run(tmp_path_factory, name, source):
    from zoo import registry, trainer

    run_dir = tmp_path_factory.mktemp("runs") / name
    family = registry.get_family("seq2seq")
    metrics = trainer.train_run(
        family, "tiny", source, run_dir, TEXT_EPOCHS, batch_size=TEXT_BATCH
    )
    return run_dir, metrics


@pytest.fixture(scope="session")
def translation_run(l10n_tsv, tmp_path_factory):
    """``(run_dir, metrics)`` of ``tiny`` trained on ``l10n_tsv``."""
    return _train_text_run(
        tmp_path_factory, "translation", f"{l10n_tsv}{TRANSLATION_OPTIONS}"
    )


@pytest.fixture(scope="session")
def summarization_run(descriptions_tsv, tmp_path_factory):
    """``(run_dir, metrics)`` of ``tiny`` trained on ``descriptions_tsv``."""
    return _train_text_run(
        tmp_path_factory, "summarization", f"{descriptions_tsv}{SUMMARIZATION_OPTIONS}"
    )
