import csv
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.training.conftest import CrashAt, CrashAtBatch, tensorflow_only
from training import recipe
from training.callbacks.standard import tensorboard_available
from training.schedules import InverseSqrtSchedule, WarmupSchedule
from zoo.data.passes import reshuffled_passes
from zoo.layers import Dropout, DropPath


def datasets(pass_streams=False, batch=16):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32")).astype("float32")
    if pass_streams:
        # As the zoo's own training sets: each pass ordered from (seed, pass).
        train = reshuffled_passes((x[:64], y[:64]), 0, lambda pairs: pairs.batch(batch))
    else:
        # Seeded reshuffling, as real pipelines do: a resumed run must still
        # see the batches of an uninterrupted one.
        train = tf.data.Dataset.from_tensor_slices((x[:64], y[:64]))
        train = train.shuffle(64, seed=0).batch(batch)
    val = tf.data.Dataset.from_tensor_slices((x[64:], y[64:])).batch(16)
    return train, val


def build():
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(8, activation="relu", name="hidden")(inputs)
    hidden = keras.layers.LayerNormalization(name="norm")(hidden)
    outputs = keras.layers.Dense(1, dtype="float32", name="head")(hidden)
    return keras.Model(inputs, outputs)


def build_with_dropout():
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(32, activation="relu", name="hidden")(inputs)
    hidden = Dropout(0.3, name="dropout")(hidden)
    hidden = DropPath(0.2, name="drop_path")(hidden)
    outputs = keras.layers.Dense(1, dtype="float32", name="head")(hidden)
    return keras.Model(inputs, outputs)


def run(out_dir, epochs=3, model_builder=build, pass_streams=False, batch=16, **kwargs):
    # The shuffle order depends on the global seed when the pipeline is made.
    keras.utils.set_random_seed(kwargs.get("seed") or 0)
    train, val = datasets(pass_streams, batch)
    kwargs.setdefault("loss", "mse")
    kwargs.setdefault("learning_rate", 0.01)
    return recipe.fit(
        model_builder, train, val, str(out_dir), epochs=epochs, verbose=0, **kwargs
    )


def assert_same_weights(model, reference):
    """Bit for bit: a resumed run must train exactly as an uninterrupted one."""
    for got, expected in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(got, expected)


def uninterrupted_and_resumed(tmp_path, **options):
    """``(reference, resumed)`` histories: a run of ``options`` uninterrupted,
    and one crashed after epoch 2 then run again with the same command."""
    reference = run(tmp_path / "reference", **options)
    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        run(out, callbacks=[CrashAt(2)], **options)
    return reference, run(out, **options)


