"""Speed of the zoo against keras-hub at equal configuration, in one process.

Measures, after warm-up, the median of several timed repetitions of:

- training throughput of a 2+2-layer encoder-decoder (zoo layers vs keras-hub's
  ``TokenAndPositionEmbedding`` + ``TransformerEncoder``/``TransformerDecoder``),
  on random tokens and on real length-bucketed ``cmudict`` batches (counting
  only non-padding target tokens),
- training throughput of a ViT (zoo layers vs keras-hub's ``ViTBackbone``),
- greedy decoding of 64 tokens: zoo with its key/value cache, zoo re-running
  the full decoder every step, and keras-hub's cached decoder driven by its
  ``GreedySampler``,
- the float32 matrix-multiply rate of this machine, and each training run's
  model FLOPs utilisation (training FLOPs per second over that rate).

Writes ``benchmarks/results/speed.json`` and ``speed.md`` (``speed_no_xla.*``
with ``--no-xla``; ``--name`` names them).

On a GPU: ``KERAS_BACKEND=jax python benchmarks/speed.py --precision
mixed_bfloat16 --batch-scale 8 --matmul-size 8192 --name speed_gpu``. The
matmul rate is then measured in the compute dtype (bfloat16), the peer the
training steps run in; without TensorFlow the cmudict rows are left out
(its length-bucketed batches come from the ``tf.data`` pipeline).

Usage: ``python benchmarks/speed.py [--repeats 5] [--quick] [--no-xla]
[--precision float32] [--batch-scale 1] [--matmul-size 1024] [--name speed]``
"""

import argparse
import importlib.util
import json
import statistics
import time
from pathlib import Path

import keras
import keras_hub
import numpy as np
from device_info import describe_device
from keras import ops

from training.precision import apply_precision
from zoo import layers

RESULTS = Path(__file__).parent / "results"


def interleaved_median_seconds(functions, repeats, warmup=2):
    """Median wall time of each function, the peers timed in turn.

    The machine is shared and its speed drifts; timing the peers round-robin
    (A, B, A, B, ...) rather than one after the other exposes them to the
    same drift, so their ratio stays meaningful.

    Args:
        functions: name -> zero-argument callable that blocks until done.
        repeats: timed rounds after ``warmup`` untimed ones.

    Returns:
        name -> median seconds.
    """
    for _ in range(warmup):
        for function in functions.values():
            function()
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


# Training batches of cmudict per timed pass (the first ones of an epoch).
CMUDICT_BATCHES = 24


def matmul_step(size, dtype):
    """A jit-compiled matmul of two ``size`` squares in ``dtype``, as a callable."""
    a = keras.random.normal((size, size), dtype=dtype)
    b = keras.random.normal((size, size), dtype=dtype)
    step = _jit(lambda x, y: ops.sum(ops.cast(ops.matmul(x, y), "float32")))
    return lambda: float(step(a, b))


def matmul_flops(size):
    """FLOPs of one ``matmul_step`` of ``size``."""
    return 2 * size**3


def _jit(function):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return tf.function(function, jit_compile=True)
    if backend == "jax":
        import jax

        return jax.jit(function)
    return function


# --- models at equal configuration -------------------------------------------

SIDES = ("zoo", "keras_hub")


def zoo_encoder_decoder(cfg):
    # Variable length: the cmudict batches are bucketed to different lengths.
    source = keras.Input((None,), dtype="int32")
    target = keras.Input((None,), dtype="int32")
    x = layers.TokenAndPositionEmbedding(
        cfg["vocab"], cfg["length"], cfg["dim"], mask_zero=True
    )(source)
    for _ in range(cfg["layers"]):
        x = layers.TransformerEncoderBlock(cfg["heads"], cfg["ffn"])(x)
    y = layers.TokenAndPositionEmbedding(
        cfg["vocab"], cfg["length"], cfg["dim"], mask_zero=True
    )(target)
    for _ in range(cfg["layers"]):
        y = layers.TransformerDecoderBlock(cfg["heads"], cfg["ffn"])(y, x)
    return keras.Model([source, target], keras.layers.Dense(cfg["vocab"])(y))


