"""The callbacks every recipe run gets, and where they write."""

import csv
import importlib.util
import math
import os

import keras

from training.arguments import check_int
from training.callbacks.atomic_checkpoints import (
    AtomicBackupAndRestore,
    AtomicModelCheckpoint,
    backed_up_epochs,
    write_text_atomically,
)
from training.callbacks.epoch_tensorboard import (
    EpochTensorBoard,
    keep_tensorboard_epochs,
)
from training.callbacks.history_csv_logger import HistoryCSVLogger
from training.callbacks.monitor_check import MonitorCheck
from training.callbacks.nan_guard import NaNGuard
from training.callbacks.resumable_early_stopping import ResumableEarlyStopping
from training.callbacks.throughput_logger import ThroughputLogger
from training.callbacks.training_curve_plot import TrainingCurvePlot, read_history_csv

# Where the standard callbacks write inside a run's out_dir.
BACKUP_DIR = "backup"
HISTORY_FILE = "history.csv"
CURVE_FILE = "training_curve.png"
LOGS_DIR = "logs"

_MAX_MONITORS = ("acc", "accuracy", "auc", "bleu", "rouge", "f1", "precision", "recall")


_MODES = ("auto", "min", "max")


def _is_max_mode(monitor, mode):
    if mode not in _MODES:
        # Anything else would silently minimise, e.g. a misspelt "max".
        raise ValueError(f"`mode` must be one of {_MODES}. Received: mode={mode!r}")
    if mode != "auto":
        return mode == "max"
    name = monitor[4:] if monitor.startswith("val_") else monitor
    if any(name.endswith(suffix) for suffix in _MAX_MONITORS):
        return True
    return _keras_metric_direction(name) == "up"


def _keras_metric_direction(name):
    """``"up"`` or ``"down"`` for a Keras metric named ``name``, else None.

    Keras' own metrics know their direction: `f1_score`, `r2_score` and
    `cosine_similarity` are maximised, which no list of suffixes here covers.
    """
    try:
        metric = keras.metrics.get(name)
    except (ValueError, TypeError):  # not a Keras name, or it needs arguments
        return None
    return getattr(metric, "_direction", None)


def _earlier_values(csv_path, monitor):
    """`monitor`'s value in each epoch of an earlier run's CSV (NaN if missing)."""
    if not os.path.exists(csv_path):
        return []
    return read_history_csv(csv_path).get(monitor, [])


def _best_so_far(values, monitor, mode):
    """Best finite value among an earlier run's `values`, or None."""
    values = [v for v in values if math.isfinite(v)]
    if not values:
        return None
    return max(values) if _is_max_mode(monitor, mode) else min(values)


def keep_history_rows(csv_path, epochs):
    """Cut ``history.csv`` back to the rows of the ``epochs`` backed-up epochs.

    The CSV row of an epoch is written before its backup, so a run killed in
    between has a row (maybe half a line) for an epoch it will train again.
    """
    if not os.path.exists(csv_path):
        return
    with open(csv_path, newline="") as handle:
        lines = handle.read().splitlines(keepends=True)
    if not lines:
        return
    columns = len(next(csv.reader([lines[0]])))
    kept = [lines[0]]
    for index, line in enumerate(lines[1 : epochs + 1]):
        fields = next(csv.reader([line]))
        complete = line.endswith("\n") and len(fields) == columns
        if not complete or fields[0] != str(index):
            break
        kept.append(line)
    if len(kept) < len(lines):
        write_text_atomically(csv_path, "".join(kept))


def tensorboard_available():
    """Whether `keras.callbacks.TensorBoard` can write here.

    It writes through `tf.summary`, which needs both `tensorflow` and the
    separate `tensorboard` package (not a TensorFlow dependency since 2.21).
    """
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("tensorflow", "tensorboard")
    )


def early_stopping(
    monitor="val_loss",
    patience=5,
    min_delta=0.0,
    mode="auto",
    earlier_values=None,
    best_model_path=None,
):
    """Early stopping that ends with the best epoch's weights.

    `restore_best_weights=True` makes Keras put back the weights of the best
    epoch when training ends, whether it stopped early or ran all epochs.

    Args:
        monitor: The log key to watch.
        patience: Epochs without improvement before stopping.
        min_delta: Smallest change that counts as an improvement.
        mode: `"min"`, `"max"` or `"auto"` (from the monitor's name).
        earlier_values: for a resumed run, `monitor`'s value in each epoch
            trained before, so that patience and the best epoch carry on.
        best_model_path: the checkpoint holding the best of those epochs.

    Returns:
        A `ResumableEarlyStopping` (a `keras.callbacks.EarlyStopping`).

    Examples:
        >>> from training import early_stopping
        >>> stopping = early_stopping(patience=3)
        >>> stopping.monitor, stopping.patience, stopping.restore_best_weights
        ('val_loss', 3, True)
    """
    patience = check_int("patience", patience, 0)
    mode = "max" if _is_max_mode(monitor, mode) else "min"
    return ResumableEarlyStopping(
        earlier_values,
        best_model_path,
        monitor=monitor,
        patience=patience,
        min_delta=min_delta,
        mode=mode,
        restore_best_weights=True,
        verbose=1,
    )


