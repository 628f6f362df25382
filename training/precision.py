"""Choosing and applying a mixed-precision policy.

`"auto"` picks bfloat16 on GPUs that have fast bfloat16 (compute capability
8.0 and up: A100, H100, RTX 30xx/40xx), float16 on older GPUs (which then need
loss scaling) and float32 on CPU, where mixed precision is slower.

Loss scaling: Keras 3 `Model.compile(auto_scale_loss=True)`, the default,
wraps the optimizer in `keras.optimizers.LossScaleOptimizer` when the model's
dtype policy is `mixed_float16`; nothing more is needed here. bfloat16 has
float32's exponent range and needs no scaling.

Keep the model's last layer (the logits/regression head) at
`dtype="float32"`, so outputs and the loss are float32; the model builders
in `zoo.models` do that.
"""

import keras

PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")

# Ampere (8.0) and newer GPUs run bfloat16 at full tensor-core speed.
_BF16_MIN_CAPABILITY = (8, 0)


def _parse_capability(capability):
    """Normalises (8, 0), "8.0" or 8.0 to a (major, minor) tuple."""
    if isinstance(capability, (tuple, list)):
        return int(capability[0]), int(capability[1])
    major, _, minor = str(capability).partition(".")
    return int(major), int(minor or 0)


def gpu_compute_capabilities():
    """Lists the compute capabilities of the GPUs the current backend sees.

    Uses TensorFlow's device details on the TensorFlow backend, `jax.devices()`
    on JAX and `torch.cuda` on PyTorch.

    Returns:
        A list of `(major, minor)` tuples; empty on a CPU-only machine.

    Examples:
        >>> from training.precision import gpu_compute_capabilities
        >>> gpu_compute_capabilities()  # on one H100  # doctest: +SKIP
        [(9, 0)]
    """
    backend = keras.backend.backend()
    capabilities = []
    if backend == "tensorflow":
        import tensorflow as tf

        for device in tf.config.list_physical_devices("GPU"):
            details = tf.config.experimental.get_device_details(device)
            if details.get("compute_capability"):
                capabilities.append(details["compute_capability"])
    elif backend == "jax":
        import jax

        for device in jax.devices():
            if device.platform == "gpu" and hasattr(device, "compute_capability"):
                capabilities.append(device.compute_capability)
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            for index in range(torch.cuda.device_count()):
                capabilities.append(torch.cuda.get_device_capability(index))
    return [_parse_capability(c) for c in capabilities]


def resolve_precision(precision="auto", compute_capabilities=None):
    """Turns a precision choice into a Keras dtype policy name.

    Args:
        precision: `"auto"`, `"float32"`, `"mixed_float16"` or
            `"mixed_bfloat16"`. Explicit names are returned unchanged.
        compute_capabilities: GPU compute capabilities to decide `"auto"`
            from, as `(major, minor)` tuples or `"8.0"` strings; None detects
            them with `gpu_compute_capabilities()`.

    Returns:
        `"float32"`, `"mixed_float16"` or `"mixed_bfloat16"`.

    Examples:
        >>> from training import resolve_precision
        >>> resolve_precision("auto", compute_capabilities=[(8, 0)])
        'mixed_bfloat16'
        >>> resolve_precision("auto", compute_capabilities=[])
        'float32'
    """
    if precision not in PRECISIONS:
        raise ValueError(
            f"`precision` must be one of {PRECISIONS}. "
            f"Received: precision={precision!r}"
        )
    if precision != "auto":
        return precision
    if compute_capabilities is None:
        compute_capabilities = gpu_compute_capabilities()
    capabilities = [_parse_capability(c) for c in compute_capabilities]
    if not capabilities:
        return "float32"
    # With mixed GPUs the slowest decides: every replica runs the same policy.
    if min(capabilities) >= _BF16_MIN_CAPABILITY:
        return "mixed_bfloat16"
    return "mixed_float16"


def apply_precision(precision="auto", compute_capabilities=None):
    """Resolves `precision` and sets it as the global Keras dtype policy.

    Layers created afterwards use the policy; create the model after calling
    this. Under `"mixed_float16"`, `model.compile` wraps the optimizer in a
    `LossScaleOptimizer`.

    Args:
        precision: As for `resolve_precision`.
        compute_capabilities: As for `resolve_precision`.

    Returns:
        The policy name that was set.

    Examples:
        >>> from training import apply_precision
        >>> apply_precision("mixed_bfloat16")
        'mixed_bfloat16'
    """
    policy = resolve_precision(precision, compute_capabilities)
    keras.mixed_precision.set_dtype_policy(policy)
    return policy
