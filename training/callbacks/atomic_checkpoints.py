"""Checkpoint and backup callbacks whose files survive a kill at any moment.

Keras' `ModelCheckpoint` and `BackupAndRestore` write their files in place. A
run killed while one is being written leaves a truncated file: the next run
cannot open the backup ("bad object header version number"), or `model.keras`
is unreadable. Here every file is written under another name, flushed to disk
and then renamed over the old one (`os.replace` is atomic), so a file is
either the old one or the new one, whole.
"""

import contextlib
import errno
import glob
import json
import os
import re
import time

import keras
import numpy as np

from training.callbacks.monitor_check import epoch_validated

# Keras' name for the backup's metadata, kept so its tools still find it.
METADATA_FILE = "training_metadata.json"


def _fsync(path):
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def replace_atomically(partial, path):
    """Flush ``partial`` to disk and rename it to ``path`` in one step."""
    _fsync(partial)
    os.replace(partial, path)


def write_text_atomically(path, text):
    """Write ``text`` to ``path`` so a reader sees old or new, whole.

    Line endings are written as they are in ``text`` (CSV rows end in
    ``\r\n``, as Python's ``csv`` writes them).
    """
    partial = partial_path(str(path))
    with removed_on_failure(partial, path):
        with open(partial, "w", newline="") as handle:
            handle.write(text)
        replace_atomically(partial, path)


def write_json_atomically(path, value, sort_keys=False):
    """Write ``value`` as JSON to ``path`` so a reader sees old or new, whole."""
    write_text_atomically(path, json.dumps(value, indent=2, sort_keys=sort_keys) + "\n")


@contextlib.contextmanager
def removed_on_failure(partial, path):
    """Remove ``partial`` if writing it fails; name ``path`` in an `OSError`.

    A full disk fails a write part-way. The partial file would stay, holding
    the space that the retry needs (and, for a backup, the size of a model),
    and the error would read "[Errno 28] No space left on device" with no
    path, or HDF5's "Can't synchronously write data (file write failed: time
    = ...". The `OSError` raised instead keeps the errno and names the file:
    "[Errno 28] No space left on device: 'run/backup/state-....weights.h5'".
    An interrupt (Ctrl-C) removes the partial file too. Anything else leaves
    it, as a kill does, for the next write to replace.
    """
    try:
        yield
    except (OSError, KeyboardInterrupt) as error:
        with contextlib.suppress(OSError):
            os.remove(partial)
        if isinstance(error, OSError) and error.errno:
            raise OSError(error.errno, os.strerror(error.errno), str(path)) from error
        raise


def raise_if_disk_full(error, path, writing):
    """Raise a one-line `OSError` naming ``path`` if ``error`` is a full disk.

    TensorFlow reports a full disk as a ``ResourceExhaustedError`` ("...
    /run/logs/train/events.out.tfevents...; No space left on device
    [Op:CreateSummaryFileWriter]", or "[Op:SaveV2]" for a SavedModel), which
    is no `OSError`: `zoo` printed it as a traceback and exited with status 1
    instead of a one-line error. Any other error is left alone.

    Args:
        error: the exception caught.
        path: the file or folder being written, for the message.
        writing: what was being written ("TensorBoard logs").
    """
    disk_full = os.strerror(errno.ENOSPC)
    if not isinstance(error, OSError) and disk_full in str(error):
        raise OSError(
            errno.ENOSPC, f"{disk_full} writing {writing}", str(path)
        ) from error


def partial_path(path):
    """The name a file is written under before it replaces ``path``.

    Keeps the suffix Keras checks (``.keras``, ``.weights.h5``).

    Examples:
        >>> from training.callbacks.atomic_checkpoints import partial_path
        >>> partial_path("run/model.keras")
        'run/model.partial.keras'
    """
    stem, suffix = _split_suffix(path)
    return f"{stem}.partial{suffix}"


