"""A PNG of the training curves, written when training ends."""

import csv
import math
import os

import keras

from training.callbacks.atomic_checkpoints import removed_on_failure

_LAST_PANELS = ("steps_per_second", "examples_per_second", "tokens_per_second")


def _panel_group(name):
    if name == "loss":
        return 0
    if name in _LAST_PANELS or name in ("learning_rate", "lr"):
        return 2
    return 1


def read_history_csv(path):
    """Reads a `CSVLogger` file into `{key: [value per epoch]}`.

    Args:
        path: The CSV path.

    Returns:
        A dict of float lists, with the `epoch` column under `"epoch"`.

    Examples:
        >>> from pathlib import Path
        >>> from training.callbacks.training_curve_plot import read_history_csv
        >>> _ = Path("history.csv").write_text("epoch,loss\\n0,0.9\\n1,0.5\\n")
        >>> read_history_csv("history.csv")
        {'epoch': [0.0, 1.0], 'loss': [0.9, 0.5]}
    """
    history = {}
    with open(path, newline="") as file:
        for row in csv.DictReader(file):
            for key, value in row.items():
                try:
                    number = float(value)
                except (TypeError, ValueError):
                    number = math.nan  # CSVLogger writes "NA" for missing keys.
                history.setdefault(key, []).append(number)
    return history


def plot_history(history, path, epochs=None, title=None):
    """Plots one panel per metric (training and `val_` curves together).

    Args:
        history: `{key: [value per epoch]}`, e.g. `History.history`.
        path: Where to write the PNG.
        epochs: Epoch numbers (1-based) for the x axis; default 1..N.
        title: Figure title.

    Returns:
        The path written.

    Examples:
        >>> from training.callbacks.training_curve_plot import plot_history
        >>> plot_history({"loss": [0.9, 0.5], "val_loss": [1.0, 0.7]}, "curve.png")
        'curve.png'
    """
    # The object-oriented API with the Agg canvas needs no display and leaves
    # the user's pyplot backend alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    history = {k: list(v) for k, v in history.items() if k != "epoch" and v}
    if "examples_per_second" in history:
        history.pop("steps_per_second", None)  # same curve, less useful unit
    names = [k for k in history if not k.startswith("val_")]
    names += [k[4:] for k in history if k.startswith("val_") and k[4:] not in history]
    # Loss first (the curve people look for), then metrics, then throughput and
    # learning rate, each group in the order given.
    order = {name: index for index, name in enumerate(names)}
    names.sort(key=lambda name: (_panel_group(name), order[name]))
    columns = min(3, max(1, len(names)))
    rows = max(1, math.ceil(len(names) / columns))
    figure = Figure(figsize=(4.5 * columns, 3.2 * rows), layout="constrained")
    FigureCanvasAgg(figure)
    for index, name in enumerate(names):
        axes = figure.add_subplot(rows, columns, index + 1)
        for key, label in ((name, "train"), (f"val_{name}", "validation")):
            values = history.get(key)
            if not values:
                continue
            x = list(epochs) if epochs is not None else range(1, len(values) + 1)
            axes.plot(
                list(x)[: len(values)], values, marker="o", markersize=3, label=label
            )
        axes.set_title(name)
        axes.set_xlabel("epoch")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        if f"val_{name}" in history:
            axes.legend()
    if title:
        figure.suptitle(title)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    # A full disk: "[Errno 28] No space left on device" named no file, and a
    # truncated PNG stayed.
    with removed_on_failure(path, path):
        figure.savefig(path, dpi=100)
    return path


class TrainingCurvePlot(keras.callbacks.Callback):
    """Writes a PNG of loss, val_loss and the other metrics at train end.

    Reads `csv_path` (the `CSVLogger` file) when it exists, so a resumed run
    plots every epoch including those before the interruption; otherwise
    plots the epochs of this `fit` call.

    Args:
        path: The PNG to write.
        csv_path: Optional `CSVLogger` file to read the full history from.

    Examples:
        >>> from pathlib import Path
        >>> import keras
        >>> import numpy as np
        >>> from training import TrainingCurvePlot
        >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> x = np.ones((8, 1))
        >>> history = model.fit(x, x, validation_split=0.25, epochs=2, verbose=0,
        ...                     callbacks=[TrainingCurvePlot("curve.png")])
        >>> Path("curve.png").exists()
        True
    """

    def __init__(self, path, csv_path=None):
        super().__init__()
        self.path = path
        self.csv_path = csv_path
        self._history = {}
        self._epochs = []

    def on_train_begin(self, logs=None):
        self._history = {}
        self._epochs = []

    def on_epoch_end(self, epoch, logs=None):
        self._epochs.append(epoch + 1)
        for key, value in (logs or {}).items():
            # Pad keys that first appear late so lists stay aligned by epoch.
            values = self._history.setdefault(key, [math.nan] * (len(self._epochs) - 1))
            values.append(float(value))

    def on_train_end(self, logs=None):
        if self.csv_path and os.path.exists(self.csv_path):
            history = read_history_csv(self.csv_path)
            epochs = [int(e) + 1 for e in history.get("epoch", [])] or None
        else:
            history, epochs = self._history, self._epochs
        if history:
            plot_history(history, self.path, epochs=epochs)
