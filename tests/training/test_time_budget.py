"""`TimeBudget`: the rate follows the clock, training stops in time, resumes continue."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.training.conftest import CrashAt, FakeClock, RecordRate, tiny_regressor
from training import recipe
from training.callbacks import time_budget
from training.callbacks.time_budget import TimeBudget


def test_rate_is_warmup_then_cosine_to_the_floor():
    budget = TimeBudget(100, learning_rate=1.0, warmup_seconds=10, final_fraction=0.1)
    assert budget.rate_at(0) == 0
    assert budget.rate_at(5) == pytest.approx(0.5)
    assert budget.rate_at(10) == pytest.approx(1.0)
    assert budget.rate_at(55) == pytest.approx(0.55)
    assert budget.rate_at(100) == pytest.approx(0.1)
    assert budget.rate_at(500) == pytest.approx(0.1)


def test_fit_follows_the_clock_and_stops_when_the_budget_is_spent(
    regression_data, monkeypatch
):
    monkeypatch.setattr(time_budget.time, "perf_counter", FakeClock())
    x, y = regression_data
    model = tiny_regressor()
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
    budget = TimeBudget(40, learning_rate=0.1, warmup_seconds=8)
    record = RecordRate()
    history = model.fit(
        x, y, batch_size=8, epochs=100, callbacks=[budget, record], verbose=0
    )
    # 8 batches an epoch, each reading the clock twice: far fewer than 100
    # epochs fit in 40 fake seconds.
    assert len(history.epoch) < 5
    assert budget.train_seconds >= 40
    rates = np.array(record.rates)
    peak = int(np.argmax(rates))
    assert 0 < peak < len(rates) - 1
    assert np.all(np.diff(rates[: peak + 1]) > 0)
    assert np.all(np.diff(rates[peak:]) <= 0)
    assert rates[-1] < 0.01
    assert history.history["train_seconds"][-1] == budget.train_seconds


def test_rate_is_assigned_only_when_it_moved_by_rate_step(regression_data, monkeypatch):
    monkeypatch.setattr(time_budget.time, "perf_counter", FakeClock())
    x, y = regression_data
    model = tiny_regressor()
    model.compile(optimizer=keras.optimizers.Adam(0.1), loss="mse")
    # A step of 0.03 is no whole number of the warm-up's clock ticks (0.0125
    # each). With 0.025 (two ticks) a move of exactly the step was assigned
    # or not as float rounding fell, whenever worker-thread batch ends (JAX,
    # PyTorch) shifted which ticks the batch starts read.
    budget = TimeBudget(40, learning_rate=0.1, warmup_seconds=8, rate_step=0.3)
    record = RecordRate()
    model.fit(x, y, batch_size=8, epochs=100, callbacks=[budget, record], verbose=0)
    rates = np.array(record.rates)
    changes = np.diff(rates)[np.diff(rates) != 0]
    # Up to the peak and down again, each change more than 0.3 of it.
    assert 2 <= len(changes) <= 2 / 0.3
    assert np.all(np.abs(changes) > 0.3 * 0.1)
    assert len(rates) > 3 * (len(changes) + 1)  # batches reuse the rate


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"seconds": 0}, "seconds"),
        ({"seconds": 10, "warmup_seconds": 10}, "warmup"),
        ({"seconds": 10, "rate_step": 1}, "rate_step"),
        ({"seconds": 10, "rate_step": "0.1"}, "rate_step.*'0.1'"),
        ({"seconds": "10"}, "seconds.*'10'"),
        ({"seconds": 10, "learning_rate": -0.1}, "learning_rate.*-0.1"),
        ({"seconds": 10, "final_fraction": 2}, "final_fraction.*2"),
        ({"seconds": 10, "final_fraction": -1}, "final_fraction.*-1"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        TimeBudget(**{"learning_rate": 1.0, **kwargs})


def test_a_learning_rate_schedule_is_refused_by_name(regression_data):
    # Used to fail at the first batch: 'EagerTensor' has no attribute 'assign'.
    x, y = regression_data
    model = tiny_regressor()
    schedule = keras.optimizers.schedules.CosineDecay(0.1, 100)
    model.compile(keras.optimizers.AdamW(schedule), "mse")
    budget = TimeBudget(10, learning_rate=0.1)
    with pytest.raises(ValueError, match="float learning rate.*CosineDecay"):
        model.fit(x, y, epochs=1, callbacks=[budget], verbose=0)


def budgeted_fit(out_dir, regression_data, *extra_callbacks):
    """`training.fit` under a fresh budget, as a rerun command would make it.

    With the fake clock an epoch of 8 batches takes about 31 "seconds", so
    the 200-second budget spans about 7 epochs.
    """
    x, y = regression_data
    train = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
    budget = TimeBudget(200, learning_rate=0.1, warmup_seconds=40)
    record = RecordRate()
    history = recipe.fit(
        tiny_regressor,
        train,
        None,
        str(out_dir),
        epochs=100,
        loss="mse",
        schedule=0.1,
        patience=None,
        callbacks=[budget, record, *extra_callbacks],
        verbose=0,
    )
    return history, budget, record


def test_a_resumed_run_continues_the_budget_where_the_backup_left_it(
    tmp_path, regression_data, monkeypatch
):
    monkeypatch.setattr(time_budget.time, "perf_counter", FakeClock())
    with pytest.raises(KeyboardInterrupt):
        budgeted_fit(tmp_path, regression_data, CrashAt(3))
    state = json.loads((tmp_path / "time_budget.json").read_text())
    spent = state["seconds_after_epoch"]
    assert sorted(spent) == ["1", "2", "3"]
    assert 40 < spent["2"] < spent["3"] < 200

    history, budget, record = budgeted_fit(tmp_path, regression_data)
    assert history.epoch[0] == 3  # resumed from the backup
    assert history.history["train_seconds"][0] > spent["3"]
    # No second warm-up: the first resumed step runs at the rate the schedule
    # had reached (a few fake seconds of other callbacks' clock reads later),
    # and the run stops once the remaining seconds are spent.
    first = record.rates[0]
    assert budget.rate_at(spent["3"] + 5) <= first <= budget.rate_at(spent["3"])
    assert first > 0.05
    assert 200 <= budget.train_seconds < 200 + (spent["3"] - spent["2"]) + 2


def test_a_fresh_run_ignores_the_record_of_an_earlier_one(
    tmp_path, regression_data, monkeypatch
):
    monkeypatch.setattr(time_budget.time, "perf_counter", FakeClock())
    budgeted_fit(tmp_path, regression_data)  # finishes: the backup is removed
    history, budget, record = budgeted_fit(tmp_path, regression_data)
    assert history.epoch[0] == 0
    assert record.rates[0] < 0.01  # warming up again from zero
    state = json.loads((tmp_path / "time_budget.json").read_text())
    assert len(state["seconds_after_epoch"]) == len(history.epoch)
