"""English → German translation of software messages: train, evaluate, translate, serve.

Trains a seq2seq preset on the built-in ``l10n_en_de`` split (LibreOffice and
GCC messages from Debian's catalogs, WordPiece subwords with placeholders kept
whole), reports test BLEU and chrF, translates a few messages with the Keras
model, then loads the exported SavedModel with TensorFlow alone (plus
``tensorflow_text`` for the tokenizer ops) and translates with it.

Run ``python examples/translate.py [--preset tiny] [--epochs 3] [--out runs/translate]``
(``--data l10n_en_fr`` or ``l10n_en_es`` for French or Spanish). The numbers
it prints come from this run; nothing is hard-coded.
"""

import argparse
import json
from pathlib import Path

from zoo import registry, trainer

MESSAGES = [
    "Open file",
    "Save the document as %s?",
    "Insert a new table",
    "The file $(ARG1) could not be found.",
    "invalid use of %qD in this context",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--data", default="l10n_en_de")
    parser.add_argument("--out", default="runs/translate")
    args = parser.parse_args()

    family = registry.get_family("seq2seq")
    metrics = trainer.train_run(
        family, args.preset, args.data, args.out, args.epochs, seed=0
    )
    print(json.dumps(metrics, indent=1))
    print(trainer.predict_run(args.out, MESSAGES))

    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops)

    serve = tf.saved_model.load(str(Path(args.out) / "saved_model"))
    outputs = serve.signatures["serve"](inputs=tf.constant(MESSAGES))
    for message, output in zip(MESSAGES, outputs["outputs"].numpy()):
        print(f"{message}  →  {output.decode()}")


if __name__ == "__main__":
    main()
