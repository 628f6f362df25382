"""Stop at the first non-finite loss and say where it happened."""

import math
import sys

import keras


class NonFiniteLossError(RuntimeError):
    """Raised by `NaNGuard` when the monitored loss is NaN or infinite."""


class NaNGuard(keras.callbacks.Callback):
    """Stops training when the loss becomes NaN or infinite.

    Unlike `keras.callbacks.TerminateOnNaN` it records where it happened
    (`epoch`, `batch`, `step`) and, by default, raises so that `fit` does not
    go on to validate, checkpoint or back up the broken weights: the last
    backup and the best `model.keras` stay intact for a resume with a lower
    learning rate.

    Args:
        monitor: The log key to watch.
        raise_error: Raise `NonFiniteLossError` (True) or only set
            `model.stop_training` and print the message (False). Without
            raising, Keras still ends the epoch, so validation, checkpoint and
            backup callbacks see the broken weights.

    Example:
        >>> guard = NaNGuard()
        >>> model.fit(x, y, callbacks=[guard])  # raises at the first NaN loss
    """

    def __init__(self, monitor="loss", raise_error=True):
        super().__init__()
        self.monitor = monitor
        self.raise_error = raise_error
        self.epoch = None
        self.batch = None
        self.step = None
        self.message = None
        self._current_epoch = 0

    def on_train_begin(self, logs=None):
        self.epoch = self.batch = self.step = self.message = None

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._check(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        # Catches a non-finite epoch value when batch logs were skipped
        # (e.g. steps_per_execution larger than the epoch).
        if self.message is None:
            self._check(None, logs)

    def _check(self, batch, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        value = float(value)
        if math.isfinite(value):
            return
        self.epoch = self._current_epoch
        self.batch = batch
        optimizer = self.model.optimizer
        self.step = (
            int(keras.ops.convert_to_numpy(optimizer.iterations)) if optimizer else None
        )
        where = f"epoch {self.epoch + 1}"
        if batch is not None:
            where += f", batch {batch + 1}"
        self.message = (
            f"NaNGuard: {self.monitor} became {value} at {where} "
            f"(optimizer step {self.step}). Training stopped; try a lower "
            "learning rate, more warm-up or gradient clipping."
        )
        self.model.stop_training = True
        if self.raise_error:
            raise NonFiniteLossError(self.message)
        print(self.message, file=sys.stderr, flush=True)
