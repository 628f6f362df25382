import csv
import math

import keras
import numpy as np
import pytest

from tests.training.conftest import PoisonWeights, tiny_regressor
from training.callbacks import (
    MonitorCheck,
    NaNGuard,
    NonFiniteLossError,
    ThroughputLogger,
    TrainingCurvePlot,
    early_stopping,
    standard_callbacks,
)
from training.callbacks.epoch_tensorboard import EpochTensorBoard
from training.callbacks.standard import tensorboard_available


class RecordWeights(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


def test_early_stopping_ends_with_best_epoch_weights():
    # Train towards y = 2x while validating against y = x: validation loss
    # falls while the slope passes 1 and rises after, so the best epoch is in
    # the middle and the last weights are worse.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 1)).astype("float32")
    inputs = keras.Input((1,))
    outputs = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")(inputs)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.SGD(0.05), loss="mse")
    recorder = RecordWeights()
    stopper = early_stopping(patience=3)
    assert stopper.restore_best_weights
    history = model.fit(
        x,
        2 * x,
        validation_data=(x, x),
        epochs=50,
        batch_size=64,
        verbose=0,
        callbacks=[recorder, stopper],
    )
    val = history.history["val_loss"]
    best = int(np.argmin(val))
    assert 0 < best < len(val) - 1 < 49  # stopped early, best not last
    for final, expected in zip(model.get_weights(), recorder.weights[best]):
        np.testing.assert_array_equal(final, expected)
    assert not np.allclose(recorder.weights[-1][0], recorder.weights[best][0])


def test_early_stopping_restores_best_without_stopping():
    x = np.linspace(-1, 1, 32, dtype="float32")[:, None]
    inputs = keras.Input((1,))
    model = keras.Model(
        inputs,
        keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")(inputs),
    )
    model.compile(keras.optimizers.SGD(0.5), loss="mse")
    recorder = RecordWeights()
    history = model.fit(
        x,
        2 * x,
        validation_data=(x, x),
        epochs=8,
        batch_size=32,
        verbose=0,
        callbacks=[recorder, early_stopping(patience=100)],
    )
    best = int(np.argmin(history.history["val_loss"]))
    assert len(history.epoch) == 8 and best < 7
    np.testing.assert_array_equal(model.get_weights()[0], recorder.weights[best][0])


def test_nan_guard_raises_with_location(regression_data):
    x, y = regression_data
    model = tiny_regressor()
    model.compile("adam", loss="mse")
    guard = NaNGuard()
    with pytest.raises(
        NonFiniteLossError, match=r"loss became nan at epoch 2, batch 3"
    ):
        model.fit(
            x,
            y,
            batch_size=16,
            epochs=5,
            verbose=0,
            shuffle=False,
            callbacks=[PoisonWeights(epoch=1, batch=2), guard],
        )
    assert (guard.epoch, guard.batch) == (1, 2)
    assert guard.step == 4 + 3  # 4 steps per epoch, then 3 in epoch 2
    assert "optimizer step 7" in guard.message


def test_nan_guard_can_stop_cleanly(regression_data):
    x, y = regression_data
    model = tiny_regressor()
    model.compile("adam", loss="mse")
    guard = NaNGuard(raise_error=False)
    history = model.fit(
        x,
        y,
        batch_size=16,
        epochs=5,
        verbose=0,
        shuffle=False,
        callbacks=[PoisonWeights(epoch=2, batch=0), guard],
    )
    assert history.epoch == [0, 1, 2]  # epochs 4 and 5 never ran
    assert (guard.epoch, guard.batch) == (2, 0)
    assert math.isnan(history.history["loss"][-1])


def test_nan_guard_keeps_the_earliest_batch_when_checks_run_out_of_order():
    # On JAX and PyTorch, batch-end checks run in worker threads, in any order.
    model = tiny_regressor()
    model.compile("adam", loss="mse")
    guard = NaNGuard()
    guard.set_model(model)
    guard.on_train_begin()
    guard.on_epoch_begin(1)
    with pytest.raises(NonFiniteLossError, match="epoch 2, batch 4"):
        guard.on_train_batch_end(3, {"loss": float("nan")})
    with pytest.raises(NonFiniteLossError, match="epoch 2, batch 3"):
        guard.on_train_batch_end(2, {"loss": float("nan")})
    guard.on_train_batch_end(4, {"loss": float("nan")})  # later: already reported
    assert (guard.epoch, guard.batch, guard.step) == (1, 2, 3)
    assert "batch 3" in guard.message


def test_nan_guard_ignores_finite_losses(regression_data):
    x, y = regression_data
    model = tiny_regressor()
    model.compile("adam", loss="mse")
    guard = NaNGuard()
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[guard])
    assert len(history.epoch) == 2 and guard.message is None


