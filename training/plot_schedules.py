"""Draws the learning-rate schedules for the docs.

Run from the repository root:

    python -m training.plot_schedules --out docs/img/training

It writes one PNG per schedule, evaluating the schedule objects themselves
(not a copy of their formulas), so the pictures show what the code does.
"""

import argparse
import os

import keras
import numpy as np

from training.schedules import InverseSqrtSchedule, WarmupSchedule

TOTAL_STEPS = 10_000


def example_schedules():
    """The schedules drawn in the docs, by file name.

    Returns:
        A dict `{file stem: (title, schedule, total steps)}`.

    Examples:
        >>> from training.plot_schedules import example_schedules
        >>> sorted(example_schedules())
        ['inverse_sqrt', 'warmup_constant', 'warmup_cosine', 'warmup_linear']
    """
    warmup = 1_000
    peak = 1e-3
    decay = TOTAL_STEPS - warmup
    return {
        "inverse_sqrt": (
            "InverseSqrtSchedule(d_model=512, warmup_steps=4000)",
            InverseSqrtSchedule(d_model=512, warmup_steps=4000),
            40_000,
        ),
        "warmup_cosine": (
            "WarmupSchedule(CosineDecay(1e-3, 9000), warmup_steps=1000)",
            WarmupSchedule(keras.optimizers.schedules.CosineDecay(peak, decay), warmup),
            TOTAL_STEPS,
        ),
        "warmup_linear": (
            "WarmupSchedule(PolynomialDecay(1e-3, 9000), warmup_steps=1000)",
            WarmupSchedule(
                keras.optimizers.schedules.PolynomialDecay(peak, decay), warmup
            ),
            TOTAL_STEPS,
        ),
        "warmup_constant": (
            "WarmupSchedule(1e-3, warmup_steps=1000)",
            WarmupSchedule(peak, warmup),
            TOTAL_STEPS,
        ),
    }


def plot_schedule(title, schedule, total_steps, path):
    """Writes one schedule's curve to `path` as a PNG.

    Args:
        title: Figure title.
        schedule: A `LearningRateSchedule`.
        total_steps: Last step to draw.
        path: The PNG to write.

    Examples:
        >>> from training import WarmupSchedule
        >>> from training.plot_schedules import plot_schedule
        >>> plot_schedule("constant", WarmupSchedule(1e-3, 100), 1000, "c.png")
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    steps = np.linspace(0, total_steps, 400).astype("int64")
    rates = keras.ops.convert_to_numpy(schedule(keras.ops.convert_to_tensor(steps)))
    figure = Figure(figsize=(6.4, 3.2), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(steps, rates)
    axes.set_title(title, fontsize=10)
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("learning rate")
    axes.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    axes.grid(alpha=0.3)
    figure.savefig(path, dpi=100)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join("docs", "img", "training"))
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for stem, (title, schedule, total) in example_schedules().items():
        path = os.path.join(args.out, f"{stem}.png")
        plot_schedule(title, schedule, total, path)
        print(path)


if __name__ == "__main__":
    main()
