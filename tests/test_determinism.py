"""Reproducibility: vocabularies, splits and evaluation do not depend on chance.

What a fresh process, another ``PYTHONHASHSEED``, another listing order of a
folder or another evaluation batch size may change, and what it must not
(docs/training.md, "Reproducibility").
"""

import hashlib
import json
import os
import pathlib
import random
import subprocess
import sys

import numpy as np
import pytest

from tests.cmudict_slice import write_cmudict_slice

REPO = pathlib.Path(__file__).resolve().parent.parent

# Run in a child process with another hash seed: prints the fingerprints of
# what the parent computes in-process with `fingerprints`.
CHILD = """
import json, sys
sys.path.insert(0, {repo!r})
from tests.test_determinism import fingerprints
print(json.dumps(fingerprints({tsv!r}, {images!r})))
"""


def digest(value):
    """A short hash of a JSON-able value or a NumPy array."""
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value).tobytes()
    else:
        data = json.dumps(value, sort_keys=True).encode()
    return hashlib.sha1(data).hexdigest()


def l10n_training_texts():
    """Every 20th training pair of l10n_en_de, sources and targets."""
    from zoo.data.l10n import load_l10n

    pairs = load_l10n("l10n_en_de")["train"][::20]
    return [s for s, _ in pairs] + [t for _, ts in pairs for t in ts]


def fingerprints(tsv, images):
    """Hashes of vocabularies fit and splits drawn from real data."""
    from zoo.data.images import load_image_folder
    from zoo.data.text_pairs import load_tsv
    from zoo.data.tokenizers import SymbolTokenizer
    from zoo.data.word_piece_tokenizer import WordPieceTokenizer

    splits = load_tsv(tsv, seed=3)
    words = [word for word, _ in splits["train"]]
    arrays, labels, names = load_image_folder(images)
    return {
        "word_piece": digest(
            WordPieceTokenizer.fit(l10n_training_texts(), 1000).vocabulary
        ),
        "symbols": digest(SymbolTokenizer.fit(words).vocabulary),
        "tsv_split": digest(splits),
        "image_folder": [digest(arrays), digest(labels), names],
    }


@pytest.fixture(scope="module")
def cmudict_tsv(tmp_path_factory):
    return write_cmudict_slice(tmp_path_factory.mktemp("cmu") / "words.tsv", 400)


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory, fashion_mnist_small):
    """Real Fashion-MNIST PNGs, 40 of each of 3 classes (a 12-image test split)."""
    from PIL import Image

    root = tmp_path_factory.mktemp("images")
    (images, labels), _ = fashion_mnist_small
    for class_id in (0, 3, 8):
        folder = root / f"class_{class_id}"
        folder.mkdir()
        for index in np.flatnonzero(labels == class_id)[:40]:
            Image.fromarray(images[index]).save(folder / f"{index}.png")
    return root


def test_vocabularies_and_splits_are_the_same_under_other_hash_seeds(
    cmudict_tsv, image_folder
):
    expected = fingerprints(str(cmudict_tsv), str(image_folder))
    script = CHILD.format(
        repo=str(REPO), tsv=str(cmudict_tsv), images=str(image_folder)
    )
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script],
            env={
                **os.environ,
                "PYTHONHASHSEED": hash_seed,
                "TF_CPP_MIN_LOG_LEVEL": "3",
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for hash_seed in ("1", "2")
    ]
    for child in children:
        output, _ = child.communicate(timeout=300)
        assert child.returncode == 0
        assert json.loads(output.splitlines()[-1]) == expected


def test_tsv_split_does_not_depend_on_line_order(cmudict_tsv, tmp_path):
    from zoo.data.text_pairs import load_tsv

    lines = cmudict_tsv.read_text().splitlines(keepends=True)
    random.Random(0).shuffle(lines)
    shuffled = tmp_path / "shuffled.tsv"
    shuffled.write_text("".join(lines))

    def members(splits):
        return {name: sorted(s for s, _ in pairs) for name, pairs in splits.items()}

    assert members(load_tsv(shuffled, seed=3)) == members(load_tsv(cmudict_tsv, seed=3))


