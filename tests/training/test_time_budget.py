"""`TimeBudget`: the learning rate follows the clock and training stops in time."""

import keras
import numpy as np
import pytest

from tests.training.conftest import tiny_regressor
from training.callbacks import time_budget
from training.callbacks.time_budget import TimeBudget


class FakeClock:
    """A clock that advances one second each time it is read."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 1.0
        return self.now


class RecordRate(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        self.rates.append(float(self.model.optimizer.learning_rate.numpy()))


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


@pytest.mark.parametrize(
    "kwargs, argument",
    [({"seconds": 0}, "seconds"), ({"seconds": 10, "warmup_seconds": 10}, "warmup")],
)
def test_bad_arguments_name_the_argument(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        TimeBudget(learning_rate=1.0, **kwargs)
