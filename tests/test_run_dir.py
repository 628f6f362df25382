"""What a run folder's files give back without the `zoo` command around them."""

import json
import os
import subprocess
import sys
from pathlib import Path

from zoo import run_dir as runs

REPO = Path(__file__).resolve().parents[1]


def test_a_trained_model_loads_in_a_program_that_imported_no_family(tmp_path):
    from zoo import registry

    family = registry.get_family("vit")
    config = family.check_preset("tiny")
    info = {"image_size": [28, 28], "channels": 1, "num_classes": 3}
    family.build_model(config, info).save(tmp_path / "model.keras")
    (tmp_path / "run.json").write_text(json.dumps({"model": "vit"}))
    # A fresh interpreter: this one has registered the ViT's classes already.
    program = (
        "from zoo import run_dir; "
        f"print(type(run_dir.load_trained_model({str(tmp_path)!r})).__name__)"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", program],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert loaded.stdout.split()[-1] == "ViTClassifier"


# A run's record, for the tests of the backend it records.
BACKEND_RECORD = {
    "model": "vit",
    "preset": "tiny",
    "data": "fashion_mnist",
    "seed": 0,
    "batch_size": 128,
    "precision": "float32",
}


def other_backend():
    import keras

    return "jax" if keras.backend.backend() != "jax" else "tensorflow"


def test_a_trained_run_resumes_under_any_backend(tmp_path):
    # model.keras loads anywhere; only a backup is bound to its backend.
    out = tmp_path / "run"
    out.mkdir()
    trained = {**BACKEND_RECORD, "backend": other_backend(), "trained": True}
    (out / "run.json").write_text(json.dumps(trained))
    (out / "model.keras").write_bytes(b"")
    assert runs.start_or_resume(out, BACKEND_RECORD) is True
    assert runs.read_run(out)["backend"] == other_backend()


def test_a_run_without_a_backup_records_the_backend_that_resumes_it(tmp_path):
    import keras

    # Killed before its first epoch: the next backup is this backend's.
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text(
        json.dumps({**BACKEND_RECORD, "backend": other_backend()})
    )
    assert runs.start_or_resume(out, BACKEND_RECORD) is True
    assert runs.read_run(out)["backend"] == keras.backend.backend()


def test_an_empty_backup_folder_binds_no_backend(tmp_path):
    import keras

    # A run killed before its first backup was committed: nothing of the
    # other backend's to load.
    out = tmp_path / "run"
    (out / "backup").mkdir(parents=True)
    (out / "run.json").write_text(
        json.dumps({**BACKEND_RECORD, "backend": other_backend()})
    )
    assert runs.start_or_resume(out, BACKEND_RECORD) is True
    assert runs.read_run(out)["backend"] == keras.backend.backend()
