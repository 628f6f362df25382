"""What the `zoo` subcommands do with a family and a run folder.

Kept apart from ``zoo.cli`` (argument parsing) so that examples and tests can
call the same steps from Python.
"""

import argparse
import contextlib
import os
import shutil
import sys
import time
from pathlib import Path

from zoo import registry
from zoo import run_dir as runs
from zoo.family import SPLIT_SEED
from zoo.image_inputs import expand_image_folders

DETERMINISTIC_XLA_FLAG = "--xla_gpu_deterministic_ops=true"


def train_run(
    family,
    preset,
    data,
    out,
    epochs,
    batch_size=None,
    precision="auto",
    distribute="auto",
    seed=0,
    deterministic=False,
):
    """Train ``family``'s ``preset`` on ``data`` into ``out``; resume if it is there.

    After training, the best weights are saved to ``model.keras``, the test
    metrics to ``metrics.json`` and a SavedModel to ``saved_model/``. Under
    PyTorch, which has no SavedModel export, the run ends without one and
    says so; `zoo export` under TensorFlow or JAX writes it later.

    Returns:
        The metrics dict.
    """
    import keras

    from training.callbacks.atomic_checkpoints import backed_up_epochs
    from training.callbacks.standard import BACKUP_DIR, HISTORY_FILE
    from training.callbacks.training_curve_plot import read_history_csv
    from training.precision import resolve_precision
    from training.recipe import fit
    from zoo.data.source_query import absolute_source
    from zoo.export import backend_can_export

    out = Path(out)
    # Recorded absolute: `zoo evaluate DIR` and resumes may run elsewhere.
    data = absolute_source(data)
    # One `zoo train` at a time writes the run (see `runs.training_lock`).
    with runs.training_lock(out):
        config = family.check_preset(preset)
        batch_size = batch_size or config.get("batch_size", 64)
        if deterministic:
            # First: XLA reads its flags when JAX starts its devices, which
            # resolving --precision auto below does (it lists them).
            _enable_determinism()
        record = {
            "model": family.name,
            "preset": preset,
            "data": data,
            "config": config,
            "batch_size": batch_size,
            "epochs": epochs,
            # The policy, not "auto": auto on another machine may resolve otherwise.
            "precision": resolve_precision(precision),
            "precision_requested": precision,
            "seed": seed,
            "split_seed": SPLIT_SEED,
        }
        resumed = runs.start_or_resume(out, record)
        if resumed and runs.read_run(out).get("completed"):
            # The backup is gone once a run finishes: training again would start
            # from scratch and overwrite a finished model.
            print(
                f"{out} holds a finished run; its metrics follow. Use another --out "
                "to train again.",
                file=sys.stderr,
            )
            if not (out / runs.SAVED_MODEL_DIR).exists():
                # Finished under PyTorch, which cannot export.
                print(
                    f"{out} has no {runs.SAVED_MODEL_DIR}/: write it with "
                    f"`KERAS_BACKEND=tensorflow zoo export {out}`.",
                    file=sys.stderr,
                )
            return runs.read_metrics(out)
        keras.utils.set_random_seed(seed)
        needs_training = not runs.read_run(out).get("trained")
        if resumed and needs_training:
            # --epochs may change on resume: the record says what this session trains to.
            runs.mark(out, epochs=epochs)
            done = backed_up_epochs(out / BACKUP_DIR)
            if done is not None:
                print(
                    f"{out}: resuming after epoch {done} (training to {epochs})",
                    file=sys.stderr,
                )
        try:
            prepared = family.prepare_data(
                data,
                batch_size,
                out,
                seed=seed,
                # A resumed run keeps the split it was started with.
                split_seed=runs.split_seed(runs.read_run(out)),
            )
            compile_arguments = family.compile_arguments(config, prepared.info)
            if needs_training:
                start = time.perf_counter()
                # Progress is not the command's output: stdout keeps only what
                # `zoo train` prints as its result (the metrics' JSON).
                with contextlib.redirect_stdout(sys.stderr):
                    fit(
                        lambda: family.build_model(config, prepared.info),
                        prepared.train,
                        prepared.validation,
                        str(out),
                        epochs,
                        precision=record["precision"],
                        distribute=distribute,
                        schedule=config.get("schedule", family.schedule),
                        learning_rate=config.get("learning_rate", family.learning_rate),
                        warmup_steps=config.get("warmup_steps", family.warmup_steps),
                        monitor=family.monitor,
                        seed=seed,
                        # Until "trained" is recorded, a killed run resumes
                        # from the backup.
                        keep_backup=True,
                        # Not read from the first batch: a bucketed text
                        # set's could hold 1 pair.
                        batch_size=batch_size,
                        examples_per_epoch=prepared.train_examples,
                        tokens_per_example=tokens_per_example(prepared),
                        verbose=progress_verbosity(sys.stderr),
                        **compile_arguments,
                    )
        except BaseException:
            # A new run that failed before saving an epoch (bad data, a missing
            # TPU) leaves nothing behind: its run.json would refuse the corrected
            # command's other settings in the same --out.
            if not resumed and not runs.has_progress(out):
                runs.clear_run_folder(out)
            raise
        if needs_training:
            runs.mark(
                out,
                trained=True,
                # All sessions' epochs: the history keeps one row per epoch.
                epochs_completed=len(
                    read_history_csv(out / HISTORY_FILE).get("epoch", [])
                ),
                train_seconds_last_session=round(time.perf_counter() - start, 1),
            )
        # Also when a session killed right after marking the run trained left
        # it: a trained run resumes from model.keras, never from the backup.
        shutil.rmtree(out / BACKUP_DIR, ignore_errors=True)
        # The checkpoint holds the best epoch of all sessions of this run, also
        # when this session trained nothing (the run was trained before).
        model = runs.load_trained_model(out)
        metrics = family.evaluate(model, prepared, out)
        record = runs.read_run(out)
        metrics.update(
            {
                "train_seconds_last_session": record["train_seconds_last_session"],
                "epochs_completed": record["epochs_completed"],
                "parameters": int(model.count_params()),
            }
        )
        runs.write_metrics(out, metrics)
        if backend_can_export():
            family.export(model, out, out / runs.SAVED_MODEL_DIR)
        else:
            print(
                f"{out}: no {runs.SAVED_MODEL_DIR}/ written, since the "
                f"{keras.backend.backend()!r} backend has no SavedModel export. "
                f"Write it with `KERAS_BACKEND=tensorflow zoo export {out}`.",
                file=sys.stderr,
            )
        runs.mark_completed(out)
        print(_summary(out), file=sys.stderr)
        return metrics


