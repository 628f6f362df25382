"""`zoo train/evaluate/predict/export` end to end, resume after SIGKILL, bad input."""

import csv
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.cmudict_slice import write_cmudict_slice
from zoo import cli
from zoo import run_dir as runs
from zoo.export import backend_can_export

pytestmark = pytest.mark.slow  # trains through the command line, killed and resumed

REPO = Path(__file__).resolve().parents[1]


def zoo_command(*args):
    return [sys.executable, "-m", "zoo.cli", *map(str, args)]


def run_zoo(*args, timeout=600, **env_overrides):
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.update(env_overrides)
    return subprocess.run(
        zoo_command(*args),
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=REPO,
    )


def kill_after_first_backup(
    argv, out, settle=0.0, kill_signal=signal.SIGKILL, **env_overrides
):
    """Start `zoo train ARGV`; signal it ``settle`` s after its first backup.

    Returns:
        The process's standard error.
    """
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.update(env_overrides)
    stderr = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(
        zoo_command(*argv),
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
    )
    metadata = out / "backup" / "training_metadata.json"
    deadline = time.monotonic() + 300
    while not metadata.exists() and time.monotonic() < deadline:
        assert process.poll() is None, "training ended before it could be killed"
        time.sleep(0.05)
    time.sleep(settle)
    assert process.poll() is None, "training ended before it could be killed"
    process.send_signal(kill_signal)
    assert process.wait() == (-kill_signal if kill_signal == signal.SIGKILL else 143)
    assert metadata.exists() and not (out / "metrics.json").exists()
    stderr.seek(0)
    return stderr.read()


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory, fashion_mnist_small):
    """A folder of real Fashion-MNIST PNGs, one sub-folder per class (3 classes)."""
    import tensorflow as tf

    from zoo.data.fashion_mnist import CLASS_NAMES

    root = tmp_path_factory.mktemp("images")
    (images, labels), _ = fashion_mnist_small
    for class_id in (0, 1, 7):
        folder = root / CLASS_NAMES[class_id].replace("/", "-")
        folder.mkdir()
        for index in np.flatnonzero(labels == class_id)[:80]:
            png = tf.io.encode_png(images[index][..., None]).numpy()
            (folder / f"{index}.png").write_bytes(png)
    return root


def history_rows(run_dir):
    with open(Path(run_dir) / "history.csv") as handle:
        return list(csv.DictReader(handle))


