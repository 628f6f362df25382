"""Debian descriptions → synopses: the zoo seq2seq model vs the lead baseline.

In one process, on the built-in ``debian_descriptions`` split (split by
package family, so ``foo`` and ``foo-doc`` are never on both sides):

* **zoo**: ``Seq2SeqTransformer`` with a preset (default ``compact``, with
  dropout 0.2: the configuration that meets the target) on WordPiece
  subwords (one shared vocabulary fit on the training split; descriptions cut
  to 128 tokens, synopses up to 32), trained for a wall-clock budget with
  ``training.TimeBudget`` (AdamW, warm-up then cosine decay over the budget),
  the checkpoint with the best validation loss kept; beam search with the
  length penalty that scores best on 1,000 validation descriptions
  (``--length-penalties``; ``--dropout`` overrides the preset's).
* **lead-k**: the first ``k`` words of the description, with ``k`` chosen on
  the validation split (the best mean ROUGE-L F1 over k = 1..30).

Both are scored with rouge-score (ROUGE-1/2/L F1, Porter stemming, best of
the references) on the test split. Target (issue 5): zoo ROUGE-L ≥ lead + 5.

Writes ``benchmarks/results/summarization_debian.json`` and ``.md``.

Usage: ``python benchmarks/summarization_debian.py [--minutes 100] [--preset compact]
[--dropout 0.2] [--length-penalties 0,0.6,1.2]`` (the defaults: ROUGE-L 33.7
against lead-11's 27.7 on the 2-core CPU, 106 minutes in all).
"""

import argparse
import json
import time
from pathlib import Path

import keras
from device_info import describe_device

RESULTS = Path(__file__).parent / "results"
PAD_ID = 0


def lead(text, k):
    """The first ``k`` words of ``text``."""
    return " ".join(text.split()[:k])


def choose_lead_k(pairs, ks=range(1, 31)):
    """Return ``(k, validation ROUGE-L)`` of the best lead-k on ``pairs``."""
    from zoo.models.seq2seq.metrics import rouge

    references = [refs for _, refs in pairs]
    scores = {
        k: rouge([lead(source, k) for source, _ in pairs], references)["rougeL"]
        for k in ks
    }
    best = max(scores, key=scores.get)
    return best, scores


def choose_length_penalty(family, model, run_dir, pairs, penalties, count=1000):
    """Return ``(penalty, {penalty: ROUGE-L})``, the best on ``count`` pairs.

    With one penalty nothing is decoded. Like lead-k's ``k``, the choice is
    made on validation, never on the test split.
    """
    from zoo.models.seq2seq.metrics import rouge

    if len(penalties) == 1:
        return penalties[0], {}
    pairs = pairs[:count]
    sources = [source for source, _ in pairs]
    references = [refs for _, refs in pairs]
    scores = {}
    for penalty in penalties:
        outputs, _ = family.decode(model, run_dir, sources, length_penalty=penalty)
        scores[penalty] = round(rouge(outputs, references)["rougeL"], 2)
        print(f"length penalty {penalty:g}: validation ROUGE-L {scores[penalty]}")
    return max(scores, key=scores.get), {str(k): v for k, v in scores.items()}


