"""`ViTFamily.predict` on many images: chunked, padded to few batch shapes."""

import argparse
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from zoo.batch_buckets import bucket_rows
from zoo.data import images as image_data
from zoo.data.fashion_mnist import CLASS_NAMES
from zoo.models.vit import family as vit_family
from zoo.models.vit.family import PREPROCESSING_FILE, ViTFamily

OPTIONS = argparse.Namespace(top=3, explain=None)


@pytest.fixture(scope="module")
def image_files(tmp_path_factory, fashion_mnist_small):
    """40 real Fashion-MNIST test images as PNG files."""
    folder = tmp_path_factory.mktemp("images")
    _, (x_test, _) = fashion_mnist_small
    paths = []
    for index in range(40):
        path = folder / f"{index:02d}.png"
        path.write_bytes(tf.io.encode_png(x_test[index][..., None]).numpy())
        paths.append(str(path))
    return paths


@pytest.fixture(scope="module")
def run(tmp_path_factory, fashion_mnist_small):
    """An untrained tiny ViT (seeded) and a run folder with its preprocessing."""
    keras.utils.set_random_seed(0)
    run_dir = tmp_path_factory.mktemp("run")
    (x, _), _ = fashion_mnist_small
    preprocessing = vit_family.fit_preprocessing(
        x[..., None], list(CLASS_NAMES), "fashion_mnist"
    )
    (run_dir / PREPROCESSING_FILE).write_text(json.dumps(preprocessing))
    family = ViTFamily()
    info = {"image_size": [28, 28], "channels": 1, "num_classes": 10}
    model = family.build_model(family.check_preset("tiny"), info)
    return model, run_dir


def unchunked_lines(model, run_dir, paths, top=3):
    """The lines of one unpadded `model.predict` over every image at once."""
    preprocessing = vit_family.read_preprocessing(run_dir)
    _, batch = vit_family.preprocess_files(paths, preprocessing)
    x = image_data.normalize(batch, preprocessing["mean"], preprocessing["std"])
    logits = keras.ops.convert_to_numpy(model.predict(x, verbose=0))
    probabilities = np.exp(vit_family._log_softmax(logits))
    names = preprocessing["class_names"]
    lines = []
    for path, row in zip(paths, probabilities):
        best = np.argsort(-row)[:top]
        ranked = ", ".join(f"{names[i]} ({row[i]:.1%})" for i in best)
        lines.append(f"{path}: {ranked}")
    return lines


def spy_on_predict(monkeypatch, model, events):
    """Record ``("predict", rows, batch_size)`` for each `model.predict` call."""
    original = model.predict

    def predict(x, batch_size=None, **kwargs):
        events.append(("predict", len(x), batch_size or 32))
        return original(x, batch_size=batch_size, **kwargs)

    monkeypatch.setattr(model, "predict", predict)


def test_chunked_predictions_print_the_lines_of_one_whole_batch(
    run, image_files, monkeypatch
):
    model, run_dir = run
    monkeypatch.setattr(vit_family, "PREDICT_CHUNK", 16, raising=False)
    paths = image_files[:37]  # two full chunks and 5 images padded to 8

    printed = ViTFamily().predict(model, run_dir, paths, OPTIONS)

    assert printed.splitlines() == unchunked_lines(model, run_dir, paths)


def test_images_are_decoded_one_chunk_ahead_of_the_model_at_most(
    run, image_files, monkeypatch
):
    model, run_dir = run
    monkeypatch.setattr(vit_family, "PREDICT_CHUNK", 8, raising=False)
    events = []
    read = image_data.read_image_file

    def reading(path, *args, **kwargs):
        events.append(("read", path))
        return read(path, *args, **kwargs)

    monkeypatch.setattr(image_data, "read_image_file", reading)
    spy_on_predict(monkeypatch, model, events)

    ViTFamily().predict(model, run_dir, image_files[:20], OPTIONS)

    # Reads, then the model, chunk by chunk: never more than 8 images wait.
    kinds = "".join("r" if kind == "read" else "p" for kind, *_ in events)
    assert kinds == "r" * 8 + "p" + "r" * 8 + "p" + "r" * 4 + "p"


def batch_shapes(events):
    """The batch sizes `model.predict` runs the model on, from its calls."""
    shapes = set()
    for _, rows, batch_size in events:
        shapes.add(min(rows, batch_size))
        if rows % batch_size:
            shapes.add(rows % batch_size)
    return shapes


def test_any_image_count_reaches_the_model_in_few_batch_shapes(
    run, image_files, monkeypatch
):
    # Each new shape is a JAX compilation (1-2 s) or a TensorFlow retrace.
    model, run_dir = run
    events = []
    spy_on_predict(monkeypatch, model, events)
    for count in (3, 5, 7, 9, 13, 21, 37, 40):
        ViTFamily().predict(model, run_dir, image_files[:count], OPTIONS)

    assert batch_shapes(events) <= {1, 2, 4, 8, 16, 32}, events


@pytest.mark.parametrize(
    ("rows", "bucket"),
    [(1, 1), (2, 2), (3, 4), (5, 8), (17, 32), (32, 32), (33, 64), (200, 224)],
)
def test_batch_bucket(rows, bucket):
    assert bucket_rows(rows, vit_family.PREDICT_BATCH) == bucket


def test_padded_rows_leave_the_probabilities_of_the_others_unchanged(run, image_files):
    model, run_dir = run
    preprocessing = vit_family.read_preprocessing(run_dir)
    _, batch = vit_family.preprocess_files(image_files[:5], preprocessing)
    x = image_data.normalize(batch, preprocessing["mean"], preprocessing["std"])
    expected = np.exp(
        vit_family._log_softmax(keras.ops.convert_to_numpy(model.predict(x)))
    )

    padded = vit_family._classify(model, batch, preprocessing)  # 5 rows, run as 8

    assert padded.shape == expected.shape
    # Float32 rounding only: a matmul of another batch shape may sum in
    # another order (also so for an unpadded last batch of another size).
    np.testing.assert_allclose(padded, expected, rtol=1e-6, atol=0)


def test_a_missing_file_late_in_the_list_fails_before_any_prediction(
    run, image_files, monkeypatch
):
    model, run_dir = run
    monkeypatch.setattr(vit_family, "PREDICT_CHUNK", 8, raising=False)
    events = []
    spy_on_predict(monkeypatch, model, events)
    missing = image_files[0] + ".gone.png"

    with pytest.raises(ValueError, match=r"gone\.png' does not exist"):
        ViTFamily().predict(model, run_dir, image_files[:20] + [missing], OPTIONS)
    assert events == []


def test_explain_still_draws_the_images_it_predicts(run, image_files, tmp_path):
    model, run_dir = run
    out = tmp_path / "heat.png"
    options = argparse.Namespace(top=1, explain=str(out))

    lines = ViTFamily().predict(model, run_dir, image_files[:2], options).splitlines()

    assert lines[:2] == unchunked_lines(model, run_dir, image_files[:2], top=1)
    assert lines[2] == f"attention rollout written to {out}"
    assert out.stat().st_size > 0
