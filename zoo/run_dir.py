"""The folder of one training run (``--out DIR``) and what it records.

``DIR/run.json`` says which model, preset and data the run trains, so that
``zoo train`` with the same ``--out`` resumes it, refuses to mix in another
model, and ``zoo evaluate``/``predict``/``export`` know what they load.
"""

import contextlib
import json
import shutil
import sys
import zipfile
from pathlib import Path

from training.callbacks.atomic_checkpoints import (
    partial_path,
    write_json_atomically,
)
from training.run_lock import LOCK_FILE, run_folder_lock
from zoo.data.source_query import absolute_source

RUN_FILE = "run.json"
MODEL_FILE = "model.keras"
METRICS_FILE = "metrics.json"
SAVED_MODEL_DIR = "saved_model"


# What a resumed run must share with the one it resumes: another seed would
# shuffle differently (and, for runs recorded before `split_seed`, draw
# another split of a .tsv file or image folder, so test examples would move
# into training); another batch size or precision would mix two runs. The
# precision recorded is the policy --precision resolved to, so that "auto" on
# another machine cannot switch it.
RESUME_SETTINGS = ("model", "preset", "data", "seed", "batch_size", "precision")

# The backend that last trained the run is recorded, and binds nothing: a
# backup resumes under another backend (its optimizer state is matched by
# variable path, see AtomicBackupAndRestore), and model.keras loads anywhere.
BACKEND_SETTING = "backend"


@contextlib.contextmanager
def training_lock(run_dir):
    """Hold ``DIR/.zoo.lock`` while a `zoo train` writes the run in ``run_dir``.

    `training.run_lock.run_folder_lock`, which the recipe's `fit` takes too:
    a second `zoo train` into the same folder (a command started twice)
    raises ``ValueError`` naming the process that holds it. A folder the lock
    made is removed again if the run left it empty (it failed before
    writing).
    """
    run_dir = Path(run_dir)
    _check_folder(run_dir)
    made = not run_dir.exists()
    try:
        with run_folder_lock(run_dir, argument="--out"):
            yield
    finally:
        if made and run_dir.is_dir() and not any(run_dir.iterdir()):
            run_dir.rmdir()


def _check_folder(run_dir):
    """``ValueError`` if ``run_dir`` is a file: a run folder is new or a folder."""
    if run_dir.exists() and not run_dir.is_dir():
        raise ValueError(
            f"--out {str(run_dir)!r} is a file; expected a folder (new, empty, "
            "or one from `zoo train`)"
        )


def _run_files(run_dir):
    """What ``run_dir`` holds, but the lock of the process writing it."""
    return [path for path in run_dir.iterdir() if path.name != LOCK_FILE]