def read_csv(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def test_fit_writes_the_run_directory(tmp_path):
    history = run(tmp_path, seed=1, metrics=["mae"])
    model = history.model
    assert history.epoch == [0, 1, 2]
    assert history.history["loss"][-1] < history.history["loss"][0]
    expected = ["history.csv", "model.keras", "training_curve.png"]
    expected += ["logs"] if tensorboard_available() else []
    # backup/ is removed once training finishes.
    assert sorted(os.listdir(tmp_path)) == sorted(expected)
    rows = read_csv(tmp_path / "history.csv")
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert float(rows[-1]["examples_per_second"]) > 0
    assert "val_mae" in rows[0]
    # The recipe's optimizer: AdamW over a warm-up + cosine schedule with the
    # LayerNormalization and bias weights excluded from decay.
    optimizer = model.optimizer
    assert isinstance(optimizer, keras.optimizers.AdamW)
    assert isinstance(optimizer._learning_rate, WarmupSchedule)
    assert optimizer._learning_rate.warmup_steps == 1  # 5% of 12 steps, at least 1
    assert float(optimizer._learning_rate(12)) == pytest.approx(0.0, abs=1e-9)
    assert not optimizer._use_weight_decay(model.get_layer("norm").gamma)
    assert not optimizer._use_weight_decay(model.get_layer("head").bias)
    assert optimizer._use_weight_decay(model.get_layer("head").kernel)
    # model.keras is the best epoch, and it reloads with its schedule.
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert isinstance(loaded.optimizer._learning_rate, WarmupSchedule)
    best = min(history.history["val_loss"])
    _, val = datasets()
    metrics = loaded.evaluate(val, verbose=0, return_dict=True)
    assert metrics["loss"] == pytest.approx(best, rel=1e-5)


@pytest.fixture
def op_determinism():
    # The public API can only switch determinism on; switch it back off so
    # later tests in this process run as they would alone.
    from tensorflow.python.framework import config

    was_enabled = config.is_op_determinism_enabled()
    tf.config.experimental.enable_op_determinism()
    yield
    if not was_enabled:
        config.disable_op_determinism()


def test_resume_after_crash_matches_uninterrupted_run(tmp_path, op_determinism):
    reference = run(tmp_path / "reference", seed=3)
    assert np.all(np.diff(reference.history["val_loss"]) < 0)  # best = last

    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        run(out, seed=3, callbacks=[CrashAt(2)])
    assert os.path.exists(out / "backup" / "training_metadata.json")
    assert [int(r["epoch"]) for r in read_csv(out / "history.csv")] == [0, 1]

    # The same command again (same seed, so the same shuffling); 12 optimizer
    # iterations show the weights came from the backup, not a fresh start.
    resumed = run(out, seed=3)
    assert resumed.epoch == [2]
    assert int(resumed.model.optimizer.iterations) == 12
    assert_same_weights(resumed.model, reference.model)
    rows = read_csv(out / "history.csv")
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    expected_rows = read_csv(tmp_path / "reference" / "history.csv")
    np.testing.assert_allclose(
        [float(r["val_loss"]) for r in rows],
        [float(r["val_loss"]) for r in expected_rows],
        rtol=1e-6,
    )
    assert not os.path.exists(out / "backup")


def overshooting_fit(out_dir, callbacks=()):
    """A run whose validation loss falls, then rises: patience 2 stops it.

    One SGD step per epoch moves the slope from 0 towards 2 (the training
    targets) past 1 (the validation targets).
    """
    x = np.random.default_rng(0).normal(size=(64, 1)).astype("float32")
    train = tf.data.Dataset.from_tensor_slices((x, 2 * x)).batch(64)
    val = tf.data.Dataset.from_tensor_slices((x, x)).batch(64)

    def build_compiled():
        inputs = keras.Input((1,))
        dense = keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")
        model = keras.Model(inputs, dense(inputs))
        model.compile(keras.optimizers.SGD(0.05), loss="mse")
        return model

    return recipe.fit(
        build_compiled,
        train,
        val,
        str(out_dir),
        epochs=30,
        patience=2,
        callbacks=list(callbacks),
        verbose=0,
    )


def test_a_resumed_run_keeps_early_stoppings_patience_and_best_epoch(tmp_path):
    """Crashed after its best epoch, a run stops where an uninterrupted one does.

    Keras' EarlyStopping started afresh at the resume: it trained two more
    epochs and ended with the weights of the first resumed epoch.
    """
    reference = overshooting_fit(tmp_path / "reference")
    val_loss = reference.history["val_loss"]
    best = int(np.argmin(val_loss))
    assert reference.epoch[-1] == best + 2 < 29  # stopped by patience
    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        overshooting_fit(out, callbacks=[CrashAt(best + 2)])
    resumed = overshooting_fit(out)
    assert resumed.epoch == [best + 2]
    assert_same_weights(resumed.model, reference.model)
    rows = read_csv(out / "history.csv")
    assert [int(r["epoch"]) for r in rows] == reference.epoch


def test_a_resumed_run_draws_the_dropout_masks_of_an_uninterrupted_one(
    tmp_path, op_determinism
):
    reference, resumed = uninterrupted_and_resumed(
        tmp_path, seed=3, model_builder=build_with_dropout
    )
    assert resumed.epoch == [2]
    # Keras' weights files leave the seed generators' states out; without the
    # backup's own record of them, epoch 2 would draw epoch 0's masks again.
    assert_same_weights(resumed.model, reference.model)


@tensorflow_only
@pytest.mark.parametrize("pass_streams", [True, False], ids=["pass_streams", "replay"])
def test_a_resumed_mirrored_run_with_dropout_equals_an_uninterrupted_one(
    tmp_path, op_determinism, pass_streams
):
    """``zoo train --distribute mirrored`` (the zoo's pass streams), and a
    plain seeded-shuffle pipeline, replayed: under a strategy Keras reads a
    batch of the stream to build the model, one more shuffle draw."""
    options = dict(
        seed=3,
        model_builder=build_with_dropout,
        distribute="mirrored",
        pass_streams=pass_streams,
        # Passes of 16 batches: the stream reads a few batches ahead of
        # Keras' one, and across the end of a 4-batch pass it would, as
        # timing has it, draw the next pass's order too (see training.md).
        batch=4,
    )
    reference, resumed = uninterrupted_and_resumed(tmp_path, **options)
    assert resumed.epoch == [2]
    assert_same_weights(resumed.model, reference.model)


def test_a_resume_whose_epochs_end_inside_a_pass_replays_the_rest_of_it(
    tmp_path, op_determinism
):
    # Epochs of 3 batches over passes of 4: the crash after epoch 2 (6
    # batches) resumes in the middle of the second pass.
    reference, resumed = uninterrupted_and_resumed(tmp_path, seed=3, steps_per_epoch=3)
    assert resumed.epoch == [2]
    assert int(resumed.model.optimizer.iterations) == 9
    assert_same_weights(resumed.model, reference.model)


def test_a_backup_of_another_model_is_refused_by_its_seed_generators(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, callbacks=[CrashAt(1)], model_builder=build_with_dropout)

    # The same weights without the two dropout layers: the weights would load.
    def without_dropout():
        inputs = keras.Input((4,))
        hidden = keras.layers.Dense(32, activation="relu", name="hidden")(inputs)
        return keras.Model(inputs, keras.layers.Dense(1, name="head")(hidden))

    with pytest.raises(
        ValueError, match="holds 2 random seed generator states; expected 0"
    ):
        run(tmp_path, model_builder=without_dropout)


def test_mid_epoch_backup_resumes_the_interrupted_epoch(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path, save_freq=2, callbacks=[CrashAtBatch(epoch=1, batch=3)])
    metadata = (tmp_path / "backup" / "training_metadata.json").read_text()
    metadata = json.loads(metadata)
    assert (metadata["epoch"], metadata["batch"]) == (1, 1)
    resumed = run(tmp_path, save_freq=2)
    assert resumed.epoch == [1, 2]
    # Restored after 4 + 2 steps, then epoch 2 is run again in full: its first
    # two batches are seen twice (4 + 2 + 4 + 4 steps).
    assert int(resumed.model.optimizer.iterations) == 14
    rows = read_csv(tmp_path / "history.csv")
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]


