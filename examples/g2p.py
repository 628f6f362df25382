"""Grapheme-to-phoneme on CMUdict: train, evaluate, predict, plot attention.

Trains a seq2seq preset on the built-in ``cmudict`` split (stress removed),
reports test WER/PER, prints pronunciations of a few words and saves the
decoder's cross-attention over the letters of one word as a heatmap
(``--plot``, by default ``cross_attention.png`` in the run folder).

Run ``python examples/g2p.py [--preset tiny] [--epochs 3] [--out runs/g2p]``.
The numbers it prints come from this run; nothing is hard-coded.
"""

import argparse
import json
from pathlib import Path

import keras

from zoo import registry, trainer
from zoo.models.seq2seq.attention import greedy_cross_attention


def plot_attention(model, family, run_dir, word, path):
    """Save the last decoder block's cross-attention for ``word`` to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    source_tok, target_tok, _ = family.tokenizers(run_dir)
    ids = source_tok.encode(word)
    outputs, weights = greedy_cross_attention(model, ids)
    labels = [target_tok.vocabulary[i] for i in outputs]
    figure, axis = plt.subplots(figsize=(0.5 * len(ids) + 2, 0.4 * len(labels) + 1.5))
    axis.imshow(weights, cmap="viridis", aspect="auto")
    axis.set_xticks(range(len(ids)), list(source_tok.symbols(word)))
    axis.set_yticks(range(len(labels)), labels)
    axis.set_xlabel("letters (encoder)")
    axis.set_ylabel("phonemes (decoder output)")
    axis.set_title(f"cross-attention, '{word}'")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--data", default="cmudict")
    parser.add_argument("--out", default="runs/g2p")
    parser.add_argument("--word", default="phonetics")
    # The heatmap goes into the run folder unless --plot says otherwise; the
    # docs' picture is made with --plot docs/img/g2p/cross_attention.png.
    parser.add_argument(
        "--plot", help="heatmap path (default: OUT/cross_attention.png)"
    )
    args = parser.parse_args()

    family = registry.get_family("seq2seq")
    metrics = trainer.train_run(
        family, args.preset, args.data, args.out, args.epochs, seed=0
    )
    print(json.dumps(metrics, indent=1))
    words = ["hello", "world", "transformer", "keras", args.word]
    print(trainer.predict_run(args.out, words))
    model = keras.models.load_model(Path(args.out) / "model.keras")
    plot = Path(args.plot or Path(args.out) / "cross_attention.png")
    plot.parent.mkdir(parents=True, exist_ok=True)
    print("heatmap:", plot_attention(model, family, Path(args.out), args.word, plot))


if __name__ == "__main__":
    main()
