"""Run folders written by older versions of the zoo, read by this one."""

import json

import pytest

from training.callbacks.atomic_checkpoints import METADATA_FILE
from training.callbacks.standard import BACKUP_DIR
from zoo import run_dir as runs

# run.json and backup/training_metadata.json of a G2P run on CMUdict killed
# after its first epoch, as commit 91f4036 wrote them (copied from such a
# run, the weights file and the config left out): the run records its
# backend, the backup neither the backend nor the optimizer's variable names.
OLD_RUN = {
    "model": "seq2seq",
    "preset": "tiny",
    "data": "cmudict",
    "config": {},
    "batch_size": 32,
    "epochs": 4,
    "precision": "float32",
    "precision_requested": "auto",
    "seed": 0,
    "backend": "tensorflow",
}
OLD_BACKUP_METADATA = {
    "epoch": 1,
    "batch": 0,
    "stopped": False,
    "weights": "state-1796686742396776443.weights.h5",
    "seed_generator_states": [],
    "checkpoints_to_commit": [],
}


def write_old_run(out):
    (out / BACKUP_DIR).mkdir(parents=True)
    (out / runs.RUN_FILE).write_text(json.dumps(OLD_RUN))
    (out / BACKUP_DIR / METADATA_FILE).write_text(json.dumps(OLD_BACKUP_METADATA))
    (out / runs.MODEL_FILE).write_bytes(b"")


def test_an_old_backup_is_not_resumed_under_another_backend(tmp_path, monkeypatch):
    """A backup of commit 91f4036 resumed under PyTorch: a named error.

    It failed in Keras' loader ("A total of 1 objects could not be loaded")
    after run.json had been rewritten to name PyTorch, so the backend that
    wrote the backup was lost. The folder is written as that commit wrote it
    (see OLD_RUN).
    """
    out = tmp_path / "run"
    write_old_run(out)
    record = {key: value for key, value in OLD_RUN.items() if key != "backend"}
    monkeypatch.setattr(runs, "_backend", lambda: "torch")
    with pytest.raises(ValueError) as error:
        runs.start_or_resume(out, record)
    message = str(error.value)
    assert METADATA_FILE in message and runs.RUN_FILE in message
    assert "'tensorflow'" in message and "'torch'" in message
    assert "Resume with KERAS_BACKEND=tensorflow" in message
    assert runs.read_run(out)["backend"] == "tensorflow"  # kept

    # Under the backend that wrote it, it resumes.
    monkeypatch.setattr(runs, "_backend", lambda: "tensorflow")
    assert runs.start_or_resume(out, record) is True


def test_a_named_backup_resumes_under_another_backend(tmp_path, monkeypatch):
    """A backup that names its optimizer variables binds no backend."""
    out = tmp_path / "run"
    write_old_run(out)
    metadata = {**OLD_BACKUP_METADATA, "backend": "tensorflow"}
    metadata["optimizer_variables"] = {"optimizer": ["iteration"]}
    (out / BACKUP_DIR / METADATA_FILE).write_text(json.dumps(metadata))
    record = {key: value for key, value in OLD_RUN.items() if key != "backend"}
    monkeypatch.setattr(runs, "_backend", lambda: "torch")
    assert runs.start_or_resume(out, record) is True
    assert runs.read_run(out)["backend"] == "torch"