class PassIndexedBatches(keras.utils.PyDataset):
    """Batches that are a function of the pass, like `ImageBatches`."""

    def __init__(self):
        super().__init__()
        rng = np.random.default_rng(0)
        self.x = rng.normal(size=(64, 4)).astype("float32")
        self.y = self.x.sum(axis=1, keepdims=True)
        self.passes_set = []
        self.set_pass(0)

    def set_pass(self, index):
        self.passes_set.append(index)
        self.pass_index = index

    def __len__(self):
        return 4

    def __getitem__(self, index):
        order = np.random.default_rng(self.pass_index).permutation(64)
        chosen = order[index * 16 : (index + 1) * 16]
        return self.x[chosen], self.y[chosen]

    def on_epoch_end(self):
        self.set_pass(self.pass_index + 1)


def fit_four_epochs(train, out_dir, callbacks=()):
    keras.utils.set_random_seed(0)  # the same initial weights in every session
    return recipe.fit(
        build,
        train,
        None,
        str(out_dir),
        epochs=4,
        loss="mse",
        callbacks=list(callbacks),
        verbose=0,
    )


def test_a_resumed_run_re_enters_the_pass_of_a_pass_indexed_dataset(
    tmp_path, op_determinism
):
    uninterrupted = PassIndexedBatches()
    reference = fit_four_epochs(uninterrupted, tmp_path / "reference")
    interrupted = PassIndexedBatches()
    with pytest.raises(KeyboardInterrupt):
        fit_four_epochs(interrupted, tmp_path / "run", [CrashAt(2)])
    resumed = PassIndexedBatches()
    history = fit_four_epochs(resumed, tmp_path / "run")
    assert history.epoch == [2, 3]
    # The recipe moves the new dataset to pass 2 before training on it (the
    # first call after the constructor's)...
    assert resumed.passes_set[:2] == [0, 2]
    # ...so the two sessions together train on the batches of the
    # uninterrupted run, in its order: re-entering an earlier pass, or Keras
    # shuffling the batch order, would give other weights. Weights, not the
    # batches read, are compared: Keras' JAX trainer reads ahead.
    assert_same_weights(history.model, reference.model)


