"""What a benchmark ran on, in words, for its JSON and markdown table."""

import os
import platform


def describe_device():
    """The accelerator Keras computes on, else the CPU and its visible cores.

    Asks the backend in use, so it works without TensorFlow (Keras on JAX on
    a GPU machine that has no TensorFlow).

    Example:
        >>> describe_device()  # doctest: +SKIP
        'GPU: NVIDIA H200 (jax)'
    """
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        gpus = [d for d in jax.devices() if d.platform == "gpu"]
        if gpus:
            return f"GPU: {gpus[0].device_kind} (jax)"
    elif backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            details = tf.config.experimental.get_device_details(gpus[0])
            return f"GPU: {details.get('device_name', gpus[0].name)} (tensorflow)"
    machine = platform.processor() or platform.machine()
    return f"CPU: {machine}, {os.cpu_count()} cores"
