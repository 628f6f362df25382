"""The one fit recipe every model family trains with."""

import os

import keras
import numpy as np

from training.arguments import check_int
from training.callbacks import standard_callbacks
from training.callbacks.atomic_checkpoints import backed_up_epochs
from training.callbacks.standard import BACKUP_DIR
from training.callbacks.time_budget import TimeBudget
from training.distribution import divisible_batches, resolve_strategy
from training.optimizers import make_optimizer
from training.precision import apply_precision
from training.run_lock import run_folder_lock
from training.schedules import make_schedule

TIME_BUDGET_FILE = "time_budget.json"
"""Where a `TimeBudget` passed to `fit` records its seconds (see its docs)."""


def _check_fit_inputs(model_builder, train_ds):
    if isinstance(model_builder, keras.Model) or not callable(model_builder):
        # A model is callable too; calling it with no inputs fails obscurely.
        raise ValueError(
            "`model_builder` must be a zero-argument function that returns a "
            "Keras model, e.g. `lambda: model`. Received: model_builder of "
            f"type {type(model_builder).__name__}"
        )
    if isinstance(train_ds, (tuple, list, dict, np.ndarray)):
        # Keras would take a tuple as the inputs alone, with no targets.
        raise ValueError(
            "`train_ds` must be a batched `tf.data.Dataset` or a "
            "`keras.utils.PyDataset`; wrap arrays with "
            "`tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)`. "
            f"Received: train_ds of type {type(train_ds).__name__}"
        )


def _resolve_monitor(monitor, val_ds):
    """``monitor``, or its default: `"val_loss"`, or `"loss"` without validation."""
    if monitor is None:
        return "val_loss" if val_ds is not None else "loss"
    if not isinstance(monitor, str):
        raise ValueError(
            f"`monitor` must be a log key such as 'val_loss'. Received: "
            f"monitor of type {type(monitor).__name__}"
        )
    if val_ds is None and monitor.startswith("val_"):
        # No epoch would log it: nothing would be checkpointed.
        raise ValueError(
            f"`monitor` names a validation value and there is no validation "
            f"data: pass `val_ds` or monitor a training value such as 'loss'. "
            f"Received: monitor={monitor!r}, val_ds=None"
        )
    return monitor


def _made_in_scope(metrics):
    """``metrics`` with each `Metric` object made again from its config.

    A metric creates its variables when it is made. Made before the JAX
    distribution's scope, they sit on one device, and JAX refuses a training
    step that mixes them with the model's distributed ones.
    """
    if not isinstance(metrics, (list, tuple)):
        return metrics  # None, or a dict by output that Keras maps itself
    return [
        type(m).from_config(m.get_config())
        if isinstance(m, keras.metrics.Metric)
        else m
        for m in metrics
    ]


def _steps_per_epoch(dataset, steps_per_epoch):
    if steps_per_epoch is not None:
        return steps_per_epoch
    cardinality = getattr(dataset, "cardinality", None)
    if cardinality is None:
        try:
            return len(dataset)  # PyDataset, lists of batches.
        except TypeError:
            return None
    count = int(cardinality())
    return count if count > 0 else None  # -1 infinite, -2 unknown.


def resumable_stream(train_ds, steps_per_epoch, out_dir):
    """One endless stream of batches that a resumed run re-enters where it left.

    A seeded ``shuffle`` restarts its sequence of orders in a new process, so a
    run resumed at epoch ``k`` would see epoch 0's order again. Repeating the
    finite dataset into one stream and replaying the batches that earlier
    sessions consumed (`replay_whole_passes`, then a skip within the current
    pass) gives a resumed run exactly the batches of an uninterrupted one.
    That replay computes every replayed batch, though; so
    a dataset with a ``set_pass(index)`` method is told the pass to serve
    instead, and a ``tf.data.Dataset`` with a ``stream_from_pass(index)``
    attribute (`zoo.data.passes.PassStream`) gives the stream that starts
    at that pass.

    Returns:
        ``(dataset, steps_per_epoch)``; the dataset unchanged when it is not a
        finite ``tf.data.Dataset``.
    """
    epochs_done = backed_up_epochs(os.path.join(out_dir, BACKUP_DIR)) or 0
    if hasattr(train_ds, "set_pass"):
        # A PyDataset whose passes are functions of their index
        # (`zoo.data.numpy_images.ImageBatches`) re-enters the next one.
        train_ds.set_pass(epochs_done)
        return train_ds, steps_per_epoch
    steps = _steps_per_epoch(train_ds, steps_per_epoch)
    if not hasattr(train_ds, "repeat") or steps is None:
        return train_ds, steps_per_epoch
    stream_from_pass = getattr(train_ds, "stream_from_pass", None)
    if stream_from_pass is not None:
        return stream_from_pass(epochs_done), steps
    rest = replay_whole_passes(train_ds, epochs_done * steps)
    return train_ds.repeat().skip(rest), steps


