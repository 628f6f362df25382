"""Stops a run whose monitored value is not in its logs."""

import keras


def epoch_validated(logs):
    """Whether an epoch's logs hold validation values (``val_`` keys).

    An epoch that `validation_freq` skips logs none at all.
    """
    return any(key.startswith("val_") for key in logs or {})


class MonitorCheck(keras.callbacks.Callback):
    """Raises at an epoch's end when ``monitor`` is not among its logs.

    Keras' `ModelCheckpoint` and `EarlyStopping` only warn about a monitor
    they cannot find (a misspelt ``"val_acc"``, a metric never compiled): the
    run then trains every epoch, saves no model and never stops early.

    An epoch without validation (Keras' ``validation_freq``) logs no
    ``val_`` values at all, so a ``val_`` monitor is checked at the next
    epoch that validates. If the last epoch of ``fit`` comes and none has
    validated (``fit`` was given no validation data), it raises then.

    Args:
        monitor: The log key the checkpoint and early stopping watch.
    """

    def __init__(self, monitor):
        super().__init__()
        self.monitor = monitor
        self._validated = False

    def on_train_begin(self, logs=None):
        self._validated = False

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        validated = epoch_validated(logs)
        self._validated = self._validated or validated
        if self.monitor in logs:
            return
        if self.monitor.startswith("val_") and not validated:
            if self._validated or not self._last_epoch(epoch):
                return
            raise ValueError(
                f"`monitor` {self.monitor!r} needs validation, but no epoch of "
                "this fit validated: pass `validation_data` (or "
                "`validation_split`), or monitor a training value such as "
                f"'loss'. Received: monitor={self.monitor!r}"
            )
        raise ValueError(
            "`monitor` must name a value that training logs at an epoch's end: "
            f"one of {sorted(logs)}. Received: monitor={self.monitor!r}"
        )

    def _last_epoch(self, epoch):
        # A run stopped earlier (a time budget) may just not have validated yet.
        epochs = (self.params or {}).get("epochs")
        return epochs is not None and epoch + 1 >= epochs