def _split_suffix(path):
    for suffix in (".weights.h5", ".keras", ".h5"):
        if path.endswith(suffix):
            return path[: -len(suffix)], suffix
    return path, ""


def backed_up_epochs(backup_dir):
    """Epochs the backup in ``backup_dir`` has completed; None without a backup."""
    path = os.path.join(backup_dir, METADATA_FILE)
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return int(json.load(handle)["epoch"])


def seed_generators(model):
    """Every `keras.random.SeedGenerator` of ``model``'s layers, in layer order.

    These hold the state of dropout and drop-path masks. `save_weights` leaves
    them out (keras-team/keras#19796), so a backup records them itself. The
    order, not the variables' paths, identifies them: paths are numbered per
    process and differ between two models built in one.
    """
    # Keras has no public walk over nested layers or their seed generators;
    # these private lists are what its `Layer.variables` reads.
    return [
        generator
        for layer in model._flatten_layers(include_self=True)
        for generator in getattr(layer, "_seed_generators", [])
    ]


# With `save_freq="epoch"` the checkpoint and backup do nothing at batch
# ends, so Keras may run those in a worker thread: asynchronous dispatch on
# JAX and PyTorch, where the host queues the next step while the device works.
_ASYNC_SAFE_WHEN_SAVING_PER_EPOCH = property(lambda self: self.save_freq == "epoch")


class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
    """`keras.callbacks.ModelCheckpoint` that replaces its file atomically.

    Same arguments and behaviour; the model is saved to a partial file that
    is renamed over ``filepath`` once complete, so a kill while saving leaves
    the previous checkpoint readable.

    Given to an `AtomicBackupAndRestore` (its ``checkpoints``), the complete
    file waits under a pending name until that backup commits the epoch. A
    run killed in between trains the epoch again on resume; had the file
    replaced ``filepath`` at once, ``filepath`` would hold weights of an epoch
    that the resumed run's history and backup know nothing of.

    With ``save_best_only``, an epoch end without validation (Keras'
    ``validation_freq``) saves nothing for a ``val_`` monitor; Keras' own
    callback would save that epoch's model as if it were the best.
    """

    async_safe = _ASYNC_SAFE_WHEN_SAVING_PER_EPOCH

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The `AtomicBackupAndRestore` that commits this checkpoint's files,
        # or None: each file then replaces `filepath` as soon as it is whole.
        self.backup = None
        # (pending file, final path) saved since the backup's last commit.
        self.pending = []

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        # Placed after its backup among the callbacks, this ran once the
        # epoch was committed: its file would wait for the next epoch's
        # backup, and after the last epoch for ever.
        if self.pending:
            self.backup.commit_if_epoch_ended(epoch)

    def _should_save_model(self, epoch, batch, logs, filepath):
        # Keras saves when `monitor` is missing, as at every epoch that does
        # not validate (`validation_freq`): `save_best_only` would then keep
        # an epoch never validated instead of the best one. (Batch ends never
        # validate; there Keras' fallback is kept.)
        at_epoch_end = batch is None
        needs_validation = self.monitor.startswith("val_")
        if (
            self.save_best_only
            and at_epoch_end
            and needs_validation
            and not epoch_validated(logs)
        ):
            return False
        return super()._should_save_model(epoch, batch, logs, filepath)

    def _get_file_path(self, epoch, batch, logs):
        # Keras saves to the path this returns: the partial file.
        return partial_path(self._final_path(epoch, batch, logs))

    def _final_path(self, epoch, batch, logs):
        return super()._get_file_path(epoch, batch, logs)

    def _save_model(self, epoch, batch, logs):
        partial = self._get_file_path(epoch, batch, logs)
        if os.path.exists(partial):  # left by a run killed while saving
            os.remove(partial)
        final = self._final_path(epoch, batch, logs)
        # A full disk: no partial file left behind, and the error names it.
        with removed_on_failure(partial, final):
            super()._save_model(epoch, batch, logs)
            if not os.path.exists(partial):
                return  # Keras saved nothing: not an improvement
            if self.backup is None:
                replace_atomically(partial, final)
                return
            pending = pending_path(final)
            replace_atomically(partial, pending)
        self.pending.append((pending, final))