def replay_whole_passes(train_ds, batches):
    """Reads the whole passes among the first ``batches`` of ``train_ds``.

    Each pass is read through an iterator of its own, before the stream
    exists, so a seeded ``shuffle`` draws their orders as an uninterrupted
    run did. The stream then starts at the current pass: a batch that Keras
    reads from it before training (under a ``tf.distribute`` strategy, to
    build the model) costs every session the same single draw, where through
    a skip of every consumed batch it would have drawn all the skipped passes
    again.

    Returns:
        The batches of the current pass left to skip; all of ``batches`` when
        the length of a pass is unknown.
    """
    pass_length = int(train_ds.cardinality())
    if pass_length <= 0:  # -1 infinite, -2 unknown
        return batches
    passes, rest = divmod(batches, pass_length)
    for _ in range(passes):
        # Not `repeat(passes)`: its one iterator draws an order more than
        # the passes it reads, and the stream's next pass would differ. The
        # skip reads the pass inside tf.data, without a Python step a batch.
        for _ in train_ds.skip(pass_length):
            pass
    return rest


def build_before_the_stream(model, dataset):
    """On JAX, build the model, its loss and metrics from ``dataset``'s first batch.

    Keras' JAX trainer otherwise reads a batch of the stream it trains on to
    build them: one more iterator of the stream, which computes a resumed
    run's skip into its current pass (`resumable_stream`) and draws that
    pass's shuffle order once more. Reading one batch of the finite
    ``dataset`` before the stream exists costs every session the same single
    draw, and no skip. Spec shapes will not do: symbolic sequence lengths
    fail some models' builds under JAX. TensorFlow's trainer reads such a
    batch only under a ``tf.distribute`` strategy, and there whether or not
    the model is built (see `replay_whole_passes`).
    """
    if keras.backend.backend() != "jax" or not hasattr(dataset, "element_spec"):
        return
    for batch in dataset.take(1):
        # The trainer's own build, given this batch instead of one it would read.
        model._symbolic_build(data_batch=batch)


def _keras_should_shuffle(dataset):
    """Whether ``model.fit`` should shuffle the batch order of ``dataset``.

    Not for a ``tf.data.Dataset``: it shuffles itself, and Keras would only
    warn. Not for a dataset with ``set_pass``: each of its passes is already a
    seeded order of its own, and Keras' shuffle draws from Python's global
    ``random``, whose state a backup does not hold, so a resumed run would
    take its batches in another order than an uninterrupted one.
    """
    return not (hasattr(dataset, "element_spec") or hasattr(dataset, "set_pass"))


def _batch_size(dataset):
    """The global batch size: static from the spec, else from one batch."""
    spec = getattr(dataset, "element_spec", None)
    if spec is not None:
        leaf = keras.tree.flatten(spec)[0]
        if leaf.shape.rank and leaf.shape[0] is not None:
            return int(leaf.shape[0])
    if iter(dataset) is dataset:
        return None  # A generator: reading a batch would take it from training.
    for batch in dataset:
        return int(np.shape(keras.tree.flatten(batch)[0])[0])
    return None


