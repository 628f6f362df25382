"""G2P on the full CMUdict split: train within a time budget, report test WER/PER.

Trains a seq2seq preset on the built-in ``cmudict`` data (90/5/5 by word,
stress removed) for ``--minutes`` of training, with a warm-up and cosine
learning rate that follows the elapsed share of the budget
(``training.TimeBudget``; the best epoch by validation loss is kept), then decodes
the whole test split with the preset's search and reports word and phoneme
error rates, the wall time and the device. Reference points on this data:
CMU's g2p-seq2seq Transformer (2 layers x 256) about 31% WER, Phonetisaurus
33.9% WER. The target of the zoo is WER <= 30%.

Writes ``benchmarks/results/g2p_cmudict.json`` and ``g2p_cmudict.md``.

Usage: ``python benchmarks/g2p_cmudict.py [--minutes 60] [--preset small]
[--learning-rate 1e-3] [--dropout 0]``
"""

import argparse
import json
import time
from pathlib import Path

import keras
from device_info import describe_device

RESULTS = Path(__file__).parent / "results"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--preset", default="small")
    parser.add_argument("--beam-size", type=int, default=None)
    parser.add_argument(
        "--learning-rate",
        type=float,
        default=None,
        help="peak rate; default: the preset's",
    )
    parser.add_argument(
        "--dropout",
        type=float,
        # 60 CPU minutes are 15-17 epochs, too few for dropout to pay off:
        # 28.2% WER without it, 30.9% with the preset's 0.1 (docs/g2p.md).
        default=0.0,
        help="residual and embedding dropout (default 0; pass 0.1 for the preset's)",
    )
    parser.add_argument(
        "--out",
        default="runs/benchmark_g2p",
        help="run folder for the model; must be new or empty (no resume)",
    )
    args = parser.parse_args()

    from training import TimeBudget
    from training.recipe import fit
    from zoo import registry
    from zoo import run_dir as runs

    family = registry.get_family("seq2seq")
    config = family.check_preset(args.preset)
    if args.beam_size:
        config["beam_size"] = args.beam_size
    if args.learning_rate is not None:
        if args.learning_rate <= 0:
            parser.error(
                f"--learning-rate: expected a positive number; received {args.learning_rate}"
            )
        config["learning_rate"] = args.learning_rate
    if not 0 <= args.dropout < 1:
        parser.error(f"--dropout: expected a number in [0, 1); received {args.dropout}")
    config["dropout"] = args.dropout
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        parser.error(f"--out {str(out)!r} is not empty: expected a new folder")
    out.mkdir(parents=True, exist_ok=True)
    # evaluate() reads the search options from the run record.
    (out / runs.RUN_FILE).write_text(json.dumps({"model": "seq2seq", "config": config}))
    keras.utils.set_random_seed(0)
    wall = time.perf_counter()
    data = family.prepare_data("cmudict", config["batch_size"], out, seed=0)
    seconds = args.minutes * 60
    budget = TimeBudget(
        seconds, config["learning_rate"], warmup_seconds=min(120.0, seconds / 10)
    )
    start = time.perf_counter()
    history = fit(
        lambda: family.build_model(config, data.info),
        data.train,
        data.validation,
        str(out),
        100_000,
        # A float: TimeBudget sets the rate before every step.
        schedule=config["learning_rate"],
        patience=None,
        callbacks=[budget],
        seed=0,
        # Length buckets make batches of many sizes: count the real examples.
        examples_per_epoch=data.train_examples,
        **family.compile_arguments(config, data.info),
    )
    train_seconds = time.perf_counter() - start
    model = keras.models.load_model(out / runs.MODEL_FILE)
    start = time.perf_counter()
    metrics = family.evaluate(model, data, out)
    eval_seconds = time.perf_counter() - start
    result = {
        "command": "python benchmarks/g2p_cmudict.py "
        f"--preset {args.preset} --minutes {args.minutes:g}"
        + (f" --learning-rate {args.learning_rate:g}" if args.learning_rate else "")
        + (f" --beam-size {args.beam_size}" if args.beam_size else "")
        + f" --dropout {args.dropout:g}",
        "preset": args.preset,
        "learning_rate": config["learning_rate"],
        "dropout": config["dropout"],
        "budget_minutes": args.minutes,
        "epochs": len(history.epoch),
        "best_val_loss": min(history.history["val_loss"]),
        "test_wer": metrics["wer"],
        "test_per": metrics["per"],
        "test_words": metrics["test_words"],
        "beam_size": config["beam_size"],
        "parameters": int(model.count_params()),
        "train_seconds": round(budget.train_seconds, 1),
        "wall_seconds_training_with_validation": round(train_seconds, 1),
        "eval_seconds": round(eval_seconds, 1),
        "wall_seconds": round(time.perf_counter() - wall, 1),
        "device": describe_device(),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "target_wer": 0.30,
        "anchors": {"g2p-seq2seq (2x256 Transformer)": 0.31, "Phonetisaurus": 0.339},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "g2p_cmudict.json").write_text(json.dumps(result, indent=1) + "\n")
    rows = [
        (
            "zoo seq2seq " + args.preset,
            f"{100 * result['test_wer']:.1f}%",
            f"{100 * result['test_per']:.1f}%",
        ),
        ("CMU g2p-seq2seq Transformer (reported)", "~31%", ""),
        ("Phonetisaurus WFST (reported)", "33.9%", ""),
    ]
    table = ["| model | test WER | test PER |", "|---|---|---|"]
    table += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    table += [
        "",
        f"CMUdict without stress, {result['test_words']} test words, beam "
        f"{result['beam_size']}; {result['epochs']} epochs in "
        f"{result['train_seconds'] / 60:.1f} min of training (budget "
        f"{args.minutes:g} min), peak learning rate {config['learning_rate']:g}, "
        f"dropout {config['dropout']:g}, "
        f"{result['parameters']:,} parameters; "
        f"{result['device']}; Keras {result['keras']} ({result['backend']}).",
    ]
    (RESULTS / "g2p_cmudict.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
