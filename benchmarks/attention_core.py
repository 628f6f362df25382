"""The attention core on TensorFlow: Keras' fused op against the zoo's products.

`zoo.layers.MultiHeadAttention` sends its attention core through
``keras.ops.dot_product_attention`` on JAX and PyTorch, and writes the same
products out on TensorFlow, where that op has no fused kernel and first
builds a boolean tensor the size of the scores to combine the masks. This
script trains two copies of a zoo model on the first real training batches of
its data, one copy per path, in one process and in turn, and reports the
medians: a G2P ``seq2seq`` preset on ``cmudict`` (padded batches, so masks)
and a ViT preset on ``fashion_mnist`` (no masks). Both copies start from the
same weights and must give the same outputs.

Writes ``benchmarks/results/<name>.json`` and ``.md``.

Usage: ``python benchmarks/attention_core.py [--xla] [--repeats 7]``
"""

import argparse
import json
from pathlib import Path

import keras
import numpy as np
from device_info import describe_device
from speed import first_training_batches, interleaved_median_seconds

from zoo import registry
from zoo.layers import MultiHeadAttention

RESULTS = Path(__file__).parent / "results"

# (family, preset, data, unit): the units counted per batch.
CASES = (
    ("seq2seq", "small", "cmudict", "non-padding target tokens/s"),
    ("vit", "hybrid_28_cpu", "fashion_mnist", "images/s"),
)


def first_batches(family_name, preset, data_name, count):
    """The preset's model inputs: the first ``count`` training batches, and info."""
    family = registry.get_family(family_name)
    config = family.check_preset(preset)
    record = {"model": family_name, "preset": preset, "config": config}
    batches, info = first_training_batches(
        family, data_name, config["batch_size"], count, record
    )
    return family, config, batches, info


def units_in(batches, unit):
    if unit == "images/s":
        return sum(len(labels) for _, labels in batches)
    # Label id 0 is padding.
    return sum(int(np.count_nonzero(labels)) for _, labels in batches)


def copies_by_path(family, config, info, xla):
    """Two compiled copies of one model: Keras' fused op, the zoo's products."""
    models = {}
    for path, fused in (("keras_fused_op", True), ("zoo_products", False)):
        keras.utils.set_random_seed(0)
        model = family.build_model(config, info)
        for layer in model._flatten_layers():
            if isinstance(layer, MultiHeadAttention):
                layer.use_fused_attention = fused
        model.compile(**family.compile_arguments(config, info), jit_compile=xla)
        models[path] = model
    return models


def training_pass(model, batches):
    def run():
        for inputs, labels in batches:
            model.train_on_batch(inputs, labels)

    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--xla", action="store_true", help="compile with XLA")
    parser.add_argument(
        "--families",
        nargs="+",
        default=[family for family, *_ in CASES],
        choices=[family for family, *_ in CASES],
        help="which of the models to time (default: all)",
    )
    parser.add_argument("--name", default=None, help="stem of the result files")
    args = parser.parse_args()
    for option in ("batches", "repeats"):
        if getattr(args, option) < 1:
            parser.error(
                f"--{option}: expected a positive integer; received "
                f"{getattr(args, option)}"
            )
    if keras.backend.backend() != "tensorflow":
        parser.error(
            "expected KERAS_BACKEND=tensorflow: the two paths differ only there; "
            f"received {keras.backend.backend()!r}"
        )
    rows = []
    for family_name, preset, data_name, unit in CASES:
        if family_name not in args.families:
            continue
        family, config, batches, info = first_batches(
            family_name, preset, data_name, args.batches
        )
        models = copies_by_path(family, config, info, args.xla)
        inputs = batches[0][0]
        outputs = [keras.ops.convert_to_numpy(m(inputs)) for m in models.values()]
        np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-5, atol=1e-5)
        seconds = interleaved_median_seconds(
            {path: training_pass(m, batches) for path, m in models.items()},
            args.repeats,
        )
        units = units_in(batches, unit)
        rows.append(
            {
                "model": f"{family_name} {preset} on {data_name}",
                "batches": len(batches),
                "unit": unit,
                **{f"{path}_per_second": units / s for path, s in seconds.items()},
                "ratio": seconds["keras_fused_op"] / seconds["zoo_products"],
            }
        )
        print(rows[-1], flush=True)
    result = {
        "command": "python benchmarks/attention_core.py"
        + (" --xla" if args.xla else "")
        + f" --batches {args.batches} --repeats {args.repeats}"
        + f" --families {' '.join(args.families)}",
        "device": describe_device(),
        "keras": keras.__version__,
        "xla": args.xla,
        "repeats": args.repeats,
        "rows": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    name = args.name or ("attention_core_xla" if args.xla else "attention_core")
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [
        "| model | unit | Keras' fused op | zoo's products | products / fused op |",
        "|---|---|---|---|---|",
        *(
            f"| {r['model']} | {r['unit']} | {r['keras_fused_op_per_second']:.0f} | "
            f"{r['zoo_products_per_second']:.0f} | {r['ratio']:.3f}x |"
            for r in rows
        ),
        "",
        f"Training steps {'with' if args.xla else 'without'} XLA, medians of "
        f"{args.repeats} interleaved passes over the first {args.batches} training "
        f"batches; {result['device']}; Keras {result['keras']} (tensorflow).",
    ]
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
