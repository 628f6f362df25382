"""What a user sees of a run: the progress on stderr, the TensorBoard steps."""

import csv
import os

import keras
import pytest

from tests.training.conftest import data, tiny_model
from training.callbacks.standard import standard_callbacks, tensorboard_available
from zoo import registry, trainer

needs_tensorboard = pytest.mark.skipif(
    not tensorboard_available(), reason="needs tensorflow and tensorboard"
)


class KillBeforeBackup(keras.callbacks.Callback):
    """Stops the run as a kill would, after ``epoch``'s logs, before its backup."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt("simulated kill before the backup")


def _fit(out_dir, callbacks_before_backup=(), epochs=3):
    x, y = data()
    callbacks = standard_callbacks(str(out_dir), batch_size=8)
    callbacks[-1:-1] = list(callbacks_before_backup)  # the backup stays last
    tiny_model().fit(
        x,
        y,
        batch_size=8,
        validation_data=(x, y),
        epochs=epochs,
        callbacks=callbacks,
        verbose=0,
    )


def _steps(folder):
    """Tag -> the steps of its summaries, in the order they were written.

    By the events' wall time, not the files' names: TensorFlow names a
    writer's file by the second, the process and a counter of writers, so
    two sessions of one process within a second sort by that counter as
    text ("...10.v2" before "...9.v2").
    """
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    written = []
    for name in os.listdir(folder):
        if "tfevents" not in name:
            continue
        for record in tf.data.TFRecordDataset(os.path.join(folder, name)):
            event = event_pb2.Event.FromString(record.numpy())
            for value in event.summary.value:
                written.append((event.wall_time, value.tag, event.step))
    steps = {}
    for _, tag, step in sorted(written):
        steps.setdefault(tag, []).append(step)
    return steps


@needs_tensorboard
def test_a_resumed_run_writes_each_epoch_once_to_tensorboard(tmp_path):
    # Killed after TensorBoard wrote epoch 1 but before its backup: the
    # resumed run trains epoch 1 again, as history.csv keeps only epoch 0.
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path, [KillBeforeBackup(epoch=1)])
    _fit(tmp_path)

    train = _steps(tmp_path / "logs" / "train")
    validation = _steps(tmp_path / "logs" / "validation")
    assert train["epoch_loss"] == [0, 1, 2]
    assert train["epoch_learning_rate"] == [0, 1, 2]
    assert validation["epoch_loss"] == [0, 1, 2]
    # 4 batches an epoch: one validation per epoch, at the optimizer's step.
    assert validation["evaluation_loss_vs_iterations"] == [4, 8, 12]
    with open(tmp_path / "history.csv") as handle:
        assert [line.split(",")[0] for line in handle][1:] == ["0", "1", "2"]


@needs_tensorboard
def test_a_fresh_start_drops_the_events_of_a_run_killed_before_its_backup(
    tmp_path,
):
    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path, [KillBeforeBackup(epoch=0)])
    _fit(tmp_path, epochs=2)

    assert _steps(tmp_path / "logs" / "train")["epoch_loss"] == [0, 1]
    assert _steps(tmp_path / "logs" / "validation")["epoch_loss"] == [0, 1]


class _Stop(Exception):
    pass


def test_zoo_train_shows_progress_on_stderr_one_line_per_epoch(
    tmp_path, monkeypatch, capsys
):
    # stdout is the command's result (the metrics' JSON): `zoo train ... | jq`.
    # Keras' bar redraws itself with "\r" on any POSIX system, terminal or
    # not, so a log file needs verbose=2. It counts examples with the run's
    # batch size, not that of the first batch (a bucketed text set's can be 1).
    pytest.importorskip("vega_datasets")  # seattle_weather: the [data] extra
    import training.recipe

    received = {}

    def fake_fit(*args, **kwargs):
        received.update(kwargs)
        print("Epoch 1/1")
        raise _Stop

    monkeypatch.setattr(training.recipe, "fit", fake_fit)
    with pytest.raises(_Stop):
        trainer.train_run(
            registry.get_family("forecaster"),
            "tiny",
            "seattle_weather",
            tmp_path / "run",
            epochs=1,
            batch_size=32,
        )
    captured = capsys.readouterr()
    assert "Epoch 1/1" in captured.err
    assert "Epoch 1/1" not in captured.out
    assert received["verbose"] == 2  # pytest's stderr is not a terminal
    assert received["batch_size"] == 32


class _Terminal:
    def __init__(self, tty):
        self.tty = tty

    def isatty(self):
        return self.tty


def test_progress_verbosity_keeps_the_bar_on_a_terminal():
    assert trainer.progress_verbosity(_Terminal(True)) == 1
    assert trainer.progress_verbosity(_Terminal(False)) == 2
    assert trainer.progress_verbosity(object()) == 2


def test_a_spent_time_budget_says_why_training_stopped(monkeypatch, capsys):
    from tests.training.conftest import FakeClock
    from training.callbacks import time_budget

    monkeypatch.setattr(time_budget.time, "perf_counter", FakeClock())
    x, y = data()
    model = tiny_model()
    budget = time_budget.TimeBudget(20, learning_rate=1e-3)
    history = model.fit(x, y, batch_size=8, epochs=100, callbacks=[budget], verbose=0)
    stopped_after = len(history.epoch)
    assert stopped_after < 100
    assert (
        f"budget of 20 s; training stops after epoch {stopped_after}."
        in capsys.readouterr().err
    )


def test_examples_per_second_is_not_above_the_data_when_batch_is_larger(tmp_path):
    # Every step counted as a full --batch-size: 100,000 examples a step.
    out = tmp_path / "run"
    trainer.train_run(
        registry.get_family("forecaster"), "tiny", "seattle_weather", out, 1, 100_000
    )
    with open(out / "history.csv") as handle:
        row = next(csv.DictReader(handle))
    # examples per step = examples_per_second / steps_per_second: at most the
    # whole series, which is one batch here.
    per_step = float(row["examples_per_second"]) / float(row["steps_per_second"])
    assert per_step <= 1461  # all of vega_datasets' seattle_weather days
