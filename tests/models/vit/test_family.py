"""The vit family: data sources, training, evaluation, prediction and export."""

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.backends import exports_saved_models
from tests.data.image_files import write_image
from zoo.data import images as image_data
from zoo.data.fashion_mnist import CLASS_NAMES as FASHION_NAMES
from zoo.models.vit import family as vit_family
from zoo.models.vit.family import PREPROCESSING_FILE, ViTFamily
from zoo.run_dir import RUN_FILE

pytestmark = pytest.mark.slow  # trains ViTs


def write_png(path, array):
    path.write_bytes(tf.io.encode_png(array).numpy())


@pytest.fixture(scope="module")
def folder(tmp_path_factory, fashion_mnist_small):
    """Real Fashion-MNIST PNGs in three class folders (40 each)."""
    root = tmp_path_factory.mktemp("classes")
    (x, y), _ = fashion_mnist_small
    for label, name in ((0, "top"), (1, "trouser"), (7, "sneaker")):
        (root / name).mkdir(parents=True)
        for index in np.flatnonzero(y == label)[:40]:
            write_png(root / name / f"{index}.png", x[index][..., None])
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory, fashion_mnist_small):
    """The tiny preset trained briefly on 2,000 real images, and its run folder."""
    keras.utils.set_random_seed(0)
    run_dir = tmp_path_factory.mktemp("run")
    (x, y), (x_test, y_test) = fashion_mnist_small
    family = ViTFamily()
    preprocessing = vit_family.fit_preprocessing(
        x[..., None], list(FASHION_NAMES), "fashion_mnist"
    )
    (run_dir / PREPROCESSING_FILE).write_text(json.dumps(preprocessing))
    mean, std = preprocessing["mean"], preprocessing["std"]
    train = image_data.make_image_dataset(x, y, mean, std, 64, training=True)
    test = image_data.make_image_dataset(x_test, y_test, mean, std, 128)
    info = {"image_size": [28, 28], "channels": 1, "num_classes": 10}
    config = family.check_preset("tiny")
    model = family.build_model(config, info)
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        **family.compile_arguments(config, info),
    )
    model.fit(train, epochs=6, verbose=0)
    data = vit_family.PreparedData(train=train, test=test, info=info)
    return family, model, run_dir, data


def test_training_beats_chance(trained):
    family, model, run_dir, data = trained
    metrics = family.evaluate(model, data, run_dir)
    assert set(metrics) == {"accuracy", "loss", "flip_averaged_accuracy"}
    # Chance is 10%; six short epochs on 2,000 images reach about 65%.
    assert metrics["accuracy"] > 0.5, metrics
    assert metrics["loss"] < 1.5


def test_flip_averaged_accuracy_averages_each_image_with_its_mirror(
    trained, fashion_mnist_small
):
    family, model, run_dir, data = trained
    _, (x_test, y_test) = fashion_mnist_small
    preprocessing = json.loads((run_dir / PREPROCESSING_FILE).read_text())
    x = image_data.normalize(
        x_test[..., None], preprocessing["mean"], preprocessing["std"]
    )
    probabilities = [
        keras.ops.convert_to_numpy(
            keras.ops.softmax(model.predict(view, batch_size=128, verbose=0))
        )
        for view in (x, keras.ops.flip(x, axis=2))
    ]
    single = (probabilities[0].argmax(-1) == y_test).mean()
    averaged = ((probabilities[0] + probabilities[1]).argmax(-1) == y_test).mean()
    metrics = family.evaluate(model, data, run_dir)
    assert metrics["accuracy"] == pytest.approx(single)
    assert metrics["flip_averaged_accuracy"] == pytest.approx(averaged)
    # Both views disagree on some images, so the two numbers can differ.
    assert (probabilities[0].argmax(-1) != probabilities[1].argmax(-1)).any()


def test_no_flip_averaging_for_runs_trained_without_flips(trained, tmp_path):
    family, model, run_dir, data = trained
    record = {"model": "vit", "config": {"augment_flip": False}}
    (tmp_path / RUN_FILE).write_text(json.dumps(record))
    assert set(family.evaluate(model, data, tmp_path)) == {"accuracy", "loss"}


