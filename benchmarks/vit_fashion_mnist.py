"""Quality benchmark: ViT test accuracy on Fashion-MNIST within a wall-clock budget.

Trains a ViT preset from scratch with the same data pipeline as
``zoo train vit --data fashion_mnist`` (54,000 training images with random
crops and flips, 6,000 held out for validation) until ``--minutes`` of
training time are spent, with a warm-up and cosine learning rate that follows
the elapsed share of the budget (``training.TimeBudget``), then reports
accuracy on the official 10,000 test images, single-view and averaged over
each image and its mirror image (``ViTFamily.evaluate``). Writes
``benchmarks/results/NAME.{json,md,png}`` (``--name``, default
``vit_fashion_mnist``).

Training goes through `training.fit`, so ``--run-dir DIR`` keeps a backup
after every epoch and the same command again resumes an interrupted run where
it stopped: the budget's spent seconds and learning-rate schedule included.
A budget larger than one sitting (say, 15 minutes of a lent GPU) can thus be
spent over several sessions, carrying ``DIR`` from one to the next.

On a machine that runs Keras on JAX without TensorFlow (a lent GPU), the
NumPy input pipeline (`zoo.data.numpy_images`) gives the same batches, and
``--precision auto`` trains in bfloat16 on recent GPUs.

Examples:
    python benchmarks/vit_fashion_mnist.py --preset hybrid_28_cpu --minutes 15
    KERAS_BACKEND=jax python benchmarks/vit_fashion_mnist.py \
        --preset medium_28_hybrid --minutes 5 --name vit_fashion_mnist_gpu
"""

