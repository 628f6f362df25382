"""Checkpoints and backups stay readable when a run dies while writing them."""

import json

import keras
import numpy as np
import pytest

from tests.training.conftest import (
    RecordWeights,
    assert_saved_weights,
    data,
    tiny_model,
)
from training.callbacks import AtomicBackupAndRestore, AtomicModelCheckpoint
from training.callbacks.atomic_checkpoints import optimizer_variable_names, partial_path
from training.callbacks.standard import keep_history_rows, standard_callbacks


class Killed(Exception):
    """Stands in for SIGKILL: the process stops in the middle of a write."""


def die_while_writing(method_name, model, calls_before_dying):
    """Make ``model.<method_name>`` write half a file and die after some calls."""
    original = getattr(model, method_name)
    calls = {"count": 0}

    def write(path, *args, **kwargs):
        calls["count"] += 1
        if calls["count"] > calls_before_dying:
            with open(path, "wb") as handle:
                handle.write(b"\x89HDF\r\n")  # a truncated file
            raise Killed
        return original(path, *args, **kwargs)

    setattr(model, method_name, write)


def test_a_kill_while_backing_up_resumes_from_the_last_whole_backup(tmp_path):
    x, y = data()
    model = tiny_model()
    recorded = RecordWeights()
    die_while_writing("save_weights", model, calls_before_dying=2)
    backup = AtomicBackupAndRestore(str(tmp_path))
    with pytest.raises(Killed):
        model.fit(x, y, epochs=5, verbose=0, callbacks=[recorded, backup])
    # Epochs 0 and 1 were backed up; the third backup died half-written.
    metadata = json.loads((tmp_path / "training_metadata.json").read_text())
    assert metadata["epoch"] == 2

    resumed = tiny_model()
    started = {}

    class FirstEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            started.setdefault("epoch", epoch)
            started.setdefault("weights", self.model.get_weights())

    resumed.fit(
        x,
        y,
        epochs=5,
        verbose=0,
        callbacks=[AtomicBackupAndRestore(str(tmp_path)), FirstEpoch()],
    )
    assert started["epoch"] == 2
    for got, expected in zip(started["weights"], recorded.by_epoch[1]):
        np.testing.assert_array_equal(got, expected)


def test_the_backup_keeps_one_weights_file(tmp_path):
    x, y = data()
    backup = AtomicBackupAndRestore(str(tmp_path), delete_checkpoint=False)
    tiny_model().fit(x, y, epochs=3, verbose=0, callbacks=[backup])
    weights = [p.name for p in tmp_path.glob("*.weights.h5")]
    metadata = json.loads((tmp_path / "training_metadata.json").read_text())
    assert weights == [metadata["weights"]]
    assert metadata["epoch"] == 3


def test_a_kill_while_checkpointing_keeps_the_previous_model(tmp_path):
    x, y = data()
    path = tmp_path / "model.keras"
    model = tiny_model()
    recorded = RecordWeights()
    # Every epoch is "best" with monitor loss on a fresh model; die on the 2nd save.
    die_while_writing("save", model, calls_before_dying=1)
    checkpoint = AtomicModelCheckpoint(str(path), monitor="loss", save_best_only=True)
    with pytest.raises(Killed):
        model.fit(x, y, epochs=3, verbose=0, callbacks=[recorded, checkpoint])
    restored = keras.models.load_model(path)
    for got, expected in zip(restored.get_weights(), recorded.by_epoch[0]):
        np.testing.assert_array_equal(got, expected)
    assert (tmp_path / "model.partial.keras").exists()  # the half-written one

    # The next run's first save removes it and replaces the model whole.
    fresh = tiny_model()
    recorded = RecordWeights()
    fresh.fit(
        x,
        y,
        epochs=1,
        verbose=0,
        callbacks=[recorded, AtomicModelCheckpoint(str(path), monitor="loss")],
    )
    assert not (tmp_path / "model.partial.keras").exists()
    restored = keras.models.load_model(path)
    for got, expected in zip(restored.get_weights(), recorded.by_epoch[0]):
        np.testing.assert_array_equal(got, expected)