def _optimizers(model):
    """The model's optimizer and the one it wraps (mixed precision's), by role.

    Keras saves each of them, with its variables in order.
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not optimizer.built:
        return {}
    found = {"optimizer": optimizer}
    inner = getattr(optimizer, "inner_optimizer", None)
    if inner is not None:
        found["inner_optimizer"] = inner
    return found


def optimizer_variable_names(optimizer):
    """The names of ``optimizer.variables``, in order, each made unique.

    A mixed-precision optimizer lists its own ``iteration`` and then its
    inner optimizer's: a repeated name gets ``#1``, ``#2``... in order.
    """
    seen = {}
    names = []
    for variable in optimizer.variables:
        count = seen.get(variable.name, 0)
        seen[variable.name] = count + 1
        names.append(f"{variable.name}#{count}" if count else variable.name)
    return names


def _loader_by_name(optimizer, saved_names):
    """An ``optimizer.load_own_variables`` that finds each value by its name."""
    index = {name: str(position) for position, name in enumerate(saved_names)}

    def load_own_variables(store):
        for variable, name in zip(
            optimizer.variables, optimizer_variable_names(optimizer)
        ):
            variable.assign(store[index[name]])

    return load_own_variables


def pending_path(path):
    """A new name for a checkpoint that waits for its epoch's backup.

    ``run/model.keras`` waits as ``run/model.pending-<nanoseconds>.keras``.
    """
    stem, suffix = _split_suffix(path)
    return f"{stem}.pending-{time.time_ns()}{suffix}"


def _pending_files_of(filepath):
    """The pending files `pending_path` may have made for ``filepath``.

    ``filepath`` is a checkpoint's, which may hold placeholders such as
    ``{epoch:02d}``; each matches anything.
    """
    stem, suffix = _split_suffix(filepath)
    pattern = "*".join(glob.escape(piece) for piece in _PLACEHOLDER.split(stem))
    return glob.glob(f"{pattern}.pending-*{glob.escape(suffix)}")


_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """`keras.callbacks.BackupAndRestore` whose backup is always whole.

    Keras writes the weights and then ``training_metadata.json`` in place: a
    kill in between leaves a truncated weights file, or new weights beside
    the previous epoch's metadata (a resumed run would then train one epoch
    twice). Here each backup's weights (with the optimizer state) go to a new
    file, and the metadata, which names that file, is then replaced
    atomically: the metadata is the commit. Older weight files are removed
    after the commit. Same arguments as the Keras callback.

    The metadata also holds the states of the model's random seed generators,
    which Keras' weights files leave out: without them a resumed run would
    draw its dropout masks from the start of the sequence again, and would not
    train as an uninterrupted run does. It also records whether training
    stopped at that epoch (early stopping, a time budget): a kept backup of
    a stopped run resumes without training on. And it names the optimizer's
    variables, whose values are then loaded by name: another backend lists
    them in another order.

    Args:
        backup_dir: The folder of the backup.
        checkpoints: `AtomicModelCheckpoint`s whose files change only when
            this callback commits the epoch they were saved in (see there).
        *args, **kwargs: `keras.callbacks.BackupAndRestore`'s arguments.
    """

    async_safe = _ASYNC_SAFE_WHEN_SAVING_PER_EPOCH

    def __init__(self, backup_dir, *args, checkpoints=(), **kwargs):
        super().__init__(backup_dir, *args, **kwargs)
        if checkpoints is None:
            checkpoints = ()
        if not isinstance(checkpoints, (list, tuple)):
            # A bare checkpoint would fail as "not iterable", naming nothing.
            raise TypeError(
                "`checkpoints` must be a list of AtomicModelCheckpoint callbacks. "
                f"Received: {type(checkpoints).__name__}"
            )
        self.checkpoints = list(checkpoints)
        for checkpoint in self.checkpoints:
            if not isinstance(checkpoint, AtomicModelCheckpoint):
                raise TypeError(
                    "`checkpoints` must hold AtomicModelCheckpoint callbacks. "
                    f"Received: {type(checkpoint).__name__}"
                )
            checkpoint.backup = self
        # The last epoch whose end this callback has seen (committed).
        self._ended_epoch = None
        # True while backing up at an epoch's end, where a stop is final.
        self._epoch_ending = False

    def on_train_begin(self, logs=None):
        self._ended_epoch = None
        super().on_train_begin(logs)

    def on_epoch_end(self, epoch, logs=None):
        with self._at_epoch_end():
            super().on_epoch_end(epoch, logs)
            # With backups every `save_freq` batches, a checkpoint saved at
            # this epoch's end would otherwise wait for the next epoch's backup.
            if self.save_freq != "epoch" and self._pending_checkpoints():
                self._save_model()
        self._ended_epoch = epoch

    def commit_if_epoch_ended(self, epoch):
        """Back up again if ``epoch`` was committed before a checkpoint saved."""
        if self._ended_epoch == epoch:
            with self._at_epoch_end():
                self._save_model()

    @contextlib.contextmanager
    def _at_epoch_end(self):
        # Backups made here may record a stop; one mid-epoch may not.
        self._epoch_ending = True
        try:
            yield
        finally:
            self._epoch_ending = False

    def _pending_checkpoints(self):
        return [pair for checkpoint in self.checkpoints for pair in checkpoint.pending]

    def _save_model(self):
        os.makedirs(self.backup_dir, exist_ok=True)
        # A new name per backup (nanoseconds), so the committed file is never
        # the one being written.
        name = f"state-{time.time_ns()}.weights.h5"
        path = os.path.join(self.backup_dir, name)
        # On a full disk HDF5 may still crash the process at its exit
        # (h5py/h5py#914); the error is raised and the partial file gone first.
        with removed_on_failure(path, path):
            self.model.save_weights(path, overwrite=True)
            _fsync(path)
        pending = self._pending_checkpoints()
        write_json_atomically(
            self._training_metadata_path,
            {
                "epoch": self._current_epoch,
                "batch": self._last_batch_seen,
                # Early stopping or a time budget ended training here. A
                # backup kept past the end (`delete_checkpoint=False`, or a
                # kill while it is deleted) must not train on when resumed.
                "stopped": self._epoch_ending and bool(self.model.stop_training),
                "weights": name,
                # The optimizer state is saved by position, in the order this
                # backend lists the model's variables (PyTorch lists a seq2seq
                # model's in another order than TensorFlow): the names (the
                # model variable's path and the slot, without the optimizer's
                # own name) let another backend load each value into its own
                # variable.
                "backend": keras.backend.backend(),
                "optimizer_variables": {
                    role: optimizer_variable_names(optimizer)
                    for role, optimizer in _optimizers(self.model).items()
                },
                "seed_generator_states": [
                    keras.ops.convert_to_numpy(generator.state).tolist()
                    for generator in seed_generators(self.model)
                ],
                # Relative, so a run folder moved before its resume still works.
                "checkpoints_to_commit": [
                    [os.path.relpath(path, self.backup_dir) for path in pair]
                    for pair in pending
                ],
            },
        )
        self._commit_checkpoints(pending)
        for checkpoint in self.checkpoints:
            checkpoint.pending = []
        for other in os.listdir(self.backup_dir):
            if other.endswith(".weights.h5") and other != name:
                os.remove(os.path.join(self.backup_dir, other))

    @staticmethod
    def _commit_checkpoints(pairs):
        for pending, final in pairs:
            if os.path.exists(pending):  # gone if a kill came after its rename
                os.replace(pending, final)

    def _settle_checkpoints(self, metadata):
        """Finish the last backup's commit and drop checkpoints of later epochs.

        A kill after the metadata was written but before a pending checkpoint
        was renamed leaves one that belongs to a backed-up epoch; any other
        pending file comes from an epoch that the resumed run trains again.
        """
        self._commit_checkpoints(
            [
                [os.path.join(self.backup_dir, path) for path in pair]
                for pair in metadata.get("checkpoints_to_commit", [])
            ]
        )
        for checkpoint in self.checkpoints:
            checkpoint.pending = []
            for stale in _pending_files_of(checkpoint.filepath):
                os.remove(stale)

    def _load_model(self):
        if not self.model.built:
            raise ValueError(
                "AtomicBackupAndRestore needs a built model before fit(); "
                f"received the unbuilt model {self.model.name!r}"
            )
        if not os.path.exists(self._training_metadata_path):
            self._settle_checkpoints({})
            return  # nothing committed yet: a fresh start
        with open(self._training_metadata_path) as handle:
            metadata = json.load(handle)
        self._settle_checkpoints(metadata)
        weights = os.path.join(
            self.backup_dir, metadata.get("weights", "latest.weights.h5")
        )
        if self.model.optimizer is not None and not self.model.optimizer.built:
            # Optimizer variables must exist before their values are loaded.
            self.model.optimizer.build(self.model.trainable_variables)
        with self._optimizer_state_loaded_by_name(metadata):
            self.model.load_weights(weights)
        self._restore_seed_generators(metadata.get("seed_generator_states"))
        # Where fit() starts; Keras' own callback sets the same attribute.
        self.model._initial_epoch = metadata["epoch"]
        if metadata.get("stopped"):
            # Resumed at the last epoch, fit trains none.
            epochs = (self.params or {}).get("epochs", 0)
            self.model._initial_epoch = max(metadata["epoch"], epochs)

    @contextlib.contextmanager
    def _optimizer_state_loaded_by_name(self, metadata):
        """Load each optimizer's saved values by variable name, not position.

        Keras loads an optimizer's variables in the order they were saved.
        A backup written under another backend lists them in another order;
        matched by name, it resumes here. Without the names (a backup from
        before they were recorded) or where they differ, the order is the
        saving backend's: another backend is refused (by a backup that names
        its backend).
        """
        saved = metadata.get("optimizer_variables", {})
        matched = []
        for role, optimizer in _optimizers(self.model).items():
            names = optimizer_variable_names(optimizer)
            order = saved.get(role)
            if order == names:
                continue  # saved in this order: Keras' positional load is right
            if order is not None and sorted(order) == sorted(set(names)):
                matched.append((optimizer, order))
            else:
                self._check_same_backend(metadata)
        for optimizer, order in matched:
            # Keras calls it with the optimizer's part of the weights file.
            optimizer.load_own_variables = _loader_by_name(optimizer, order)
        try:
            yield
        finally:
            for optimizer, _ in matched:
                del optimizer.load_own_variables

    def _check_same_backend(self, metadata):
        saved = metadata.get("backend")
        backend = keras.backend.backend()
        if saved not in (None, backend):
            raise ValueError(
                f"The backup in {self.backup_dir} was written under KERAS_BACKEND "
                f"{saved!r}, and its optimizer state does not name the variables "
                f"of this model; received KERAS_BACKEND {backend!r}. Resume with "
                f"KERAS_BACKEND={saved}."
            )

    def _restore_seed_generators(self, states):
        if states is None:
            return  # a backup written before the states were recorded
        generators = seed_generators(self.model)
        if len(states) != len(generators):
            raise ValueError(
                f"The backup in {self.backup_dir} holds {len(states)} random seed "
                f"generator states; expected {len(generators)}, one per seed "
                f"generator of the model {self.model.name!r}. The backup is not "
                "of this model: resume with the model that wrote it."
            )
        for generator, state in zip(generators, states):
            generator.state.assign(np.asarray(state, dtype=generator.state.dtype))