def hub_encoder_decoder(cfg):
    # Variable length: the cmudict batches are bucketed to different lengths.
    source = keras.Input((None,), dtype="int32")
    target = keras.Input((None,), dtype="int32")
    x = keras_hub.layers.TokenAndPositionEmbedding(
        cfg["vocab"], cfg["length"], cfg["dim"], mask_zero=True
    )(source)
    for _ in range(cfg["layers"]):
        x = keras_hub.layers.TransformerEncoder(cfg["ffn"], cfg["heads"])(x)
    y = keras_hub.layers.TokenAndPositionEmbedding(
        cfg["vocab"], cfg["length"], cfg["dim"], mask_zero=True
    )(target)
    for _ in range(cfg["layers"]):
        y = keras_hub.layers.TransformerDecoder(cfg["ffn"], cfg["heads"])(y, x)
    return keras.Model([source, target], keras.layers.Dense(cfg["vocab"])(y))


def zoo_vit(cfg):
    images = keras.Input(cfg["image_shape"])
    x = layers.PatchEmbedding(cfg["patch"], cfg["dim"], use_class_token=True)(images)
    x = x + layers.PositionEmbedding(x.shape[1])(x)
    for _ in range(cfg["layers"]):
        x = layers.TransformerEncoderBlock(
            cfg["heads"],
            cfg["mlp"],
            activation="gelu",
            normalize_first=True,
            layer_norm_epsilon=1e-6,
        )(x)
    x = layers.LayerNormalization(epsilon=1e-6)(x)
    return keras.Model(images, keras.layers.Dense(cfg["classes"])(x[:, 0]))


def hub_vit(cfg):
    backbone = keras_hub.models.ViTBackbone(
        image_shape=cfg["image_shape"],
        patch_size=cfg["patch"],
        num_layers=cfg["layers"],
        num_heads=cfg["heads"],
        hidden_dim=cfg["dim"],
        mlp_dim=cfg["mlp"],
    )
    images = keras.Input(cfg["image_shape"])
    features = backbone(images)
    return keras.Model(images, keras.layers.Dense(cfg["classes"])(features[:, 0]))