def test_predict_prints_class_names_and_explains(
    trained, tmp_path, fashion_mnist_small
):
    family, model, run_dir, _ = trained
    _, (x_test, y_test) = fashion_mnist_small
    paths = []
    for index in range(2):
        path = tmp_path / f"image{index}.png"
        write_png(path, x_test[index][..., None])
        paths.append(str(path))
    args = argparse.Namespace(top=2, explain=str(tmp_path / "explain.png"))
    printed = family.predict(model, run_dir, paths, args)
    lines = printed.splitlines()
    assert len(lines) == 3
    for line, path in zip(lines, paths):
        assert line.startswith(path + ": ")
        assert sum(name in line for name in FASHION_NAMES) >= 2
    assert (tmp_path / "explain.png").stat().st_size > 1000


def test_grey_model_predicts_bmp_gif_and_cmyk_jpeg(
    trained, tmp_path, fashion_mnist_small
):
    family, model, run_dir, _ = trained
    _, (x_test, _) = fashion_mnist_small
    paths = [str(tmp_path / f"image.{kind}") for kind in ("png", "bmp", "gif", "jpg")]
    for path in paths:
        write_image(Path(path), x_test[0])
    lines = family.predict(model, run_dir, paths, argparse.Namespace(top=3))
    ranked = [line.split(": ", 1)[1] for line in lines.splitlines()]
    # The BMP (RGB) and GIF hold the PNG's pixels: the same prediction.
    assert ranked[1] == ranked[2] == ranked[0]
    assert sum(name in ranked[3] for name in FASHION_NAMES) == 3


def test_predict_rejects_corrupt_file(trained, tmp_path):
    family, model, run_dir, _ = trained
    bad = tmp_path / "bad.png"
    bad.write_text("hello")
    with pytest.raises(ValueError, match="bad.png is not a readable image"):
        family.predict(model, run_dir, [str(bad)], argparse.Namespace(top=1))


SERVE = textwrap.dedent(
    """
    import sys
    import numpy as np
    import tensorflow as tf
    loaded = tf.saved_model.load(sys.argv[1])
    images = np.load(sys.argv[2])
    served = loaded.signatures["serving_default"](images=tf.constant(images))
    pngs = tf.constant([open(path, "rb").read() for path in sys.argv[3:]])
    from_bytes = loaded.signatures["serve_bytes"](image_bytes=pngs)
    assert "zoo" not in sys.modules
    np.savez(
        sys.argv[2] + ".out.npz",
        probabilities=served["probabilities"].numpy(),
        classes=np.array([c.decode() for c in served["classes"].numpy()]),
        bytes_probabilities=from_bytes["probabilities"].numpy(),
        names=np.array([[c.decode() for c in row] for row in from_bytes["class_names"].numpy()]),
    )
    """
)