def test_a_resumed_run_starts_a_tf_data_stream_at_its_pass(tmp_path):
    """A dataset's ``stream_from_pass`` replaces replaying the earlier passes."""
    requested = []

    def fit(callbacks=()):
        train, _ = datasets()
        endless = train.repeat()

        def stream_from_pass(index):
            requested.append(index)
            return endless

        train.stream_from_pass = stream_from_pass
        return fit_four_epochs(train, tmp_path, callbacks)

    with pytest.raises(KeyboardInterrupt):
        fit([CrashAt(2)])
    history = fit()
    assert requested == [0, 2]
    assert history.epoch == [2, 3]
    # Four batches of 16 a pass: the stream stands in for the finite dataset.
    assert int(history.model.optimizer.iterations) == 16


def test_compiled_model_is_used_as_compiled(tmp_path):
    def compiled():
        model = build()
        model.compile(keras.optimizers.SGD(0.01), loss="mae")
        return model

    train, val = datasets()
    history = recipe.fit(compiled, train, val, str(tmp_path), epochs=1, verbose=0)
    assert isinstance(history.model.optimizer, keras.optimizers.SGD)
    assert history.model.loss == "mae"


def test_uncompiled_model_needs_a_loss(tmp_path):
    train, val = datasets()
    with pytest.raises(ValueError, match="Received: loss=None"):
        recipe.fit(build, train, val, str(tmp_path), epochs=1, verbose=0)


def test_inverse_sqrt_and_no_validation(tmp_path):
    train, _ = datasets()
    history = recipe.fit(
        build,
        train,
        None,
        str(tmp_path),
        epochs=2,
        loss="mse",
        schedule="inverse_sqrt",
        d_model=8,
        warmup_steps=2,
        verbose=0,
    )
    schedule = history.model.optimizer._learning_rate
    assert isinstance(schedule, InverseSqrtSchedule)
    # The paper's rates by default: fit's 1e-3 for other schedules made
    # this one peak at 1e-3 * (8 * 2) ** -0.5, a thousandth of them.
    assert (schedule.d_model, schedule.warmup_steps, schedule.scale) == (8, 2, 1.0)
    assert "val_loss" not in history.history
    assert os.path.exists(tmp_path / "model.keras")  # checkpointed on "loss"


def test_mixed_float16_policy_is_scoped(tmp_path):
    history = run(tmp_path, epochs=1, precision="mixed_float16")
    model = history.model
    assert model.get_layer("hidden").compute_dtype == "float16"
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert np.isfinite(history.history["loss"]).all()
    assert keras.config.dtype_policy().name == "float32"  # restored


def test_unknown_length_needs_steps(tmp_path):
    train, _ = datasets()
    with pytest.raises(ValueError, match="steps_per_epoch"):
        recipe.fit(build, train.repeat(), None, str(tmp_path), loss="mse", verbose=0)
    history = recipe.fit(
        build,
        train.repeat(),
        None,
        str(tmp_path),
        epochs=2,
        loss="mse",
        steps_per_epoch=3,
        verbose=0,
    )
    assert int(history.model.optimizer.iterations) == 6


@pytest.mark.parametrize(
    "kwargs, message",
    [
        # 0 used to ask for `steps_per_epoch`, as if the dataset had no length.
        ({"epochs": 0}, "`epochs` must be an int >= 1. Received: epochs=0"),
        ({"epochs": 1.5}, "Received: epochs=1.5"),
        # 0 was reported as steps_per_epoch=None; -2 trained forever.
        ({"steps_per_epoch": 0}, "Received: steps_per_epoch=0"),
        ({"steps_per_epoch": -2}, "Received: steps_per_epoch=-2"),
        # Keras' EarlyStopping took -1 as 0 without a word.
        (
            {"patience": -1},
            "`patience` must be an int >= 0 or None. Received: patience=-1",
        ),
    ],
)
def test_bad_epoch_and_step_counts_name_the_argument(tmp_path, kwargs, message):
    train, val = datasets()
    kwargs = {"epochs": 1, **kwargs}
    with pytest.raises(ValueError, match=message):
        recipe.fit(build, train, val, str(tmp_path), loss="mse", verbose=0, **kwargs)


