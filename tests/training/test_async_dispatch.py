"""The toolkit's callbacks keep Keras' batch-end dispatch asynchronous, and work.

On JAX (and PyTorch) Keras runs batch-end callbacks in a worker thread, so
the host queues the next step while the device works, but only when every
callback is ``async_safe``. TensorFlow's batch ends are always synchronous,
so these tests run in the JAX pass of `make test`.
"""

import threading
import types

import keras
import numpy as np
import pytest

from tests.training.conftest import FakeClock, PoisonWeights, RecordRate, tiny_regressor
from training.callbacks import (
    NaNGuard,
    NonFiniteLossError,
    ThroughputLogger,
    TimeBudget,
    standard_callbacks,
    throughput_logger,
    time_budget,
)

pytestmark = pytest.mark.skipif(
    keras.backend.backend() == "tensorflow",
    reason="TensorFlow runs batch-end callbacks synchronously",
)


class BatchEndThreads(keras.callbacks.Callback):
    """Records which threads ran `on_train_batch_end`."""

    async_safe = True

    def on_train_begin(self, logs=None):
        self.threads = set()

    def on_train_batch_end(self, batch, logs=None):
        self.threads.add(threading.get_ident())


def fit(regression_data, callbacks, epochs=2):
    """64 examples in batches of 8: 8 steps an epoch."""
    x, y = regression_data
    model = tiny_regressor()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    return model.fit(
        x, y, batch_size=8, epochs=epochs, shuffle=False, verbose=0, callbacks=callbacks
    )


def test_the_standard_callbacks_and_a_budget_leave_batch_ends_to_a_worker(
    regression_data, tmp_path
):
    threads = BatchEndThreads()
    budget = TimeBudget(3600, learning_rate=0.01, warmup_seconds=1)
    callbacks = [budget, threads] + standard_callbacks(
        str(tmp_path), monitor="loss", batch_size=8
    )
    history = fit(regression_data, callbacks)
    assert threads.threads and threading.get_ident() not in threads.threads
    # ... and each still did its job.
    assert history.epoch == [0, 1]
    assert history.history["train_seconds"][-1] == budget.train_seconds > 0
    assert all(rate > 0 for rate in history.history["examples_per_second"])
    assert (tmp_path / "model.keras").is_file()
    assert (tmp_path / "history.csv").read_text().count("\n") == 3


def test_mid_epoch_backups_keep_batch_ends_synchronous(regression_data, tmp_path):
    threads = BatchEndThreads()
    callbacks = [threads] + standard_callbacks(
        str(tmp_path), monitor="loss", save_freq=3, keep_backup=True
    )
    fit(regression_data, callbacks)
    assert threads.threads == {threading.get_ident()}
    assert (tmp_path / "backup" / "training_metadata.json").is_file()


def test_nan_guard_stops_at_the_nan_from_a_worker_thread(regression_data):
    threads = BatchEndThreads()
    guard = NaNGuard()
    with pytest.raises(NonFiniteLossError, match=r"loss became nan at epoch 2, batch"):
        fit(regression_data, [PoisonWeights(epoch=1, batch=2), guard, threads], 5)
    assert threading.get_ident() not in threads.threads
    # Worker threads may finish out of order, so a later batch's check can
    # be the first to report; the step always matches the batch it names.
    assert guard.epoch == 1 and 2 <= guard.batch <= 4
    assert guard.step == 8 + guard.batch + 1
    assert f"optimizer step {guard.step})" in guard.message


def test_time_budget_stops_in_time_from_a_worker_thread(regression_data, monkeypatch):
    # A clock of its own, read only by the budget: one "second" per read.
    monkeypatch.setattr(
        time_budget, "time", types.SimpleNamespace(perf_counter=FakeClock())
    )
    threads = BatchEndThreads()
    budget = TimeBudget(40, learning_rate=0.1, warmup_seconds=8)
    record = RecordRate()
    history = fit(regression_data, [budget, record, threads], epochs=100)
    assert threading.get_ident() not in threads.threads
    # Two reads a step: the 40 seconds are spent in the third epoch, and
    # steps queued before the stop is seen add only a few seconds more.
    assert len(history.epoch) == 3
    assert 40 <= budget.train_seconds < 40 + 2 * 8
    rates = np.array(record.rates)
    peak = int(np.argmax(rates))
    assert np.all(np.diff(rates[: peak + 1]) > 0)
    assert np.all(np.diff(rates[peak:]) <= 0)


def test_throughput_counts_every_step_from_worker_threads(regression_data, monkeypatch):
    # A clock of its own, read at the epoch start and at each batch end.
    monkeypatch.setattr(
        throughput_logger, "time", types.SimpleNamespace(perf_counter=FakeClock())
    )
    threads = BatchEndThreads()
    history = fit(regression_data, [ThroughputLogger(batch_size=8), threads])
    assert threading.get_ident() not in threads.threads
    # 8 steps over 8 "seconds" in each epoch, whatever order the threads ran.
    assert history.history["steps_per_second"] == [1.0, 1.0]
    assert history.history["examples_per_second"] == [8.0, 8.0]