def test_throughput_lands_in_history_and_csv(regression_data, tmp_path):
    x, y = regression_data
    model = tiny_regressor()
    model.compile("adam", loss="mse")
    csv_path = tmp_path / "history.csv"
    logger = ThroughputLogger(batch_size=16, tokens_per_example=3.0)
    history = model.fit(
        x,
        y,
        batch_size=16,
        epochs=3,
        verbose=0,
        callbacks=[logger, keras.callbacks.CSVLogger(str(csv_path))],
    )
    examples = np.array(history.history["examples_per_second"])
    steps = np.array(history.history["steps_per_second"])
    tokens = np.array(history.history["tokens_per_second"])
    assert examples.shape == (3,) and (examples > 0).all()
    np.testing.assert_allclose(examples, steps * 16, rtol=1e-9)
    np.testing.assert_allclose(tokens, examples * 3.0, rtol=1e-9)
    with open(csv_path, newline="") as file:
        rows = list(csv.DictReader(file))
    assert [float(r["examples_per_second"]) for r in rows] == pytest.approx(
        examples.tolist()
    )


def test_throughput_without_batch_size_logs_steps_only(regression_data):
    x, y = regression_data
    model = tiny_regressor()
    model.compile("adam", loss="mse")
    history = model.fit(
        x, y, batch_size=16, epochs=1, verbose=0, callbacks=[ThroughputLogger()]
    )
    assert history.history["steps_per_second"][0] > 0
    assert "examples_per_second" not in history.history


def test_throughput_from_dataset():
    import tensorflow as tf

    labels = np.array([[1, 2, 0, 0], [3, 0, 0, 0], [1, 1, 1, 1], [2, 2, 2, 0]] * 4)
    ds = tf.data.Dataset.from_tensor_slices((labels, labels)).batch(4)
    logger = ThroughputLogger.from_dataset(
        ds, count_tokens=lambda batch: np.count_nonzero(batch[1])
    )
    assert logger.batch_size == 4
    assert logger.tokens_per_example == pytest.approx(10 / 4)


