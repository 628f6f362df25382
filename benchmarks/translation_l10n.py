"""English → German software messages: the zoo seq2seq model vs keras.io's Transformer.

Both models are trained in this one process on the same data (the built-in
``l10n_en_de`` split: LibreOffice and GCC messages), the same WordPiece
tokenizer (one shared vocabulary, fit on the training split), the same
batches and the same number of epochs, with the same optimizer recipe
(AdamW, warm-up then cosine decay over the epochs); the checkpoint with the
best validation loss is kept. ``--minutes`` gives each model a clock budget
instead (``training.TimeBudget``), but the two models train one after the
other, so on a shared machine a change of load between them changes their
epoch counts: equal epochs compare the models, and the training times are
reported next to them. Then both translate the whole test split and are scored with
sacrebleu's corpus BLEU and chrF against all references.

* **zoo**: ``Seq2SeqTransformer`` with a preset (default ``compact``: the
  baseline's sizes, 1+1 pre-norm layers of 256 with 8 heads and FFN 2048,
  tied output embedding, label smoothing 0.1, no dropout), beam search (the
  preset's beam; greedy is reported too).
* **baseline**: the architecture of the keras.io example "English-to-Spanish
  translation with KerasHub", built from keras-hub layers: token and position
  embedding of 256, one ``TransformerEncoder`` and one ``TransformerDecoder``
  (8 heads, feed-forward 2048), dropout 0.5 and a softmax dense layer, plain
  cross-entropy over real tokens, greedy decoding that reruns the decoder
  at every step (as the example's ``GreedySampler`` does).

Target (issue 5): zoo BLEU ≥ baseline BLEU + 3 on the test split.

Writes ``benchmarks/results/translation_l10n.json`` and ``.md``.

Usage: ``python benchmarks/translation_l10n.py [--epochs 6 | --minutes 15] [--preset compact]``
"""

import argparse
import json
import time
from pathlib import Path

import keras
import numpy as np
from device_info import describe_device

RESULTS = Path(__file__).parent / "results"
START_ID, END_ID, PAD_ID = 2, 3, 0


def keras_io_baseline(
    source_vocabulary, target_vocabulary, source_length, target_length
):
    """The keras.io English-to-Spanish Transformer, from keras-hub layers.

    One encoder and one decoder layer, embedding 256, 8 heads, feed-forward
    2048, dropout 0.5 before the softmax output, as in the example. Padding
    (id 0) is masked through ``mask_zero``. Takes the zoo's input dict.
    """
    import keras_hub

    encoder_ids = keras.Input((None,), dtype="int32", name="encoder_token_ids")
    decoder_ids = keras.Input((None,), dtype="int32", name="decoder_token_ids")
    x = keras_hub.layers.TokenAndPositionEmbedding(
        source_vocabulary, source_length, 256, mask_zero=True, name="source_embedding"
    )(encoder_ids)
    encoded = keras_hub.layers.TransformerEncoder(2048, 8, name="encoder")(x)
    y = keras_hub.layers.TokenAndPositionEmbedding(
        target_vocabulary, target_length, 256, mask_zero=True, name="target_embedding"
    )(decoder_ids)
    y = keras_hub.layers.TransformerDecoder(2048, 8, name="decoder")(
        decoder_sequence=y, encoder_sequence=encoded
    )
    y = keras.layers.Dropout(0.5, name="dropout")(y)
    probabilities = keras.layers.Dense(
        target_vocabulary, activation="softmax", name="probabilities"
    )(y)
    return keras.Model(
        {"encoder_token_ids": encoder_ids, "decoder_token_ids": decoder_ids},
        probabilities,
        name="keras_io_translator",
    )


def baseline_greedy(model, sources, source_length, target_length, batch_size=256):
    """Greedy decoding that reruns the decoder over the whole prefix at every step.

    As keras.io's example, without a cache; the encoder runs once per input
    and only the last position goes through the output layer, so a step
    costs one decoder pass over the prefix.

    Returns:
        One array of output ids per source (the end id, then padding).
    """
    import tensorflow as tf

    layer = model.get_layer
    spec = tf.TensorSpec([None, source_length], tf.int32)

    @tf.function(input_signature=[spec])
    def search(encoder_ids):
        batch = tf.shape(encoder_ids)[0]
        tokens = tf.concat(
            [
                tf.fill([batch, 1], START_ID),
                tf.zeros([batch, target_length], tf.int32),
            ],
            axis=1,
        )
        banned = tf.one_hot([PAD_ID, START_ID], model.output_shape[-1])
        banned = tf.reduce_sum(banned, axis=0) > 0
        source_mask = tf.not_equal(encoder_ids, PAD_ID)
        encoded = layer("encoder")(
            layer("source_embedding")(encoder_ids), padding_mask=source_mask
        )

        def cond(index, tokens, done):
            return tf.logical_and(
                index < target_length, tf.logical_not(tf.reduce_all(done))
            )

        def body(index, tokens, done):
            states = layer("decoder")(
                decoder_sequence=layer("target_embedding")(tokens[:, : index + 1]),
                encoder_sequence=encoded,
                encoder_padding_mask=source_mask,
            )
            probabilities = layer("probabilities")(states[:, -1])
            probabilities = tf.where(banned[None], -1.0, probabilities)
            chosen = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
            chosen = tf.where(done, PAD_ID, chosen)
            column = tf.one_hot(index + 1, target_length + 1, dtype=tf.int32)
            tokens = tokens + chosen[:, None] * column[None]
            return index + 1, tokens, tf.logical_or(done, chosen == END_ID)

        _, tokens, _ = tf.while_loop(
            cond, body, (tf.constant(0), tokens, tf.zeros([batch], tf.bool))
        )
        return tokens[:, 1:]

    outputs = [None] * len(sources)
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        padded = np.zeros((len(chunk), source_length), np.int32)
        for row, i in enumerate(chunk):
            ids = sources[i][:source_length]
            padded[row, : len(ids)] = ids
        for i, row in zip(chunk, search(padded).numpy()):
            outputs[i] = row
    return outputs


