"""Dropout whose random numbers stay fast when TensorFlow compiles with XLA."""

import keras

from zoo.layers.fused_kernels import tensorflow_has_gpu

# Random-number algorithms the TensorFlow path accepts: Philox, and whatever
# TensorFlow picks itself ("auto_select": Philox without XLA, ThreeFry with it).
RNG_ALGORITHMS = ("philox", "auto_select")


def _tensorflow_uniform(shape, seed_generator, algorithm):
    """Uniform float32 numbers in [0, 1) of ``shape`` on TensorFlow, by ``algorithm``.

    Keras draws with TensorFlow's default algorithm, which is ThreeFry inside
    an XLA-compiled function. XLA's ThreeFry on a CPU took 653 ms for a
    2048 x 1024 dropout mask where Philox took 18 ms, so training steps with
    dropout ran up to 5x slower (benchmarks/dropout_rng.py, docs/speed.md).
    """
    import tensorflow as tf

    # Keras keeps the seed state in int64; XLA's stateless ops take int32.
    seed = tf.cast(tf.math.floormod(seed_generator.next(), tf.int32.max - 1), "int32")
    replica = tf.distribute.get_replica_context()
    if replica is not None and replica.num_replicas_in_sync > 1:
        # Under a tf.distribute strategy every replica reads the same seed
        # state, so without this all replicas would draw the same mask for
        # their examples (as Keras' own dropout does): a new seed per replica.
        seed = tf.random.experimental.stateless_fold_in(
            seed, replica.replica_id_in_sync_group, alg=algorithm
        )
    return tf.random.stateless_uniform(shape, seed=seed, alg=algorithm)


def random_uniform(shape, seed_generator):
    """Uniform float32 numbers in [0, 1) for a mask, drawn as ``Dropout`` draws.

    On TensorFlow: Philox without a GPU (fast under XLA) and a different
    draw on each replica of a ``tf.distribute`` strategy. Elsewhere Keras'
    ``keras.random.uniform``, whose draw under JAX's data parallelism already
    covers the whole global batch.
    """
    if keras.backend.backend() != "tensorflow":
        return keras.random.uniform(shape, seed=seed_generator)
    return _tensorflow_uniform(shape, seed_generator, _default_tensorflow_algorithm())


@keras.saving.register_keras_serializable(package="zoo")
class Dropout(keras.layers.Dropout):
    """``keras.layers.Dropout`` whose mask is drawn with Philox on TensorFlow CPUs.

    The same layer, arguments and scaling as Keras' (``rate``,
    ``noise_shape``, ``seed``); only the random-number algorithm of the mask
    may differ: on TensorFlow, on a machine without a GPU, it is Philox, so
    that XLA-compiled training steps with dropout are not slowed down by
    XLA's ThreeFry (see ``_tensorflow_uniform``). With a GPU, TensorFlow picks
    as in Keras' layer; on JAX it is Keras' layer unchanged, and on PyTorch
    too when given a ``seed``. Without one, Keras' layer on PyTorch draws from
    PyTorch's global generator, whose state a resumed run cannot place where
    an uninterrupted run had it; this layer draws from its seed generator,
    which a backup records. Where this layer draws, the draw is float32 for
    half-precision inputs too, so the dropped share is ``rate`` (Keras'
    bfloat16 draw drops 10.15% for 0.1). On TensorFlow each replica of a
    ``tf.distribute`` strategy draws its own mask (Keras' layer gives every
    replica the same one).

    Set ``rng_algorithm`` on an instance to force an algorithm.

    Examples:
        >>> import keras
        >>> from zoo.layers import Dropout
        >>> tuple(Dropout(0.5, seed=1)(keras.ops.ones((2, 4)), training=True).shape)
        (2, 4)
    """

    _rng_algorithm = None

    @property
    def rng_algorithm(self):
        """The mask's algorithm on TensorFlow: one of ``RNG_ALGORITHMS``, or
        None to pick by machine (Philox without a GPU)."""
        return self._rng_algorithm

    @rng_algorithm.setter
    def rng_algorithm(self, value):
        if value is not None and value not in RNG_ALGORITHMS:
            raise ValueError(
                f"`rng_algorithm` must be None or one of {RNG_ALGORITHMS}; "
                f"received {value!r}"
            )
        self._rng_algorithm = value

    def call(self, inputs, training=False):
        if self.noise_shape is not None and len(self.noise_shape) != len(inputs.shape):
            # Keras' layer would drop the extra entries or fail to broadcast.
            raise ValueError(
                "`noise_shape` must have one entry per input axis; expected "
                f"{len(inputs.shape)} for inputs of shape {inputs.shape}, "
                f"received noise_shape={self.noise_shape}"
            )
        backend = keras.backend.backend()
        keras_draws_from_the_generator = backend == "jax" or (
            backend == "torch" and self.seed is not None
        )
        if not (training and self.rate > 0) or keras_draws_from_the_generator:
            return super().call(inputs, training=training)
        if self.rate == 1.0:
            return keras.ops.zeros_like(inputs)
        noise_shape = self.noise_shape
        shape = keras.ops.shape(inputs)
        if noise_shape is not None:
            # None entries take the input's size, as in Keras' layer.
            shape = [s if n is None else n for s, n in zip(shape, noise_shape)]
        # Drawn in float32 even for half-precision inputs: a bfloat16 draw
        # takes only 128 values, which would drop 13/128 for a rate of 0.1.
        if backend == "tensorflow":
            algorithm = self.rng_algorithm or _default_tensorflow_algorithm()
            draw = _tensorflow_uniform(shape, self.seed_generator, algorithm)
        else:
            draw = keras.random.uniform(shape, seed=self.seed_generator)
        scaled = inputs / keras.ops.cast(1.0 - self.rate, inputs.dtype)
        return keras.ops.where(draw >= self.rate, scaled, keras.ops.zeros_like(inputs))


def _default_tensorflow_algorithm():
    # XLA's ThreeFry is slow on CPUs only; on GPUs TensorFlow's own choice
    # stays (not measured here: CI and our device machine have no TensorFlow
    # GPU), as Keras itself turns XLA on by default only where there is one.
    return "auto_select" if tensorflow_has_gpu() else "philox"
