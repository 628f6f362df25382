"""Checkpoints, backups and the run lock under the orders and races that break them."""

import os
import subprocess
import sys
import threading
from pathlib import Path

import keras
import numpy as np
import pytest

from tests.training.conftest import RecordWeights, assert_saved_weights, tiny_regressor
from training.callbacks import AtomicBackupAndRestore, AtomicModelCheckpoint
from training.callbacks.standard import standard_callbacks
from training.run_lock import LOCK_FILE, run_folder_lock

RUN_LOCK_PY = Path(__file__).resolve().parents[2] / "training" / "run_lock.py"

# Holds a folder's lock with the module under test (loaded from its file, so
# the child starts without importing TensorFlow) until told to let go.
_HOLD = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("run_lock", sys.argv[1])
run_lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_lock)
with run_lock.run_folder_lock(sys.argv[2]):
    print("held", flush=True)
    sys.stdin.readline()
"""


def compiled_regressor():
    model = tiny_regressor()
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    return model


def test_a_checkpoint_after_its_backup_still_commits_each_epoch(
    regression_data, tmp_path
):
    x, y = regression_data
    model = compiled_regressor()
    recorded = RecordWeights()
    checkpoint = AtomicModelCheckpoint(
        str(tmp_path / "model.keras"), monitor="loss", save_best_only=False
    )
    backup = AtomicBackupAndRestore(str(tmp_path / "backup"), checkpoints=[checkpoint])
    # The backup ends each epoch before the checkpoint saves.
    model.fit(x, y, epochs=3, verbose=0, callbacks=[recorded, backup, checkpoint])
    assert sorted(os.listdir(tmp_path)) == ["model.keras"]  # no pending file left
    assert_saved_weights(tmp_path / "model.keras", recorded.by_epoch[2])


class StopAfter(keras.callbacks.Callback):
    """Stops training at the end of ``epoch``, as early stopping would."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            self.model.stop_training = True


def test_a_kept_backup_of_a_stopped_run_trains_no_more_when_resumed(
    regression_data, tmp_path
):
    x, y = regression_data
    model = compiled_regressor()

    def backup():
        # Kept, as `zoo train` keeps it until the run is marked trained, or as
        # a kill while the backup is being deleted leaves it.
        return AtomicBackupAndRestore(str(tmp_path), delete_checkpoint=False)

    model.fit(x, y, epochs=5, verbose=0, callbacks=[StopAfter(1), backup()])
    stopped_weights = model.get_weights()
    history = model.fit(x, y, epochs=5, verbose=0, callbacks=[backup()])
    assert history.epoch == []  # the early stop holds
    for got, want in zip(model.get_weights(), stopped_weights):
        np.testing.assert_array_equal(got, want)


def test_an_epoch_without_validation_does_not_replace_the_best_model(
    regression_data, tmp_path
):
    x, y = regression_data
    model = compiled_regressor()
    recorded = RecordWeights()
    callbacks = standard_callbacks(str(tmp_path), patience=None, tensorboard=False)
    model.fit(
        x,
        y,
        epochs=3,
        verbose=0,
        validation_split=0.25,
        validation_freq=2,  # only epoch 1 validates
        callbacks=[recorded, *callbacks],
    )
    assert_saved_weights(tmp_path / "model.keras", recorded.by_epoch[1])


def test_a_val_monitor_that_never_validates_raises_by_the_last_epoch(
    regression_data, tmp_path
):
    x, y = regression_data
    model = compiled_regressor()
    callbacks = standard_callbacks(str(tmp_path), patience=None, tensorboard=False)
    with pytest.raises(ValueError, match="no epoch of this fit validated"):
        model.fit(x, y, epochs=2, verbose=0, callbacks=callbacks)  # no validation
    assert not (tmp_path / "model.keras").exists()


@pytest.fixture
def holder(tmp_path):
    """A child process holding ``tmp_path / "run"``'s lock; ``release()`` ends it."""
    folder = tmp_path / "run"
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(RUN_LOCK_PY), str(folder)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "held"

    def release():
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.wait(timeout=30) == 0

    child.folder = folder
    child.release = release
    yield child
    child.kill()
    child.wait()


@pytest.mark.skipif(sys.platform == "win32", reason="flock")
def test_a_holder_does_not_remove_the_lock_file_of_the_next_run(holder):
    lock_file = holder.folder / LOCK_FILE
    lock_file.unlink()  # deleted by hand while the first run trains
    with run_folder_lock(holder.folder):
        holder.release()  # the first run ends after the second started
        assert lock_file.exists(), "a third run could now take the folder too"


@pytest.mark.skipif(sys.platform == "win32", reason="flock")
def test_a_lock_taken_on_a_file_its_holder_unlinked_is_taken_again(holder, monkeypatch):
    import fcntl

    real_flock = fcntl.flock

    def flock_after_the_holder_leaves(handle, operation):
        # This run opened the lock file; its holder unlinks it and lets go
        # before this run locks it.
        monkeypatch.setattr(fcntl, "flock", real_flock)
        holder.release()
        return real_flock(handle, operation)

    monkeypatch.setattr(fcntl, "flock", flock_after_the_holder_leaves)
    with run_folder_lock(holder.folder):
        # Locked on the unlinked file, a next run would make and lock a new one.
        assert (holder.folder / LOCK_FILE).exists()


@pytest.mark.skipif(sys.platform == "win32", reason="flock")
def test_another_thread_cannot_train_into_a_held_folder(tmp_path):
    outcome = []

    def second_run():
        try:
            with run_folder_lock(tmp_path):
                outcome.append("trained")
        except ValueError as error:
            outcome.append(str(error))

    with run_folder_lock(tmp_path):
        with run_folder_lock(tmp_path):  # the same thread again: reentrant
            thread = threading.Thread(target=second_run)
            thread.start()
            thread.join()
    assert "another thread of this process" in outcome[0]
    with run_folder_lock(tmp_path):  # free again once released
        pass
