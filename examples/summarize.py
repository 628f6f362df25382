"""Debian package descriptions → one-line synopses: train, evaluate, summarize, serve.

Trains a seq2seq preset on the built-in ``debian_descriptions`` split (long
descriptions of Debian packages, split by package family), reports test
ROUGE-1/2/L F1 next to the lead baseline (the first words of the
description), summarizes a few descriptions with the Keras model, then with
the exported SavedModel (TensorFlow plus ``tensorflow_text``).

Run ``python examples/summarize.py [--preset tiny] [--epochs 2] [--out runs/summarize]``.
The numbers it prints come from this run; nothing is hard-coded.
"""

import argparse
import json
from pathlib import Path

from zoo import registry, trainer
from zoo.models.seq2seq import tasks
from zoo.models.seq2seq.sources import load_splits

DESCRIPTIONS = [
    "Keras is a deep learning API written in Python that runs on top of "
    "TensorFlow, JAX and PyTorch. It was developed with a focus on enabling "
    "fast experimentation. This package contains the Python 3 module.",
    "This package provides the documentation of the library in HTML format, "
    "with examples and a tutorial.",
    "A small command-line tool that converts images between PNG, JPEG and "
    "WebP formats, resizing them on the way.",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--lead-words", type=int, default=8)
    parser.add_argument("--out", default="runs/summarize")
    args = parser.parse_args()

    family = registry.get_family("seq2seq")
    metrics = trainer.train_run(
        family, args.preset, "debian_descriptions", args.out, args.epochs, seed=0
    )
    print("zoo:", json.dumps(metrics, indent=1))
    test = load_splits("debian_descriptions")["test"]
    lead = [" ".join(s.split()[: args.lead_words]) for s, _ in test]
    print(
        f"lead-{args.lead_words}:",
        tasks.score("summarization", lead, [refs for _, refs in test]),
    )
    print(trainer.predict_run(args.out, DESCRIPTIONS))

    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops)

    serve = tf.saved_model.load(str(Path(args.out) / "saved_model"))
    outputs = serve.signatures["serve"](inputs=tf.constant(DESCRIPTIONS))
    for text, flag in zip(outputs["outputs"].numpy(), outputs["truncated"].numpy()):
        print(text.decode(), "(input truncated)" if flag else "")


if __name__ == "__main__":
    main()
