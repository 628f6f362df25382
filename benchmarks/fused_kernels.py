"""Fused GELU and layer-normalization kernels against Keras' ops, training on TensorFlow.

Without XLA (Keras' default on a CPU) TensorFlow runs exact GELU and layer
normalization, forward and backward, as chains of elementwise kernels.
``zoo.layers.fused_kernels`` runs each direction as one compiled kernel.
This script times the ops alone (forward and backward at the ViT's and the
encoder-decoder's shapes in ``speed.py``), then trains three copies of a
preset from the same weights, in turn in one process, on the first real
training batches of its data: without XLA with the fused kernels (the zoo's
default), without XLA with Keras' ops (``fused_kernels=False``), and with
XLA (where the layers keep Keras' ops).

Writes ``benchmarks/results/<name>.json`` and ``.md``.

Usage: ``python benchmarks/fused_kernels.py [--batches 8] [--repeats 7]``
"""

import keras
import numpy as np
from preset_training import (
    argument_parser,
    copies_by_setting,
    parse_tensorflow_arguments,
    run_record,
    time_cases,
    write_results,
)
from speed import interleaved_median_seconds

from zoo.layers import fused_kernels

# (family, preset, data, unit): GELU and layer norm (ViT, forecaster), layer
# norm only (the encoder-decoder's feed-forward is ReLU).
CASES = (
    ("vit", "hybrid_28_cpu", "fashion_mnist", "images/s"),
    ("forecaster", "patchtst", "elecdemand", "windows/s"),
    ("seq2seq", "small", "cmudict", "non-padding target tokens/s"),
)

# copy -> (XLA, the layers' fused_kernels)
COPIES = {
    "fused": (False, None),
    "keras_ops": (False, False),
    "xla": (True, None),
}

copies = copies_by_setting(
    COPIES,
    fused_kernels.FusedKernelsSetting,
    "fused_kernels",
    required=(bool, "fused kernels"),
)

# op -> shapes timed: (tokens, features) of the ViT and of the encoder-decoder.
OP_SHAPES = {
    "gelu": [(6400, 512), (2048, 1024)],
    "layer_normalization": [(6400, 128), (2048, 256)],
}


def ratios(seconds):
    """Fused over Keras' ops, both without XLA; fused without XLA over XLA."""
    fused = seconds["fused"]
    return {
        "fused_over_keras_ops": seconds["keras_ops"] / fused,
        "fused_over_xla": seconds["xla"] / fused,
    }


def op_steps(op, shape):
    """Forward and backward of ``op`` on a ``shape`` tensor: Keras' and fused."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    x, upstream = (tf.constant(rng.normal(size=shape), "float32") for _ in range(2))
    gamma, beta = (tf.constant(rng.normal(size=shape[-1]), "float32") for _ in range(2))
    if op == "gelu":
        ways = {
            "keras": lambda x: keras.activations.gelu(x, approximate=False),
            "fused": fused_kernels.gelu,
        }
    else:
        ways = {
            "keras": lambda x: keras.ops.layer_normalization(
                x, gamma, beta, epsilon=1e-6
            ),
            "fused": lambda x: fused_kernels.layer_normalization(x, gamma, beta, 1e-6),
        }

    def step(function):
        @tf.function
        def forward_backward(x):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = function(x)
            return y, tape.gradient(y, x, output_gradients=upstream)

        return forward_backward

    steps = {name: step(function) for name, function in ways.items()}
    outputs = [steps[name](x) for name in ways]
    for ours, theirs in zip(*outputs):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-4, atol=1e-4)
    return {name: (lambda s=s: s(x)[1].numpy()) for name, s in steps.items()}


def op_milliseconds(repeats):
    """Median ms of forward and backward, Keras' ops and fused, per op and shape."""
    rows = []
    for op, shapes in OP_SHAPES.items():
        for shape in shapes:
            seconds = interleaved_median_seconds(op_steps(op, shape), 5 * repeats)
            rows.append(
                {
                    "op": op,
                    "shape": list(shape),
                    **{f"{name}_ms": 1e3 * s for name, s in seconds.items()},
                }
            )
            print(rows[-1], flush=True)
    return rows


def main():
    parser = argument_parser(__doc__.splitlines()[0], CASES, batches=8, repeats=7)
    args = parse_tensorflow_arguments(parser, "the kernels are TensorFlow's")
    ops = op_milliseconds(args.repeats)
    rows = time_cases(CASES, args, copies, tolerance=1e-4, ratios=ratios)
    result = {**run_record("fused_kernels.py", args), "ops": ops, "rows": rows}
    lines = [
        "| op, forward and backward | shape | Keras' ops, ms | fused, ms | speed-up |",
        "|---|---|---|---|---|",
        *(
            f"| {o['op']} | {o['shape'][0]} x {o['shape'][1]} | "
            f"{o['keras_ms']:.1f} | {o['fused_ms']:.1f} | "
            f"{o['keras_ms'] / o['fused_ms']:.2f}x |"
            for o in ops
        ),
        "",
        "| model | unit | no XLA, fused (zoo) | no XLA, Keras' ops | XLA "
        "| fused / Keras' ops | fused / XLA |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {r['model']} | {r['unit']} | {r['fused_per_second']:.0f} | "
            f"{r['keras_ops_per_second']:.0f} | {r['xla_per_second']:.0f} | "
            f"{r['fused_over_keras_ops']:.2f}x | {r['fused_over_xla']:.2f}x |"
            for r in rows
        ),
        "",
        f"Ops: medians of {5 * args.repeats} interleaved runs. Training steps: "
        f"medians of {args.repeats} interleaved passes over the first "
        f"{args.batches} training batches; {result['device']}; "
        f"Keras {result['keras']} (tensorflow).",
    ]
    write_results(args.name or "fused_kernels", result, lines)


if __name__ == "__main__":
    main()