def train_steps(model, batches, jit_compile=True):
    """Compile ``model`` (XLA by default); return a callable training one step per batch."""
    model.compile(
        optimizer=keras.optimizers.Adam(1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )

    def run():
        for inputs, targets in batches:
            model.train_on_batch(inputs, targets)

    return run


def first_training_batches(family, source, batch_size, count, record=None):
    """The first ``count`` training batches of ``family``'s pipeline, as numpy.

    Args:
        family: a registered model family.
        source: its data source, e.g. ``"cmudict"``.
        batch_size: examples per batch.
        count: how many batches.
        record: written as the temporary run's record first, for families
            whose data follows the run's config; the defaults without it.

    Returns:
        ``(batches, info)``: ``(inputs, labels)`` pairs with the pipeline's
        structure, and the data's info.
    """
    import tempfile

    from zoo import run_dir as runs

    with tempfile.TemporaryDirectory() as run_dir:
        if record is not None:
            (Path(run_dir) / runs.RUN_FILE).write_text(json.dumps(record))
        data = family.prepare_data(source, batch_size, run_dir, seed=0)
        batches = [
            (keras.tree.map_structure(np.asarray, inputs), np.asarray(labels))
            for inputs, labels in data.train.take(count)
        ]
    return batches, data.info


def cmudict_batches(count, batch_size):
    """The first ``count`` training batches of the zoo's G2P pipeline on cmudict.

    Length-bucketed as in training, so the batches differ in length and carry
    little padding.

    Returns:
        ``(batches, vocabulary_size, longest, target_tokens)``: the batches as
        ``([source, decoder_input], labels)`` numpy arrays, the larger of the
        two vocabularies, the longest sequence, and the number of non-padding
        target tokens in all batches.
    """
    from zoo import registry

    family = registry.get_family("seq2seq")
    pipeline_batches, info = first_training_batches(
        family, "cmudict", batch_size, count
    )
    batches = [
        ([features["encoder_token_ids"], features["decoder_token_ids"]], labels)
        for features, labels in pipeline_batches
    ]
    vocabulary = max(info["source_vocabulary_size"], info["target_vocabulary_size"])
    longest = max(info["source_sequence_length"], info["target_sequence_length"])
    target_tokens = sum(int(np.count_nonzero(labels)) for _, labels in batches)
    return batches, vocabulary, longest, target_tokens


def dense_flops_per_token(model):
    """Forward matmul FLOPs per token from the kernels of dense projections."""
    total = 0
    for weight in model.trainable_weights:
        name = weight.path
        if "embedding" in name or "position" in name or "class_token" in name:
            continue
        if len(weight.shape) >= 2:
            total += 2 * int(np.prod(weight.shape))
    return total


def encoder_decoder_train_flops(model, cfg):
    """Training FLOPs of one batch: 3 × forward (dense + attention products)."""
    tokens = cfg["batch"] * cfg["length"]
    # Encoder and decoder tokens both pass through their own stacks; the dense
    # count already sums both stacks, so count per source+target pair.
    dense = dense_flops_per_token(model) * tokens
    attention_per_layer = 4 * cfg["length"] * cfg["length"] * cfg["dim"]
    attention = (
        cfg["batch"] * attention_per_layer * cfg["layers"] * 3
    )  # enc, self, cross
    return 3 * (dense + attention)


def vit_train_flops(model, cfg):
    tokens_per_image = (cfg["image_shape"][0] // cfg["patch"]) ** 2 + 1
    dense = dense_flops_per_token(model) * tokens_per_image * cfg["batch"]
    attention = cfg["batch"] * 4 * tokens_per_image**2 * cfg["dim"] * cfg["layers"]
    return 3 * (dense + attention)


# --- decoding ------------------------------------------------------------------


def decoding_benchmark(cfg, steps, repeats):
    """Greedy tokens/s: zoo cached, zoo uncached, keras-hub cached + sampler."""
    rng = np.random.default_rng(0)
    batch, dim, heads = cfg["decode_batch"], cfg["dim"], cfg["heads"]
    # Key/value caches hold what the layers compute: bfloat16 under mixed_bfloat16.
    cache_dtype = keras.config.dtype_policy().compute_dtype
    encoder_out = keras.random.normal((batch, cfg["length"], dim), seed=1)
    embedding = layers.TokenAndPositionEmbedding(cfg["vocab"], steps, dim)
    blocks = [layers.TransformerDecoderBlock(heads, cfg["ffn"]) for _ in range(2)]
    head = keras.layers.Dense(cfg["vocab"])
    prompt = np.zeros((batch, steps), "int32")
    prompt[:, 0] = rng.integers(1, cfg["vocab"], batch)
    x = embedding(prompt)
    for block in blocks:
        x = block(x, encoder_out)
    head(x)

    def cached():
        caches = [
            ops.zeros((batch, 2, steps, heads, dim // heads), dtype=cache_dtype)
            for _ in blocks
        ]
        cross = [block.cross_attention.compute_cache(encoder_out) for block in blocks]

        def body(index, tokens, caches):
            step_ids = ops.slice(tokens, (0, index), (batch, 1))
            x = embedding(step_ids, start_index=index)
            new = []
            for block, cache, cross_cache in zip(blocks, caches, cross):
                x, cache, _ = block(
                    x,
                    self_attention_cache=cache,
                    self_attention_cache_update_index=index,
                    cross_attention_cache=cross_cache,
                )
                new.append(cache)
            next_ids = ops.cast(ops.argmax(head(x)[:, 0], axis=-1), "int32")
            tokens = ops.slice_update(tokens, (0, index + 1), next_ids[:, None])
            return index + 1, tokens, new

        _, tokens, _ = ops.while_loop(
            lambda index, *_: index < steps - 1,
            body,
            (0, ops.convert_to_tensor(prompt), caches),
        )
        return tokens

    def uncached():
        def body(index, tokens):
            x = embedding(tokens)
            for block in blocks:
                x = block(x, encoder_out)
            logits = ops.take(head(x), index, axis=1)
            next_ids = ops.cast(ops.argmax(logits, axis=-1), "int32")
            return index + 1, ops.slice_update(
                tokens, (0, index + 1), next_ids[:, None]
            )

        _, tokens = ops.while_loop(
            lambda index, _: index < steps - 1,
            body,
            (0, ops.convert_to_tensor(prompt)),
        )
        return tokens

    hub_embedding = keras_hub.layers.TokenAndPositionEmbedding(cfg["vocab"], steps, dim)
    hub_blocks = [
        keras_hub.layers.TransformerDecoder(cfg["ffn"], heads) for _ in range(2)
    ]
    hub_head = keras.layers.Dense(cfg["vocab"])
    y = hub_embedding(prompt)
    for block in hub_blocks:
        y = block(y, encoder_out)
    hub_head(y)
    sampler = keras_hub.samplers.GreedySampler()

    def hub_cached():
        cache = ops.zeros(
            (batch, 2 * len(hub_blocks), 2, steps, heads, dim // heads),
            dtype=cache_dtype,
        )
        cross = ops.stack(
            [
                ops.stack(
                    [
                        block._cross_attention_layer._key_dense(encoder_out),
                        block._cross_attention_layer._value_dense(encoder_out),
                    ],
                    axis=1,
                )
                for block in hub_blocks
            ],
            axis=1,
        )

        def next_token(tokens, cache, index):
            step_ids = ops.slice(tokens, (0, index - 1), (batch, 1))
            x = hub_embedding.token_embedding(step_ids)
            x = x + hub_embedding.position_embedding(x, start_index=index - 1)
            self_caches = []
            for i, block in enumerate(hub_blocks):
                x, self_cache, _ = block(
                    x,
                    encoder_sequence=encoder_out,
                    self_attention_cache=cache[:, i],
                    self_attention_cache_update_index=index - 1,
                    cross_attention_cache=cross[:, i],
                    cross_attention_cache_update_index=None,
                )
                self_caches.append(self_cache)
            cache = ops.concatenate(
                [ops.stack(self_caches, axis=1), cache[:, len(hub_blocks) :]], axis=1
            )
            return hub_head(x)[:, 0], None, cache

        return sampler(next_token, ops.convert_to_tensor(prompt), cache=cache, index=1)

    functions = {}
    for name, function in (
        ("zoo_cached", cached),
        ("zoo_uncached", uncached),
        ("keras_hub_cached_greedy", hub_cached),
    ):
        compiled = _jit(function)
        functions[name] = lambda f=compiled: ops.convert_to_numpy(f())
    seconds = interleaved_median_seconds(functions, repeats)
    return {name: batch * (steps - 1) / value for name, value in seconds.items()}


# --- main ------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument(
        "--no-xla",
        action="store_true",
        help="compile the training steps without XLA (Keras' default on a CPU)",
    )
    parser.add_argument(
        "--precision",
        default="float32",
        help="dtype policy of the models (training.precision): float32, "
        "mixed_bfloat16, mixed_float16 or auto",
    )
    parser.add_argument(
        "--batch-scale",
        type=int,
        default=1,
        help="multiply the training batch sizes (a GPU needs larger batches)",
    )
    parser.add_argument(
        "--matmul-size",
        type=int,
        default=1024,
        help="side of the squares of the matmul-rate peer",
    )
    parser.add_argument("--name", default=None, help="stem of the result files")
    args = parser.parse_args()
    for option in ("repeats", "batch_scale", "matmul_size"):
        if getattr(args, option) < 1:
            parser.error(
                f"--{option.replace('_', '-')}: expected a positive integer; "
                f"received {getattr(args, option)}"
            )
    try:
        policy = apply_precision(args.precision)
    except ValueError as error:
        parser.error(f"--precision: {error}")
    compute_dtype = keras.config.dtype_policy().compute_dtype
    keras.utils.set_random_seed(0)
    scale = 2 if args.quick else 1
    encdec = {
        "vocab": 8000,
        "length": 32,
        "dim": 256,
        "heads": 4,
        "ffn": 1024,
        "layers": 2,
        "batch": 64 // scale * args.batch_scale,
        "decode_batch": 16,
    }
    vit = {
        "image_shape": (28, 28, 1),
        "patch": 4,
        "dim": 128,
        "heads": 4,
        "mlp": 512,
        "layers": 6,
        "classes": 10,
        "batch": 128 // scale * args.batch_scale,
    }

    matmul = matmul_step(args.matmul_size, compute_dtype)
    rates = []
    rng = np.random.default_rng(0)
    tokens = rng.integers(1, encdec["vocab"], (2, encdec["batch"], encdec["length"]))
    inputs = [tokens[0].astype("int32"), tokens[1].astype("int32")]
    targets = np.roll(inputs[1], -1, axis=1)
    images = rng.random((vit["batch"], *vit["image_shape"]), dtype="float32")
    labels = rng.integers(0, 10, vit["batch"])

    encoder_decoders = (zoo_encoder_decoder, hub_encoder_decoder)
    benchmarks = [
        # task, config, builders, batches, FLOPs of one pass, units per pass, unit
        (
            "encoder-decoder training, random tokens",
            encdec,
            encoder_decoders,
            [(inputs, targets)],
            encoder_decoder_train_flops,
            encdec["batch"] * encdec["length"],
            "target tokens/s",
        ),
        (
            "ViT training",
            vit,
            (zoo_vit, hub_vit),
            [(images, labels)],
            vit_train_flops,
            vit["batch"],
            "images/s",
        ),
    ]
    if importlib.util.find_spec("tensorflow") is not None:
        batches, vocabulary, longest, cmudict_tokens = cmudict_batches(
            CMUDICT_BATCHES, encdec["batch"]
        )
        # Same sizes as the random-token run; vocabulary and positions from cmudict.
        cmudict = dict(encdec, vocab=vocabulary, length=longest)
        benchmarks.insert(
            1,
            (
                # Only non-padding target tokens count, so padding costs show.
                # No MFU: the FLOP count assumes one fixed length for both sides.
                f"encoder-decoder training, {len(batches)} cmudict batches",
                cmudict,
                encoder_decoders,
                batches,
                None,
                cmudict_tokens,
                "non-padding target tokens/s",
            ),
        )
    rows = []
    for task, cfg, builders, data, flops_of, units, unit in benchmarks:
        models = {side: build(cfg) for side, build in zip(SIDES, builders)}
        # The matmul rate is timed among the steps, under the same load.
        seconds = interleaved_median_seconds(
            {
                **{
                    side: train_steps(m, data, jit_compile=not args.no_xla)
                    for side, m in models.items()
                },
                "matmul": matmul,
            },
            args.repeats,
        )
        rate = matmul_flops(args.matmul_size) / seconds["matmul"]
        rates.append(rate)
        measured = {}
        for side, model in models.items():
            flops = flops_of(model, cfg) if flops_of else None
            measured[side] = {
                "per_second": units / seconds[side],
                "mfu": flops / seconds[side] / rate if flops else None,
                "parameters": model.count_params(),
            }
        rows.append(
            {
                "task": task,
                "matmul_gflops": rate / 1e9,
                "unit": unit,
                **{
                    f"{side}_{key}": value
                    for side, m in measured.items()
                    for key, value in m.items()
                },
                "ratio_zoo_over_keras_hub": measured["zoo"]["per_second"]
                / measured["keras_hub"]["per_second"],
            }
        )

    decoding = decoding_benchmark(encdec, steps=64, repeats=args.repeats)
    result = {
        "backend": keras.backend.backend(),
        "device": describe_device(),
        "dtype_policy": policy,
        "batch_scale": args.batch_scale,
        "matmul_size": args.matmul_size,
        "keras": keras.__version__,
        "keras_hub": keras_hub.__version__,
        "matmul_gflops": statistics.median(rates) / 1e9,
        "training": rows,
        "decoding_tokens_per_second": decoding,
        "decoding_ratios": {
            "cached_over_uncached": decoding["zoo_cached"] / decoding["zoo_uncached"],
            "cached_over_keras_hub": decoding["zoo_cached"]
            / decoding["keras_hub_cached_greedy"],
        },
        "repeats": args.repeats,
        "quick": args.quick,
        "xla": not args.no_xla,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = args.name or ("speed_no_xla" if args.no_xla else "speed")
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(result))
    print(markdown(result))


def percent(fraction):
    return "n/a" if fraction is None else f"{fraction:.0%}"


def _compute_dtype(result):
    policy = result.get("dtype_policy", "float32")
    return policy.removeprefix("mixed_")


def markdown(result):
    lines = [
        f"Backend {result['backend']}, device {result['device']}, keras "
        f"{result['keras']}, keras-hub {result['keras_hub']}; dtype policy "
        f"{result.get('dtype_policy', 'float32')}, batch sizes × "
        f"{result.get('batch_scale', 1)}; "
        f"{_compute_dtype(result)} matmul rate ({result.get('matmul_size', 1024)}"
        f"² squares) {result['matmul_gflops']:.1f} GFLOP/s (timed among the training "
        f"steps); training steps {'with' if result['xla'] else 'without'} XLA; "
        f"medians of {result['repeats']} interleaved repetitions.",
        "",
        "| training | unit | zoo | keras-hub | zoo / keras-hub | zoo MFU | keras-hub MFU |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in result["training"]:
        lines.append(
            f"| {row['task']} | {row['unit']} | {row['zoo_per_second']:.0f} | "
            f"{row['keras_hub_per_second']:.0f} | "
            f"{row['ratio_zoo_over_keras_hub']:.2f}x | {percent(row['zoo_mfu'])} | "
            f"{percent(row['keras_hub_mfu'])} |"
        )
    rates = result["decoding_tokens_per_second"]
    ratios = result["decoding_ratios"]
    lines += [
        "",
        "| greedy decoding, 64 tokens | tokens/s |",
        "|---|---|",
        *(f"| {name} | {value:.0f} |" for name, value in rates.items()),
        "",
        f"Cached / uncached: {ratios['cached_over_uncached']:.2f}x; cached zoo / "
        f"keras-hub: {ratios['cached_over_keras_hub']:.2f}x.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
