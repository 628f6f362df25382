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

from preset_training import (
    argument_parser,
    copies_by_setting,
    parse_tensorflow_arguments,
    run_record,
    time_cases,
    write_results,
)

from zoo.layers import MultiHeadAttention

# (family, preset, data, unit): the units counted per batch.
CASES = (
    ("seq2seq", "small", "cmudict", "non-padding target tokens/s"),
    ("vit", "hybrid_28_cpu", "fashion_mnist", "images/s"),
)


def main():
    parser = argument_parser(__doc__.splitlines()[0], CASES, batches=24, repeats=7)
    parser.add_argument("--xla", action="store_true", help="compile with XLA")
    args = parse_tensorflow_arguments(parser, "the two paths differ only there")
    rows = time_cases(
        CASES,
        args,
        copies_by_setting(
            {"keras_fused_op": (args.xla, True), "zoo_products": (args.xla, False)},
            MultiHeadAttention,
            "use_fused_attention",
        ),
        tolerance=1e-5,
        ratios=lambda s: {"ratio": s["keras_fused_op"] / s["zoo_products"]},
    )
    result = {
        **run_record("attention_core.py", args, " --xla" if args.xla else ""),
        "xla": args.xla,
        "rows": rows,
    }
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
    name = args.name or ("attention_core_xla" if args.xla else "attention_core")
    write_results(name, result, lines)


if __name__ == "__main__":
    main()
