"""Run folders moved between Keras backends: what resumes, what is refused."""

import csv
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from zoo import run_dir as runs

REPO = Path(__file__).resolve().parents[1]
SLICE_STEP = 300  # every 300th CMUdict word: ~450 words, a few seconds an epoch


@pytest.fixture(scope="module")
def cmudict_slice(tmp_path_factory):
    """A ``.tsv`` of a small real slice of CMUdict (word, pronunciation)."""
    from zoo.data.cmudict import read_pronunciations

    words = read_pronunciations()
    keys = sorted(words)[::SLICE_STEP]
    path = tmp_path_factory.mktemp("cmudict") / "cmudict_slice.tsv"
    path.write_text("".join(f"{w}\t{r}\n" for w in keys for r in words[w]))
    return path


def zoo_env(backend):
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "KERAS_BACKEND": backend,
    }


def zoo_command(*args):
    return [sys.executable, "-m", "zoo.cli", *map(str, args)]


def run_zoo(backend, *args):
    return subprocess.run(
        zoo_command(*args),
        capture_output=True,
        text=True,
        env=zoo_env(backend),
        timeout=600,
        cwd=REPO,
    )


def train_and_kill_after_first_epoch(backend, argv, out):
    """Start `zoo train`, SIGKILL it once its first epoch is backed up."""
    process = subprocess.Popen(
        zoo_command(*argv),
        env=zoo_env(backend),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    metadata = out / "backup" / "training_metadata.json"
    deadline = time.monotonic() + 300
    while not metadata.exists() and time.monotonic() < deadline:
        assert process.poll() is None, "training ended before it could be killed"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert metadata.exists() and not (out / "metrics.json").exists()


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("torch") is None, reason="needs PyTorch installed"
)
def test_a_backup_is_resumed_only_under_the_backend_that_wrote_it(
    cmudict_slice, tmp_path
):
    # PyTorch lists a seq2seq model's variables in another order than
    # TensorFlow, so the backup's optimizer state cannot be loaded there.
    out = tmp_path / "run"
    argv = [
        "train",
        "seq2seq",
        "--preset",
        "tiny",
        "--data",
        f"{cmudict_slice}?task=g2p",
        "--epochs",
        "3",
        "--batch-size",
        "16",
        "--out",
        out,
    ]
    train_and_kill_after_first_epoch("tensorflow", argv, out)

    refused = run_zoo("torch", *argv)
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert refused.stderr.count("zoo: error:") == 1
    assert (
        f"--out {str(out)!r} holds a run being trained under KERAS_BACKEND "
        "'tensorflow'; received KERAS_BACKEND 'torch'"
    ) in refused.stderr
    assert "Set KERAS_BACKEND=tensorflow to resume" in refused.stderr

    # The refusal left the run as it was: its own backend resumes it.
    resumed = run_zoo("tensorflow", *argv)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    with open(out / "history.csv") as handle:
        epochs = [row["epoch"] for row in csv.DictReader(handle)]
    assert epochs == ["0", "1", "2"]


RECORD = {
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
    trained = {**RECORD, "backend": other_backend(), "trained": True}
    (out / "run.json").write_text(json.dumps(trained))
    (out / "model.keras").write_bytes(b"")
    assert runs.start_or_resume(out, RECORD) is True
    assert runs.read_run(out)["backend"] == other_backend()


def test_a_run_without_a_backup_records_the_backend_that_resumes_it(tmp_path):
    import keras

    # Killed before its first epoch: the next backup is this backend's.
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text(json.dumps({**RECORD, "backend": other_backend()}))
    assert runs.start_or_resume(out, RECORD) is True
    assert runs.read_run(out)["backend"] == keras.backend.backend()