def train(builder, data, out, learning_rate, loss, metrics, epochs=None, seconds=None):
    """Fit with the shared recipe; return the best model, fit seconds and epochs.

    With ``epochs``: warm-up (5% of the steps) then cosine decay over exactly
    that many epochs. With ``seconds``: the same shape over a clock budget
    (``training.TimeBudget``), so the epoch count depends on the machine.
    """
    from training import TimeBudget
    from training.recipe import fit

    callbacks, schedule = [], "cosine"
    if seconds is not None:
        budget = TimeBudget(
            seconds, learning_rate, warmup_seconds=min(60.0, seconds / 10)
        )
        callbacks, schedule, epochs = [budget], learning_rate, 10_000
    start = time.perf_counter()
    history = fit(
        builder,
        data.train,
        data.validation,
        str(out),
        epochs,
        loss=loss,
        metrics=metrics,
        schedule=schedule,
        learning_rate=learning_rate,
        patience=None,
        callbacks=callbacks,
        # Length buckets make batches of many sizes: count the real examples,
        # not the first batch's size times the steps.
        examples_per_epoch=data.train_examples,
        seed=0,
        verbose=2,
    )
    fit_seconds = time.perf_counter() - start
    model = keras.models.load_model(Path(out) / "model.keras", compile=False)
    return model, fit_seconds, len(history.epoch)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    length = parser.add_mutually_exclusive_group()
    length.add_argument(
        "--epochs", type=int, default=6, help="per model (the default: 6)"
    )
    length.add_argument(
        "--minutes",
        type=float,
        help="a clock budget per model instead of --epochs (the epoch counts then "
        "depend on the machine's load while each model trains)",
    )
    parser.add_argument("--preset", default="compact")
    parser.add_argument("--data", default="l10n_en_de")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=1e-3,
        help="the baseline's peak rate (the zoo model takes its preset's)",
    )
    parser.add_argument("--out", default="runs/benchmark_translation")
    args = parser.parse_args()
    for name in ("epochs", "minutes", "learning_rate"):
        value = getattr(args, name)
        if value is not None and not value > 0:
            parser.error(
                f"--{name.replace('_', '-')} must be positive; received {value}"
            )
    if args.minutes is not None:
        args.epochs = None
    training_length = (
        f"--minutes {args.minutes:g}" if args.minutes else f"--epochs {args.epochs}"
    )

    from training.losses import (
        MaskedSparseCategoricalAccuracy,
        MaskedSparseCategoricalCrossentropy,
    )
    from zoo import registry
    from zoo import run_dir as runs
    from zoo.models.seq2seq import tasks

    wall = time.perf_counter()
    family = registry.get_family("seq2seq")
    config = family.check_preset(args.preset)
    out = Path(args.out)
    zoo_dir, baseline_dir = out / "zoo", out / "baseline"
    for folder in (zoo_dir, baseline_dir):
        folder.mkdir(parents=True, exist_ok=True)
    # decode() reads the search options from the run record.
    (zoo_dir / runs.RUN_FILE).write_text(
        json.dumps({"model": "seq2seq", "config": config})
    )
    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    data = family.prepare_data(args.data, args.batch_size, zoo_dir, seed=0)
    prepare_seconds = time.perf_counter() - start
    info = data.info
    source_tok, target_tok, _ = family.tokenizers(zoo_dir)
    pairs = info["test_pairs"]
    sources = [source for source, _ in pairs]
    references = [refs for _, refs in pairs]
    seconds = args.minutes * 60 if args.minutes else None
    rows = []

    def accuracy():
        return [MaskedSparseCategoricalAccuracy(pad_id=PAD_ID)]

    zoo_model, zoo_train, zoo_epochs = train(
        lambda: family.build_model(config, info),
        data,
        zoo_dir,
        config.get("learning_rate", args.learning_rate),
        MaskedSparseCategoricalCrossentropy(
            label_smoothing=config.get("label_smoothing", 0.1),
            pad_id=PAD_ID,
            from_logits=True,
        ),
        accuracy(),
        epochs=args.epochs,
        seconds=seconds,
    )
    for beam in sorted({1, config.get("beam_size", 4)}):
        start = time.perf_counter()
        hypotheses, _ = family.decode(zoo_model, zoo_dir, sources, beam_size=beam)
        metrics = tasks.score("translation", hypotheses, references, sources)
        rows.append(
            dict(
                model=f"zoo seq2seq {args.preset}",
                decoding="greedy" if beam == 1 else f"beam {beam}",
                parameters=int(zoo_model.count_params()),
                epochs=zoo_epochs,
                train_seconds=round(zoo_train, 1),
                decode_seconds=round(time.perf_counter() - start, 1),
                samples=[
                    {"source": s, "output": h, "references": r}
                    for s, h, r in list(zip(sources, hypotheses, references))[:40]
                ],
                **metrics,
            )
        )
        print(rows[-1]["model"], rows[-1]["decoding"], metrics, flush=True)

    baseline, base_train, base_epochs = train(
        lambda: keras_io_baseline(
            info["source_vocabulary_size"],
            info["target_vocabulary_size"],
            info["source_sequence_length"],
            info["target_sequence_length"],
        ),
        data,
        baseline_dir,
        args.learning_rate,
        MaskedSparseCategoricalCrossentropy(
            label_smoothing=0.0, pad_id=PAD_ID, from_logits=False
        ),
        accuracy(),
        epochs=args.epochs,
        seconds=seconds,
    )
    start = time.perf_counter()
    encoded = tasks.encode_all(source_tok, sources)
    outputs = baseline_greedy(
        baseline,
        encoded,
        info["source_sequence_length"],
        info["target_sequence_length"],
    )
    hypotheses = [target_tok.decode(row) for row in outputs]
    metrics = tasks.score("translation", hypotheses, references, sources)
    rows.append(
        dict(
            model="keras.io Transformer (keras-hub layers)",
            decoding="greedy",
            parameters=int(baseline.count_params()),
            epochs=base_epochs,
            train_seconds=round(base_train, 1),
            decode_seconds=round(time.perf_counter() - start, 1),
            samples=[
                {"source": s, "output": h, "references": r}
                for s, h, r in list(zip(sources, hypotheses, references))[:40]
            ],
            **metrics,
        )
    )
    print(rows[-1]["model"], metrics, flush=True)

    zoo_best = max(r["bleu"] for r in rows[:-1])
    result = {
        "benchmark": "translation_l10n",
        "command": (
            f"python benchmarks/translation_l10n.py {training_length} "
            f"--preset {args.preset} --data {args.data} "
            f"--batch-size {args.batch_size} --learning-rate {args.learning_rate:g}"
        ),
        "data": args.data,
        "split_sizes": info["split_sizes"],
        "test_sentences": len(pairs),
        "vocabulary_size": info["source_vocabulary_size"],
        "sequence_lengths": [
            info["source_sequence_length"],
            info["target_sequence_length"],
        ],
        "batch_size": args.batch_size,
        "epochs_per_model": args.epochs,
        "budget_minutes_per_model": args.minutes,
        "prepare_seconds": round(prepare_seconds, 1),
        "rows": rows,
        "bleu_margin": round(zoo_best - rows[-1]["bleu"], 2),
        "target_margin": 3.0,
        "target_met": zoo_best >= rows[-1]["bleu"] + 3.0,
        "wall_seconds": round(time.perf_counter() - wall, 1),
        "device": describe_device(),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "translation_l10n.json").write_text(
        json.dumps(result, indent=1, ensure_ascii=False) + "\n"
    )
    table = [
        "| model | decoding | parameters | epochs | training time | test BLEU "
        "| test chrF | placeholders kept | decode time |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        kept = row["placeholder_match"]
        table.append(
            f"| {row['model']} | {row['decoding']} | {row['parameters']:,} | "
            f"{row['epochs']} | {row['train_seconds'] / 60:.1f} min | "
            f"{row['bleu']:.1f} | {row['chrf']:.1f} | "
            f"{'' if kept is None else f'{100 * kept:.0f}%'} | "
            f"{row['decode_seconds']:.0f} s |"
        )
    table += [
        "",
        f"`{args.data}` test split: {len(pairs):,} English messages "
        f"({info['split_sizes']['train']:,} in training); shared WordPiece "
        f"vocabulary of {info['source_vocabulary_size']:,}; "
        + (
            f"{args.minutes:g} min of training per model"
            if args.minutes
            else f"{args.epochs} epochs per model"
        )
        + f" (batch {args.batch_size}); BLEU margin "
        f"{result['bleu_margin']:+.1f} (target +3: "
        f"{'met' if result['target_met'] else 'not met'}); whole benchmark "
        f"{result['wall_seconds'] / 60:.0f} min on {result['device']}; Keras "
        f"{result['keras']} ({result['backend']}).",
    ]
    (RESULTS / "translation_l10n.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
