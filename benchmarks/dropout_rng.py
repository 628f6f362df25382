"""Dropout under XLA on a CPU: Philox masks (the zoo's) against TensorFlow's default.

Inside an XLA-compiled function TensorFlow draws random numbers with
ThreeFry unless told otherwise, and XLA's ThreeFry is slow on CPUs, so
Keras' ``Dropout`` made XLA training steps several times slower.
``zoo.layers.Dropout`` draws its masks with Philox on TensorFlow without a
GPU. This script trains three copies of a preset with dropout from the same
weights, in turn in one process, on the first real training batches of its
data: with XLA and Philox masks (the zoo's default), with XLA and
TensorFlow's own choice (Keras' behaviour), and without XLA (Keras' default
on a CPU, what ``zoo train`` runs there). It also times one mask alone.

Writes ``benchmarks/results/<name>.json`` and ``.md``.

Usage: ``python benchmarks/dropout_rng.py [--batches 8] [--repeats 5]``
"""

import statistics
import time

from preset_training import (
    argument_parser,
    copies_by_setting,
    parse_tensorflow_arguments,
    run_record,
    time_cases,
    write_results,
)

from zoo.layers import Dropout

# (family, preset, data, unit): presets whose blocks drop 0.1 and 0.2.
CASES = (
    ("seq2seq", "small", "cmudict", "non-padding target tokens/s"),
    ("forecaster", "patchtst", "elecdemand", "windows/s"),
)

# copy -> (XLA, the Dropout layers' rng_algorithm)
COPIES = {
    "xla_philox": (True, "philox"),
    "xla_tensorflow_default": (True, "auto_select"),
    "no_xla": (False, None),
}

copies = copies_by_setting(
    COPIES,
    Dropout,
    "rng_algorithm",
    required=(lambda dropouts: any(d.rate > 0 for d in dropouts), "dropout"),
)


def ratios(seconds):
    """Philox over TensorFlow's default under XLA; XLA with Philox over no XLA."""
    philox = seconds["xla_philox"]
    return {
        "philox_over_default": seconds["xla_tensorflow_default"] / philox,
        "xla_philox_over_no_xla": seconds["no_xla"] / philox,
    }


def mask_milliseconds(shape, algorithm, repeats):
    """Median time of one compiled dropout of a ``shape`` tensor, in ms."""
    import tensorflow as tf

    layer = Dropout(0.1, seed=0)
    layer.rng_algorithm = algorithm
    step = tf.function(lambda x: layer(x, training=True), jit_compile=True)
    x = tf.ones(shape)
    step(x).numpy()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step(x).numpy()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main():
    parser = argument_parser(__doc__.splitlines()[0], CASES, batches=8, repeats=5)
    args = parse_tensorflow_arguments(parser, "the algorithm is chosen only there")
    mask_shape = (2048, 1024)
    masks = {
        algorithm: mask_milliseconds(mask_shape, algorithm, 3 * args.repeats)
        for algorithm in ("philox", "auto_select")
    }
    print("one mask, ms:", masks, flush=True)
    rows = time_cases(CASES, args, copies, tolerance=1e-4, ratios=ratios)
    result = {
        **run_record("dropout_rng.py", args),
        "mask_shape": mask_shape,
        "mask_milliseconds": masks,
        "rows": rows,
    }
    lines = [
        f"One {mask_shape[0]} x {mask_shape[1]} dropout under XLA: Philox "
        f"{masks['philox']:.1f} ms, TensorFlow's default {masks['auto_select']:.1f} ms.",
        "",
        "| model | unit | XLA, Philox (zoo) | XLA, TensorFlow's default "
        "| no XLA | Philox / default | XLA Philox / no XLA |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {r['model']} | {r['unit']} | {r['xla_philox_per_second']:.0f} | "
            f"{r['xla_tensorflow_default_per_second']:.0f} | "
            f"{r['no_xla_per_second']:.0f} | {r['philox_over_default']:.2f}x | "
            f"{r['xla_philox_over_no_xla']:.2f}x |"
            for r in rows
        ),
        "",
        f"Training steps, medians of {args.repeats} interleaved passes over the "
        f"first {args.batches} training batches; {result['device']}; "
        f"Keras {result['keras']} (tensorflow).",
    ]
    write_results(args.name or "dropout_rng", result, lines)


if __name__ == "__main__":
    main()
