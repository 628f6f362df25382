"""Choosing how training is spread over devices.

This is the one module that touches `tf.distribute` (TensorFlow backend) and
`keras.distribution` (JAX backend). Everything else sees a `TrainingStrategy`
with a `scope()` context manager:

```python
strategy = resolve_strategy("auto")
with strategy.scope():
    model = build_model()
    model.compile(...)
model.fit(train_ds, ...)
```

Batches are global: with N replicas each gets `batch_size / N` examples, and
Keras averages the loss over the global batch, so the same seed, data and
batch size give the same updates on one device or many.
"""

import contextlib
import json
import os

import keras
import numpy as np

DISTRIBUTE_CHOICES = (
    "auto",
    "none",
    "mirrored",
    "multi_worker",
    "tpu",
    "data_parallel",
)
_TF_ONLY = ("mirrored", "multi_worker", "tpu")


class TrainingStrategy:
    """How a model is placed on devices; returned by `resolve_strategy`.

    Args:
        kind: What was chosen: `"none"`, `"mirrored"`, `"multi_worker"`,
            `"tpu"` or `"data_parallel"`.
        strategy: The `tf.distribute.Strategy`, or None.
        distribution: The `keras.distribution.Distribution`, or None.

    Examples:
        >>> import keras
        >>> from training import resolve_strategy
        >>> strategy = resolve_strategy("none")
        >>> with strategy.scope():
        ...     model = keras.Sequential([keras.layers.Dense(1)])
    """

    def __init__(self, kind, strategy=None, distribution=None):
        self.kind = kind
        self.strategy = strategy
        self.distribution = distribution

    @property
    def num_replicas(self):
        """Number of model replicas a global batch is split over."""
        if self.strategy is not None:
            return self.strategy.num_replicas_in_sync
        if self.distribution is not None:
            return len(self.distribution.device_mesh.devices.flatten())
        return 1

    def scope(self):
        """Context manager under which to build and compile the model."""
        if self.strategy is not None:
            return self.strategy.scope()
        if self.distribution is not None:
            return self.distribution.scope()
        return contextlib.nullcontext()

    def __repr__(self):
        return f"TrainingStrategy(kind={self.kind!r}, replicas={self.num_replicas})"


def _tf_config_workers(tf_config=None):
    """Number of workers (chief included) in the TF_CONFIG cluster spec."""
    raw = os.environ.get("TF_CONFIG") if tf_config is None else tf_config
    if not raw:
        return 0
    cluster = json.loads(raw).get("cluster", {})
    return len(cluster.get("worker", [])) + len(cluster.get("chief", []))


def _tpu_hinted():
    # Probing TPUClusterResolver without a hint can block on the GCE metadata
    # server, so "auto" only tries it where a TPU is advertised.
    return bool(
        os.environ.get("TPU_NAME")
        or os.environ.get("COLAB_TPU_ADDR")
        or os.path.exists("/dev/accel0")
    )


def _tpu_strategy():
    import tensorflow as tf

    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
        tpu=os.environ.get("TPU_NAME", "local")
    )
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def _mirrored_strategy():
    import tensorflow as tf

    if tf.config.list_logical_devices("GPU"):
        return tf.distribute.MirroredStrategy()
    # No GPU: mirror over the logical CPUs (one unless configured otherwise).
    cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices=cpus)