def tokens_per_example(prepared):
    """Mean tokens per training example, for tokens per second; None if unknown.

    The mean over one whole pass: with ``examples_per_epoch`` the logged
    tokens per second is that pass's token count over its training time.
    """
    if not (prepared.train_tokens and prepared.train_examples):
        return None
    return prepared.train_tokens / prepared.train_examples


def progress_verbosity(stream):
    """`model.fit`'s ``verbose`` for progress written to ``stream``.

    Keras' progress bar redraws itself with carriage returns and colour codes
    whenever Python runs on a POSIX system (Keras tests for the ``posix``
    module, not for a terminal), so a log file, `nohup` or a Slurm job
    collected hundreds of redraws per epoch. Off a terminal (and outside a
    notebook) Keras' one line per epoch is shown instead.
    """
    if "ipykernel" in sys.modules:
        return 1
    try:
        return 1 if stream.isatty() else 2
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return 2


def _summary(out):
    """Where a finished run put its results, for stderr."""
    from training.callbacks.standard import CURVE_FILE, HISTORY_FILE, LOGS_DIR

    lines = [f"{out}: finished"]
    for name, what in (
        (runs.MODEL_FILE, "best model"),
        (runs.SAVED_MODEL_DIR, "SavedModel"),
        (runs.METRICS_FILE, "test metrics"),
        (HISTORY_FILE, "history"),
        (CURVE_FILE, "training curve"),
        (LOGS_DIR, "TensorBoard logs"),
    ):
        if (out / name).exists():
            lines.append(f"  {what + ':':17} {out / name}")
    return "\n".join(lines)


def _enable_determinism():
    """Make the backend pick deterministic kernels: slower, but bit-identical."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    elif backend == "jax":
        # XLA reads its flags when JAX starts its devices, which happens at
        # the first computation: after this, before the model is built.
        flags = os.environ.get("XLA_FLAGS", "")
        if DETERMINISTIC_XLA_FLAG not in flags:
            os.environ["XLA_FLAGS"] = f"{flags} {DETERMINISTIC_XLA_FLAG}".strip()
    elif backend == "torch":
        import torch

        # cuBLAS is deterministic only with a fixed workspace; PyTorch raises
        # on CUDA without it. It must be set before cuBLAS starts.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)


def load_run(run_dir):
    """Return (family, run record, model) of a trained run folder."""
    record = runs.require_run(run_dir)
    family = registry.get_family(record["model"])
    model = runs.load_trained_model(run_dir)
    return family, record, model


def evaluate_run(run_dir, data=None, batch_size=None):
    """Evaluate a trained run on the test split of ``data`` (default: its own)."""
    record = runs.require_run(run_dir)
    if not (data or record.get("data")):
        raise ValueError(
            f"DIR {str(run_dir)!r} does not record the data it was trained on: "
            f"expected a 'data' entry in its {runs.RUN_FILE}; pass --data SOURCE"
        )
    family, record, model = load_run(run_dir)
    prepared = family.prepare_data(
        data or record["data"],
        # Only the speed of evaluation depends on it.
        batch_size or record.get("batch_size") or 64,
        Path(run_dir),
        seed=record.get("seed", 0),
        # The split the run held out, not one drawn anew.
        split_seed=runs.split_seed(record),
    )
    return family.evaluate(model, prepared, Path(run_dir))


def predict_run(run_dir, inputs, extra_arguments=()):
    """Return printable predictions of a trained run on raw ``inputs``.

    For an image family a folder among ``inputs`` stands for its images.
    """
    family, _, model = load_run(run_dir)
    if family.predicts_image_files:
        inputs = expand_image_folders(inputs)
    parser = argparse.ArgumentParser(prog=f"zoo predict DIR ({family.name})")
    family.add_predict_arguments(parser)
    options = parser.parse_args(list(extra_arguments))
    return family.predict(model, Path(run_dir), list(inputs), options)


def export_run(run_dir, to=None):
    """Export a trained run as a SavedModel; return its path."""
    from zoo.export import check_backend

    # Before --to is made: a refused export leaves no empty folder.
    check_backend()
    path = Path(to) if to else Path(run_dir) / runs.SAVED_MODEL_DIR
    # TensorFlow would report these only after the export, as a traceback.
    if path.exists() and not path.is_dir():
        raise ValueError(f"--to {str(path)!r} is a file; expected a folder")
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(
            f"--to {str(path)!r} cannot be created ({error.strerror}); expected "
            "a writable folder"
        ) from None
    try:
        family, _, model = load_run(run_dir)
        return family.export(model, Path(run_dir), path)
    except BaseException:
        # A failed or interrupted export leaves no empty folder it made.
        if created:
            with contextlib.suppress(OSError):
                path.rmdir()  # only if still empty
        raise