@exports_saved_models
def test_saved_model_in_fresh_process_matches_keras(
    trained, tmp_path, fashion_mnist_small
):
    family, model, run_dir, _ = trained
    path = family.export(model, run_dir, tmp_path / "saved_model")
    assert path == tmp_path / "saved_model"
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 40, 36, 1), dtype=np.uint8)
    np.save(tmp_path / "images.npy", images)
    pngs = []
    for index, image in enumerate(images[:2]):
        pngs.append(tmp_path / f"served{index}.png")
        write_png(pngs[-1], image)
    # Formats that do not decode straight to grey, of real images.
    _, (x_test, _) = fashion_mnist_small
    others = [tmp_path / f"served.{kind}" for kind in ("bmp", "gif", "jpg")]
    for other, image in zip(others, x_test):
        write_image(other, image)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ""}
    subprocess.run(
        [
            sys.executable,
            "-c",
            SERVE,
            str(path),
            str(tmp_path / "images.npy"),
            *map(str, pngs + others),
        ],
        check=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    served = np.load(tmp_path / "images.npy.out.npz")

    preprocessing = vit_family.read_preprocessing(run_dir)
    resized = image_data.resize_images(list(images), preprocessing["image_size"])
    x = image_data.normalize(resized, preprocessing["mean"], preprocessing["std"])
    expected = keras.ops.convert_to_numpy(keras.ops.softmax(model(x)))
    np.testing.assert_allclose(served["probabilities"], expected, atol=1e-5)
    np.testing.assert_allclose(
        served["bytes_probabilities"][:2], expected[:2], atol=1e-5
    )
    # Served bytes are decoded as `zoo predict` decodes the files.
    _, batch = vit_family.preprocess_files(others, preprocessing)
    x = image_data.normalize(batch, preprocessing["mean"], preprocessing["std"])
    from_files = keras.ops.convert_to_numpy(keras.ops.softmax(model(x)))
    np.testing.assert_allclose(served["bytes_probabilities"][2:], from_files, atol=1e-5)
    names = served["classes"].tolist()
    assert names == [FASHION_NAMES[i] for i in expected.argmax(-1)]
    assert served["names"].shape == (5, 10)


def test_preset_without_augmentation_trains_on_the_plain_images(folder, tmp_path):
    (tmp_path / "run.json").write_text(
        json.dumps({"config": {"augment_padding": 0, "augment_flip": False}})
    )
    family = ViTFamily()
    plain = family.prepare_data(str(folder), 200, tmp_path, seed=0)
    augmented = family.prepare_data(str(folder), 200, tmp_path / "default", seed=0)

    def two_passes(prepared):
        passes = [b[0].numpy() for b in prepared.train.repeat(2)]
        return [p[np.lexsort(p.reshape(len(p), -1).T)] for p in passes]

    # Reshuffled passes over the same images; augmented passes differ.
    first, second = two_passes(plain)
    np.testing.assert_array_equal(first, second)
    first, second = two_passes(augmented)
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("pipeline", ["tf.data", "numpy"])
@pytest.mark.parametrize("mixing", [{"mixup": 0.2}, {"cutmix": 1.0}])
def test_mixing_trains_on_mixed_labels_and_validates_on_class_ids(
    folder, tmp_path, pipeline, mixing
):
    family = ViTFamily()
    config = dict(family.check_preset("tiny"), **mixing)
    (tmp_path / "run.json").write_text(json.dumps({"config": config}))
    data = family.prepare_data(str(folder), 32, tmp_path, seed=0, pipeline=pipeline)
    _, labels = data.train[0] if pipeline == "numpy" else next(iter(data.train))
    labels = np.asarray(labels)
    assert labels.shape == (32, 3)  # three class folders
    np.testing.assert_allclose(labels.sum(axis=1), 1.0, rtol=1e-6)
    assert ((labels > 0) & (labels < 1)).any()  # mixed, not one-hot
    keras.utils.set_random_seed(0)
    model = family.build_model(config, data.info)
    model.compile("adam", **family.compile_arguments(config, data.info))
    # Validation batches keep class ids: the loss and metric take both forms.
    history = model.fit(
        data.train, validation_data=data.validation, epochs=2, verbose=0
    )
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert np.isfinite(history.history[key]).all(), key
    assert 0 <= family.evaluate(model, data, tmp_path)["accuracy"] <= 1


@pytest.mark.parametrize("key", ["mixup", "cutmix"])
def test_bad_mixing_value_is_named(folder, tmp_path, key):
    (tmp_path / "run.json").write_text(json.dumps({"config": {key: "lots"}}))
    with pytest.raises(ValueError, match=rf"`{key}` must be a non-negative.*'lots'"):
        ViTFamily().prepare_data(str(folder), 32, tmp_path)


def test_prepare_folder_saves_and_reuses_preprocessing(folder, tmp_path):
    family = ViTFamily()
    data = family.prepare_data(str(folder), 16, tmp_path, seed=0)
    assert data.info["class_names"] == ["sneaker", "top", "trouser"]
    assert data.info["image_size"] == [28, 28] and data.info["channels"] == 1
    saved = json.loads((tmp_path / PREPROCESSING_FILE).read_text())
    assert len(saved["mean"]) == 1
    sizes = [
        sum(int(b[1].shape[0]) for b in d)
        for d in (data.train, data.validation, data.test)
    ]
    assert sizes == [97, 11, 12]  # 10% test, then 10% of the rest

    saved["mean"] = [0.5]
    (tmp_path / PREPROCESSING_FILE).write_text(json.dumps(saved))
    again = family.prepare_data(str(folder), 16, tmp_path, seed=0)
    plain = next(iter(again.test))[0].numpy()
    first = next(iter(data.test))[0].numpy()
    assert not np.allclose(plain, first)  # the edited mean was reused

    def order(prepared):
        return [b.numpy().tolist() for _, b in prepared.train]

    # `data.train` was iterated once above: its second pass is reshuffled, and
    # the same as the second pass of a fresh copy (what resuming relies on).
    fresh = family.prepare_data(str(folder), 16, tmp_path, 0)
    first_pass = order(fresh)
    assert order(data) == order(fresh) != first_pass
    model = family.build_model(family.check_preset("tiny"), data.info)
    assert tuple(model(next(iter(data.train))[0]).shape) == (16, 3)


def test_data_with_other_class_names_is_refused(folder, tmp_path, fashion_mnist_small):
    family = ViTFamily()
    family.prepare_data(str(folder), 16, tmp_path, seed=0)
    # As many classes as the run's, under other names: labels would be wrong.
    other = tmp_path / "other"
    (x, _), _ = fashion_mnist_small
    for label, name in enumerate(("bag", "coat", "dress")):
        (other / name).mkdir(parents=True)
        for index in range(3):
            write_png(other / name / f"{index}.png", x[3 * label + index][..., None])
    with pytest.raises(
        ValueError,
        match=r"expected \['sneaker', 'top', 'trouser'\], "
        r"received \['bag', 'coat', 'dress'\]",
    ):
        family.prepare_data(str(other), 16, tmp_path, seed=0)


def test_too_few_images_to_split(tmp_path, fashion_mnist_small):
    (x, _), _ = fashion_mnist_small
    root = tmp_path / "images"
    for index, name in enumerate("ab"):
        (root / name).mkdir(parents=True)
        write_png(root / name / f"{index}.png", x[index][..., None])
    # Test and validation take one image each, which leaves none to train on.
    with pytest.raises(
        ValueError,
        match=r"train split would be empty; expected at least 3 images to split "
        r"into train, test, validation \(one each\), received 2",
    ):
        ViTFamily().prepare_data(str(root), 8, tmp_path / "run")


def test_three_images_make_three_splits(tmp_path, fashion_mnist_small):
    (x, _), _ = fashion_mnist_small
    root = tmp_path / "images"
    for index, name in enumerate("aab"):
        (root / name).mkdir(parents=True, exist_ok=True)
        write_png(root / name / f"{index}.png", x[index][..., None])
    data = ViTFamily().prepare_data(str(root), 8, tmp_path / "run")
    for split in (data.train, data.validation, data.test):
        assert sum(int(labels.shape[0]) for _, labels in split) == 1


@pytest.mark.parametrize(
    "preset",
    [name for name, config in ViTFamily.presets.items() if config["image_size"] <= 32],
)
def test_small_image_presets_build_at_their_size(preset):
    """Each 28 and 32 px preset builds and gives one logit per class."""
    family = ViTFamily()
    config = family.check_preset(preset)
    size = config["image_size"]
    info = {"image_size": [size, size], "channels": 1, "num_classes": 7}
    model = family.build_model(config, info)
    logits = model(np.zeros((2, size, size, 1), "float32"), training=False)
    assert tuple(logits.shape) == (2, 7)
    assert np.isfinite(keras.ops.convert_to_numpy(logits)).all()


def test_unknown_and_missing_sources(tmp_path):
    family = ViTFamily()
    for source in ("imagenet_by_magic", str(tmp_path / "missing"), "tfds:"):
        with pytest.raises(ValueError, match=r"fashion_mnist.*tfds:NAME") as error:
            family.prepare_data(source, 8, tmp_path)
        assert repr(source) in str(error.value)


def test_bad_folders(folder, tmp_path):
    family = ViTFamily()
    single = tmp_path / "single"
    (single / "only").mkdir(parents=True)
    write_png(single / "only" / "a.png", np.zeros((28, 28, 1), np.uint8))
    with pytest.raises(ValueError, match="at least 2 classes; received 1"):
        family.prepare_data(str(single), 8, tmp_path / "run1")
    empty = tmp_path / "empty"
    (empty / "a").mkdir(parents=True)
    (empty / "b").mkdir()
    write_png(empty / "a" / "a.png", np.zeros((28, 28, 1), np.uint8))
    with pytest.raises(ValueError, match="holds no images"):
        family.prepare_data(str(empty), 8, tmp_path / "run2")


def test_tfds_source_with_mock_data(tmp_path):
    import tensorflow_datasets as tfds

    family = ViTFamily()
    with tfds.testing.mock_data(num_examples=40):
        data = family.prepare_data("tfds:mnist", 8, tmp_path, seed=0)
    assert data.info["num_classes"] == 10
    assert data.info["image_size"] == [28, 28] and data.info["channels"] == 1
    assert len(data.info["class_names"]) == 10
    batch, labels = next(iter(data.train))
    assert batch.shape == (8, 28, 28, 1) and labels.shape == (8,)
    assert data.validation is not None and data.test is not None


def test_unknown_tfds_name(tmp_path):
    with pytest.raises(ValueError, match="'tfds:no_such_set_xyz'.*TFDS"):
        ViTFamily().prepare_data("tfds:no_such_set_xyz", 8, tmp_path)


def test_size_option_resizes_every_image_of_a_folder(folder, tmp_path):
    family = ViTFamily()
    data = family.prepare_data(f"{folder}?size=20x24", 16, tmp_path, seed=0)
    assert data.info["image_size"] == [20, 24]
    images, _ = next(iter(data.test))
    assert tuple(images.shape[1:3]) == (20, 24)
    square, _ = vit_family.load_splits(f"{folder}?size=14")
    assert square["train"][0].shape[1:3] == (14, 14)
    for bad in ("0", "2x3x4", "big"):
        with pytest.raises(ValueError, match=f"data option size.*{bad!r}"):
            vit_family.load_splits(f"{folder}?size={bad}")


def test_photos_too_large_for_the_patches_are_refused():
    family = ViTFamily()
    config = family.check_preset("tiny")
    patch = config["patch_size"]
    # A folder of 640x480 photos is loaded at that size: thousands of tokens.
    info = {"image_size": [480, 640], "channels": 3, "num_classes": 3}
    with pytest.raises(ValueError) as error:
        family.build_model(config, info)
    count = (480 // patch) * (640 // patch)
    message = str(error.value)
    assert f"images of 480x640 pixels make {count:,} patches of {patch}x{patch}" in (
        message
    )
    assert "expected at most 4,096" in message and f"?size={16 * patch}" in message
    # The size the message suggests builds.
    info["image_size"] = [16 * patch, 16 * patch]
    assert family.build_model(config, info).count_params() > 0


def test_a_size_too_large_for_the_patches_is_refused_before_loading(
    tmp_path, monkeypatch, capsys
):
    # ?size=999999 resized all 60k images first and died of TensorFlow's
    # out-of-memory error; the preset's patch size refuses it up front.
    from zoo import cli

    loaded = []
    monkeypatch.setattr(vit_family, "load_splits", lambda *a, **k: loaded.append(a))
    out = tmp_path / "run"
    data = "fashion_mnist?size=999999"
    code = cli.main(
        ["train", "vit", "--preset", "tiny", "--data", data, "--out", str(out)]
    )
    err = capsys.readouterr().err
    assert code == 2 and loaded == []
    assert err.startswith("zoo: error: images of 999999x999999 pixels make ")
    assert "expected at most 4,096" in err
