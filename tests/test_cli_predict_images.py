"""`zoo predict DIR FOLDER`: a folder of images stands for the images in it."""

import json
import os

import numpy as np
import pytest

from zoo import cli
from zoo.image_inputs import expand_image_folders, images_under

CLASSES = (0, 1, 7)  # T-shirt/top, Trouser, Sneaker
"""Fashion-MNIST classes of the run and the folders."""


def write_png(path, image):
    import tensorflow as tf

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tf.io.encode_png(np.asarray(image)[..., None]).numpy())


@pytest.fixture(scope="module")
def shirts(tmp_path_factory, fashion_mnist_small):
    """A folder of real Fashion-MNIST images, as a user might keep them.

    Images at the top and in a sub-folder, an upper-case suffix, and what a
    prediction must skip: a text file, a hidden file and a hidden folder.
    """
    (images, _), _ = fashion_mnist_small
    root = tmp_path_factory.mktemp("shirts")
    write_png(root / "b.png", images[0])
    write_png(root / "a.PNG", images[1])
    write_png(root / "more" / "c.png", images[2])
    write_png(root / ".hidden.png", images[3])
    write_png(root / ".ipynb_checkpoints" / "d.png", images[4])
    (root / "notes.txt").write_text("not an image")
    return root


@pytest.fixture(scope="module")
def vit_run(tmp_path_factory, fashion_mnist_small):
    """A run folder of an untrained tiny ViT with real preprocessing state.

    Prediction only reads the model and the state: training would add time,
    not coverage.
    """
    from zoo.models.vit import family as vit
    from zoo.models.vit.presets import VIT_PRESETS

    (images, labels), _ = fashion_mnist_small
    out = tmp_path_factory.mktemp("vit_run")
    config = dict(VIT_PRESETS["tiny"])
    (out / "run.json").write_text(
        json.dumps({"model": "vit", "preset": "tiny", "config": config})
    )
    names = [f"class_{index}" for index in CLASSES]
    chosen = np.isin(labels, CLASSES)
    preprocessing = vit.fit_preprocessing(images[chosen][..., None], names, "test")
    (out / vit.PREPROCESSING_FILE).write_text(json.dumps(preprocessing))
    info = {"image_size": [28, 28], "channels": 1, "num_classes": len(names)}
    vit.ViTFamily().build_model(config, info).save(out / "model.keras")
    return out


def test_a_folder_expands_to_its_images_sorted_with_sub_folders(shirts):
    expected = [
        os.path.join(str(shirts), name) for name in ("a.PNG", "b.png", "more/c.png")
    ]
    assert images_under(str(shirts)) == expected
    # Files and other INPUTs keep their place.
    image = str(shirts / "b.png")
    assert expand_image_folders([image, str(shirts), "missing.png"]) == [
        image,
        *expected,
        "missing.png",
    ]


def test_a_folder_named_with_a_tilde_expands(shirts, monkeypatch):
    monkeypatch.setenv("HOME", str(shirts.parent))
    found = expand_image_folders([f"~/{shirts.name}/more"])
    assert found == [os.path.join(str(shirts), "more", "c.png")]


def test_a_folder_without_images_is_named_in_the_error(tmp_path):
    (tmp_path / "readme.txt").write_text("no images here")
    (tmp_path / ".hidden.png").write_bytes(b"")
    with pytest.raises(ValueError) as info:
        expand_image_folders([str(tmp_path)])
    message = str(info.value)
    assert f"INPUT {str(tmp_path)!r} is a folder with no images" in message
    assert ".png, .jpg, .jpeg, .bmp, .gif" in message
    assert "received none (1 other file(s))" in message


def test_predict_on_a_folder_answers_each_of_its_images(vit_run, shirts, capsys):
    assert cli.main(["predict", str(vit_run), str(shirts), "--top", "1"]) == 0
    by_folder = capsys.readouterr().out.splitlines()
    files = images_under(str(shirts))
    assert [line.split(": ")[0] for line in by_folder] == files
    # The same predictions as for the files named one by one.
    assert cli.main(["predict", str(vit_run), *files, "--top", "1"]) == 0
    assert capsys.readouterr().out.splitlines() == by_folder


def test_predict_on_an_empty_folder_is_a_one_line_error(vit_run, tmp_path, capsys):
    assert cli.main(["predict", str(vit_run), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert f"zoo: error: INPUT {str(tmp_path)!r} is a folder with no images" in err


def test_a_text_model_gets_a_folder_name_as_text(tmp_path, monkeypatch):
    from zoo import trainer
    from zoo.registry import get_family

    family = get_family("seq2seq")
    received = []

    def predict(model, run_dir, inputs, options):
        received.extend(inputs)
        return ""

    monkeypatch.setattr(family, "predict", predict)
    monkeypatch.setattr(trainer, "load_run", lambda run_dir: (family, None, None))
    trainer.predict_run(tmp_path, [str(tmp_path)])
    assert received == [str(tmp_path)]


def test_explain_refuses_more_images_than_one_figure_holds(
    vit_run, fashion_mnist_small, tmp_path, capsys
):
    from zoo.models.vit.family import MAX_EXPLAINED_IMAGES

    (images, _), _ = fashion_mnist_small
    folder = tmp_path / "many"
    for index in range(MAX_EXPLAINED_IMAGES + 1):
        write_png(folder / f"{index:02d}.png", images[index])
    figure = tmp_path / "explain.png"
    arguments = ["predict", str(vit_run), str(folder), "--explain", str(figure)]
    assert cli.main(arguments) == 2
    assert f"--explain draws at most {MAX_EXPLAINED_IMAGES} images" in (
        capsys.readouterr().err
    )
    assert not figure.exists()
    # As many as it holds are drawn.
    (folder / "00.png").unlink()
    assert cli.main(arguments) == 0
    assert figure.stat().st_size > 1000