def fit(
    model_builder,
    train_ds,
    val_ds=None,
    out_dir="runs/model",
    epochs=10,
    *,
    loss=None,
    metrics=None,
    precision="auto",
    distribute="auto",
    schedule="cosine",
    learning_rate=None,
    warmup_steps=None,
    d_model=None,
    weight_decay=0.01,
    clipnorm=1.0,
    beta_2=0.98,
    steps_per_epoch=None,
    patience=5,
    monitor=None,
    save_freq="epoch",
    batch_size=None,
    tokens_per_example=None,
    examples_per_epoch=None,
    callbacks=None,
    seed=None,
    jit_compile="auto",
    verbose="auto",
    keep_backup=False,
):
    """Trains a model with the toolkit's precision, distribution and callbacks.

    Resolves the distribution strategy and the precision policy, builds the
    model inside the strategy's scope, compiles it (unless the builder already
    did) with `make_optimizer` over a warm-up schedule, attaches
    `standard_callbacks(out_dir)` and calls `model.fit`. Running it again with
    the same `out_dir` after an interruption resumes from `out_dir/backup`.
    The global dtype policy and Keras distribution are restored afterwards
    (the trained model evaluates and predicts on one device or under a
    distribution set again). While it trains it holds ``out_dir/.zoo.lock``
    (`run_folder_lock`): another process training into the same `out_dir`
    gets a `ValueError` naming this one.

    Args:
        model_builder: Zero-argument callable returning a built Keras model,
            uncompiled (compiled here with `loss`/`metrics`) or compiled (used
            as compiled; the optimizer arguments below are then ignored).
        train_ds: Training data: a batched `tf.data.Dataset` of
            `(inputs, targets)` (or a `PyDataset`).
        val_ds: Validation data in the same form, or None.
        out_dir: Run directory for `model.keras`, `history.csv`, `logs/`,
            `training_curve.png` and `backup/`.
        epochs: Number of epochs.
        loss: Loss for an uncompiled model.
        metrics: Metrics for an uncompiled model.
        precision: `"auto"`, `"float32"`, `"mixed_float16"` or
            `"mixed_bfloat16"` (see `resolve_precision`).
        distribute: See `resolve_strategy`.
        schedule: `"cosine"`, `"linear"`, `"constant"` or `"inverse_sqrt"`
            (see `make_schedule`), or a `LearningRateSchedule`/float used as
            is.
        learning_rate: Peak learning rate, or the scale of `"inverse_sqrt"`;
            None for 1e-3, or a scale of 1.0 under `"inverse_sqrt"` (the
            paper's rates: 1e-3 there would peak at 7e-7 for `d_model=512`).
        warmup_steps: Warm-up steps; None for 5% of all steps (4000 for
            `"inverse_sqrt"`, 0 when the step count is unknown).
        d_model: Model width, for `"inverse_sqrt"`.
        weight_decay: AdamW decoupled weight decay.
        clipnorm: Global gradient-norm clip.
        beta_2: Adam's second-moment decay.
        steps_per_epoch: Batches per epoch; needed for infinite datasets.
        patience: Early-stopping patience; None disables early stopping.
        monitor: Metric to checkpoint and stop on; default `"val_loss"`, or
            `"loss"` without validation data. A `val_` monitor without
            `val_ds`, or one that an epoch does not log, raises `ValueError`.
        save_freq: Backup frequency (`"epoch"` or a number of batches).
        batch_size: Global batch size for throughput; None reads it from
            `train_ds`.
        tokens_per_example: Mean tokens per example for tokens per second.
        examples_per_epoch: Training examples per epoch, for examples per
            second where batches vary in size (length buckets).
        callbacks: Extra callbacks, run before the standard ones. A
            `TimeBudget` without a ``state_file`` gets
            ``out_dir/time_budget.json``, so a resumed run continues its
            schedule and budget.
        seed: Seed for `keras.utils.set_random_seed`, set before building.
        jit_compile: Passed to `compile` for an uncompiled model.
        verbose: Passed to `fit`.
        keep_backup: Keep `out_dir/backup/` after training (see
            `standard_callbacks`).

    Returns:
        The `keras.callbacks.History` of this call; the trained model (with
        the best epoch's weights when early stopping is on) is
        `history.model`.

    Examples:
        >>> import keras
        >>> import numpy as np
        >>> import tensorflow as tf
        >>> from training import fit
        >>> def build_model():
        ...     return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
        >>> x, y = np.ones((16, 4), "float32"), np.arange(16) % 3
        >>> train_ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
        >>> history = fit(build_model, train_ds, train_ds, "runs/demo", epochs=2,
        ...               loss=keras.losses.SparseCategoricalCrossentropy(
        ...                   from_logits=True), metrics=["accuracy"],
        ...               patience=None, verbose=0)
        >>> len(history.history["val_loss"])
        2
    """
    _check_fit_inputs(model_builder, train_ds)
    epochs = check_int("epochs", epochs, 1)
    steps_per_epoch = check_int("steps_per_epoch", steps_per_epoch, 1, allow_none=True)
    patience = check_int("patience", patience, 0, allow_none=True)
    monitor = _resolve_monitor(monitor, val_ds)
    # One process at a time writes the backup and checkpoint of a folder.
    with run_folder_lock(out_dir):
        previous_policy = keras.config.dtype_policy()
        # Set globally by a JAX DataParallel: the caller's state comes back.
        previous_distribution = keras.distribution.distribution()
        try:
            # Strategy first: multi-worker and TPU strategies must be created
            # before TensorFlow runs anything else.
            strategy = resolve_strategy(distribute)
            policy = apply_precision(precision)
            if seed is not None:
                keras.utils.set_random_seed(seed)
            with strategy.scope():
                model = model_builder()
                if not isinstance(model, keras.Model):
                    raise ValueError(
                        "`model_builder` must return a Keras model. Received: "
                        f"an object of type {type(model).__name__}"
                    )
                if not model.compiled:
                    if loss is None:
                        raise ValueError(
                            "`loss` is required when `model_builder` returns an "
                            "uncompiled model. Received: loss=None"
                        )
                    steps = _steps_per_epoch(train_ds, steps_per_epoch)
                    total_steps = steps * epochs if steps else None
                    if isinstance(schedule, str):
                        if learning_rate is None:
                            learning_rate = 1.0 if schedule == "inverse_sqrt" else 1e-3
                        if warmup_steps is None:
                            warmup_steps = (
                                4000
                                if schedule == "inverse_sqrt"
                                else (max(1, total_steps // 20) if total_steps else 0)
                            )
                        if schedule in ("cosine", "linear") and not total_steps:
                            raise ValueError(
                                f"schedule={schedule!r} needs the number of steps: "
                                "pass `steps_per_epoch` for a dataset of unknown "
                                "length. Received: steps_per_epoch=None"
                            )
                        decay_steps = (
                            max(1, total_steps - warmup_steps) if total_steps else None
                        )
                        rate = make_schedule(
                            schedule,
                            learning_rate,
                            warmup_steps=warmup_steps,
                            decay_steps=decay_steps,
                            d_model=d_model,
                        )
                    else:
                        rate = schedule
                    optimizer = make_optimizer(
                        rate,
                        weight_decay=weight_decay,
                        clipnorm=clipnorm,
                        beta_2=beta_2,
                        model=model,
                    )
                    metric_arguments = {"metrics": metrics}
                    if strategy.kind == "data_parallel":
                        # Weighted: the examples `divisible_batches` adds weigh 0
                        # (all others weigh 1, so nothing else changes).
                        metric_arguments = {"weighted_metrics": _made_in_scope(metrics)}
                    model.compile(
                        optimizer=optimizer,
                        loss=loss,
                        jit_compile=jit_compile,
                        **metric_arguments,
                    )
            if batch_size is None:
                batch_size = _batch_size(train_ds)
            callbacks = list(callbacks or [])
            for callback in callbacks:
                # A resumed run continues the budget's schedule, not a fresh one.
                if isinstance(callback, TimeBudget) and callback.state_file is None:
                    callback.state_file = os.path.join(out_dir, TIME_BUDGET_FILE)
            run_callbacks = callbacks + standard_callbacks(
                out_dir,
                monitor=monitor,
                patience=patience,
                save_freq=save_freq,
                batch_size=batch_size,
                tokens_per_example=tokens_per_example,
                examples_per_epoch=examples_per_epoch,
                keep_backup=keep_backup,
            )
            if verbose:
                print(
                    f"training: precision={policy}, strategy={strategy.kind} "
                    f"({strategy.num_replicas} replica(s)), out_dir={out_dir}"
                )
            build_before_the_stream(model, train_ds)
            train_ds, steps_per_epoch = resumable_stream(
                train_ds, steps_per_epoch, out_dir
            )
            shuffle = _keras_should_shuffle(train_ds)  # of the dataset, not its padding
            if strategy.kind == "data_parallel":
                train_ds = divisible_batches(train_ds, strategy.num_replicas)
                val_ds = divisible_batches(val_ds, strategy.num_replicas)
            return model.fit(
                train_ds,
                validation_data=val_ds,
                epochs=epochs,
                steps_per_epoch=steps_per_epoch,
                callbacks=run_callbacks,
                verbose=verbose,
                shuffle=shuffle,
            )
        finally:
            keras.config.set_dtype_policy(previous_policy)
            keras.distribution.set_distribution(previous_distribution)
