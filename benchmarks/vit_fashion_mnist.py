"""Quality benchmark: ViT test accuracy on Fashion-MNIST within a wall-clock budget.

Trains a small ViT (patch 4) from scratch on the 60,000 training images (5,000
of them held out for validation) until ``--minutes`` of training time are
spent, with a cosine learning rate that follows the elapsed share of the
budget, then reports accuracy on the official 10,000 test images. Writes
``benchmarks/results/vit_fashion_mnist.{json,md,png}``.

Example:
    python benchmarks/vit_fashion_mnist.py --minutes 15
"""

import argparse
import json
import math
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"

CONFIG = dict(
    patch_size=4,
    hidden_dim=64,
    num_layers=4,
    num_heads=4,
    intermediate_dim=128,
    use_class_token=False,
    drop_path_rate=0.0,
)


class TimeBudget:
    """Keras callbacks: cosine learning rate over a time budget, then stop."""

    @staticmethod
    def make(seconds, peak_lr, warmup_seconds):
        import keras

        class Callback(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.start = None
                self.train_seconds = 0.0
                self.epoch_start = None
                self.last_step_end = None

            def on_train_begin(self, logs=None):
                self.start = time.perf_counter()

            def _elapsed(self):
                return self.train_seconds + time.perf_counter() - self.epoch_start

            def on_epoch_begin(self, epoch, logs=None):
                self.epoch_start = time.perf_counter()

            def on_train_batch_begin(self, batch, logs=None):
                elapsed = self._elapsed()
                if elapsed < warmup_seconds:
                    lr = peak_lr * elapsed / warmup_seconds
                else:
                    share = min(
                        1.0, (elapsed - warmup_seconds) / (seconds - warmup_seconds)
                    )
                    lr = 0.5 * peak_lr * (1 + math.cos(math.pi * share))
                self.model.optimizer.learning_rate.assign(lr)

            def on_train_batch_end(self, batch, logs=None):
                # The budget counts training steps only, not validation passes.
                self.last_step_end = time.perf_counter()
                if self._elapsed() >= seconds:
                    self.model.stop_training = True

            def on_epoch_end(self, epoch, logs=None):
                self.train_seconds += self.last_step_end - self.epoch_start

        return Callback()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=2e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    import keras
    import numpy as np

    from zoo.data import images as image_data
    from zoo.data.fashion_mnist import load_fashion_mnist
    from zoo.models.vit import ViTBackbone, ViTClassifier

    keras.utils.set_random_seed(args.seed)
    x, y = load_fashion_mnist("train")
    x_test, y_test = load_fashion_mnist("test")
    (x, y), (x_val, y_val) = image_data.split_off(x[..., None], y, 5000 / 60000, 0)
    mean, std = image_data.image_statistics(x)
    train = image_data.make_image_dataset(
        x, y, mean, std, args.batch_size, training=True, seed=args.seed
    )
    validation = image_data.make_image_dataset(x_val, y_val, mean, std, 512)
    test = image_data.make_image_dataset(x_test[..., None], y_test, mean, std, 512)

    backbone = ViTBackbone(28, num_channels=1, **CONFIG)
    model = ViTClassifier(backbone, num_classes=10)
    model.compile(
        optimizer=keras.optimizers.AdamW(
            args.learning_rate, weight_decay=0.05, global_clipnorm=1.0
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    seconds = args.minutes * 60
    budget = TimeBudget.make(seconds, args.learning_rate, min(30.0, seconds / 10))
    start = time.perf_counter()
    history = model.fit(
        train, validation_data=validation, epochs=1000, callbacks=[budget], verbose=2
    )
    wall = time.perf_counter() - start
    test_loss, test_accuracy = model.evaluate(test, verbose=0)

    result = {
        "benchmark": "vit_fashion_mnist",
        "command": f"python benchmarks/vit_fashion_mnist.py --minutes {args.minutes:g}",
        "test_accuracy": round(float(test_accuracy), 4),
        "test_loss": round(float(test_loss), 4),
        "train_seconds": round(budget.train_seconds, 1),
        "wall_seconds_with_validation": round(wall, 1),
        "epochs": len(history.epoch),
        "parameters": int(model.count_params()),
        "config": CONFIG,
        "batch_size": args.batch_size,
        "peak_learning_rate": args.learning_rate,
        "device": f"CPU ({os.cpu_count()} cores visible), {platform.processor() or platform.machine()}",
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "vit_fashion_mnist.json").write_text(json.dumps(result, indent=2))
    rows = [
        ("test accuracy", f"{100 * result['test_accuracy']:.2f}%"),
        ("training time", f"{result['train_seconds']:.0f} s (budget {seconds:.0f} s)"),
        ("epochs", str(result["epochs"])),
        ("parameters", f"{result['parameters']:,}"),
        ("device", result["device"]),
        ("command", f"`{result['command']}`"),
    ]
    table = "| metric | value |\n|---|---|\n" + "\n".join(
        f"| {name} | {value} |" for name, value in rows
    )
    (args.out / "vit_fashion_mnist.md").write_text(table + "\n")
    plot(result["history"], args.out / "vit_fashion_mnist.png")
    print(table)
    print(np.round(result["history"].get("val_accuracy", []), 4))


def plot(history, path):
    """Training and validation accuracy and loss per epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    epochs = range(1, len(history["loss"]) + 1)
    for key, axis in (("accuracy", left), ("loss", right)):
        axis.plot(epochs, history[key], label="train")
        axis.plot(epochs, history[f"val_{key}"], label="validation")
        axis.set_xlabel("epoch")
        axis.set_title(key)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


if __name__ == "__main__":
    main()