def test_numpy_integer_step_counts_are_accepted(tmp_path):
    # Step counts computed with NumPy: the default warm-up used to be
    # refused as "`warmup_steps` must be an int".
    train, val = datasets()
    history = recipe.fit(
        build,
        train,
        val,
        str(tmp_path),
        epochs=np.int64(10),
        loss="mse",
        steps_per_epoch=np.int64(4),
        patience=None,
        verbose=0,
    )
    assert int(history.model.optimizer.iterations) == 40


def test_arrays_and_models_where_a_dataset_and_a_builder_go_are_refused(tmp_path):
    train, val = datasets()
    x, y = np.zeros((8, 4), "float32"), np.zeros((8, 1), "float32")
    with pytest.raises(ValueError, match="`train_ds` must be a batched.*tuple"):
        recipe.fit(build, (x, y), val, str(tmp_path), loss="mse", verbose=0)
    with pytest.raises(ValueError, match="`model_builder` must be.*Functional"):
        recipe.fit(build(), train, val, str(tmp_path), loss="mse", verbose=0)
    with pytest.raises(ValueError, match="must return a Keras model.*NoneType"):
        recipe.fit(lambda: None, train, val, str(tmp_path), loss="mse", verbose=0)
    assert keras.config.dtype_policy().name == "float32"


def test_a_generator_keeps_every_batch_for_training(tmp_path):
    # Reading the batch size from a generator used to take its first batch,
    # and a generator of exactly `steps_per_epoch` batches ran out a step early.
    def batches():
        rng = np.random.default_rng(0)
        for _ in range(3):
            yield rng.normal(size=(8, 4)).astype("float32"), np.zeros((8, 1), "f")

    class CountBatches(keras.callbacks.Callback):
        count = 0

        def on_train_batch_end(self, batch, logs=None):
            self.count += 1

    counter = CountBatches()
    recipe.fit(
        build,
        batches(),
        None,
        str(tmp_path),
        epochs=1,
        loss="mse",
        schedule=1e-3,
        steps_per_epoch=3,
        callbacks=[counter],
        verbose=0,
    )
    assert counter.count == 3


def test_a_monitor_that_training_does_not_log_is_refused(tmp_path):
    # Keras only warned: the run trained every epoch and saved no model.
    with pytest.raises(
        ValueError, match=r"one of \[.*'val_loss'.*Received: monitor='val_mae'"
    ):
        run(tmp_path / "misspelt", epochs=2, monitor="val_mae")
    assert not os.path.exists(tmp_path / "misspelt" / "model.keras")
    train, _ = datasets()
    with pytest.raises(ValueError, match="Received: monitor='val_loss', val_ds=None"):
        recipe.fit(
            build, train, None, str(tmp_path / "no_val"), loss="mse", monitor="val_loss"
        )
    # A value that is logged is fine, whichever it is.
    history = run(tmp_path / "mae", epochs=1, metrics=["mae"], monitor="val_mae")
    assert "val_mae" in history.history


def test_a_folder_another_process_trains_into_is_refused(tmp_path):
    from tests.lock_holder import lock_held_elsewhere
    from training.run_lock import LOCK_FILE, run_folder_lock

    pytest.importorskip("fcntl")  # nothing is locked without it (Windows)
    out = tmp_path / "run"
    with lock_held_elsewhere(out) as pid:
        with pytest.raises(ValueError, match=rf"by another process \(pid {pid}\)"):
            run(out, epochs=1)
        assert not (out / "model.keras").exists()
    # Once that process is gone the folder trains; this process may hold the
    # lock around fit (as `zoo train` does), and it is gone afterwards.
    with run_folder_lock(out):
        run(out, epochs=1)
    assert (out / "model.keras").exists() and not (out / LOCK_FILE).exists()


def test_an_out_dir_that_is_a_file_is_named(tmp_path):
    a_file = tmp_path / "run.txt"
    a_file.write_text("notes")
    with pytest.raises(
        ValueError, match=r"out_dir must be a folder .* which is a file"
    ):
        run(a_file, epochs=1)
    assert a_file.read_text() == "notes"