def samples(sources, hypotheses, references, count=6):
    """The best and the worst outputs by ROUGE-L, for the docs."""
    from zoo.models.seq2seq.metrics import rouge

    scored = sorted(
        (rouge([h], [r])["rougeL"], s, h, r)
        for s, h, r in zip(sources, hypotheses, references)
    )
    pick = scored[-count:][::-1] + scored[:count]
    return [
        {"rougeL": round(score, 1), "description": s, "output": h, "references": r}
        for score, s, h, r in pick
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=100.0)
    parser.add_argument("--preset", default="compact")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument(
        "--dropout",
        type=float,
        default=0.2,
        help="the model's dropout, in place of the preset's",
    )
    parser.add_argument(
        "--length-penalties",
        default="0,0.6,1.2",
        help="comma-separated beam length penalties; the best on validation is used",
    )
    parser.add_argument("--out", default="runs/benchmark_summarization")
    args = parser.parse_args()
    if not 0 <= args.dropout < 1:
        parser.error(f"--dropout: expected a number in [0, 1); received {args.dropout}")
    try:
        penalties = [float(value) for value in args.length_penalties.split(",")]
    except ValueError:
        penalties = []
    if not penalties or any(value < 0 for value in penalties):
        parser.error(
            "--length-penalties: expected comma-separated non-negative numbers; "
            f"received {args.length_penalties!r}"
        )

    from training import TimeBudget
    from training.recipe import fit
    from zoo import registry
    from zoo import run_dir as runs
    from zoo.models.seq2seq import tasks
    from zoo.models.seq2seq.sources import load_splits

    wall = time.perf_counter()
    family = registry.get_family("seq2seq")
    config = family.check_preset(args.preset)
    config["dropout"] = args.dropout
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    # decode() reads the search options from the run record.
    (out / runs.RUN_FILE).write_text(json.dumps({"model": "seq2seq", "config": config}))
    keras.utils.set_random_seed(0)
    start = time.perf_counter()
    data = family.prepare_data("debian_descriptions", args.batch_size, out, seed=0)
    prepare_seconds = time.perf_counter() - start
    info = data.info
    splits = load_splits("debian_descriptions")
    test = splits["test"]
    sources = [s for s, _ in test]
    references = [refs for _, refs in test]

    start = time.perf_counter()
    k, validation_scores = choose_lead_k(splits["validation"])
    lead_hypotheses = [lead(s, k) for s in sources]
    lead_metrics = tasks.score("summarization", lead_hypotheses, references)
    lead_seconds = time.perf_counter() - start
    print(f"lead-{k}", lead_metrics, flush=True)

    seconds = args.minutes * 60
    learning_rate = config.get("learning_rate", 1e-3)
    budget = TimeBudget(seconds, learning_rate, warmup_seconds=min(60.0, seconds / 10))
    history = fit(
        lambda: family.build_model(config, info),
        data.train,
        data.validation,
        str(out),
        10_000,
        schedule=learning_rate,
        patience=None,
        callbacks=[budget],
        seed=0,
        verbose=2,
        # Length buckets make batches of many sizes: count the real examples.
        examples_per_epoch=data.train_examples,
        **family.compile_arguments(config, info),
    )
    model = keras.models.load_model(out / runs.MODEL_FILE)
    penalty, penalty_scores = choose_length_penalty(
        family, model, out, splits["validation"], penalties
    )
    config["length_penalty"] = penalty
    # The run decodes as benchmarked: zoo predict reads the record's config.
    runs.mark(out, config=config)
    start = time.perf_counter()
    hypotheses, truncated = family.decode(model, out, sources)
    zoo_metrics = tasks.score("summarization", hypotheses, references)
    decode_seconds = time.perf_counter() - start
    print("zoo", zoo_metrics, flush=True)

    result = {
        "benchmark": "summarization_debian",
        "command": (
            f"python benchmarks/summarization_debian.py --minutes {args.minutes:g} "
            f"--preset {args.preset} --batch-size {args.batch_size}"
            + f" --dropout {args.dropout:g}"
            + (
                f" --length-penalties {args.length_penalties}"
                if len(penalties) > 1
                else ""
            )
        ),
        "split_sizes": info["split_sizes"],
        "test_examples": len(test),
        "vocabulary_size": info["source_vocabulary_size"],
        "sequence_lengths": [
            info["source_sequence_length"],
            info["target_sequence_length"],
        ],
        "truncated_test_inputs": len(truncated),
        "zoo": dict(
            zoo_metrics,
            preset=args.preset,
            beam_size=config.get("beam_size", 4),
            dropout=config.get("dropout"),
            length_penalty=penalty,
            validation_rougeL_by_length_penalty=penalty_scores,
            parameters=int(model.count_params()),
            epochs=len(history.epoch),
            train_seconds=round(budget.train_seconds, 1),
            decode_seconds=round(decode_seconds, 1),
        ),
        "lead": dict(
            lead_metrics,
            k=k,
            validation_rougeL={
                str(key): round(v, 2) for key, v in validation_scores.items()
            },
            seconds=round(lead_seconds, 1),
        ),
        "rougeL_margin": round(zoo_metrics["rougeL"] - lead_metrics["rougeL"], 2),
        "target_margin": 5.0,
        "target_met": zoo_metrics["rougeL"] >= lead_metrics["rougeL"] + 5.0,
        "batch_size": args.batch_size,
        "budget_minutes": args.minutes,
        "prepare_seconds": round(prepare_seconds, 1),
        "samples": samples(sources, hypotheses, references),
        "wall_seconds": round(time.perf_counter() - wall, 1),
        "device": describe_device(),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "summarization_debian.json").write_text(
        json.dumps(result, indent=1, ensure_ascii=False) + "\n"
    )
    zoo_row = result["zoo"]
    table = [
        "| model | test ROUGE-1 | test ROUGE-2 | test ROUGE-L |",
        "|---|---|---|---|",
        f"| zoo seq2seq {args.preset} (dropout {zoo_row['dropout']:g}, beam "
        f"{zoo_row['beam_size']}, length penalty {penalty:g}, "
        f"{zoo_row['parameters']:,} parameters, {zoo_row['epochs']} epochs) | "
        f"{zoo_row['rouge1']:.1f} | {zoo_row['rouge2']:.1f} | {zoo_row['rougeL']:.1f} |",
        f"| lead-{k} (first {k} words; k chosen on validation) | "
        f"{lead_metrics['rouge1']:.1f} | {lead_metrics['rouge2']:.1f} | "
        f"{lead_metrics['rougeL']:.1f} |",
        "",
        f"`debian_descriptions` test split: {len(test):,} descriptions "
        f"({info['split_sizes']['train']:,} in training), F1 × 100; ROUGE-L margin "
        f"{result['rougeL_margin']:+.1f} (target +5: "
        f"{'met' if result['target_met'] else 'not met'}); {args.minutes:g} min of "
        f"training, whole benchmark {result['wall_seconds'] / 60:.0f} min on "
        f"{result['device']}; Keras {result['keras']} ({result['backend']}).",
    ]
    (RESULTS / "summarization_debian.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
