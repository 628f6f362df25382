"""Stops a run whose monitored value is not in its logs."""

import keras


class MonitorCheck(keras.callbacks.Callback):
    """Raises at an epoch's end when ``monitor`` is not among its logs.

    Keras' `ModelCheckpoint` and `EarlyStopping` only warn about a monitor
    they cannot find (a misspelt ``"val_acc"``, a metric never compiled): the
    run then trains every epoch, saves no model and never stops early.

    An epoch without validation (Keras' ``validation_freq``) logs no
    ``val_`` values at all, so a ``val_`` monitor is checked at the next
    epoch that validates.

    Args:
        monitor: The log key the checkpoint and early stopping watch.
    """

    def __init__(self, monitor):
        super().__init__()
        self.monitor = monitor

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.monitor in logs:
            return
        validated = any(key.startswith("val_") for key in logs)
        if self.monitor.startswith("val_") and not validated:
            return
        raise ValueError(
            "`monitor` must name a value that training logs at an epoch's end: "
            f"one of {sorted(logs)}. Received: monitor={self.monitor!r}"
        )