def saved_weights(run_dir):
    from zoo.trainer import load_run

    _, _, model = load_run(run_dir)  # imports the family's custom classes
    return model.get_weights()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "nosuchmodel"], "unknown model 'nosuchmodel'; expected one of: "),
        (["train", "vit", "--preset", "huge"], "unknown preset 'huge'"),
        (["train", "vit", "--data", "nosuchdata"], "nosuchdata"),
        (["train", "vit", "--data", "/no/such/folder"], "/no/such/folder"),
    ],
)
def test_bad_names_and_paths_are_one_line_errors(argv, message, tmp_path, capsys):
    code = cli.main([*argv, "--out", str(tmp_path / "run"), "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize("flag", ["--epochs", "--batch-size"])
@pytest.mark.parametrize("value", ["0", "-3", "two"])
def test_non_positive_epochs_and_batch_size_exit_2(flag, value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["train", "vit", flag, value])
    assert exit_info.value.code == 2
    assert "expected a positive integer" in capsys.readouterr().err


def test_out_holding_another_models_run_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text(
        json.dumps({"model": "seq2seq", "preset": "tiny", "data": "cmudict"})
    )
    (out / "model.keras").write_bytes(b"")  # it trained
    code = cli.main(["train", "vit", "--out", str(out), "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert "holds a run of model 'seq2seq'; received model 'vit'" in err


RECORD = {
    "model": "vit",
    "preset": "tiny",
    "data": "fashion_mnist",
    "seed": 0,
    "batch_size": 128,  # the tiny ViT preset's
    "precision": "auto",
}


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--seed", "1"], "holds a run of seed 0; received seed 1"),
        (
            ["--batch-size", "16"],
            "holds a run of batch_size 128; received batch_size 16",
        ),
        (
            ["--precision", "float32"],
            "of precision 'auto'; received precision 'float32'",
        ),
    ],
)
def test_resuming_with_other_settings_is_refused(flags, message, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text(json.dumps(RECORD))
    (out / "backup").mkdir()  # a saved epoch
    code = cli.main(["train", "vit", "--out", str(out), "--epochs", "1", *flags])
    assert code == 2
    assert message in capsys.readouterr().err


def test_a_second_train_into_a_folder_being_trained_is_refused(tmp_path, capsys):
    from tests.lock_holder import lock_held_elsewhere
    from zoo import run_dir as runs

    out = tmp_path / "run"
    with lock_held_elsewhere(out) as pid:  # as another `zoo train` holds it
        (out / "run.json").write_text(json.dumps(RECORD))
        code = cli.main(["train", "vit", "--out", str(out), "--epochs", "1"])
        assert code == 2
        assert (
            f"--out {str(out)!r} is being trained by another process (pid {pid})"
            in capsys.readouterr().err
        )
        assert sorted(path.name for path in out.iterdir()) == [".zoo.lock", "run.json"]
    # This process holds it and removes the file on release.
    with runs.training_lock(out):
        assert (out / ".zoo.lock").read_text() == f"{os.getpid()}\n"
    assert sorted(path.name for path in out.iterdir()) == ["run.json"]


def test_a_run_killed_while_writing_its_first_run_json_gives_way(tmp_path):
    from zoo import run_dir as runs

    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json.partial").write_text('{"model": "vi')
    assert runs.start_or_resume(out, RECORD) is False
    assert sorted(path.name for path in out.iterdir()) == ["run.json"]
    # Beside other files it is no leftover of ours alone: refused as before.
    (out / "run.json").unlink()
    (out / "run.json.partial").write_text("{")
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="is not empty and holds no zoo run"):
        runs.start_or_resume(out, RECORD)


def test_a_run_whose_auto_precision_resolves_otherwise_here_is_refused(
    tmp_path, capsys
):
    out = tmp_path / "run"
    out.mkdir()
    # Trained with --precision auto on a GPU; resumed with auto on this CPU.
    gpu_run = {**RECORD, "precision": "mixed_bfloat16", "precision_requested": "auto"}
    (out / "run.json").write_text(json.dumps(gpu_run))
    (out / "backup").mkdir()
    code = cli.main(["train", "vit", "--out", str(out), "--epochs", "1"])
    assert code == 2
    assert (
        "holds a run of precision 'mixed_bfloat16'; received precision 'float32' "
        "(what --precision auto gives on this machine)"
    ) in capsys.readouterr().err


def test_a_run_killed_before_its_first_epoch_gives_way_to_other_settings(
    tmp_path, capsys
):
    from zoo import run_dir as runs

    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text(json.dumps(RECORD))
    # What the killed run had prepared for its seed: stale for another.
    (out / "tokenizer").mkdir()
    (out / "tokenizer" / "vocabulary.txt").write_text("[PAD]\n")
    (out / "series.json").write_text("{}")
    other = {**RECORD, "seed": 1}
    assert runs.start_or_resume(out, other) is False
    assert sorted(path.name for path in out.iterdir()) == ["run.json"]
    assert runs.read_run(out) == {**other, "backend": keras.backend.backend()}
    assert "replacing a run that was stopped before it saved an epoch" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize("out_existed", [False, True])
def test_a_new_run_that_fails_before_its_first_epoch_leaves_out_free(
    out_existed, image_folder, tmp_path, capsys
):
    out = tmp_path / "run"
    if out_existed:
        out.mkdir()
    # Fails after the data were prepared (and their state written to --out).
    failing = ["--data", str(image_folder), "--distribute", "tpu"]
    assert cli.main(["train", "vit", "--out", str(out), "--epochs", "1", *failing]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert out.exists() == out_existed
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "vit", "--data", ""], "--data: expected a non-empty value"),
        (["train", "vit", "--preset", " "], "--preset: expected a non-empty value"),
        (["export", ".", "--to", ""], "--to: expected a non-empty value"),
        (["predict", ".", ""], "INPUT: expected a non-empty value"),
    ],
)
def test_empty_values_are_usage_errors(argv, message, capsys):
    # An unset shell variable must not fall back to the default dataset.
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_paths_that_cannot_be_folders_are_named(tmp_path, capsys, monkeypatch):
    # As where export runs: under PyTorch the backend is refused first.
    monkeypatch.setattr("zoo.export.backend_can_export", lambda: True)
    a_file = tmp_path / "a_file"
    a_file.write_text("not a folder")
    assert cli.main(["train", "vit", "--out", str(a_file), "--epochs", "1"]) == 2
    assert (
        f"--out {str(a_file)!r} is a file; expected a folder" in capsys.readouterr().err
    )
    assert cli.main(["export", str(tmp_path), "--to", str(a_file)]) == 2
    assert f"--to {str(a_file)!r} is a file" in capsys.readouterr().err
    under_a_file = a_file / "saved_model"
    assert cli.main(["export", str(tmp_path), "--to", str(under_a_file)]) == 2
    assert "cannot be created (Not a directory)" in capsys.readouterr().err
    # A folder holding no run: the export fails and leaves no empty --to.
    new_folder = tmp_path / "exported"
    assert cli.main(["export", str(tmp_path), "--to", str(new_folder)]) == 2
    assert "holds no" in capsys.readouterr().err
    assert not new_folder.exists()