def test_image_folder_does_not_depend_on_listing_order(image_folder, monkeypatch):
    from zoo.data.images import load_image_folder

    expected = load_image_folder(image_folder)
    listing = pathlib.Path.iterdir
    # A copied folder lists its entries in another order (os.listdir's
    # order is the file system's); reversed is one such order.
    monkeypatch.setattr(
        pathlib.Path, "iterdir", lambda path: iter(list(listing(path))[::-1])
    )
    images, labels, names = load_image_folder(image_folder)
    np.testing.assert_array_equal(images, expected[0])
    np.testing.assert_array_equal(labels, expected[1])
    assert names == expected[2]


def test_vit_evaluation_does_not_depend_on_the_batch_size(image_folder, tmp_path):
    import keras

    from zoo.models.vit.family import ViTFamily

    family = ViTFamily()
    keras.utils.set_random_seed(0)
    prepared = family.prepare_data(str(image_folder), 64, tmp_path)
    model = family.build_model(family.check_preset("tiny"), prepared.info)
    results = {
        batch_size: family.evaluate(
            model,
            family.prepare_data(str(image_folder), batch_size, tmp_path),
            tmp_path,
        )
        for batch_size in (1, 7, 64)
    }
    for batch_size in (1, 7):
        for name in ("accuracy", "flip_averaged_accuracy"):
            assert results[batch_size][name] == results[64][name]
        # Only float rounding: the per-image losses are the same numbers.
        np.testing.assert_allclose(
            results[batch_size]["loss"], results[64]["loss"], rtol=1e-6
        )


def test_the_split_of_a_tsv_or_image_folder_does_not_follow_the_seed(
    cmudict_tsv, image_folder, tmp_path
):
    from zoo.models.seq2seq.family import Seq2SeqFamily
    from zoo.models.vit.family import ViTFamily

    def test_pairs(seed):
        prepared = Seq2SeqFamily().prepare_data(
            f"{cmudict_tsv}?task=g2p", 16, tmp_path / f"g2p{seed}", seed=seed
        )
        return prepared.info["test_pairs"]

    def test_images(seed):
        prepared = ViTFamily().prepare_data(
            str(image_folder), 16, tmp_path / f"vit{seed}", seed=seed
        )
        return np.concatenate([images for images, _ in prepared.test])

    assert test_pairs(0) == test_pairs(5)
    np.testing.assert_array_equal(test_images(0), test_images(5))


class PreparedDataReached(Exception):
    """Stops `zoo train` where it prepares the data."""


def split_seed_prepared_with(family, run, call, monkeypatch):
    """The ``split_seed`` that ``call()`` prepares ``family``'s data with."""
    received = {}

    def prepare_data(source, batch_size, run_dir, **seeds):
        received.update(seeds)
        raise PreparedDataReached

    monkeypatch.setattr(family, "prepare_data", prepare_data)
    with pytest.raises(PreparedDataReached):
        call()
    return received["split_seed"]


def test_runs_draw_their_splits_with_the_seed_they_recorded(
    cmudict_tsv, tmp_path, monkeypatch
):
    from zoo import run_dir as runs
    from zoo import trainer
    from zoo.family import SPLIT_SEED
    from zoo.registry import get_family

    family = get_family("seq2seq")
    run = tmp_path / "old"
    run.mkdir()
    # A run recorded before `split_seed` drew its split with its --seed:
    # resuming or evaluating it with another would move test words into
    # training.
    (run / runs.RUN_FILE).write_text(
        json.dumps({"model": "seq2seq", "data": str(cmudict_tsv), "seed": 5})
    )

    def resume():
        trainer.train_run(family, "tiny", str(cmudict_tsv), run, 1, seed=5)

    assert split_seed_prepared_with(family, run, resume, monkeypatch) == 5
    # Evaluation reads the record; the model itself is not needed here.
    (run / "model.keras").write_bytes(b"")
    monkeypatch.setattr(
        trainer, "load_run", lambda run_dir: (family, runs.read_run(run_dir), None)
    )

    def evaluate():
        trainer.evaluate_run(run)

    assert split_seed_prepared_with(family, run, evaluate, monkeypatch) == 5

    # A new run records the fixed split seed, whatever its --seed.
    new = tmp_path / "new"

    def train():
        trainer.train_run(family, "tiny", str(cmudict_tsv), new, 1, seed=5)

    assert split_seed_prepared_with(family, new, train, monkeypatch) == SPLIT_SEED
