"""What the toolkit's callbacks cost per training step, in one process.

Trains a ViT preset on real Fashion-MNIST images with `model.fit` three
ways, in turn, for several rounds:

- ``bare``: no callbacks;
- ``toolkit``: `TimeBudget` plus `standard_callbacks` (NaN guard,
  throughput, checkpoint, early stopping, TensorBoard where installed, CSV,
  plot, backup), all ``async_safe``;
- ``toolkit, synchronous``: the same callbacks as they were before they were
  made ``async_safe`` (one callback that is not async-safe makes Keras wait
  for every step's logs, and `TimeBudget` assigns the learning rate before
  every batch).

On JAX (and PyTorch) Keras runs batch-end callbacks in a worker thread only
when every callback is ``async_safe``; on TensorFlow they are always
synchronous, so there the two toolkit rows differ only by `TimeBudget`'s
assignments. Each epoch is timed from its start to the end of its last
step (the end-of-epoch saving is not counted); the first epoch of each fit
(compilation) is left out, and the medians over all rounds are compared.
Writes ``benchmarks/results/NAME.{json,md}`` (``--name``, default
``callback_overhead``).

Examples:
    KERAS_BACKEND=jax python benchmarks/callback_overhead.py --preset tiny
    KERAS_BACKEND=jax python benchmarks/callback_overhead.py \
        --preset medium_28_hybrid_p2_wide --precision auto --name callback_overhead_gpu
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import keras
from device_info import describe_device

RESULTS = Path(__file__).resolve().parent / "results"
PEERS = ("bare", "toolkit", "toolkit, synchronous")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--steps", type=int, default=100, help="steps per epoch")
    parser.add_argument("--epochs", type=int, default=4, help="per fit, 1st untimed")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--precision", default="float32")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--name", default="callback_overhead")
    args = parser.parse_args()
    if args.steps < 1 or args.epochs < 2 or args.rounds < 1:
        parser.error("--steps and --rounds must be >= 1 and --epochs >= 2")

    from training.precision import apply_precision
    from zoo.data.fashion_mnist import load_fashion_mnist
    from zoo.data.images import image_statistics
    from zoo.models.vit.family import ViTFamily
    from zoo.models.vit.presets import VIT_PRESETS

    if args.preset not in VIT_PRESETS:
        parser.error(f"--preset must be one of {sorted(VIT_PRESETS)}")
    config = dict(VIT_PRESETS[args.preset])
    batch_size = config["batch_size"]
    try:
        policy = apply_precision(args.precision)
    except ValueError as error:
        parser.error(f"--precision: {error}")
    try:
        images, labels = load_fashion_mnist("train", limit=args.steps * batch_size)
    except ValueError as error:
        parser.error(f"--steps {args.steps} at batch size {batch_size}: {error}")
    images = images[..., None]
    mean, std = image_statistics(images)
    images = ((images / 255.0 - mean) / std).astype("float32")
    family = ViTFamily()
    info = {"image_size": [28, 28], "channels": 1, "num_classes": 10}

    seconds_per_step = {peer: [] for peer in PEERS}
    for _ in range(args.rounds):
        for peer in PEERS:
            keras.utils.set_random_seed(0)
            model = family.build_model(config, info)
            model.compile(
                optimizer=keras.optimizers.AdamW(config["learning_rate"]),
                **family.compile_arguments(config, info),
                jit_compile=True,
            )
            timer = EpochTimer()
            with tempfile.TemporaryDirectory() as run_dir:
                callbacks = [timer] + peer_callbacks(peer, run_dir, batch_size, config)
                model.fit(
                    images,
                    labels,
                    batch_size=batch_size,
                    epochs=args.epochs,
                    callbacks=callbacks,
                    verbose=0,
                )
            seconds_per_step[peer] += [t / args.steps for t in timer.seconds[1:]]

    median = {peer: statistics.median(seconds_per_step[peer]) for peer in PEERS}
    result = {
        "device": describe_device(),
        "backend": keras.backend.backend(),
        "keras": keras.__version__,
        "preset": args.preset,
        "batch_size": batch_size,
        "precision": policy,
        "steps_per_epoch": args.steps,
        "timed_epochs": (args.epochs - 1) * args.rounds,
        "median_ms_per_step": {p: 1000 * median[p] for p in PEERS},
        "ratio_to_bare": {p: median[p] / median["bare"] for p in PEERS},
        "command": f"KERAS_BACKEND={keras.backend.backend()} "
        "python benchmarks/callback_overhead.py "
        f"--preset {args.preset} --steps {args.steps} --epochs {args.epochs} "
        f"--rounds {args.rounds} --precision {args.precision}"
        + (f" --name {args.name}" if args.name != "callback_overhead" else ""),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / f"{args.name}.md").write_text(markdown(result))
    print(markdown(result))


def peer_callbacks(peer, run_dir, batch_size, config):
    """The callbacks of one peer, writing under ``run_dir``."""
    from training.callbacks import TimeBudget, standard_callbacks

    if peer == "bare":
        return []
    synchronous = peer == "toolkit, synchronous"
    budget = TimeBudget(
        3600,
        config["learning_rate"],
        warmup_seconds=1.0,
        state_file=str(Path(run_dir) / "time_budget.json"),
        rate_step=0.0 if synchronous else 1e-3,
    )
    callbacks = [budget] + standard_callbacks(
        run_dir, monitor="loss", patience=None, batch_size=batch_size
    )
    return callbacks + ([WaitForEachStep()] if synchronous else [])


class EpochTimer(keras.callbacks.Callback):
    """Seconds from each epoch's start to the end of its last step."""

    async_safe = True

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        # Keras has waited for every step's batch-end calls by now.
        self.seconds.append(time.perf_counter() - self._start)


class WaitForEachStep(keras.callbacks.Callback):
    """Not ``async_safe``: with it, Keras waits for every step's logs."""

    def on_train_batch_end(self, batch, logs=None):
        pass


def markdown(result):
    ms, ratio = result["median_ms_per_step"], result["ratio_to_bare"]
    lines = [
        f"Callback overhead: `{result['preset']}`, batch {result['batch_size']}, "
        f"{result['precision']}, Keras {result['keras']} on {result['backend']}, "
        f"{result['device']}; median of {result['timed_epochs']} epochs of "
        f"{result['steps_per_epoch']} steps each",
        "",
        "| callbacks | ms per step | ratio to bare |",
        "|---|---|---|",
    ]
    lines += [f"| {p} | {ms[p]:.2f} | {ratio[p]:.2f}× |" for p in PEERS]
    return "\n".join(lines) + f"\n\n`{result['command']}`\n"


if __name__ == "__main__":
    main()
