"""Stop at the first non-finite loss and say where it happened."""

import math
import sys
import threading

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

    Safe for asynchronous batch dispatch (``async_safe``): on backends that
    run batch-end callbacks in a worker thread (JAX, PyTorch) the check does
    not hold up the next step, and the error reaches `fit` a step or so
    later, still before the epoch's validation, checkpoint and backup.

    Args:
        monitor: The log key to watch.
        raise_error: Raise `NonFiniteLossError` (True) or only set
            `model.stop_training` and print the message (False). Without
            raising, Keras still ends the epoch, so validation, checkpoint and
            backup callbacks see the broken weights.

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> from training import NaNGuard, NonFiniteLossError
        >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> x = np.array([[1.0], [np.nan], [2.0]])
        >>> guard = NaNGuard()
        >>> try:
        ...     model.fit(x, x, batch_size=1, shuffle=False, verbose=0, callbacks=[guard])
        ... except NonFiniteLossError:
        ...     print("epoch", guard.epoch, "batch", guard.batch)
        epoch 0 batch 1
    """

    async_safe = True

    def __init__(self, monitor="loss", raise_error=True):
        super().__init__()
        self.monitor = monitor
        self.raise_error = raise_error
        self.epoch = None
        self.batch = None
        self.step = None
        self.message = None
        self._current_epoch = 0
        self._steps_before_epoch = 0
        self._lock = threading.Lock()

    def on_train_begin(self, logs=None):
        self.epoch = self.batch = self.step = self.message = None

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch
        # Read here, on the main thread: a batch-end check may run in a
        # worker thread, where touching the model (on JAX, `self.model`
        # copies the training state back into it) would race with training.
        self._steps_before_epoch = self._optimizer_steps()

    def _optimizer_steps(self):
        optimizer = self.model.optimizer
        if optimizer is None:
            return None
        return int(keras.ops.convert_to_numpy(optimizer.iterations))

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
        with self._lock:
            # Worker threads may check the batches after the first non-finite
            # one too, in any order: the earliest batch is where it happened.
            if self.message is not None and (
                batch is None or self.batch is None or batch > self.batch
            ):
                return
            self.epoch = self._current_epoch
            self.batch = batch
            if batch is None:  # epoch end: on the main thread, training stopped
                self.step = self._optimizer_steps()
            elif self._steps_before_epoch is not None:
                self.step = self._steps_before_epoch + batch + 1
            where = f"epoch {self.epoch + 1}"
            if batch is not None:
                where += f", batch {batch + 1}"
            self.message = (
                f"NaNGuard: {self.monitor} became {value} at {where} "
                f"(optimizer step {self.step}). Training stopped; try a lower "
                "learning rate, more warm-up or gradient clipping."
            )
            message = self.message
        # `_model`, not `model`: no state copy from a worker thread (see above).
        self._model.stop_training = True
        if self.raise_error:
            raise NonFiniteLossError(message)
        print(message, file=sys.stderr, flush=True)