def test_partial_path_keeps_the_suffix_keras_checks():
    assert partial_path("a/model.keras") == "a/model.partial.keras"
    assert partial_path("a/b.weights.h5") == "a/b.partial.weights.h5"


def test_history_rows_of_epochs_not_backed_up_are_dropped(tmp_path):
    csv_path = tmp_path / "history.csv"
    csv_path.write_text("epoch,loss\n0,1.0\n1,0.8\n2,0.7\n3,0.")  # died writing 3
    keep_history_rows(str(csv_path), 2)
    assert csv_path.read_text() == "epoch,loss\n0,1.0\n1,0.8\n"


def test_resuming_cuts_the_history_back_to_the_backup(tmp_path):
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "training_metadata.json").write_text('{"epoch": 1}')
    (tmp_path / "history.csv").write_text("epoch,loss,val_loss\n0,1.0,0.5\n1,0.8,0.3\n")
    callbacks = {type(c).__name__: c for c in standard_callbacks(str(tmp_path))}
    assert (tmp_path / "history.csv").read_text() == "epoch,loss,val_loss\n0,1.0,0.5\n"
    # Epoch 1 will be trained again, so its 0.3 is not the best to beat.
    assert callbacks["AtomicModelCheckpoint"].best == pytest.approx(0.5)


def run_callbacks(out, **kwargs):
    return standard_callbacks(
        str(out), monitor="loss", patience=None, tensorboard=False, **kwargs
    )


def pending_files(out):
    return sorted(p.name for p in out.glob("model.pending-*.keras"))


def test_a_kill_between_checkpoint_and_backup_keeps_the_backed_up_model(tmp_path):
    x, y = data()
    model = tiny_model()
    recorded = RecordWeights()
    # Each epoch lowers the loss, so each is checkpointed; the third
    # epoch's backup dies after its checkpoint was saved.
    die_while_writing("save_weights", model, calls_before_dying=2)
    with pytest.raises(Killed):
        model.fit(
            x, y, epochs=5, verbose=0, callbacks=[recorded, *run_callbacks(tmp_path)]
        )
    # The history and backup know epochs 0 and 1; so does model.keras.
    assert_saved_weights(tmp_path / "model.keras", recorded.by_epoch[1])
    assert len(pending_files(tmp_path)) == 1

    resumed = tiny_model()
    recorded = RecordWeights()
    resumed.fit(
        x, y, epochs=3, verbose=0, callbacks=[recorded, *run_callbacks(tmp_path)]
    )
    assert list(recorded.by_epoch) == [2]
    assert_saved_weights(tmp_path / "model.keras", recorded.by_epoch[2])
    assert pending_files(tmp_path) == []


def test_a_kill_after_the_backup_commit_finishes_the_checkpoint_on_resume(tmp_path):
    x, y = data()
    model = tiny_model()
    recorded = RecordWeights()
    callbacks = run_callbacks(tmp_path)
    backup = callbacks[-1]
    commits = {"count": 0}

    def die_before_the_third_rename(pairs):
        commits["count"] += 1
        if commits["count"] == 3:
            raise Killed
        AtomicBackupAndRestore._commit_checkpoints(pairs)

    backup._commit_checkpoints = die_before_the_third_rename
    with pytest.raises(Killed):
        model.fit(x, y, epochs=5, verbose=0, callbacks=[recorded, *callbacks])
    metadata = json.loads((tmp_path / "backup" / "training_metadata.json").read_text())
    assert metadata["epoch"] == 2  # the second epoch's backup was committed...
    assert_saved_weights(
        tmp_path / "model.keras", recorded.by_epoch[0]
    )  # ...not its model

    # Resuming (here with nothing left to train) finishes that commit.
    tiny_model().fit(x, y, epochs=2, verbose=0, callbacks=run_callbacks(tmp_path))
    assert_saved_weights(tmp_path / "model.keras", recorded.by_epoch[1])
    assert pending_files(tmp_path) == []