def standard_callbacks(
    out_dir,
    monitor="val_loss",
    mode="auto",
    patience=5,
    save_freq="epoch",
    batch_size=None,
    tokens_per_example=None,
    examples_per_epoch=None,
    tensorboard=True,
    keep_backup=False,
):
    """The recipe's callbacks, all writing under `out_dir`.

    In order: `NaNGuard`; `ThroughputLogger`; `MonitorCheck`, which raises
    when `monitor` is missing from an epoch's logs; `AtomicModelCheckpoint`
    of the best model to `model.keras`; `EarlyStopping` that restores the best weights;
    `EpochTensorBoard` to `logs/` (when `tensorflow` and `tensorboard` are
    installed); `HistoryCSVLogger` (Keras' `CSVLogger`, appending under
    the file's header) to `history.csv`; `TrainingCurvePlot` to `training_curve.png`;
    `AtomicBackupAndRestore` to `backup/`. The backup runs last so an epoch
    counts as done only after everything else has recorded it. If `backup/`
    holds a backup from an interrupted run, `fit` resumes from it, the CSV
    keeps the rows of the backed-up epochs and is appended to, the
    TensorBoard event files keep those epochs' summaries only, and the
    checkpoint only replaces `model.keras` when it beats the best value in
    those rows. Checkpoint and backup files are replaced atomically, so a run
    killed at any moment resumes, and a new best model replaces `model.keras`
    only when the backup commits its epoch, so `model.keras` always holds an
    epoch that is in the history. With the default ``save_freq="epoch"``
    every one of them is ``async_safe``: on JAX and PyTorch Keras then runs
    batch-end callbacks in a worker thread and the host queues the next step
    while the device works (a mid-epoch ``save_freq`` turns that off).

    Args:
        out_dir: The run directory.
        monitor: Metric for checkpointing and early stopping (`"loss"` when
            there is no validation data).
        mode: `"min"`, `"max"` or `"auto"`.
        patience: Early-stopping patience in epochs; None disables it.
        save_freq: Backup frequency: `"epoch"`, or an integer number of
            batches for mid-epoch backups (a resume then restarts that epoch
            from the backed-up weights).
        batch_size: Global batch size, for examples per second.
        tokens_per_example: Mean tokens per example, for tokens per second.
        examples_per_epoch: Training examples per epoch, for examples per
            second where batches vary in size (see `ThroughputLogger`).
        tensorboard: Whether to add the TensorBoard callback.
        keep_backup: Keep `backup/` when training ends (it is deleted by
            default), for a caller that has more to do before the run counts
            as finished and removes it then.

    Returns:
        A list of callbacks for `model.fit`.

    Examples:
        >>> from training import standard_callbacks
        >>> callbacks = standard_callbacks("runs/demo", batch_size=128, tensorboard=False)
        >>> [type(callback).__name__ for callback in callbacks]
        ['NaNGuard', 'ThroughputLogger', 'MonitorCheck', 'AtomicModelCheckpoint',
         'ResumableEarlyStopping', 'HistoryCSVLogger', 'TrainingCurvePlot',
         'AtomicBackupAndRestore']
    """
    patience = check_int("patience", patience, 0, allow_none=True)
    if save_freq != "epoch" and (
        isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq <= 0
    ):
        raise ValueError(
            "`save_freq` must be 'epoch' or a positive int. "
            f"Received: save_freq={save_freq!r}"
        )
    keras_mode = "max" if _is_max_mode(monitor, mode) else "min"
    os.makedirs(out_dir, exist_ok=True)
    backup_dir = os.path.join(out_dir, BACKUP_DIR)
    csv_path = os.path.join(out_dir, HISTORY_FILE)
    checkpoint_path = os.path.join(out_dir, "model.keras")
    epochs_done = backed_up_epochs(backup_dir)
    resuming = epochs_done is not None
    if resuming:
        keep_history_rows(csv_path, epochs_done)
    # Read once, for the checkpoint's threshold and early stopping's patience.
    earlier_values = _earlier_values(csv_path, monitor) if resuming else []

    checkpoint = AtomicModelCheckpoint(
        checkpoint_path,
        monitor=monitor,
        mode=keras_mode,
        save_best_only=True,
        initial_value_threshold=_best_so_far(earlier_values, monitor, mode),
    )
    callbacks = [
        NaNGuard(),
        # Before the loggers, so its keys are in the logs they write.
        ThroughputLogger(
            batch_size=batch_size,
            tokens_per_example=tokens_per_example,
            examples_per_epoch=examples_per_epoch,
        ),
        # Before the checkpoint and early stopping, which would only warn.
        MonitorCheck(monitor),
        checkpoint,
    ]
    if patience is not None:
        stopper = early_stopping(
            monitor,
            patience=patience,
            mode=keras_mode,
            earlier_values=earlier_values,
            best_model_path=checkpoint_path,
        )
        callbacks.append(stopper)
    if tensorboard and tensorboard_available():
        log_dir = os.path.join(out_dir, LOGS_DIR)
        # As the CSV: the epochs a resumed run trains again, or all epochs of
        # a fresh start, would be in TensorBoard twice.
        keep_tensorboard_epochs(log_dir, epochs_done or 0)
        callbacks.append(EpochTensorBoard(log_dir))
    callbacks += [
        # A fresh run starts a new CSV; a resumed one keeps the earlier rows.
        HistoryCSVLogger(csv_path, append=resuming),
        TrainingCurvePlot(os.path.join(out_dir, CURVE_FILE), csv_path),
        # model.keras changes when the backup commits the epoch, not before:
        # a run killed in between trains that epoch again.
        AtomicBackupAndRestore(
            backup_dir,
            save_freq=save_freq,
            delete_checkpoint=not keep_backup,
            checkpoints=[checkpoint],
        ),
    ]
    return callbacks