def _resolve_tensorflow(distribute):
    import tensorflow as tf

    if distribute == "auto":
        if _tpu_hinted():
            try:
                return TrainingStrategy("tpu", _tpu_strategy())
            except (ValueError, RuntimeError, tf.errors.OpError):
                pass  # Advertised but unreachable: fall through to GPUs/CPU.
        if _tf_config_workers() > 1:
            distribute = "multi_worker"
        elif len(tf.config.list_logical_devices("GPU")) > 1:
            distribute = "mirrored"
        else:
            distribute = "none"
    if distribute == "tpu":
        try:
            return TrainingStrategy("tpu", _tpu_strategy())
        except (ValueError, RuntimeError, tf.errors.OpError) as error:
            where = os.environ.get("TPU_NAME", "local")
            reason = str(error).strip().splitlines()[0][:200]
            raise ValueError(
                f"`distribute='tpu'` found no TPU: expected a TPU VM or TPU_NAME "
                f"naming a reachable TPU; received TPU_NAME={where!r} ({reason})"
            ) from None
    if distribute == "multi_worker":
        return TrainingStrategy(
            "multi_worker", tf.distribute.MultiWorkerMirroredStrategy()
        )
    if distribute == "mirrored":
        return TrainingStrategy("mirrored", _mirrored_strategy())
    if distribute == "data_parallel":
        raise ValueError(
            "distribute='data_parallel' needs the JAX backend (keras.distribution"
            " is a prototype on TensorFlow); use 'mirrored' on TensorFlow. "
            f"Received: distribute='data_parallel', backend="
            f"{keras.backend.backend()!r}"
        )
    return TrainingStrategy("none", tf.distribute.get_strategy())


def _resolve_keras_distribution(distribute):
    backend = keras.backend.backend()
    if distribute in _TF_ONLY:
        raise ValueError(
            f"distribute={distribute!r} needs the TensorFlow backend. "
            f"Received: distribute={distribute!r}, backend={backend!r}. "
            "Use 'data_parallel' on JAX."
        )
    if distribute == "none":
        return TrainingStrategy("none")
    devices = keras.distribution.list_devices()
    if distribute == "auto" and len(devices) < 2:
        return TrainingStrategy("none")
    distribution = keras.distribution.DataParallel(devices=devices)
    # Set globally too: the JAX trainer shards each batch with the distribution
    # current at fit time, which runs outside `scope()`.
    keras.distribution.set_distribution(distribution)
    return TrainingStrategy("data_parallel", distribution=distribution)


def resolve_strategy(distribute="auto"):
    """Picks the distribution strategy for the current backend.

    On TensorFlow, `"auto"` picks `TPUStrategy` when a TPU is advertised
    (`TPU_NAME`, `COLAB_TPU_ADDR` or a TPU VM) and reachable,
    `MultiWorkerMirroredStrategy` when `TF_CONFIG` names more than one worker,
    `MirroredStrategy` with more than one GPU, else the default strategy. On
    JAX, `"auto"` sets a `keras.distribution.DataParallel` over all devices
    when there is more than one. Create it at the start of the program:
    multi-worker and TPU strategies must exist before other TensorFlow ops.

    Args:
        distribute: `"auto"`, `"none"`, `"mirrored"` (all GPUs, or all logical
            CPUs without GPUs), `"multi_worker"`, `"tpu"` or
            `"data_parallel"` (JAX).

    Returns:
        A `TrainingStrategy`; build and compile the model in its `scope()`.

    Examples:
        >>> import keras
        >>> from training import resolve_strategy
        >>> strategy = resolve_strategy("auto")
        >>> with strategy.scope():
        ...     model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        ...     model.compile(optimizer="adam", loss="mse")
    """
    if distribute not in DISTRIBUTE_CHOICES:
        raise ValueError(
            f"`distribute` must be one of {DISTRIBUTE_CHOICES}. "
            f"Received: distribute={distribute!r}"
        )
    if keras.backend.backend() == "tensorflow":
        return _resolve_tensorflow(distribute)
    if keras.backend.backend() == "jax":
        return _resolve_keras_distribution(distribute)
    if distribute not in ("auto", "none"):
        raise ValueError(
            f"distribute={distribute!r} is not supported on the "
            f"{keras.backend.backend()!r} backend. Received: "
            f"distribute={distribute!r}"
        )
    return TrainingStrategy("none")