@pytest.mark.parametrize(
    "run_json, model_bytes, message",
    [
        ("{not json", None, "run.json is not valid JSON"),
        ("[1, 2]", None, "run.json must hold a JSON object"),
        (json.dumps(RECORD), b"cut short", "model.keras is not a readable .keras file"),
    ],
)
def test_damaged_run_files_are_named(run_json, model_bytes, message, tmp_path, capsys):
    (tmp_path / "run.json").write_text(run_json)
    if model_bytes is not None:
        (tmp_path / "model.keras").write_bytes(model_bytes)
    assert cli.main(["evaluate", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1


def test_evaluate_a_folder_without_a_run_is_an_error(tmp_path, capsys):
    assert cli.main(["evaluate", str(tmp_path)]) == 2
    assert "holds no zoo run" in capsys.readouterr().err


def test_evaluate_a_run_that_names_no_data_asks_for_it(tmp_path, capsys):
    # As benchmarks wrote their run folders before they recorded the data.
    (tmp_path / "run.json").write_text(json.dumps({"model": "vit", "config": {}}))
    (tmp_path / "model.keras").write_bytes(b"")
    assert cli.main(["evaluate", str(tmp_path)]) == 2
    assert "does not record the data it was trained on" in capsys.readouterr().err


def test_train_evaluate_predict_export_round_trip(image_folder, tmp_path):
    out = tmp_path / "run"
    trained = run_zoo(
        "train",
        "vit",
        "--preset",
        "tiny",
        "--data",
        image_folder,
        "--epochs",
        "5",
        "--batch-size",
        "16",
        "--out",
        out,
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    for name in (
        "model.keras",
        "metrics.json",
        "history.csv",
        "run.json",
        "training_curve.png",
    ):
        assert (out / name).exists(), name
    assert not (out / ".zoo.lock").exists()  # released with the run
    # PyTorch has no SavedModel export: its run says how to write one.
    assert (out / "saved_model/saved_model.pb").exists() == backend_can_export()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["accuracy"] > 0.5  # three classes: chance is 1/3
    # The policy "auto" resolved to on this CPU, so a resume elsewhere can tell.
    record = json.loads((out / "run.json").read_text())
    assert (record["precision"], record["precision_requested"]) == ("float32", "auto")

    evaluated = run_zoo("evaluate", out)
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    assert json.loads(evaluated.stdout)["accuracy"] == pytest.approx(
        metrics["accuracy"], abs=1e-6
    )
    image = next((image_folder / "Trouser").glob("*.png"))
    predicted = run_zoo("predict", out, image)
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert "Trouser" in predicted.stdout

    # From TensorFlow, whichever backend trained the run.
    exported = run_zoo(
        "export", out, "--to", tmp_path / "exported", KERAS_BACKEND="tensorflow"
    )
    assert exported.returncode == 0, exported.stderr[-3000:]
    assert (tmp_path / "exported" / "saved_model.pb").exists()

    # A folder that records neither its data nor its batch size (as the ViT
    # benchmark wrote them) is evaluated on the data named.
    from zoo import trainer

    record = json.loads((out / "run.json").read_text())
    del record["data"], record["batch_size"]
    (out / "run.json").write_text(json.dumps(record))
    again = trainer.evaluate_run(out, data=str(image_folder))
    assert again["accuracy"] == pytest.approx(metrics["accuracy"], abs=1e-6)


def test_sigkill_mid_epoch_then_rerun_equals_an_uninterrupted_run(
    image_folder, tmp_path
):
    common = [
        "train",
        "vit",
        "--preset",
        "tiny",
        "--data",
        image_folder,
        "--epochs",
        "4",
        "--batch-size",
        "16",
        "--deterministic",
    ]
    reference = run_zoo(*common, "--out", tmp_path / "reference")
    assert reference.returncode == 0, reference.stderr[-3000:]

    out = tmp_path / "killed"
    # Once the first epoch is backed up, killed early in the second. Not
    # later: on an idle machine an epoch of these few images takes less
    # than 0.2 s, and the run must not have finished (nor removed its backup).
    kill_after_first_backup([*common, "--out", out], out, settle=0.05)

    resumed = run_zoo(*common, "--out", out)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    expected_rows, got_rows = history_rows(tmp_path / "reference"), history_rows(out)
    assert [row["epoch"] for row in got_rows] == ["0", "1", "2", "3"]
    for expected, got in zip(expected_rows, got_rows):
        assert float(got["loss"]) == pytest.approx(float(expected["loss"]), rel=1e-6)
    for expected, got in zip(saved_weights(tmp_path / "reference"), saved_weights(out)):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


@pytest.fixture
def backend_determinism(monkeypatch):
    """Yield the backend's name; afterwards its kernels are as they were."""
    import keras

    backend = keras.backend.backend()
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_enable_fast_math=false")
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    if backend == "tensorflow":
        from tensorflow.python.framework import config

        was_enabled = config.is_op_determinism_enabled()
        yield backend
        if not was_enabled:
            config.disable_op_determinism()
    elif backend == "torch":
        import torch

        was_enabled = torch.are_deterministic_algorithms_enabled()
        yield backend
        torch.use_deterministic_algorithms(was_enabled)
    else:
        yield backend


def test_deterministic_switches_the_backend_to_deterministic_kernels(
    backend_determinism,
):
    from zoo import trainer

    trainer._enable_determinism()
    trainer._enable_determinism()  # a resumed run in the same process adds nothing twice
    if backend_determinism == "tensorflow":
        from tensorflow.python.framework import config

        assert config.is_op_determinism_enabled()
    elif backend_determinism == "jax":
        # The user's own flags stay; XLA reads them when JAX starts its devices.
        assert os.environ["XLA_FLAGS"] == (
            "--xla_cpu_enable_fast_math=false --xla_gpu_deterministic_ops=true"
        )
    else:
        import torch

        assert torch.are_deterministic_algorithms_enabled()
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"


def test_determinism_is_enabled_before_the_precision_looks_at_devices(
    monkeypatch, tmp_path
):
    from zoo import registry, trainer

    calls = []
    monkeypatch.setattr(
        trainer, "_enable_determinism", lambda: calls.append("determinism")
    )

    def resolve(precision):
        calls.append("precision")  # lists the devices: JAX starts them
        return "float32"

    monkeypatch.setattr("training.precision.resolve_precision", resolve)
    family = registry.get_family("vit")
    with pytest.raises(ValueError):  # stops at the data, which is not there
        trainer.train_run(
            family,
            "tiny",
            str(tmp_path / "none"),
            tmp_path / "run",
            1,
            deterministic=True,
        )
    assert calls == ["determinism", "precision"]


class Killed(Exception):
    """Stands in for SIGKILL at a chosen point of `zoo train`."""


def test_a_run_killed_after_training_is_finished_without_training_again(
    image_folder, tmp_path, monkeypatch, capsys
):
    from zoo import registry, trainer
    from zoo import run_dir as runs

    family = registry.get_family("vit")
    out = tmp_path / "run"

    def killed_while_evaluating(*args, **kwargs):
        raise Killed

    with monkeypatch.context() as patch:
        # After training, before the metrics and the SavedModel are written.
        patch.setattr(family, "evaluate", killed_while_evaluating)
        with pytest.raises(Killed):
            trainer.train_run(family, "tiny", str(image_folder), out, 2, 16)
    record = runs.read_run(out)
    assert record["trained"] and record["epochs_completed"] == 2
    assert not record.get("completed")
    assert not (out / "backup").exists()
    rows = history_rows(out)
    # As a kill right after `trained` was recorded leaves it: never resumed.
    (out / "backup").mkdir()
    (out / "backup" / "training_metadata.json").write_text('{"epoch": 1}')

    def trained_again(*args, **kwargs):
        raise AssertionError("a trained run was trained again")

    monkeypatch.setattr("training.recipe.fit", trained_again)
    metrics = trainer.train_run(family, "tiny", str(image_folder), out, 2, 16)
    assert metrics["epochs_completed"] == 2
    assert history_rows(out) == rows
    assert (out / "metrics.json").exists() and not (out / "backup").exists()
    saved_model = out / "saved_model" / "saved_model.pb"
    assert saved_model.exists() == backend_can_export()
    assert runs.read_run(out)["completed"]

    # As a run finished under PyTorch: the rerun says how to export it.
    shutil.rmtree(out / "saved_model", ignore_errors=True)
    capsys.readouterr()
    trainer.train_run(family, "tiny", str(image_folder), out, 2, 16)
    assert (
        f"{out} has no saved_model/: write it with "
        f"`KERAS_BACKEND=tensorflow zoo export {out}`"
    ) in capsys.readouterr().err


def test_resuming_with_other_epochs_records_them(image_folder, tmp_path):
    from zoo import registry, trainer
    from zoo import run_dir as runs

    out = tmp_path / "run"
    out.mkdir()
    # An interrupted run that was started with --epochs 3.
    record = {**RECORD, "data": str(image_folder), "batch_size": 16, "epochs": 3}
    (out / "run.json").write_text(json.dumps(record))
    family = registry.get_family("vit")
    metrics = trainer.train_run(family, "tiny", str(image_folder), out, 1, 16)
    assert metrics["epochs_completed"] == 1
    assert runs.read_run(out)["epochs"] == 1


@pytest.mark.parametrize(
    "family_name, kill_at",
    [("vit", 1), ("forecaster", 1), ("seq2seq", 1), ("seq2seq", 2), ("seq2seq", 3)],
)
def test_a_run_killed_while_writing_its_data_state_prepares_it_again(
    family_name, kill_at, image_folder, tmp_path, monkeypatch
):
    """Killed between writing a state file and renaming it into place.

    The files were written in place: a kill left a cut-short tokenizer,
    preprocessing.json or series.json that every rerun refused.
    """
    from training.callbacks import atomic_checkpoints
    from zoo import registry
    from zoo.data.cmudict import read_pronunciations

    out = tmp_path / "run"
    pairs = tmp_path / "pairs.tsv"
    words = read_pronunciations()
    pairs.write_text("".join(f"{w}\t{words[w][0]}\n" for w in sorted(words)[:300]))
    source = {
        "vit": str(image_folder),
        "forecaster": "seattle_weather",
        "seq2seq": str(pairs),
    }[family_name]
    family = registry.get_family(family_name)
    replace = atomic_checkpoints.os.replace
    renamed = []

    def killed_at_a_rename(partial, path):
        if Path(path).parent == out:
            renamed.append(path)
            if len(renamed) == kill_at:
                raise Killed
        replace(partial, path)

    monkeypatch.setattr(atomic_checkpoints.os, "replace", killed_at_a_rename)
    with pytest.raises(Killed):
        family.prepare_data(source, 16, out)
    monkeypatch.undo()
    family.prepare_data(source, 16, out)  # the rerun
    for path in out.glob("*.json"):
        assert isinstance(json.loads(path.read_text()), dict), path


@pytest.fixture(scope="module")
def small_cmudict(tmp_path_factory):
    """Every 300th real CMUdict word: ~450 words, a few seconds an epoch."""
    folder = tmp_path_factory.mktemp("cmudict")
    return write_cmudict_slice(folder / "cmudict_slice.tsv", 300)


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow"
    or importlib.util.find_spec("torch") is None,
    reason="sets the backends itself: once, in the TensorFlow pass, with PyTorch",
)
def small_g2p_run(small_cmudict, out):
    """`zoo train` arguments of a 3-epoch tiny G2P run on ``small_cmudict``."""
    argv = ["train", "seq2seq", "--preset", "tiny", "--epochs", "3"]
    argv += ["--data", f"{small_cmudict}?task=g2p", "--batch-size", "16"]
    return argv + ["--out", out]


def test_sigterm_stops_training_as_ctrl_c_does_and_the_run_resumes(
    small_cmudict, tmp_path
):
    out = tmp_path / "run"
    argv = small_g2p_run(small_cmudict, out)
    # A scheduler's stop: a message and status 143, the lock file removed.
    stderr = kill_after_first_backup(argv, out, kill_signal=signal.SIGTERM)
    assert "zoo: terminated" in stderr
    assert not (out / ".zoo.lock").exists()
    resumed = run_zoo(*argv)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert [row["epoch"] for row in history_rows(out)] == ["0", "1", "2"]


def test_a_backup_written_under_tensorflow_resumes_under_pytorch(
    small_cmudict, tmp_path
):
    # PyTorch lists a seq2seq model's variables in another order than
    # TensorFlow: the backup's optimizer state loads by variable name.
    out = tmp_path / "run"
    argv = small_g2p_run(small_cmudict, out)
    kill_after_first_backup(argv, out, KERAS_BACKEND="tensorflow")
    first_loss = float(history_rows(out)[0]["loss"])

    resumed = run_zoo(*argv, KERAS_BACKEND="torch")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    rows = history_rows(out)
    assert [row["epoch"] for row in rows] == ["0", "1", "2"]
    assert float(rows[0]["loss"]) == first_loss  # TensorFlow's epoch, kept
    # Training went on from the backup rather than from scratch.
    assert float(rows[1]["loss"]) < first_loss
    assert runs.read_run(out)["backend"] == "torch"