def test_mid_epoch_backups_commit_the_checkpoint_at_the_epoch_end(tmp_path):
    x, y = data()
    model = tiny_model()
    recorded = RecordWeights()
    # 2 batches an epoch and a backup every 3: epoch 0 ends between backups.
    callbacks = run_callbacks(tmp_path, save_freq=3, keep_backup=True)
    model.fit(
        x, y, batch_size=16, epochs=1, verbose=0, callbacks=[recorded, *callbacks]
    )
    assert_saved_weights(tmp_path / "model.keras", recorded.by_epoch[0])
    assert pending_files(tmp_path) == []
    metadata = json.loads((tmp_path / "backup" / "training_metadata.json").read_text())
    assert metadata["epoch"] == 1


def test_the_backup_commits_only_atomic_checkpoints(tmp_path):
    with pytest.raises(TypeError, match="AtomicModelCheckpoint.*ModelCheckpoint"):
        AtomicBackupAndRestore(
            str(tmp_path),
            checkpoints=[keras.callbacks.ModelCheckpoint(str(tmp_path / "m.keras"))],
        )
    # None, as for Keras' other optional arguments, is no checkpoint.
    assert AtomicBackupAndRestore(str(tmp_path), checkpoints=None).checkpoints == []
    bare = AtomicModelCheckpoint(str(tmp_path / "m.keras"))
    with pytest.raises(TypeError, match="must be a list .* AtomicModelCheckpoint"):
        AtomicBackupAndRestore(str(tmp_path), checkpoints=bare)


def named_model(loss_scaled=False):
    # Named layers: the optimizer's variable names hold the model's paths,
    # which a second model of one process would otherwise number anew.
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, name="hidden"),
            keras.layers.Dense(1, name="out"),
        ],
        name="net",
    )
    optimizer = keras.optimizers.Adam()
    if loss_scaled:  # as mixed_float16 wraps it: two optimizers in the file
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(optimizer=optimizer, loss="mse")
    return model


def backed_up_model(tmp_path, loss_scaled=False):
    x, y = data()
    model = named_model(loss_scaled)
    backup = AtomicBackupAndRestore(str(tmp_path), delete_checkpoint=False)
    model.fit(x, y, epochs=2, verbose=0, callbacks=[backup])
    return model


def restore(tmp_path, model):
    backup = AtomicBackupAndRestore(str(tmp_path))
    backup.set_model(model)
    backup.on_train_begin()


def optimizer_state(model):
    """Variable name (made unique) -> value of each of the optimizer's."""
    values = [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables]
    return dict(zip(optimizer_variable_names(model.optimizer), values))


@pytest.mark.parametrize("loss_scaled", [False, True], ids=["adam", "loss_scaled"])
def test_optimizer_state_saved_in_another_order_is_loaded_by_name(
    tmp_path, loss_scaled
):
    saved = optimizer_state(backed_up_model(tmp_path, loss_scaled))
    resumed = named_model(loss_scaled)
    # As another backend lists the model's variables (PyTorch a seq2seq
    # model's): in another order, so the saved positions do not fit.
    resumed.optimizer.build(resumed.trainable_variables[::-1])
    restore(tmp_path, resumed)
    assert int(resumed.optimizer.iterations) == 2
    restored = optimizer_state(resumed)
    assert restored.keys() == saved.keys()
    for name, value in restored.items():
        np.testing.assert_array_equal(value, saved[name])
    # Only the one load was by name.
    assert "load_own_variables" not in vars(resumed.optimizer)


def test_optimizer_state_that_names_other_variables_is_refused_across_backends(
    tmp_path,
):
    backed_up_model(tmp_path)
    path = tmp_path / "training_metadata.json"
    metadata = json.loads(path.read_text())
    other = "jax" if keras.backend.backend() != "jax" else "tensorflow"
    metadata["backend"] = other
    metadata["optimizer_variables"]["optimizer"][2] = "another_variable"
    path.write_text(json.dumps(metadata))
    resumed = named_model()
    resumed.optimizer.build(resumed.trainable_variables[::-1])
    with pytest.raises(ValueError, match=f"written under KERAS_BACKEND '{other}'"):
        restore(tmp_path, resumed)
