"""TensorBoard logging once per epoch that lets training steps run ahead."""

import contextlib

import keras

from training.callbacks.atomic_checkpoints import raise_if_disk_full

# What makes Keras' TensorBoard callback write or profile at batch ends.
_EPOCH_ONLY = {
    "update_freq": "epoch",
    "profile_batch": 0,
    "write_steps_per_second": False,
}


class EpochTensorBoard(keras.callbacks.TensorBoard):
    """`keras.callbacks.TensorBoard` that writes once per epoch, `async_safe`.

    On JAX and PyTorch, Keras runs batch-end callbacks in a worker thread,
    so the host can queue the next step while the device works, but only
    when every callback leaves `on_train_batch_end` alone or declares
    ``async_safe``. Keras' TensorBoard defines it even when it writes
    nothing per batch, which makes every step wait for the one before. This
    subclass accepts only per-epoch writing and no profiling; on those
    backends its batch end has nothing to do. (On TensorFlow batch ends are
    always synchronous, and it does what Keras' callback does: write the
    training graph at the first batch.)

    Args:
        log_dir: Where to write the event files.
        **kwargs: Other `keras.callbacks.TensorBoard` arguments; ``update_freq``,
            ``profile_batch`` and ``write_steps_per_second`` only at their
            per-epoch values.
    """

    async_safe = True

    def __init__(self, log_dir="logs", **kwargs):
        for name, required in _EPOCH_ONLY.items():
            if kwargs.get(name, required) != required:
                raise ValueError(
                    f"EpochTensorBoard writes once per epoch: `{name}` must be "
                    f"{required!r}; received {kwargs[name]!r}"
                )
        super().__init__(log_dir, **kwargs)

    def on_train_batch_end(self, batch, logs=None):
        if keras.backend.backend() == "tensorflow":
            with self._disk_errors_named():
                super().on_train_batch_end(batch, logs)

    # The hooks that create the event files or write to them. On a full disk
    # TensorFlow raises a ResourceExhaustedError, which `zoo` showed as a
    # traceback; it becomes an `OSError` naming `log_dir`.

    def set_model(self, model):
        # Writes the model's summary, creating the training event file.
        with self._disk_errors_named():
            super().set_model(model)

    def on_train_begin(self, logs=None):
        with self._disk_errors_named():
            super().on_train_begin(logs)

    def on_test_begin(self, logs=None):
        with self._disk_errors_named():
            super().on_test_begin(logs)

    def on_epoch_end(self, epoch, logs=None):
        with self._disk_errors_named():
            super().on_epoch_end(epoch, logs)

    def on_test_end(self, logs=None):
        with self._disk_errors_named():
            super().on_test_end(logs)

    def on_train_end(self, logs=None):
        with self._disk_errors_named():
            super().on_train_end(logs)

    @contextlib.contextmanager
    def _disk_errors_named(self):
        try:
            yield
        except Exception as error:
            raise_if_disk_full(error, self.log_dir, "TensorBoard logs")
            raise
