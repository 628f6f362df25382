"""What the fused kernels' compilation per batch shape costs a text model's first epoch.

``zoo.layers.fused_kernels`` compiles each kernel with XLA once per input
shape. The image and series presets train on one batch shape; the
length-bucketed text pipelines on a few dozen. For each text preset this
script walks a whole epoch of its real training pipeline (as ``zoo train``
builds it), keeps the first batch of each distinct shape, and trains two
copies of the preset from the same weights without XLA, in one process: with
the fused kernels (the zoo's default) and with Keras' ops. The first pass
over those batches meets every shape for the first time; later passes are
steady. Reported per preset:

- the epoch's batches and distinct shapes;
- the fused copy's extra first-pass seconds (its compilations): its first
  pass less its steady pass, less the same difference of Keras' ops;
- the steady seconds the fused kernels save per 1,000 non-padding target
  tokens, and what that comes to over the whole epoch;
- the epoch's net: the saving less the compilations.

The fused copy takes its first pass before Keras' ops do, so it also pays
the warm-ups both copies share (oneDNN's per-shape primitives): its extra
seconds are an upper bound.

Writes ``benchmarks/results/<name>.json`` and ``.md``.

Usage: ``python benchmarks/fused_kernels_shapes.py [--repeats 3] [--data cmudict]``
(``--data`` keeps the cases of the data named: cmudict alone takes minutes
where all three take half an hour).
"""

import argparse
import time

import keras
import numpy as np
from preset_training import (
    compiled_copy,
    first_batches,
    parse_tensorflow_arguments,
    run_record,
    training_pass,
    units_in,
    write_results,
)
from speed import interleaved_median_seconds

from zoo.layers import fused_kernels

# The text presets of the docs' commands (G2P as in speed.py), with their data.
CASES = (
    ("seq2seq", "small", "cmudict", "non-padding target tokens"),
    ("seq2seq", "compact", "l10n_en_de", "non-padding target tokens"),
    ("seq2seq", "small", "debian_descriptions", "non-padding target tokens"),
)
# More batches than any epoch holds: first_batches then returns the epoch.
WHOLE_EPOCH = 10**9
# copy -> the layers' fused_kernels; the fused copy first (see the docstring).
COPIES = {"fused": None, "keras_ops": False}


def shape_of(batch):
    """The shapes of a batch's inputs and labels: what a compilation keys on."""
    inputs, labels = batch
    return tuple(np.shape(x) for x in keras.tree.flatten(inputs)) + (labels.shape,)


def one_batch_per_shape(batches):
    """The first batch of each distinct shape, in order of first appearance."""
    first = {}
    for batch in batches:
        first.setdefault(shape_of(batch), batch)
    return list(first.values())


def timed(function):
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def time_case(case, repeats):
    """The row of one preset: its epoch's shapes and the fused kernels' account."""
    family_name, preset, data_name, unit = case
    family, config, epoch, info = first_batches(
        family_name, preset, data_name, WHOLE_EPOCH
    )
    batches = one_batch_per_shape(epoch)
    # Fresh kernels, so no shape is compiled already by an earlier case.
    fused_kernels._kernels.cache_clear()
    passes = {}
    for name, setting in COPIES.items():
        model, _ = compiled_copy(
            family,
            config,
            info,
            False,
            fused_kernels.FusedKernelsSetting,
            fused_kernels=setting,
        )
        passes[name] = training_pass(model, batches)
    first = {name: timed(run) for name, run in passes.items()}
    steady = interleaved_median_seconds(passes, repeats, warmup=0)
    compile_seconds = (first["fused"] - steady["fused"]) - (
        first["keras_ops"] - steady["keras_ops"]
    )
    saving_per_unit = (steady["keras_ops"] - steady["fused"]) / units_in(batches, unit)
    epoch_saving = saving_per_unit * units_in(epoch, unit)
    row = {
        "model": f"{family_name} {preset} on {data_name}",
        "epoch_batches": len(epoch),
        "shapes": len(batches),
        "first_pass_seconds": first,
        "steady_pass_seconds": steady,
        "fused_compile_seconds": compile_seconds,
        "saving_seconds_per_1000_units": 1000 * saving_per_unit,
        "epoch_saving_seconds": epoch_saving,
        "epoch_net_seconds": epoch_saving - compile_seconds,
        "unit": unit,
    }
    print(row, flush=True)
    return row


def markdown(result):
    """The result as the lines of a markdown table and its note."""
    return [
        "| model | epoch's batches | shapes | steady speed-up, fused "
        "| fused kernels' compilation, s | saved per 1,000 tokens, s "
        "| saved over the epoch, s | epoch's net, s |",
        "|---|---|---|---|---|---|---|---|",
        *(
            f"| {r['model']} | {r['epoch_batches']} | {r['shapes']} | "
            f"{r['steady_pass_seconds']['keras_ops'] / r['steady_pass_seconds']['fused']:.3f}x | "
            f"{r['fused_compile_seconds']:.1f} | "
            f"{r['saving_seconds_per_1000_units']:.3f} | "
            f"{r['epoch_saving_seconds']:.1f} | {r['epoch_net_seconds']:+.1f} |"
            for r in result["rows"]
        ),
        "",
        "Tokens: non-padding target tokens. One batch of each shape of the "
        "epoch: a first pass each (fused first), then medians of "
        f"{result['repeats']} interleaved steady passes; {result['device']}; "
        f"Keras {result['keras']} (tensorflow).",
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--name", default=None, help="stem of the result files")
    data_names = [case[2] for case in CASES]
    parser.add_argument(
        "--data",
        nargs="+",
        choices=data_names,
        default=data_names,
        help="run only the cases of these data (default: all three)",
    )
    args = parse_tensorflow_arguments(parser, "the kernels are TensorFlow's")
    rows = [time_case(case, args.repeats) for case in CASES if case[2] in args.data]
    flags = "" if args.data == data_names else f" --data {' '.join(args.data)}"
    result = {**run_record("fused_kernels_shapes.py", args, flags), "rows": rows}
    write_results(args.name or "fused_kernels_shapes", result, markdown(result))


if __name__ == "__main__":
    main()