def divisible_batches(dataset, num_replicas):
    """``dataset`` with each batch padded to a multiple of ``num_replicas``.

    Keras' JAX `DataParallel` shards every batch over the devices and fails
    on one they do not divide, such as the last batch of a pass. Such a batch
    gets copies of its first example with a sample weight of 0, so they add
    nothing to the loss's sum or to the metrics; (inputs, targets) batches
    gain weights of 1 for their own examples.

    Args:
        dataset: a batched `tf.data.Dataset` or a `keras.utils.PyDataset`
            of (inputs, targets) or (inputs, targets, sample_weight).
        num_replicas: the number of devices a batch is split over.

    Returns:
        The padded dataset, or ``dataset`` itself when there is nothing to do
        (one replica, or neither of those forms).
    """
    if num_replicas < 2:
        return dataset
    if isinstance(dataset, keras.utils.PyDataset):
        return _DivisiblePyDataset(dataset, num_replicas)
    spec = getattr(dataset, "element_spec", None)
    if not isinstance(spec, tuple) or len(spec) not in (2, 3):
        return dataset
    import tensorflow as tf

    weight_shape = _weight_shape(keras.tree.flatten(spec[1])[0].shape)

    def pad(inputs, targets, weights=None):
        size = tf.shape(keras.tree.flatten(targets)[0])[0]
        missing = (-size) % num_replicas

        def extend(tensor):
            return tf.concat([tensor, tf.repeat(tensor[:1], missing, axis=0)], 0)

        if weights is None:
            weights = tf.ones((size, *weight_shape), "float32")
        no_weight = tf.repeat(tf.zeros_like(weights[:1]), missing, axis=0)
        weights = tf.concat([weights, no_weight], 0)
        return (
            keras.tree.map_structure(extend, inputs),
            keras.tree.map_structure(extend, targets),
            weights,
        )

    return dataset.map(pad)


def _weight_shape(target_shape):
    """Per-example weight axes after the batch's, for targets of this shape.

    Weights of rank one below the targets' (trailing axes of 1) broadcast
    against the per-step losses of sequence and forecast targets too.
    """
    return (1,) * max(len(target_shape) - 2, 0)


class _DivisiblePyDataset(keras.utils.PyDataset):
    """A `PyDataset`'s batches, padded as `divisible_batches` pads tf.data's.

    Passes and epoch ends go to the wrapped dataset, so one that draws each
    pass from its index (`zoo.data.numpy_images.ImageBatches`) is unchanged.
    """

    def __init__(self, dataset, num_replicas):
        super().__init__(
            workers=dataset.workers,
            use_multiprocessing=dataset.use_multiprocessing,
            max_queue_size=dataset.max_queue_size,
        )
        self.dataset = dataset
        self.num_replicas = num_replicas

    def __len__(self):
        return len(self.dataset)

    @property
    def num_batches(self):
        return self.dataset.num_batches

    def on_epoch_begin(self):
        self.dataset.on_epoch_begin()

    def on_epoch_end(self):
        self.dataset.on_epoch_end()

    def __getitem__(self, index):
        batch = self.dataset[index]
        if not isinstance(batch, tuple) or len(batch) not in (2, 3):
            return batch
        inputs, targets, *weights = batch
        first_target = np.asarray(keras.tree.flatten(targets)[0])
        size = len(first_target)
        missing = -size % self.num_replicas
        if weights:
            weights = np.asarray(weights[0])
        else:
            shape = (size, *_weight_shape(first_target.shape))
            weights = np.ones(shape, "float32")
        if not missing:
            return inputs, targets, weights

        def extend(array):
            array = np.asarray(array)
            return np.concatenate([array, np.repeat(array[:1], missing, axis=0)])

        no_weight = np.zeros_like(np.repeat(weights[:1], missing, axis=0))
        return (
            keras.tree.map_structure(extend, inputs),
            keras.tree.map_structure(extend, targets),
            np.concatenate([weights, no_weight]),
        )
