import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from tests.training.conftest import tensorflow_only
from training import distribution
from training.distribution import resolve_strategy

jax_only = pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="keras.distribution on JAX"
)

pytestmark = pytest.mark.slow  # trains in subprocesses on two CPU devices

SCRIPT = os.path.join(os.path.dirname(__file__), "mirrored_check.py")
MASKS_SCRIPT = os.path.join(os.path.dirname(__file__), "replica_masks_check.py")
UNEVEN_SCRIPT = os.path.join(os.path.dirname(__file__), "uneven_batches_check.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_check(backend, extra_env=None, script=SCRIPT, args=()):
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_CONFIG", None)
    env.update(extra_env or {})
    result = subprocess.run(
        [sys.executable, script, *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


# Model of mirrored_check.py -> the loss after 18 steps, at most, as a share of
# the first epoch's: training did something, so equality is not trivial.
TRAINED_LOSS_SHARE = {"dense": 0.5, "vit": 0.95}  # measured: 0.09, 0.90


def assert_same_training(report, kind, model):
    assert report["kind"] == kind
    assert report["replicas"] == 2
    np.testing.assert_allclose(report["parallel"], report["single"], rtol=1e-5)
    assert report["max_weight_diff"] < 1e-5
    assert report["single"][-1] < TRAINED_LOSS_SHARE[model] * report["single"][0]


# The two checks run in a subprocess under their own backend; each runs in the
# pass of `make test` of that backend alone, not twice.
@tensorflow_only
@pytest.mark.parametrize("model", ["dense", "vit"])
def test_mirrored_two_cpus_matches_one_device(model):
    report = run_check("tensorflow", args=[model])
    assert_same_training(report, "mirrored", model)


@jax_only
@pytest.mark.parametrize("model", ["dense", "vit"])
def test_jax_data_parallel_two_cpus_matches_one_device(model):
    report = run_check(
        "jax", {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}, args=[model]
    )
    assert_same_training(report, "data_parallel", model)


@jax_only
def test_jax_data_parallel_pads_batches_the_devices_do_not_divide(tmp_path):
    """A last batch of 3 on 2 devices crashed Keras' DataParallel sharding."""
    report = run_check(
        "jax",
        {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"},
        script=UNEVEN_SCRIPT,
        args=[str(tmp_path)],
    )
    assert report["kind"] == "DataParallel"
    assert report["after"] == "NoneType"  # fit restores the caller's (none)
    assert np.isfinite(report["forecast"]).all()
    # 7 validation rows of 4 real tokens: accuracies are multiples of 1/28.
    # Counting the padded copy (unweighted metrics) made them k/32.
    for accuracy in report["tokens"]:
        assert abs(accuracy * 28 - round(accuracy * 28)) < 1e-4, accuracy
    # A PyDataset's batches too (the ViT's): 7 validation images, not 8.
    for accuracy in report["images"]:
        assert abs(accuracy * 7 - round(accuracy * 7)) < 1e-4, accuracy


def test_divisible_batches_pad_with_weightless_copies_of_the_first_example():
    import tensorflow as tf

    x = np.arange(15, dtype="float32")[:, None] * np.ones((1, 3), "float32")
    y = np.arange(15, dtype="float32")[:, None, None] * np.ones((1, 2, 2), "float32")
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    padded = distribution.divisible_batches(dataset, 2)
    assert int(padded.cardinality()) == 4  # a map: steps per epoch stay known
    *_, (last_x, last_y, weights) = [
        tuple(t.numpy() for t in batch) for batch in padded
    ]
    np.testing.assert_array_equal(last_x[:, 0], [12, 13, 14, 12])
    np.testing.assert_array_equal(last_y[:, 0, 0], [12, 13, 14, 12])
    # (batch, 1): broadcast against a (batch, horizon) loss.
    np.testing.assert_array_equal(weights, [[1], [1], [1], [0]])
    assert distribution.divisible_batches(dataset, 1) is dataset


def test_divisible_batches_pad_a_py_dataset_and_keep_its_passes():
    from zoo.data.numpy_images import ImageBatches

    images = np.arange(15, dtype="uint8")[:, None, None] * np.ones((1, 2, 2), "uint8")
    labels = np.arange(15)
    batches = ImageBatches(images, labels, 0.0, 1.0, 4, training=True, pad=0)
    padded = distribution.divisible_batches(batches, 2)
    assert len(padded) == 4
    *_, (last_x, last_y, weights) = [padded[index] for index in range(4)]
    assert last_x.shape == (4, 2, 2, 1)
    np.testing.assert_array_equal(last_y, [*batches[3][1], batches[3][1][0]])
    np.testing.assert_array_equal(weights, [1, 1, 1, 0])
    # The wrapped dataset draws the next pass's order at an epoch's end.
    padded.on_epoch_end()
    assert batches.pass_index == 1
    np.testing.assert_array_equal(padded[0][1], batches[0][1])


@tensorflow_only
def test_mirrored_replicas_draw_their_own_dropout_masks():
    report = run_check("tensorflow", script=MASKS_SCRIPT)
    for layer in ("Dropout", "DropPath"):
        draws = report[layer]
        # Two replicas, three steps: six masks, none repeated.
        assert draws["masks"] == 6 and draws["distinct"] == 6, (layer, draws)
        assert all(0.3 < kept < 0.7 for kept in draws["kept"]), (layer, draws)


def test_auto_on_one_cpu_is_no_distribution(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    monkeypatch.delenv("TPU_NAME", raising=False)
    monkeypatch.delenv("COLAB_TPU_ADDR", raising=False)
    strategy = resolve_strategy("auto")
    assert strategy.kind == "none" and strategy.num_replicas == 1
    with strategy.scope():
        layer = keras.layers.Dense(2)
        layer.build((None, 3))
    assert layer.kernel.shape == (3, 2)


@tensorflow_only
def test_none_and_mirrored_on_one_cpu():
    assert resolve_strategy("none").num_replicas == 1
    mirrored = resolve_strategy("mirrored")
    assert mirrored.kind == "mirrored" and mirrored.num_replicas == 1
    with mirrored.scope():
        variable = keras.Variable(np.zeros(2, "float32"))
    assert "Mirrored" in type(variable.value).__name__


@pytest.mark.parametrize("bad", ["gpu", "", None, "Mirrored"])
def test_invalid_choice(bad):
    with pytest.raises(ValueError, match="data_parallel.*Received: distribute="):
        resolve_strategy(bad)


@tensorflow_only
def test_tpu_without_a_tpu_is_a_named_error():
    # In a subprocess: connecting to a TPU cluster changes TensorFlow's context.
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TPU_NAME", None)
    code = (
        "from training.distribution import resolve_strategy\n"
        "try:\n    resolve_strategy('tpu')\n"
        "except ValueError as error:\n    print(error)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=ROOT,
    )
    assert "`distribute='tpu'` found no TPU" in result.stdout, result.stderr[-2000:]
    assert "TPU_NAME='local'" in result.stdout


@tensorflow_only
def test_data_parallel_needs_jax():
    with pytest.raises(ValueError, match="JAX backend.*backend='tensorflow'"):
        resolve_strategy("data_parallel")


@pytest.mark.parametrize(
    "tf_config, workers",
    [
        ("", 0),
        ('{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker"}}', 1),
        ('{"cluster": {"worker": ["a:1", "b:1"]}, "task": {"index": 0}}', 2),
        ('{"cluster": {"chief": ["c:1"], "worker": ["a:1"]}}', 2),
    ],
)
def test_tf_config_worker_count(tf_config, workers):
    assert distribution._tf_config_workers(tf_config) == workers


@tensorflow_only
def test_auto_picks_multi_worker_from_tf_config(monkeypatch):
    # Creating the real strategy would start a gRPC server; record the choice.
    calls = []
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1", "b:1"]}}))
    import tensorflow as tf

    monkeypatch.setattr(
        tf.distribute,
        "MultiWorkerMirroredStrategy",
        lambda: calls.append("multi_worker") or tf.distribute.get_strategy(),
    )
    assert resolve_strategy("auto").kind == "multi_worker"
    assert calls == ["multi_worker"]


@jax_only
def test_jax_choices_on_one_device():
    with pytest.raises(ValueError, match="TensorFlow backend.*backend='jax'"):
        resolve_strategy("mirrored")
    assert resolve_strategy("auto").kind == "none"
    try:
        strategy = resolve_strategy("data_parallel")
        assert strategy.kind == "data_parallel" and strategy.num_replicas == 1
        assert keras.distribution.distribution() is strategy.distribution
    finally:
        keras.distribution.set_distribution(None)
