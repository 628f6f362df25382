"""Paths as users meet them: names with ``?`` or ``~``, folders, compressed files.

Real data only: slices of CMUdict, Seattle weather and Fashion-MNIST written
out as the files a user would bring. Nothing here trains.
"""

import gzip
import json
import os
from pathlib import Path

import numpy as np
import pytest

from tests.cmudict_slice import write_cmudict_slice
from zoo import cli
from zoo import run_dir as runs
from zoo.data import images, series
from zoo.data.source_query import absolute_source, split_source
from zoo.models.seq2seq import sources as seq2seq_sources
from zoo.models.vit import family as vit_family


@pytest.fixture(scope="module")
def pairs_text(tmp_path_factory):
    path = tmp_path_factory.mktemp("slice") / "pairs.tsv"
    return write_cmudict_slice(path, 400).read_text()


@pytest.fixture(scope="module")
def weather_csv_text():
    vega_datasets = pytest.importorskip("vega_datasets")
    frame = vega_datasets.local_data.seattle_weather().drop(columns=["weather"])
    return frame.to_csv(index=False)


@pytest.fixture()
def home(tmp_path, monkeypatch):
    """A home folder of its own, so ``~`` means ``tmp_path / "home"``."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    return folder


def test_a_file_name_holding_a_question_mark_is_one_location(
    tmp_path, monkeypatch, pairs_text
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pairs?.tsv").write_text(pairs_text)
    assert split_source("pairs?.tsv", ("task",)) == ("pairs?.tsv", [])
    # The options start after the existing file's name.
    location, options = seq2seq_sources.parse_source("pairs?.tsv?task=g2p")
    assert (location, options.task) == ("pairs?.tsv", "g2p")
    splits = seq2seq_sources.load_splits(location)
    assert sum(map(len, splits.values())) == len(
        {line.split("\t")[0] for line in pairs_text.splitlines()}
    )


def test_an_image_folder_whose_name_holds_a_question_mark(
    tmp_path, monkeypatch, fashion_mnist_small
):
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    images_, labels = fashion_mnist_small[0]
    for index in range(40):
        folder = tmp_path / "was?ist das" / f"class {labels[index]}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(images_[index]).save(folder / f"{index}.png")
    splits, names = vit_family.load_splits("was?ist das?size=14")
    assert len(names) == len(set(labels[:40].tolist()))
    assert sum(len(labels) for _, labels in splits.values()) == 40
    assert splits["train"][0].shape[1:3] == (14, 14)


def test_without_a_matching_file_options_start_at_the_first_question_mark(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    assert split_source("nothing.tsv?task=g2p", ("task",)) == (
        "nothing.tsv",
        [("task", "g2p")],
    )
    with pytest.raises(ValueError, match=r"data option '\.tsv'"):
        split_source("pairs?.tsv", ("task",))


def test_other_query_characters_are_plain_in_a_file_name(
    tmp_path, monkeypatch, pairs_text
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a=b&c#d%e:f.tsv").write_text(pairs_text)
    location, options = seq2seq_sources.parse_source("a=b&c#d%e:f.tsv?task=g2p")
    assert (location, options.task) == ("a=b&c#d%e:f.tsv", "g2p")
    assert seq2seq_sources.load_splits(location)["train"]


def test_a_built_in_name_wins_over_a_file_of_that_name(tmp_path, monkeypatch):
    # Documented in zoo.data.source_query: ./cmudict is the file.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cmudict").write_text("not read\n")
    assert seq2seq_sources.parse_source("cmudict")[1].task == "g2p"
    with pytest.raises(ValueError, match=r"received '\./cmudict'"):
        seq2seq_sources.load_splits(seq2seq_sources.parse_source("./cmudict")[0])


def test_a_quoted_tilde_is_the_home_folder(home, tmp_path, monkeypatch, pairs_text):
    # Options make the source a quoted word (& ends a shell command), and a
    # shell leaves ~ in quotes alone.
    monkeypatch.chdir(tmp_path)
    (home / "my pairs.tsv").write_text(pairs_text)
    location, options = seq2seq_sources.parse_source("~/my pairs.tsv?task=g2p")
    assert location == str(home / "my pairs.tsv")
    assert options.task == "g2p"
    assert seq2seq_sources.load_splits(location)["train"]


def test_a_folder_given_as_a_tsv_is_named_a_folder(tmp_path):
    (tmp_path / "pairs.tsv").mkdir()
    with pytest.raises(ValueError, match="is a folder; expected a .tsv file"):
        seq2seq_sources.load_splits(str(tmp_path / "pairs.tsv"))


def test_zoo_train_with_a_folder_as_tsv_exits_2_naming_it(tmp_path, capsys):
    (tmp_path / "pairs.tsv").mkdir()
    out = tmp_path / "run ü"
    status = cli.main(
        [
            "train",
            "seq2seq",
            "--data",
            str(tmp_path / "pairs.tsv") + "?task=g2p",
            "--epochs",
            "1",
            "--out",
            str(out),
        ]
    )
    error = capsys.readouterr().err
    assert status == 2
    assert "pairs.tsv' is a folder; expected a .tsv file" in error
    assert "Traceback" not in error
    assert not out.exists()


def test_a_gzip_compressed_csv_reads_as_the_plain_one(tmp_path, weather_csv_text):
    (tmp_path / "plain.csv").write_text(weather_csv_text)
    (tmp_path / "packed.csv").write_bytes(gzip.compress(weather_csv_text.encode()))
    plain = series.read_frame(tmp_path / "plain.csv")
    packed = series.read_frame(tmp_path / "packed.csv")
    assert plain.shape == (1461, 4)
    np.testing.assert_array_equal(plain.to_numpy(), packed.to_numpy())
    assert list(plain.index) == list(packed.index)


def test_a_broken_gzip_csv_is_named(tmp_path, weather_csv_text):
    packed = gzip.compress(weather_csv_text.encode())
    (tmp_path / "cut.csv").write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ValueError, match="cut.csv'.*broken gzip file"):
        series.read_frame(tmp_path / "cut.csv")


def test_an_empty_csv_is_named(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(ValueError, match=r"series file '.*empty\.csv' is empty"):
        series.read_frame(tmp_path / "empty.csv")


def test_a_folder_given_as_a_csv_is_named_a_folder(tmp_path):
    (tmp_path / "weather.csv").mkdir()
    with pytest.raises(ValueError, match="is a folder; expected a .csv file"):
        series.read_frame(tmp_path / "weather.csv")


def test_a_csv_that_is_not_utf8_is_named(tmp_path, weather_csv_text):
    # As a spreadsheet in Western Europe saves it: Latin-1 headers.
    text = weather_csv_text.replace("temp_max", "Temperatur max (°C)", 1)
    (tmp_path / "wetter.csv").write_bytes(text.encode("latin-1"))
    with pytest.raises(ValueError, match=r"wetter\.csv': expected UTF-8 text"):
        series.read_frame(tmp_path / "wetter.csv")


def test_crlf_and_byte_order_mark_csv_read_as_plain(tmp_path, weather_csv_text):
    (tmp_path / "plain.csv").write_text(weather_csv_text)
    windows = "\ufeff" + weather_csv_text.replace("\n", "\r\n")
    (tmp_path / "windows.csv").write_bytes(windows.encode())
    plain = series.read_frame(tmp_path / "plain.csv")
    other = series.read_frame(tmp_path / "windows.csv")
    assert list(other.columns) == list(plain.columns)
    np.testing.assert_array_equal(plain.to_numpy(), other.to_numpy())


def test_an_image_path_with_a_quoted_tilde(home, fashion_mnist_small):
    from PIL import Image

    picture = fashion_mnist_small[0][0][0]
    Image.fromarray(picture).save(home / "bild 1 ü.png")
    image = images.read_image_file("~/bild 1 ü.png")
    np.testing.assert_array_equal(image[..., 0], picture)


def test_a_quoted_glob_of_images_says_the_shell_expands_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        ValueError, match=r"'photos/\*\.png' does not exist \(a pattern"
    ):
        images.read_image_file("photos/*.png")


class _Archive:
    """Writes what a SavedModel's folder holds (the export itself is tested in
    tests/test_export.py); here only where it lands matters."""

    def write_out(self, path, verbose=True):
        os.makedirs(os.path.join(path, "variables"), exist_ok=True)
        with open(os.path.join(path, "saved_model.pb"), "w") as handle:
            handle.write("model")


def test_export_to_the_working_folder(tmp_path, monkeypatch):
    from zoo.export import write_out

    monkeypatch.chdir(tmp_path)
    assert write_out(_Archive(), ".") == Path(".")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "saved_model.pb",
        "variables",
    ]
    # Again, over the SavedModel it holds: still the same folder, in place.
    write_out(_Archive(), ".")
    assert os.path.samefile(os.getcwd(), tmp_path)
    assert (tmp_path / "saved_model.pb").read_text() == "model"


def test_export_to_a_path_ending_in_dot_dot(tmp_path, monkeypatch):
    from zoo.export import write_out

    monkeypatch.chdir(tmp_path)
    write_out(_Archive(), "model ü")
    # Over that SavedModel, named through its own subfolder.
    write_out(_Archive(), "model ü/variables/..")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model ü"]
    assert sorted(p.name for p in (tmp_path / "model ü").iterdir()) == [
        "saved_model.pb",
        "variables",
    ]


def test_a_local_source_is_made_absolute_and_built_ins_are_kept(
    tmp_path, monkeypatch, home
):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pairs.tsv").write_text("a\tb\n")
    (tmp_path / "cmudict").mkdir()  # a built-in name still means the built-in
    assert absolute_source("pairs.tsv?task=g2p") == f"{tmp_path}/pairs.tsv?task=g2p"
    assert absolute_source("./pairs.tsv") == f"{tmp_path}/pairs.tsv"
    (home / "h.tsv").write_text("a\tb\n")
    assert absolute_source("~/h.tsv") == f"{home}/h.tsv"
    for kept in ("cmudict", "tfds:x/y?task=g2p", "missing.tsv?task=g2p"):
        assert absolute_source(kept) == kept


def test_zoo_train_records_its_data_absolute(tmp_path, monkeypatch, pairs_text):
    # Relative, `zoo evaluate DIR` from another folder read another file, or
    # none ("no such .tsv file"), and a resume there trained on it.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pairs.tsv").write_text(pairs_text)
    recorded = []

    def refuse(out, record):
        recorded.append(record)
        raise ValueError("stop here")

    monkeypatch.setattr(runs, "start_or_resume", refuse)
    argv = ["train", "seq2seq", "--data", "pairs.tsv?task=g2p", "--out", "run"]
    assert cli.main(argv) == 2
    assert recorded[0]["data"] == f"{tmp_path}/pairs.tsv?task=g2p"


def test_a_resume_compares_the_file_a_source_names_not_its_spelling(
    tmp_path, monkeypatch, pairs_text
):
    # "./pairs.tsv" was refused against a run of "pairs.tsv", and "pairs.tsv"
    # from another folder, another file, resumed it.
    trained_in, elsewhere = tmp_path / "a", tmp_path / "b"
    for folder, lines in ((trained_in, 300), (elsewhere, 200)):
        folder.mkdir()
        text = "".join(pairs_text.splitlines(keepends=True)[:lines])
        (folder / "pairs.tsv").write_text(text)
    record = {"model": "seq2seq", "preset": "tiny", "seed": 0, "batch_size": 16}
    record |= {"precision": "float32", "epochs": 2}
    monkeypatch.setattr(runs, "_backend", lambda: "tensorflow")

    def run_of(data):
        out = tmp_path / "runs" / str(len(list(tmp_path.glob("runs/*"))))
        out.mkdir(parents=True)
        old = {**record, "data": data, "backend": "tensorflow"}
        (out / runs.RUN_FILE).write_text(json.dumps(old))
        (out / runs.MODEL_FILE).write_bytes(b"")  # an epoch saved: no replacing
        return out

    monkeypatch.chdir(trained_in)
    # A run recorded before sources were recorded absolute: its relative
    # path names the file seen from where the resume runs, as it did.
    legacy = run_of("pairs.tsv?task=g2p")
    same = {**record, "data": absolute_source("./pairs.tsv?task=g2p")}
    assert runs.start_or_resume(legacy, same) is True
    recorded = run_of(same["data"])
    monkeypatch.chdir(elsewhere)
    other = {**record, "data": absolute_source("pairs.tsv?task=g2p")}
    with pytest.raises(ValueError, match=f"received data '{elsewhere}/pairs.tsv"):
        runs.start_or_resume(recorded, other)
    from_elsewhere = {**record, "data": absolute_source("../a/pairs.tsv?task=g2p")}
    assert runs.start_or_resume(recorded, from_elsewhere) is True


def test_a_history_csv_with_a_quoted_tilde(home, weather_csv_text):
    # zoo predict DIR "~/history.csv": "series file not found".
    lines = weather_csv_text.splitlines(keepends=True)
    (home / "history.csv").write_text("".join(lines[:1] + lines[-120:]))
    assert len(series.read_frame("~/history.csv")) == 120