import argparse
import importlib.util
import json
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="hybrid_28_cpu")
    parser.add_argument("--minutes", type=float, default=15.0)
    parser.add_argument(
        "--learning-rate", type=float, default=None, help="default: the preset's"
    )
    parser.add_argument(
        "--mixup",
        type=float,
        default=None,
        help="MixUp's Beta alpha (0 for none); default: the preset's",
    )
    parser.add_argument(
        "--cutmix",
        type=float,
        default=None,
        help="CutMix's Beta alpha (0 for none); default: the preset's",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--name", default="vit_fashion_mnist", help="stem of the result files"
    )
    parser.add_argument(
        "--pipeline",
        choices=("tf.data", "numpy"),
        default=None,
        help="input pipeline; default: tf.data where TensorFlow is installed",
    )
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=None,
        help="keep the run here and resume it when run again (default: a temporary folder)",
    )
    parser.add_argument(
        "--precision",
        default="auto",
        help="dtype policy (training.precision); auto: bfloat16 on recent GPUs",
    )
    args = parser.parse_args()
    if args.minutes <= 0:
        parser.error(f"--minutes: expected a positive number; received {args.minutes}")
    for name in ("mixup", "cutmix"):
        value = getattr(args, name)
        if value is not None and value < 0:
            parser.error(f"--{name}: expected a number >= 0; received {value}")
    if args.pipeline is None:
        has_tf = importlib.util.find_spec("tensorflow") is not None
        args.pipeline = "tf.data" if has_tf else "numpy"

    import keras
    import numpy as np
    from device_info import describe_device

    from training import TimeBudget, make_optimizer
    from training.callbacks.training_curve_plot import read_history_csv
    from training.precision import apply_precision
    from training.recipe import fit
    from zoo import run_dir as runs
    from zoo.models.vit.family import ViTFamily

    family = ViTFamily()
    config = family.check_preset(args.preset)
    for name in ("mixup", "cutmix"):
        if getattr(args, name) is not None:
            config[name] = getattr(args, name)
    batch_size = config.get("batch_size", 128)
    learning_rate = args.learning_rate or config.get("learning_rate", 1e-3)
    keras.utils.set_random_seed(args.seed)
    try:
        policy = apply_precision(args.precision)
    except ValueError as error:
        parser.error(f"--precision: {error}")
    with tempfile.TemporaryDirectory() as scratch:
        run_dir = args.run_dir or Path(scratch)
        run_dir.mkdir(parents=True, exist_ok=True)
        # prepare_data reads the preset's augmentation from the run record;
        # the rest lets `zoo evaluate/predict/export DIR` use the run folder.
        record = {
            "model": "vit",
            "preset": args.preset,
            "data": "fashion_mnist",
            "config": config,
            "batch_size": batch_size,
            "seed": args.seed,
            "precision": args.precision,
        }
        (run_dir / runs.RUN_FILE).write_text(json.dumps(record))
        data = family.prepare_data(
            "fashion_mnist", batch_size, run_dir, seed=args.seed, pipeline=args.pipeline
        )

        def build():
            model = family.build_model(config, data.info)
            model.compile(
                optimizer=make_optimizer(learning_rate, weight_decay=0.05, model=model),
                # XLA even on a CPU, where Keras' "auto" turns it off: an epoch
                # of small_28 takes 65 s with it and 76 s without on 2 cores.
                jit_compile=True,
                **family.compile_arguments(config, data.info),
            )
            return model

        seconds = args.minutes * 60
        budget = TimeBudget(
            seconds, learning_rate, warmup_seconds=min(30.0, seconds / 10)
        )
        start = time.perf_counter()
        # fit backs up every epoch and resumes from run_dir; the budget keeps
        # its spent seconds there too.
        session = fit(
            build,
            data.train,
            data.validation,
            str(run_dir),
            100_000,
            precision=policy,
            patience=None,
            callbacks=[budget],
            seed=args.seed,
            verbose=2,
        )
        wall = time.perf_counter() - start
        model = session.model  # the last epoch's weights
        # Single-view accuracy, and with each image averaged with its mirror
        # image when the preset trains with flips.
        test = family.evaluate(model, data, run_dir)
        # Every epoch of a resumed run, not only this session's.
        history = read_history_csv(run_dir / "history.csv")
        history.pop("epoch")

    result = {
        "benchmark": "vit_fashion_mnist",
        "command": "python benchmarks/vit_fashion_mnist.py "
        f"--preset {args.preset} --minutes {args.minutes:g}"
        + (f" --mixup {args.mixup:g}" if args.mixup is not None else "")
        + (f" --cutmix {args.cutmix:g}" if args.cutmix is not None else "")
        + (f" --learning-rate {args.learning_rate:g}" if args.learning_rate else "")
        + (f" --seed {args.seed}" if args.seed else "")
        + (f" --precision {args.precision}" if args.precision != "auto" else "")
        + (f" --name {args.name}" if args.name != "vit_fashion_mnist" else ""),
        "preset": args.preset,
        "test_accuracy": round(test["accuracy"], 4),
        "test_loss": round(test["loss"], 4),
        "test_accuracy_flip_averaged": (
            round(test["flip_averaged_accuracy"], 4)
            if "flip_averaged_accuracy" in test
            else None
        ),
        "train_seconds": round(budget.train_seconds, 1),
        "wall_seconds_with_validation": round(wall, 1),
        "epochs": len(history["loss"]),
        "first_epoch_of_this_session": session.epoch[0] + 1,
        "parameters": int(model.count_params()),
        "config": config,
        "batch_size": batch_size,
        "peak_learning_rate": learning_rate,
        "device": describe_device(),
        "dtype_policy": policy,
        "pipeline": args.pipeline,
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "history": history,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(result, indent=2))
    flip_averaged = result["test_accuracy_flip_averaged"]
    rows = [
        ("test accuracy", f"{100 * result['test_accuracy']:.2f}%"),
        (
            "test accuracy, flip-averaged",
            f"{100 * flip_averaged:.2f}%"
            if flip_averaged is not None
            else "(preset trains without flips)",
        ),
        ("training time", f"{result['train_seconds']:.0f} s (budget {seconds:.0f} s)"),
        ("epochs", str(result["epochs"])),
        ("parameters", f"{result['parameters']:,}"),
        ("device", f"{result['device']}, {policy}"),
        ("command", f"`{result['command']}`"),
    ]
    table = "| metric | value |\n|---|---|\n" + "\n".join(
        f"| {name} | {value} |" for name, value in rows
    )
    (args.out / f"{args.name}.md").write_text(table + "\n")
    plot(result["history"], args.out / f"{args.name}.png")
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