def test_training_curve_png(regression_data, tmp_path):
    from matplotlib.image import imread

    x, y = regression_data
    model = tiny_regressor()
    model.compile("adam", loss="mse", metrics=["mae"])
    path = tmp_path / "plots" / "curve.png"
    model.fit(
        x,
        y,
        validation_split=0.25,
        batch_size=16,
        epochs=3,
        verbose=0,
        callbacks=[TrainingCurvePlot(str(path))],
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(path)
    # Two panels (loss, mae), each with train and validation: 2 x 450 px wide.
    assert image.shape[1] == 900 and image.shape[0] == 320
    assert image[..., :3].std() > 0.05  # not blank


def test_standard_callbacks_layout(tmp_path):
    out = tmp_path / "run"
    callbacks = standard_callbacks(str(out), patience=4, save_freq=10, batch_size=8)
    by_type = {type(c).__name__: c for c in callbacks}
    expected = ["NaNGuard", "ThroughputLogger", "MonitorCheck", "AtomicModelCheckpoint"]
    expected += ["ResumableEarlyStopping"]
    expected += ["EpochTensorBoard"] if tensorboard_available() else []
    expected += ["HistoryCSVLogger", "TrainingCurvePlot", "AtomicBackupAndRestore"]
    assert list(by_type) == expected
    assert by_type["AtomicModelCheckpoint"].filepath == str(out / "model.keras")
    assert by_type["AtomicModelCheckpoint"].save_best_only
    assert by_type["ResumableEarlyStopping"].patience == 4
    assert by_type["ResumableEarlyStopping"].restore_best_weights
    assert by_type["ResumableEarlyStopping"].earlier_values == []  # a fresh run
    if tensorboard_available():
        assert by_type["EpochTensorBoard"].log_dir == str(out / "logs")
    assert by_type["HistoryCSVLogger"].filename == str(out / "history.csv")
    assert not by_type["HistoryCSVLogger"].append  # nothing to resume yet
    assert by_type["TrainingCurvePlot"].path == str(out / "training_curve.png")
    assert by_type["AtomicBackupAndRestore"].backup_dir == str(out / "backup")
    assert by_type["AtomicBackupAndRestore"].save_freq == 10
    no_stop = standard_callbacks(str(out), patience=None, tensorboard=False)
    assert not any(
        isinstance(c, (keras.callbacks.EarlyStopping, keras.callbacks.TensorBoard))
        for c in no_stop
    )
    with pytest.raises(ValueError, match="Received: save_freq='batch'"):
        standard_callbacks(str(out), save_freq="batch")
    # Keras' EarlyStopping would take these as 0 or fail in its first epoch.
    with pytest.raises(ValueError, match="`patience` must be an int >= 0 or None"):
        standard_callbacks(str(out), patience=-1)
    with pytest.raises(ValueError, match="Received: patience=2.5"):
        early_stopping(patience=2.5)


def test_monitor_direction(tmp_path):
    def modes(monitor):
        return {
            type(c).__name__: c.mode
            for c in standard_callbacks(str(tmp_path), monitor=monitor)
            if isinstance(
                c, (keras.callbacks.ModelCheckpoint, keras.callbacks.EarlyStopping)
            )
        }

    checkpoint, stopper = "AtomicModelCheckpoint", "ResumableEarlyStopping"
    assert modes("val_accuracy") == {checkpoint: "max", stopper: "max"}
    assert modes("val_loss") == {checkpoint: "min", stopper: "min"}
    # Keras' own metrics that rise as they improve: these were minimised.
    for monitor in ("val_f1_score", "val_r2_score", "cosine_similarity"):
        assert modes(monitor) == {checkpoint: "max", stopper: "max"}, monitor
    assert modes("val_mean_absolute_error") == {checkpoint: "min", stopper: "min"}


def test_an_unknown_mode_is_refused_not_minimised(tmp_path):
    # A misspelt "max" used to minimise without a word.
    with pytest.raises(ValueError, match="`mode` must be one of.*'maximum'"):
        standard_callbacks(str(tmp_path), monitor="val_r2", mode="maximum")
    assert not (tmp_path / "history.csv").exists()
    with pytest.raises(ValueError, match="Received: mode='maximum'"):
        early_stopping("val_r2", mode="maximum")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"batch_size": "64"}, "Received: batch_size='64'"),
        ({"batch_size": 2.5}, "Received: batch_size=2.5"),
        ({"tokens_per_example": -1.0}, "Received: tokens_per_example=-1.0"),
    ],
)
def test_throughput_logger_names_a_bad_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ThroughputLogger(**kwargs)


def test_resume_appends_csv_and_keeps_best_threshold(tmp_path):
    (tmp_path / "backup").mkdir()
    (tmp_path / "backup" / "training_metadata.json").write_text('{"epoch": 3}')
    (tmp_path / "history.csv").write_text(
        "epoch,loss,val_loss\n0,1.0,0.5\n1,0.8,0.3\n2,0.7,0.4\n"
    )
    callbacks = {type(c).__name__: c for c in standard_callbacks(str(tmp_path))}
    assert callbacks["HistoryCSVLogger"].append
    # The first resumed epoch only replaces model.keras if it beats 0.3.
    assert callbacks["AtomicModelCheckpoint"].best == pytest.approx(0.3)
    fresh = {type(c).__name__: c for c in standard_callbacks(str(tmp_path / "new"))}
    assert not fresh["HistoryCSVLogger"].append
    assert fresh["AtomicModelCheckpoint"].best in (None, np.inf)


@pytest.mark.parametrize(
    "argument, value",
    [("update_freq", "batch"), ("profile_batch", 2), ("write_steps_per_second", True)],
)
def test_epoch_tensorboard_refuses_per_batch_work(tmp_path, argument, value):
    with pytest.raises(ValueError, match=f"`{argument}` must be .*received {value!r}"):
        EpochTensorBoard(str(tmp_path), **{argument: value})


def test_monitor_check_waits_for_an_epoch_that_validates():
    check = MonitorCheck("val_loss")
    check.on_epoch_end(0, {"loss": 1.0})  # validation_freq skipped this epoch
    check.on_epoch_end(1, {"loss": 1.0, "val_loss": 2.0})
    with pytest.raises(ValueError, match=r"\['loss', 'val_accuracy'\]"):
        check.on_epoch_end(2, {"loss": 1.0, "val_accuracy": 0.5})
    with pytest.raises(ValueError, match="Received: monitor='acc'"):
        MonitorCheck("acc").on_epoch_end(0, {"loss": 1.0})
