"""TensorBoard logging once per epoch that lets training steps run ahead."""

import contextlib
import functools
import os

import keras

from training.callbacks.atomic_checkpoints import (
    raise_if_disk_full,
    removed_on_failure,
    replace_atomically,
)

# What makes Keras' TensorBoard callback write or profile at batch ends.
_EPOCH_ONLY = {
    "update_freq": "epoch",
    "profile_batch": 0,
    "write_steps_per_second": False,
}


# The event files' sub-folders and the tags of the summaries written per
# epoch (`epoch_loss`, ...; step: the epoch) or per validation
# (`evaluation_loss_vs_iterations`, ...; step: the optimizer's iterations).
_RUNS = ("train", "validation")
_EPOCH_TAG = "epoch_"
_PER_EPOCH_TAGS = (_EPOCH_TAG, "evaluation_")


def _naming_disk_errors(name):
    """Keras' TensorBoard hook ``name``, raising a full disk as an `OSError`.

    On a full disk TensorFlow raises a ResourceExhaustedError, which `zoo`
    showed as a traceback; it becomes an `OSError` naming `log_dir`.
    """

    @functools.wraps(getattr(keras.callbacks.TensorBoard, name))
    def wrapped(self, *args, **kwargs):
        # Looked up at each call, not bound here: the parent's hook, as now.
        with self._disk_errors_named():
            return getattr(super(EpochTensorBoard, self), name)(*args, **kwargs)

    return wrapped


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

    # The hooks that create the event files or write to them.
    set_model = _naming_disk_errors("set_model")  # creates the training file
    on_train_begin = _naming_disk_errors("on_train_begin")
    on_test_begin = _naming_disk_errors("on_test_begin")
    on_epoch_end = _naming_disk_errors("on_epoch_end")
    on_test_end = _naming_disk_errors("on_test_end")
    on_train_end = _naming_disk_errors("on_train_end")

    def on_train_batch_end(self, batch, logs=None):
        if keras.backend.backend() == "tensorflow":
            with self._disk_errors_named():
                super().on_train_batch_end(batch, logs)

    @contextlib.contextmanager
    def _disk_errors_named(self):
        try:
            yield
        except Exception as error:
            raise_if_disk_full(error, self.log_dir, "TensorBoard logs")
            raise


def keep_tensorboard_epochs(log_dir, epochs):
    """Cut the event files under ``log_dir`` back to the first ``epochs`` epochs.

    A run killed after TensorBoard wrote an epoch but before its backup
    committed it trains that epoch again, and a resumed session writes a new
    event file: the epoch's scalars came twice (the validation's
    ``evaluation_*_vs_iterations`` at the same step), possibly with other
    values. As ``history.csv`` is cut back to the backed-up epochs, each
    earlier event file keeps what it wrote up to its last kept epoch; a file
    with no kept epoch keeps only what came before its first epoch (the
    file's version, the model's graph). The files are rewritten whole and
    renamed over the old ones; a half-written last record (a kill in the
    middle of a write) is dropped.

    Args:
        log_dir: The folder holding ``train/`` and ``validation/``.
        epochs: The epochs to keep (0 for none: a fresh start).
    """
    for run in _RUNS:
        folder = os.path.join(log_dir, run)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if ".tfevents." in name and not name.endswith(".partial"):
                _cut_event_file(os.path.join(folder, name), epochs)


def _cut_event_file(path, epochs):
    import tensorflow as tf
    from tensorflow.core.util import event_pb2

    records = []
    whole = True
    try:
        for record in tf.data.TFRecordDataset(path):
            records.append(record.numpy())
    except tf.errors.DataLossError:
        whole = False  # a record cut off by a kill: drop it
    first_epoch_event, cut = None, None
    for index, record in enumerate(records):
        event = event_pb2.Event.FromString(record)
        tags = [value.tag for value in event.summary.value]
        if not any(tag.startswith(_PER_EPOCH_TAGS) for tag in tags):
            continue
        if first_epoch_event is None:
            first_epoch_event = index
        if any(tag.startswith(_EPOCH_TAG) for tag in tags) and event.step < epochs:
            cut = index + 1
    if cut is None:
        cut = len(records) if first_epoch_event is None else first_epoch_event
    if whole and cut == len(records):
        return
    # TensorBoard reads every file whose name holds "tfevents": not this one.
    folder, name = os.path.split(path)
    partial = os.path.join(folder, "." + name.replace("tfevents", "cut") + ".partial")
    with removed_on_failure(partial, path):
        with tf.io.TFRecordWriter(partial) as writer:
            for record in records[:cut]:
                writer.write(record)
        replace_atomically(partial, path)
