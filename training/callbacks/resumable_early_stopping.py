"""Early stopping that carries on an interrupted run's patience and best epoch."""

import math
import os
import warnings

import keras

# Stands in for best weights that are saved in the checkpoint file rather
# than held in memory, so that Keras does not take the current ones instead.
_IN_CHECKPOINT = object()


class ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """`EarlyStopping` that continues from the epochs a resumed run trained.

    Keras' `EarlyStopping` starts afresh at every `fit`: after a crash and a
    resume its patience counted from the resumed epoch, so the run trained
    longer than an uninterrupted one, and it restored the best weights of the
    resumed epochs only. This one replays Keras' own bookkeeping over the
    monitored values of the earlier epochs first. When the best epoch is one
    of those, its weights come back from `best_model_path` (the checkpoint
    that `save_best_only` keeps) at the end of training.

    Args:
        earlier_values: the monitored value of each epoch trained before the
            resume, in order, NaN where it is missing (empty or None for a
            fresh run).
        best_model_path: the `.keras` file holding the best epoch's model.
        **kwargs: `keras.callbacks.EarlyStopping`'s arguments.

    Examples:
        >>> from training.callbacks.resumable_early_stopping import ResumableEarlyStopping
        >>> stopper = ResumableEarlyStopping(
        ...     [0.9, 0.7, 0.8], "runs/x/model.keras", monitor="val_loss",
        ...     patience=2, mode="min", restore_best_weights=True)
    """

    def __init__(self, earlier_values=None, best_model_path=None, **kwargs):
        super().__init__(**kwargs)
        self.earlier_values = list(earlier_values or [])
        self.best_model_path = best_model_path

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        if not self.earlier_values:
            return
        if self.monitor_op is None:
            self._set_monitor_op()
        # The same steps as EarlyStopping.on_epoch_end, without stopping: a
        # run that had run out of patience would not have been resumed.
        for epoch, value in enumerate(self.earlier_values):
            # NaN is how the history file writes a value missing from the
            # logs, which Keras skips too.
            if epoch < self.start_from_epoch or math.isnan(value):
                continue
            self.wait += 1
            if self._is_improvement(value, self.best):
                self.best, self.best_epoch = value, epoch
                if self.baseline is None or self._is_improvement(value, self.baseline):
                    self.wait = 0
        if self.restore_best_weights and self.best is not None:
            self.best_weights = _IN_CHECKPOINT

    def on_train_end(self, logs=None):
        if self.best_weights is not _IN_CHECKPOINT:
            super().on_train_end(logs)
            return
        self.best_weights = None  # nothing in memory for Keras to restore
        super().on_train_end(logs)
        if not (self.best_model_path and os.path.exists(self.best_model_path)):
            warnings.warn(
                f"the best epoch ({self.best_epoch + 1}) came before the resume "
                f"and {self.best_model_path!r} does not hold it: the model keeps "
                "the last epoch's weights",
                stacklevel=2,
            )
            return
        if self.verbose > 0:
            print(
                f"Restoring model weights of the best epoch {self.best_epoch + 1} "
                f"from {self.best_model_path}."
            )
        self.model.load_weights(self.best_model_path)
