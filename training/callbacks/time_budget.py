"""Train for a wall-clock budget with a learning rate that follows the clock."""

import json
import math
import os
import sys
import time
import warnings

import keras

from training.arguments import check_number


class TimeBudget(keras.callbacks.Callback):
    """Linear warm-up then cosine decay over a budget of training seconds.

    An epoch-count schedule cannot know how many steps fit in "15 minutes on
    this machine"; this callback sets the learning rate before every batch
    from the share of the budget spent so far and stops training once it is
    spent, so the rate reaches zero just as time runs out. Only training
    steps count: validation passes at the end of an epoch do not.

    The optimizer's learning rate must be a plain float (a variable), not a
    `LearningRateSchedule`. Which steps happen depends on the clock, so a run
    under a budget is not bit-reproducible.

    The rate is assigned only when it has moved by more than ``rate_step``
    of the peak since it was last set (at most about ``2 / rate_step``
    times in a run): on JAX each assignment copies the whole training state
    back into the model, which costs more than a small model's step. The
    batch-end check is safe for asynchronous dispatch (``async_safe``), so on
    JAX and PyTorch it does not make each step wait for the previous one;
    training then stops a step or so after the budget is spent.

    Args:
        seconds: Training seconds to spend.
        learning_rate: Peak learning rate.
        warmup_seconds: Seconds of linear warm-up from zero.
        final_fraction: Learning rate at the end, as a share of the peak.
        state_file: JSON file that records the seconds spent after each
            epoch (None: nothing is recorded and a resumed run starts over).
        rate_step: Smallest change of the rate, as a share of the peak, that
            is assigned to the optimizer (0 assigns before every batch).

    Attributes:
        train_seconds: Training seconds spent so far.

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> from training import TimeBudget
        >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> x = np.ones((64, 1))
        >>> budget = TimeBudget(2.0, learning_rate=0.01, warmup_seconds=0.5)
        >>> history = model.fit(x, x, epochs=10_000, verbose=0, callbacks=[budget])
        >>> 1 < len(history.history["loss"]) < 10_000  # epochs that fit in 2 s
        True
    """

    async_safe = True

    def __init__(
        self,
        seconds,
        learning_rate,
        warmup_seconds=0.0,
        final_fraction=0.0,
        state_file=None,
        rate_step=1e-3,
    ):
        super().__init__()
        self.seconds = check_number("seconds", seconds, 0, low_open=True)
        self.learning_rate = check_number(
            "learning_rate", learning_rate, 0, low_open=True
        )
        # Outside [0, 1] the rate would end above the peak or below zero.
        self.final_fraction = check_number("final_fraction", final_fraction, 0, 1)
        self.warmup_seconds = check_number(
            "warmup_seconds", warmup_seconds, 0, self.seconds, high_open=True
        )
        self.rate_step = check_number("rate_step", rate_step, 0, 1, high_open=True)
        self.state_file = state_file
        self.train_seconds = 0.0
        self._first_epoch = True
        self._recorded = {}  # epochs done -> seconds spent, as in state_file
        self._epoch_start = None
        self._last_step_end = None
        self._assigned_rate = None

    def rate_at(self, elapsed):
        """The learning rate after ``elapsed`` training seconds."""
        if elapsed < self.warmup_seconds:
            return self.learning_rate * elapsed / self.warmup_seconds
        share = min(
            1.0, (elapsed - self.warmup_seconds) / (self.seconds - self.warmup_seconds)
        )
        floor = self.final_fraction
        return self.learning_rate * (
            floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * share))
        )

    def _elapsed(self):
        return self.train_seconds + time.perf_counter() - self._epoch_start

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        if not hasattr(optimizer.learning_rate, "assign"):
            # A schedule's rate is computed, not a variable this can set. A
            # LossScaleOptimizer holds the rate of the one it wraps.
            wrapped = getattr(optimizer, "inner_optimizer", optimizer)
            raise ValueError(
                "TimeBudget sets the learning rate itself: compile with a float "
                "learning rate (with `training.fit`, `schedule=<float>`), not a "
                "LearningRateSchedule. Received: a learning rate of type "
                f"{type(wrapped._learning_rate).__name__}"
            )
        self._first_epoch = True
        self._assigned_rate = None

    def on_epoch_begin(self, epoch, logs=None):
        if self._first_epoch and self.state_file:
            self._restore(epoch)
        self._first_epoch = False
        self._epoch_start = time.perf_counter()
        self._last_step_end = self._epoch_start

    def on_train_batch_begin(self, batch, logs=None):
        rate = self.rate_at(self._elapsed())
        last = self._assigned_rate
        if last is None or abs(rate - last) > self.rate_step * self.learning_rate:
            self.model.optimizer.learning_rate.assign(rate)
            self._assigned_rate = rate

    def on_train_batch_end(self, batch, logs=None):
        # May run in a worker thread, out of order with other batches: keep
        # the latest end, and set the flag on `_model` (on JAX, `model` would
        # copy the training state from this thread).
        self._last_step_end = max(self._last_step_end, time.perf_counter())
        spent = self.train_seconds + self._last_step_end - self._epoch_start
        if spent >= self.seconds:
            self._model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self.train_seconds += self._last_step_end - self._epoch_start
        if logs is not None:
            logs["train_seconds"] = self.train_seconds
        if self.train_seconds >= self.seconds:
            # Otherwise the run just ends, epochs before the `epochs` asked for,
            # and the user is left to wonder why.
            print(
                f"TimeBudget: {self.train_seconds:.1f} s of training spent the "
                f"budget of {self.seconds:g} s; training stops after epoch "
                f"{epoch + 1}.",
                file=sys.stderr,
                flush=True,
            )
        if self.state_file:
            self._record(epoch + 1)

    def _restore(self, first_epoch):
        """Read the record once; resume its seconds if training resumes."""
        recorded = {}
        if os.path.exists(self.state_file):
            with open(self.state_file) as file:
                recorded = json.load(file).get("seconds_after_epoch", {})
        # Later epochs left by an interrupted or earlier run do not count.
        self._recorded = {k: v for k, v in recorded.items() if int(k) <= first_epoch}
        if first_epoch == 0:
            return
        if str(first_epoch) in self._recorded:
            self.train_seconds = float(self._recorded[str(first_epoch)])
            return
        warnings.warn(
            f"TimeBudget: {self.state_file} has no record of epoch {first_epoch}, "
            f"where training resumes; the budget of {self.seconds:g} s starts over",
            stacklevel=2,
        )

    def _record(self, epochs_done):
        self._recorded[str(epochs_done)] = self.train_seconds
        state = {"budget_seconds": self.seconds, "seconds_after_epoch": self._recorded}
        # Written whole, then renamed: a crash leaves the old or the new record.
        partial = f"{self.state_file}.partial"
        with open(partial, "w") as file:
            json.dump(state, file)
        os.replace(partial, self.state_file)