def read_json_object(path, expected):
    """Return the JSON object in ``path``, or ``None`` if there is no such file.

    Args:
        path: the file of a run folder.
        expected: what the file holds, for the errors ("the run record
            `zoo train` writes").

    Raises:
        ValueError: naming the file, for text that is not JSON (or not
            UTF-8) or JSON that is not an object.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        value = json.loads(path.read_text())
    except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
        raise ValueError(
            f"{path} is not valid JSON ({error}); expected {expected}"
        ) from None
    if not isinstance(value, dict):
        raise ValueError(
            f"{path} must hold a JSON object ({expected}); received a "
            f"{type(value).__name__}"
        )
    return value


def read_run(run_dir):
    """Return the run record of ``run_dir``, or ``None`` if it holds no run."""
    return read_json_object(
        Path(run_dir) / RUN_FILE, "the run record `zoo train` writes"
    )


def require_run(run_dir):
    """Return the run record; ``ValueError`` if ``run_dir`` holds no trained run."""
    run_dir = Path(run_dir)
    record = read_run(run_dir)
    if record is None:
        raise ValueError(
            f"DIR {str(run_dir)!r} holds no zoo run: expected {RUN_FILE} in it "
            "(made by `zoo train --out DIR`)"
        )
    if not (run_dir / MODEL_FILE).is_file():
        raise ValueError(
            f"DIR {str(run_dir)!r} holds no trained model yet: expected "
            f"{MODEL_FILE}; run `zoo train` with --out {run_dir} to finish it"
        )
    return record


def split_seed(record):
    """The seed that drew the splits of the run ``record``.

    Runs recorded before ``split_seed`` was recorded drew theirs with their
    ``--seed``: evaluating or resuming them with another would move test
    examples into training.
    """
    return record.get("split_seed", record.get("seed", 0))


def start_or_resume(run_dir, record):
    """Write ``record`` to a new run, or check that it matches the run there.

    Returns True when an earlier run is resumed. A folder holding a run with
    other ``RESUME_SETTINGS`` (model, preset, data, seed, batch size,
    precision) raises ``ValueError``, unless that run was killed before it
    saved an epoch: it holds nothing to lose, so it is replaced. A folder
    holding other files raises ``ValueError``; ``--epochs`` may change. The
    record gets the Keras backend that trains the run (see `BACKEND_SETTING`).
    """
    run_dir = Path(run_dir)
    _check_folder(run_dir)
    record = {**record, BACKEND_SETTING: _backend()}
    existing = read_run(run_dir)
    leftover = Path(partial_path(str(run_dir / RUN_FILE)))
    if existing is None and leftover.is_file() and _run_files(run_dir) == [leftover]:
        # A run killed while it wrote its first run.json holds nothing else.
        leftover.unlink()
    if existing is not None:
        difference = _resume_difference(run_dir, existing, record)
        if difference is None:
            _check_unnamed_backup(run_dir, existing, record[BACKEND_SETTING])
            _record_backend(run_dir, existing, record[BACKEND_SETTING])
            return True
        if has_progress(run_dir):
            raise ValueError(difference)
        # A failing run cleans up after itself; a killed one (SIGKILL, power
        # loss) cannot. What it left (a tokenizer, scaler) belongs to the old
        # settings, so all of it goes.
        print(
            f"{run_dir}: replacing a run that was stopped before it saved an "
            f"epoch ({difference.partition(': use another')[0]})",
            file=sys.stderr,
        )
        clear_run_folder(run_dir)
    elif run_dir.exists() and _run_files(run_dir):
        raise ValueError(
            f"--out {str(run_dir)!r} is not empty and holds no zoo run; "
            "expected an empty or new folder, or one from `zoo train`"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomically(run_dir / RUN_FILE, record)
    return False


def _resume_difference(run_dir, existing, record):
    """The error for the first of ``RESUME_SETTINGS`` that differs, or None."""
    for key in RESUME_SETTINGS:
        # Runs recorded before a setting was recorded resume as they did.
        if key not in existing:
            continue
        expected, received = existing[key], record.get(key)
        if key == "data" and isinstance(expected, str):
            # Runs before sources were recorded absolute hold a path relative
            # to where they trained: from here, as they compared before.
            expected = absolute_source(expected)
        requested = record.get("precision_requested")
        if key == "precision" and expected == "auto":
            # Runs recorded before the resolved policy was recorded the choice.
            received = requested or received
        if expected != received:
            resolved = (
                f" (what --precision {requested} gives on this machine)"
                if key == "precision" and requested and requested != received
                else ""
            )
            return (
                f"--out {str(run_dir)!r} holds a run of {key} {expected!r}; "
                f"received {key} {received!r}{resolved}: use another --out, or "
                "the same settings to resume"
            )
    return None


def _backend():
    """The Keras backend this process runs (``KERAS_BACKEND``)."""
    import keras

    return keras.backend.backend()


def _check_unnamed_backup(run_dir, existing, backend):
    """Refuse to resume, under another backend, a backup that names no backend.

    Backups written before commit 6869f04 record neither the optimizer's
    variable names nor their backend; their optimizer state loads only in
    the order of the backend that wrote them, which ``run.json`` recorded
    (commits e37d56b to 6869f04 refused another backend by it). Resumed
    under another one, Keras failed with "A total of 1 objects could not be
    loaded", after ``run.json`` had already been made to name the new
    backend, losing the writer's.
    """
    from training.callbacks.atomic_checkpoints import METADATA_FILE
    from training.callbacks.standard import BACKUP_DIR

    saved = existing.get(BACKEND_SETTING)
    metadata_path = run_dir / BACKUP_DIR / METADATA_FILE
    if saved in (None, backend) or existing.get("trained"):
        return
    metadata = read_json_object(metadata_path, "the backup's training metadata")
    if metadata is None or "optimizer_variables" in metadata or "backend" in metadata:
        return
    raise ValueError(
        f"{metadata_path} is a backup from an older zoo that names neither its "
        f"Keras backend nor the optimizer's variables; {run_dir / RUN_FILE} "
        f"records it was written under KERAS_BACKEND {saved!r}; received "
        f"KERAS_BACKEND {backend!r}. Resume with KERAS_BACKEND={saved} (its "
        "next backups resume under any backend)"
    )


def _record_backend(run_dir, existing, backend):
    """Record the backend that trains the run from now on (informational)."""
    if not existing.get("trained") and existing.get(BACKEND_SETTING) != backend:
        mark(run_dir, **{BACKEND_SETTING: backend})


def clear_run_folder(run_dir):
    """Remove what ``run_dir`` holds (all of it the run's) but the lock.

    The folder stays; `training_lock` removes one it made.
    """
    run_dir = Path(run_dir)
    for path in _run_files(run_dir):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def write_metrics(run_dir, metrics):
    """Write ``metrics`` as ``DIR/metrics.json``."""
    path = Path(run_dir) / METRICS_FILE
    write_json_atomically(path, metrics, sort_keys=True)
    return path


def mark(run_dir, **fields):
    """Add ``fields`` to ``run.json`` (replaced atomically).

    ``trained`` (with ``epochs_completed``) is set once ``fit`` has returned
    and ``model.keras`` holds the best epoch, so a run killed while it is
    evaluated or exported is not trained again; ``completed`` once metrics
    and the SavedModel are written.
    """
    path = Path(run_dir) / RUN_FILE
    record = json.loads(path.read_text())
    record.update(fields)
    write_json_atomically(path, record)


def mark_completed(run_dir):
    """Record in ``run.json`` that training finished and its outputs are written."""
    mark(run_dir, completed=True)


def read_metrics(run_dir):
    """Return the metrics a finished run wrote."""
    return json.loads((Path(run_dir) / METRICS_FILE).read_text())


def load_trained_model(run_dir):
    """Load ``DIR/model.keras`` for evaluation, prediction or export.

    Loaded without its training state (``compile=False``): none of these
    train, and a model trained under PyTorch records Keras' PyTorch optimizer
    class, which another backend could only rebuild by importing PyTorch.
    The family that ``run.json`` names is imported first: Keras can only
    rebuild the classes it has seen registered.
    """
    import keras

    from zoo import registry

    record = read_run(run_dir) or {}
    if record.get("model") in registry.FAMILIES:
        registry.get_family(record["model"])
    path = Path(run_dir) / MODEL_FILE
    # Keras reports a damaged file as "File not found".
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path} is not a readable .keras file (a zip archive); received "
            f"{path.stat().st_size} bytes that are not one. Train again into "
            "another --out"
        )
    return keras.models.load_model(path, compile=False)


def has_progress(run_dir):
    """Whether any epoch of the run in ``run_dir`` was saved (checkpoint or backup)."""
    from training.callbacks.standard import BACKUP_DIR

    run_dir = Path(run_dir)
    return (run_dir / MODEL_FILE).exists() or (run_dir / BACKUP_DIR).exists()
