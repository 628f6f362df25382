"""A full disk while a run writes its files: a clear error, nothing left behind.

A full disk fails a write part-way. The run must stop with an error that
names the file (not "[Errno 28] No space left on device" alone, nor a
TensorFlow traceback), keep the last committed backup and ``model.keras``,
and leave no partial file that holds the space a rerun needs. The disk is
simulated by making one write raise ``OSError(ENOSPC)``, so no root is needed.
"""

import errno
import json
import os

import keras
import pytest

from tests.training.conftest import data, tiny_model
from training.callbacks import (
    AtomicBackupAndRestore,
    AtomicModelCheckpoint,
    atomic_checkpoints,
)
from training.callbacks.atomic_checkpoints import (
    METADATA_FILE,
    partial_path,
    write_json_atomically,
)

DISK_FULL = os.strerror(errno.ENOSPC)


def fill_the_disk_in(model, method_name):
    """Make ``model.<method_name>`` write part of its file, then fail as on a full disk.

    Raises as HDF5 does through h5py: an `OSError` with errno 28 whose text
    names no file.
    """

    def write(path, *args, **kwargs):
        with open(path, "wb") as handle:
            handle.write(b"\x89HDF\r\n" + b"\0" * 4096)
        raise OSError(errno.ENOSPC, "Can't synchronously write data (file write failed")

    setattr(model, method_name, write)


def test_a_json_file_that_cannot_be_written_is_named_and_no_partial_stays(
    tmp_path, monkeypatch
):
    path = tmp_path / "run.json"
    write_json_atomically(path, {"epochs": 1})

    def full_disk(fd):
        raise OSError(errno.ENOSPC, DISK_FULL)

    monkeypatch.setattr(atomic_checkpoints.os, "fsync", full_disk)
    with pytest.raises(OSError) as raised:
        write_json_atomically(path, {"epochs": 2})
    assert raised.value.errno == errno.ENOSPC
    assert str(path) in str(raised.value)
    assert DISK_FULL in str(raised.value)
    assert not os.path.exists(partial_path(str(path)))
    assert json.loads(path.read_text()) == {"epochs": 1}


def test_a_full_disk_while_backing_up_keeps_the_last_backup_and_resumes(tmp_path):
    x, y = data()
    model = tiny_model()
    # A backup kept past the end stands for one of a run still training.
    first = AtomicBackupAndRestore(tmp_path, delete_checkpoint=False)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[first])
    committed = json.loads((tmp_path / METADATA_FILE).read_text())
    assert committed["epoch"] == 2

    full = tiny_model()
    fill_the_disk_in(full, "save_weights")
    backup = AtomicBackupAndRestore(tmp_path, delete_checkpoint=False)
    with pytest.raises(OSError) as raised:
        full.fit(x, y, epochs=4, verbose=0, callbacks=[backup])
    message = str(raised.value)
    assert raised.value.errno == errno.ENOSPC
    assert DISK_FULL in message and str(tmp_path) in message
    assert ".weights.h5" in message
    # The failed backup's file is gone: only the committed backup's remains.
    assert sorted(os.listdir(tmp_path)) == sorted([committed["weights"], METADATA_FILE])
    assert json.loads((tmp_path / METADATA_FILE).read_text()) == committed

    # Space freed: the same run resumes at epoch 2 from the intact backup.
    resumed = tiny_model()
    started = []
    resumed.fit(
        x,
        y,
        epochs=4,
        verbose=0,
        callbacks=[
            AtomicBackupAndRestore(tmp_path),
            keras.callbacks.LambdaCallback(
                on_epoch_begin=lambda epoch, logs: started.append(epoch)
            ),
        ],
    )
    assert started == [2, 3]


def test_a_full_disk_while_checkpointing_keeps_model_keras(tmp_path):
    x, y = data()
    filepath = str(tmp_path / "model.keras")
    model = tiny_model()
    model.fit(
        x,
        y,
        epochs=1,
        verbose=0,
        callbacks=[AtomicModelCheckpoint(filepath, monitor="loss")],
    )
    before = (tmp_path / "model.keras").read_bytes()

    fill_the_disk_in(model, "save")
    with pytest.raises(OSError) as raised:
        model.fit(
            x,
            y,
            epochs=1,
            verbose=0,
            callbacks=[AtomicModelCheckpoint(filepath, monitor="loss")],
        )
    assert raised.value.errno == errno.ENOSPC
    assert filepath in str(raised.value)
    # No half-written model.partial.keras holds on to the space.
    assert os.listdir(tmp_path) == ["model.keras"]
    assert (tmp_path / "model.keras").read_bytes() == before
    keras.models.load_model(filepath)


def test_a_full_disk_while_exporting_is_one_oserror_and_leaves_no_partial(tmp_path):
    tf = pytest.importorskip("tensorflow")
    from zoo.export import write_out

    class FullDiskArchive:
        """Writes part of a SavedModel, then fails as TensorFlow's SaveV2 does."""

        def write_out(self, path, verbose=False):
            os.makedirs(os.path.join(path, "variables"))
            with open(os.path.join(path, "saved_model.pb"), "wb") as handle:
                handle.write(b"\0" * 1024)
            raise tf.errors.ResourceExhaustedError(
                None,
                None,
                f"{path}/variables/variables_temp/part-00000-of-00001.data; "
                "No space left on device [Op:SaveV2]",
            )

    path = tmp_path / "saved_model"
    with pytest.raises(OSError) as raised:
        write_out(FullDiskArchive(), path)
    assert raised.value.errno == errno.ENOSPC
    assert str(path) in str(raised.value)
    assert os.listdir(tmp_path) == []


def test_a_full_disk_for_tensorboard_logs_is_one_oserror_naming_the_folder(
    tmp_path, monkeypatch
):
    tf = pytest.importorskip("tensorflow")
    from training.callbacks import EpochTensorBoard

    log_dir = str(tmp_path / "logs")

    def full_disk(callback, model):
        # What Keras' TensorBoard raises on TensorFlow when the event file
        # cannot be created (it creates it as it writes the model's summary).
        raise tf.errors.ResourceExhaustedError(
            None,
            None,
            f"{log_dir}/train/events.out.tfevents.1.host.2.0.v2; No space left "
            "on device [Op:CreateSummaryFileWriter]",
        )

    monkeypatch.setattr(keras.callbacks.TensorBoard, "set_model", full_disk)
    x, y = data()
    with pytest.raises(OSError) as raised:
        tiny_model().fit(
            x, y, epochs=1, verbose=0, callbacks=[EpochTensorBoard(log_dir)]
        )
    assert raised.value.errno == errno.ENOSPC
    assert log_dir in str(raised.value)


def test_a_full_disk_for_the_training_curve_names_it_and_leaves_no_png(
    tmp_path, monkeypatch
):
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    from training.callbacks import plot_history

    def full_disk(figure, path, *args, **kwargs):
        with open(path, "wb") as handle:
            handle.write(b"\x89PNG\r\n")  # the start of a PNG
        raise OSError(errno.ENOSPC, DISK_FULL)

    monkeypatch.setattr(Figure, "savefig", full_disk)
    path = tmp_path / "training_curve.png"
    with pytest.raises(OSError) as raised:
        plot_history({"loss": [1.0, 0.5]}, str(path))
    assert raised.value.errno == errno.ENOSPC
    assert str(path) in str(raised.value)
    assert not path.exists()
